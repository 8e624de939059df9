/* bench_osip.c - libosip2 5.x adapter for the parser benchmark.
 *
 * parser_init() once; per message osip_message_init + osip_message_parse
 * (osip copies the buffer and parses every header it knows), the fields
 * through osip's accessors, then osip_message_free.
 */
#include <osipparser2/osip_message.h>
#include <osipparser2/osip_parser.h>

#include "bench.h"

static int osip_init(void) { return parser_init() == 0 ? 0 : -1; }

static int osip_parse(const char *buf, size_t len, struct bench_fields *out) {
  osip_message_t *sip = NULL;
  osip_via_t *via = NULL;
  osip_contact_t *contact = NULL;
  osip_generic_param_t *p;
  int rc = -1;

  if (osip_message_init(&sip) != 0)
    return -1;
  if (osip_message_parse(sip, buf, len) != 0)
    goto done;

  if (sip->sip_method) { /* request */
    out->status = 0;
    if (bench_copy_str(out->method, sip->sip_method) ||
        bench_copy_str(out->ruri_host, sip->req_uri ? sip->req_uri->host : NULL))
      goto done;
  } else {
    out->status = sip->status_code;
    out->method[0] = out->ruri_host[0] = '\0';
  }

  out->via_branch[0] = '\0';
  if (osip_message_get_via(sip, 0, &via) >= 0 && via &&
      osip_via_param_get_byname(via, "branch", &p) == 0 &&
      bench_copy_str(out->via_branch, p->gvalue))
    goto done;
  out->from_tag[0] = '\0';
  if (sip->from && osip_from_get_tag(sip->from, &p) == 0 &&
      bench_copy_str(out->from_tag, p->gvalue))
    goto done;
  out->to_tag[0] = '\0';
  if (sip->to && osip_to_get_tag(sip->to, &p) == 0 &&
      bench_copy_str(out->to_tag, p->gvalue))
    goto done;

  /* osip splits Call-ID at '@' into number and host. */
  out->call_id[0] = '\0';
  if (sip->call_id && sip->call_id->number) {
    size_t n = strlen(sip->call_id->number);
    size_t h = sip->call_id->host ? strlen(sip->call_id->host) : 0;
    if (n + 1 + h >= BENCH_STR)
      goto done;
    memcpy(out->call_id, sip->call_id->number, n);
    if (sip->call_id->host) {
      out->call_id[n++] = '@';
      memcpy(out->call_id + n, sip->call_id->host, h);
      n += h;
    }
    out->call_id[n] = '\0';
  }

  if (bench_copy_str(out->cseq_method, sip->cseq ? sip->cseq->method : NULL) ||
      bench_u32(&out->cseq_num, sip->cseq ? sip->cseq->number : NULL) ||
      bench_u32(&out->content_length,
                sip->content_length ? sip->content_length->value : NULL))
    goto done;

  out->contact_user[0] = out->contact_host[0] = '\0';
  out->contact_port = 0;
  if (osip_message_get_contact(sip, 0, &contact) >= 0 && contact && contact->url) {
    osip_uri_t *u = contact->url;
    if (bench_copy_str(out->contact_user, u->username) ||
        bench_copy_str(out->contact_host, u->host) ||
        bench_u32(&out->contact_port, u->port))
      goto done;
  }
  rc = 0;
done:
  osip_message_free(sip);
  return rc;
}

const struct bench_parser bench_parser_osip = {"libosip2", osip_init, osip_parse};
