/* fuzz_multipart.c - sipkit_multipart_parse on (params, body) taken from the
 * input without a copy: the first line (up to the first LF, a CR before it
 * dropped) is the Content-Type parameter string ("boundary=xyz"), the rest
 * is the body.  Both are spans into the input, so any read outside them
 * that leaves the input is an ASan report.  A 16-part array.
 * On success: 1..16 parts, each part's all / headers / body / field spans
 * inside the body and inside its part, parts in order and not overlapping,
 * depth 1; every part that is multipart is split with
 * sipkit_multipart_parse_part (depth 2, inside its parent's body; one more
 * level must be refused with "multipart depth limit").
 * On error: EINVALID_VALUE (or EARGUMENT never: arguments are valid),
 * code == return, offset <= size, rule set, *num_parts == 0. */
#include "fuzz_common.h"
#include "sipkit_body.h"

static void check_parts(const char *buf, size_t size, sipkit_span body,
                        const sipkit_part *p, size_t n, unsigned depth) {
  size_t lo = body.off, hi = (size_t)body.off + body.len;
  CHECK(n >= 1 && n <= SIPKIT_MAX_PARTS);
  size_t prev_end = lo;
  for (size_t i = 0; i < n; i++) {
    const sipkit_part *q = &p[i];
    CHECK(q->depth == depth);
    CHECK(q->all.off >= lo && (size_t)q->all.off + q->all.len <= hi);
    CHECK(q->all.off >= prev_end);
    prev_end = (size_t)q->all.off + q->all.len;
    size_t a = q->all.off, b = prev_end;
    CHECK_SPAN(q->headers, a, b);
    CHECK(q->body.off >= a && (size_t)q->body.off + q->body.len <= b);
    if (q->headers.len) CHECK((size_t)q->headers.off + q->headers.len <= q->body.off);
    CHECK(q->num_headers <= SIPKIT_MAX_PART_HEADERS);
    CHECK(q->num_headers == 0 || q->headers.len > 0);
    size_t ha = q->headers.off, hb = (size_t)q->headers.off + q->headers.len;
    for (unsigned k = 0; k < q->num_headers; k++) {
      CHECK(q->hdrs[k].name.len > 0);
      CHECK_SPAN(q->hdrs[k].name, ha, hb);
      CHECK_SPAN(q->hdrs[k].value, ha, hb);
    }
    CHECK_SPAN(q->content_type, ha, hb);
    CHECK_SPAN(q->content_id, ha, hb);
    CHECK_SPAN(q->disposition, ha, hb);
    if (q->has_ctype) {
      CHECK(q->content_type.len > 0);
      size_t ca = q->content_type.off, cb = ca + q->content_type.len;
      CHECK(q->ctype.type.len > 0 && q->ctype.subtype.len > 0);
      CHECK_SPAN(q->ctype.type, ca, cb);
      CHECK_SPAN(q->ctype.subtype, ca, cb);
      CHECK_SPAN(q->ctype.params, ca, cb);
      fz_check_params(buf, q->ctype.params);
    } else {
      CHECK(q->content_type.len == 0 && q->is_multipart == 0);
    }
    for (unsigned k = 0; k < q->num_headers; k++) fz_check_unfold(buf, q->hdrs[k].value);
    if (!q->is_multipart) {
      sipkit_part one[1];
      size_t nn = 9;
      sipkit_error e;
      memset(&e, 0, sizeof e);
      int rc = sipkit_multipart_parse_part(buf, q, one, 1, &nn, &e);
      CHECK(rc == SIPKIT_EINVALID_VALUE);
      CHECK(nn == 0);
      CHECK(e.rule && strcmp(e.rule, "multipart Content-Type") == 0);
      continue;
    }
    static sipkit_part sub[2][SIPKIT_MAX_PARTS];
    sipkit_part *s = sub[depth - 1];
    size_t ns = 99;
    sipkit_error e;
    memset(&e, 0, sizeof e);
    int rc = sipkit_multipart_parse_part(buf, q, s, SIPKIT_MAX_PARTS, &ns, &e);
    if (depth >= SIPKIT_MAX_MULTIPART_DEPTH) {
      CHECK(rc == SIPKIT_EINVALID_VALUE);
      CHECK(e.rule && strcmp(e.rule, "multipart depth limit") == 0);
      CHECK(e.offset == q->body.off);
      CHECK(ns == 0);
      continue;
    }
    if (rc != SIPKIT_EOK) {
      CHECK(rc == SIPKIT_EINVALID_VALUE);
      fz_check_error(rc, &e, buf, size);
      CHECK(ns == 0);
      continue;
    }
    check_parts(buf, size, q->body, s, ns, depth + 1);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  const char *nl = size ? memchr(buf, '\n', size) : NULL;
  sipkit_span params, body;
  if (nl) {
    size_t l = (size_t)(nl - buf);
    params.off = 0;
    params.len = (uint32_t)(l && buf[l - 1] == '\r' ? l - 1 : l);
    body.off = (uint32_t)(l + 1);
    body.len = (uint32_t)(size - l - 1);
  } else {
    params.off = 0;
    params.len = (uint32_t)size;
    body.off = (uint32_t)size;
    body.len = 0;
  }
  static sipkit_part parts[SIPKIT_MAX_PARTS];
  size_t n = 99;
  sipkit_error err;
  memset(&err, 0, sizeof err);
  int rc = sipkit_multipart_parse(buf, body, params, parts, SIPKIT_MAX_PARTS, &n, &err);
  if (rc != SIPKIT_EOK) {
    CHECK(rc == SIPKIT_EINVALID_VALUE);
    fz_check_error(rc, &err, buf, size);
    CHECK(n == 0);
    return 0;
  }
  check_parts(buf, size, body, parts, n, 1);
  /* a smaller caller capacity: the same parts, or "parts limit" */
  if (n > 1) {
    static sipkit_part few[SIPKIT_MAX_PARTS];
    size_t m = 99;
    rc = sipkit_multipart_parse(buf, body, params, few, n - 1, &m, &err);
    CHECK(rc == SIPKIT_EINVALID_VALUE);
    CHECK(err.rule && strcmp(err.rule, "multipart parts limit") == 0);
    CHECK(m == 0);
  }
  return 0;
}
