/* bench_sipkit.c - sipkit adapter for the parser benchmark.
 *
 * Caller-owned message and header array, set up once by sipkit_msg_init()
 * as a receive loop would (sipkit_parse() resets the message itself), one
 * sipkit_parse() per message in datagram mode with default (strict) flags,
 * then the spans copied out so sipkit does the same extraction work as the
 * other parsers.
 */
#include "sipkit.h"

#include "bench.h"

#define SPAN_COPY(dst, buf, span) bench_copy((dst), SIPKIT_SPAN_PTR((buf), (span)), (span).len)

static sipkit_header hdrs[64];
static sipkit_msg msg;

static int sipkit_bench_init(void) {
  sipkit_msg_init(&msg, hdrs, sizeof hdrs / sizeof *hdrs);
  return 0;
}

static int sipkit_bench_parse(const char *buf, size_t len, struct bench_fields *out) {
  sipkit_error err;

  if (sipkit_parse(&msg, buf, len, 0, &err) != SIPKIT_EOK)
    return -1;

  out->status = msg.status;
  if (msg.status == 0) {
    if (SPAN_COPY(out->method, buf, msg.method_name) ||
        SPAN_COPY(out->ruri_host, buf, msg.ruri.host))
      return -1;
  } else {
    out->method[0] = out->ruri_host[0] = '\0';
  }
  out->via_branch[0] = out->from_tag[0] = out->to_tag[0] = '\0';
  if ((msg.via && SPAN_COPY(out->via_branch, buf, msg.via->branch)) ||
      (msg.from && SPAN_COPY(out->from_tag, buf, msg.from->tag)) ||
      (msg.to && SPAN_COPY(out->to_tag, buf, msg.to->tag)) ||
      SPAN_COPY(out->call_id, buf, msg.call_id))
    return -1;
  out->cseq_method[0] = '\0';
  out->cseq_num = 0;
  if (msg.cseq) {
    out->cseq_num = msg.cseq->num;
    if (SPAN_COPY(out->cseq_method, buf, msg.cseq->method_name))
      return -1;
  }
  out->content_length = msg.has_content_length ? msg.content_length : 0;
  out->contact_user[0] = out->contact_host[0] = '\0';
  out->contact_port = 0;
  if (msg.contact) {
    if (SPAN_COPY(out->contact_user, buf, msg.contact->uri.user) ||
        SPAN_COPY(out->contact_host, buf, msg.contact->uri.host))
      return -1;
    out->contact_port = msg.contact->uri.port;
  }
  return 0;
}

const struct bench_parser bench_parser_sipkit = {"sipkit", sipkit_bench_init, sipkit_bench_parse};
