/* fuzz_roundtrip.c - parse (strict), rebuild with the builder, parse back.
 *
 * The input (as it is, no copy) is parsed in strict mode.  When it parses,
 * it is rebuilt in a dynamic builder: the start line (method + Request-URI,
 * or status + reason), every header line as its name as written plus the
 * unfolded value of the whole line (the list elements of one line are put
 * back together: from the first element's value to the last one's), except
 * Content-Length, which sipkit_builder_finish() writes, then the body.
 * The builder may refuse a value the grammar rejects (a lazy header the
 * parser kept raw); that is fine.  When finish succeeds, the output must
 * parse again with a separate sipkit_parse() and give the same structure:
 * status or method, Request-URI and reason bytes, the header ids and
 * unfolded values in order (Content-Length left out) and the body bytes. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "sipkit_build.h"

static sipkit_header in_hdrs[SIPKIT_DEFAULT_HEADERS];
static sipkit_header fin_hdrs[SIPKIT_MAX_HEADERS];
static sipkit_header out_hdrs[SIPKIT_MAX_HEADERS];
static char ua[SIPKIT_MAX_MSG_SIZE + 1], ub[SIPKIT_MAX_MSG_SIZE + 1];

static int span_eq(const char *a, sipkit_span sa, const char *b, sipkit_span sb) {
  return sa.len == sb.len && (sa.len == 0 || memcmp(a + sa.off, b + sb.off, sa.len) == 0);
}

/* the first header at or after i that is not Content-Length */
static uint32_t next_hdr(const sipkit_msg *m, uint32_t i) {
  while (i < m->num_headers && m->headers[i].id == SIPKIT_HDR_CONTENT_LENGTH) i++;
  return i;
}

static void compare(const sipkit_msg *a, const char *ab, const sipkit_msg *b, const char *bb) {
  CHECK(a->status == b->status);
  if (a->status) {
    CHECK(span_eq(ab, a->reason, bb, b->reason));
  } else {
    CHECK(a->method == b->method);
    CHECK(span_eq(ab, a->method_name, bb, b->method_name));
    CHECK(span_eq(ab, a->request_uri, bb, b->request_uri));
  }
  CHECK(span_eq(ab, a->body, bb, b->body));
  uint32_t i = next_hdr(a, 0), j = next_hdr(b, 0);
  while (i < a->num_headers && j < b->num_headers) {
    const sipkit_header *x = &a->headers[i], *y = &b->headers[j];
    if (x->id != y->id) {
      fprintf(stderr, "header %u: id %u became %u\n", i, x->id, y->id);
      CHECK_FAIL("same header ids");
    }
    size_t n = sipkit_unfold(ab, x->value, ua, sizeof ua);
    size_t m = sipkit_unfold(bb, y->value, ub, sizeof ub);
    if (n != m || memcmp(ua, ub, n) != 0) {
      fprintf(stderr, "header %u value [%.*s] became [%.*s]\n", i, (int)n, ua, (int)m, ub);
      CHECK_FAIL("same unfolded values");
    }
    if (x->id == SIPKIT_HDR_OTHER) CHECK(span_eq(ab, x->name, bb, y->name));
    i = next_hdr(a, i + 1);
    j = next_hdr(b, j + 1);
  }
  CHECK(i == a->num_headers && j == b->num_headers);
  CHECK(b->has_content_length && b->content_length == a->body.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  sipkit_msg in;
  sipkit_error err;
  memset(&err, 0, sizeof err);
  sipkit_msg_init(&in, in_hdrs, SIPKIT_DEFAULT_HEADERS);
  if (sipkit_parse(&in, buf, size, 0, &err) != SIPKIT_EOK) return 0;

  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  if (in.status)
    sipkit_builder_response(&b, in.status, in.reason.len ? buf + in.reason.off : "",
                            in.reason.len);
  else
    sipkit_builder_request(&b, buf + in.method_name.off, in.method_name.len,
                           buf + in.request_uri.off, in.request_uri.len);
  for (uint32_t i = 0; i < in.num_headers && b.code == SIPKIT_EOK;) {
    const sipkit_header *h = &in.headers[i];
    uint32_t j = i + 1; /* the elements of one line share its name span */
    while (j < in.num_headers && in.headers[j].name.off == h->name.off) j++;
    const sipkit_header *last = &in.headers[j - 1];
    if (h->id != SIPKIT_HDR_CONTENT_LENGTH) {
      sipkit_span line = h->value;
      if (last->value.len) {
        uint32_t start = h->value.len ? h->value.off : last->value.off;
        line.off = start;
        line.len = last->value.off + last->value.len - start;
      }
      CHECK_SPAN(line, 0, in.size);
      size_t n = line.len ? sipkit_unfold(buf, line, ua, sizeof ua) : 0;
      CHECK(n <= line.len);
      sipkit_builder_header_raw(&b, buf + h->name.off, h->name.len, ua, n);
    }
    i = j;
  }
  sipkit_msg fin;
  sipkit_msg_init(&fin, fin_hdrs, SIPKIT_MAX_HEADERS);
  int rc = sipkit_builder_finish(&b, in.body.len ? buf + in.body.off : NULL, in.body.len, &fin);
  if (rc == SIPKIT_EOK) {
    CHECK(b.len == b.need && b.len > 0);
    sipkit_msg out;
    memset(&err, 0, sizeof err);
    sipkit_msg_init(&out, out_hdrs, SIPKIT_MAX_HEADERS);
    rc = sipkit_parse(&out, b.buf, b.len, 0, &err);
    if (rc != SIPKIT_EOK) {
      fprintf(stderr, "builder output does not parse: %s at %u (%s)\n%.*s\n",
              sipkit_err_name(rc), (unsigned)err.offset, err.rule ? err.rule : "",
              (int)b.len, b.buf);
      CHECK_FAIL("builder output parses");
    }
    CHECK(out.size == b.len);
    fz_check_msg(&out, b.buf, b.len, SIPKIT_MAX_HEADERS);
    compare(&in, buf, &out, b.buf);
    CHECK(fin.num_headers == out.num_headers);
  } else {
    CHECK(b.code == rc);
    CHECK(rc != SIPKIT_EBUFFER_TOO_SMALL); /* dynamic */
  }
  sipkit_builder_free(&b);
  return 0;
}
