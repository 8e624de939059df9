/* fuzz_common.h - invariant checks shared by the sipkit fuzz harnesses.
 *
 * Every check that fails calls CHECK_FAIL, which prints what broke and traps
 * (__builtin_trap), so libFuzzer records the input as a crash and the replay
 * driver dies under the sanitizers.  Harnesses never copy their input: the
 * parser gets libFuzzer's (data, size) as it is, so any read past size is an
 * ASan report. */
#ifndef SIPKIT_FUZZ_COMMON_H
#define SIPKIT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sipkit.h"
#include "internal.h" /* SIPKIT__PARSE_REFERENCE */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK_FAIL(what)                                                       \
  do {                                                                         \
    fprintf(stderr, "fuzz invariant broken: %s (%s:%d)\n", what, __FILE__,     \
            __LINE__);                                                         \
    __builtin_trap();                                                          \
  } while (0)
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) CHECK_FAIL(#cond);                                            \
  } while (0)

/* The span lies within [lo, hi).  An empty span is absent: its offset means
 * nothing and is not checked. */
static inline int fz_span_in(sipkit_span s, size_t lo, size_t hi) {
  if (s.len == 0) return 1;
  return s.off >= lo && s.off <= hi && s.len <= hi - s.off;
}
#define CHECK_SPAN(s, lo, hi)                                                  \
  do {                                                                         \
    if (!fz_span_in((s), (lo), (hi))) {                                        \
      fprintf(stderr, "span %s = %u+%u outside [%zu, %zu)\n", #s,             \
              (unsigned)(s).off, (unsigned)(s).len, (size_t)(lo), (size_t)(hi)); \
      CHECK_FAIL("span in bounds");                                            \
    }                                                                          \
  } while (0)

/* An error report: the code is the return value, the position is in the
 * input, line and column count from 1, and the formatted text (which quotes
 * up to 16 bytes of buf) fits any bound we give it. */
static inline void fz_check_error(int rc, const sipkit_error *e,
                                  const char *buf, size_t len) {
  CHECK(rc > 0);
  CHECK(e->code == rc);
  CHECK(e->offset <= len);
  CHECK(e->line >= 1 && e->column >= 1);
  CHECK(e->line <= e->offset + 1 && e->column <= e->offset + 1);
  CHECK(e->rule != NULL);
  CHECK(sipkit_err_name(rc) != NULL && sipkit_err_name(rc)[0] != '\0');
  char out[160];
  int n = sipkit_error_format(e, buf, len, out, sizeof out);
  CHECK(n > 0);
  CHECK(memchr(out, '\0', sizeof out) != NULL);
  char tiny[8];
  int m = sipkit_error_format(e, buf, len, tiny, sizeof tiny);
  CHECK(m == n);
  CHECK(memchr(tiny, '\0', sizeof tiny) != NULL);
}

static inline void fz_check_uri(const sipkit_uri *u, size_t lo, size_t hi) {
  CHECK_SPAN(u->all, lo, hi);
  size_t a = u->all.off, b = (size_t)u->all.off + u->all.len;
  if (u->all.len == 0) { a = lo; b = hi; }
#define U_SPAN(f) if (u->f.len) CHECK_SPAN(u->f, a, b)
  U_SPAN(user); U_SPAN(password); U_SPAN(host); U_SPAN(params);
  U_SPAN(headers); U_SPAN(transport); U_SPAN(user_param); U_SPAN(method);
  U_SPAN(maddr); U_SPAN(ttl);
#undef U_SPAN
  CHECK(u->scheme <= SIPKIT_SCHEME_OTHER);
  CHECK(u->host_type <= SIPKIT_HOST_IPV6);
  CHECK(u->port <= 65535);
  CHECK(u->has_port || u->port == 0);
}

/* Walk a ';'-separated parameter list: every name and value inside the list,
 * the position strictly increasing, and a bounded number of rounds. */
static inline void fz_check_params(const char *buf, sipkit_span params) {
  uint32_t pos = 0, last = 0;
  sipkit_span name, value;
  for (unsigned i = 0; i <= params.len + 1; i++) {
    if (!sipkit_param_next(buf, params, &pos, &name, &value)) return;
    CHECK(pos > last || (i == 0 && pos > 0));
    last = pos;
    CHECK(pos <= params.len + 1);
    CHECK_SPAN(name, params.off, (size_t)params.off + params.len);
    if (value.len) CHECK_SPAN(value, params.off, (size_t)params.off + params.len);
  }
  CHECK_FAIL("sipkit_param_next does not terminate");
}

static inline void fz_check_unfold(const char *buf, sipkit_span value) {
  static char big[65536];
  char small[16];
  size_t n = sipkit_unfold(buf, value, big, sizeof big);
  CHECK(n <= value.len);
  CHECK(memchr(big, '\r', n) == NULL && memchr(big, '\n', n) == NULL);
  size_t m = sipkit_unfold(buf, value, small, sizeof small);
  CHECK(m == n);
  CHECK(memcmp(small, big, n < sizeof small ? n : sizeof small) == 0);
  CHECK(sipkit_unfold(buf, value, NULL, 0) == n);
}

/* A successful parse: every span is inside the message, the header array
 * and its index agree, lookups agree with the parser, and the lazy
 * validator and unfold stay in bounds. */
static inline void fz_check_msg(const sipkit_msg *m, const char *buf,
                                size_t len, size_t cap) {
  CHECK(m->size <= len);
  CHECK(m->max_headers <= cap);
  CHECK(m->num_headers <= m->max_headers);
  size_t end = m->size;
  CHECK_SPAN(m->method_name, 0, end);
  CHECK_SPAN(m->reason, 0, end);
  CHECK_SPAN(m->version, 0, end);
  CHECK_SPAN(m->request_uri, 0, end);
  CHECK_SPAN(m->body, 0, end);
  CHECK_SPAN(m->call_id, 0, end);
  if (m->status) {
    CHECK(m->status >= 100 && m->status <= 699);
  } else {
    CHECK(m->method_name.len > 0 && m->request_uri.len > 0);
    fz_check_uri(&m->ruri, 0, end);
    CHECK(m->ruri.all.off == m->request_uri.off && m->ruri.all.len == m->request_uri.len);
  }
  if (m->has_content_length) {
    CHECK(m->body.len == m->content_length);
    CHECK((size_t)m->body.off + m->body.len == end);
  }
  const sipkit_header *h0 = m->headers, *hn = m->headers + m->num_headers;
#define IN_ARRAY(p) ((p) == NULL || ((const char *)(p) >= (const char *)h0 && (const char *)(p) < (const char *)hn))
  CHECK(IN_ARRAY(m->via) && IN_ARRAY(m->from) && IN_ARRAY(m->to));
  CHECK(IN_ARRAY(m->contact) && IN_ARRAY(m->cseq) && IN_ARRAY(m->content_type));
#undef IN_ARRAY
  for (int id = 0; id < SIPKIT_HDR__COUNT; id++) {
    unsigned f = m->first[id];
    CHECK(f <= m->num_headers);
    if (f) CHECK(m->headers[f - 1].id == id);
    const sipkit_header *h = sipkit_msg_header(m, id);
    CHECK(f ? h == &m->headers[f - 1] : h == NULL);
  }
  for (uint32_t i = 0; i < m->num_headers; i++) {
    const sipkit_header *h = &m->headers[i];
    CHECK(h->id < SIPKIT_HDR__COUNT);
    CHECK(h->name.len > 0);
    CHECK_SPAN(h->name, 0, end);
    CHECK_SPAN(h->value, 0, end);
    /* the parser and the lookup API agree on the name (battery H03) */
    CHECK(sipkit_hdr_lookup(buf + h->name.off, h->name.len) == h->id);
    const sipkit_header *f = sipkit_msg_find(m, buf, buf + h->name.off, h->name.len);
    CHECK(f != NULL && f <= h && f->id == h->id);
    const sipkit_header *nx = sipkit_msg_header_next(m, h);
    CHECK(nx == NULL || (nx > h && nx < m->headers + m->num_headers && nx->id == h->id));
    if (h->parsed) {
      switch (h->id) {
      case SIPKIT_HDR_VIA: {
        const sipkit_via *v = &h->u.via;
        size_t a = h->value.off, b = (size_t)h->value.off + h->value.len;
        CHECK_SPAN(v->protocol, a, b); CHECK_SPAN(v->transport, a, b);
        CHECK_SPAN(v->host, a, b); CHECK_SPAN(v->branch, a, b);
        CHECK_SPAN(v->received, a, b); CHECK_SPAN(v->rport, a, b);
        CHECK_SPAN(v->maddr, a, b); CHECK_SPAN(v->ttl, a, b);
        CHECK_SPAN(v->params, a, b);
        CHECK(v->port <= 65535);
        CHECK(v->host.len > 0);
        fz_check_params(buf, v->params);
        break;
      }
      case SIPKIT_HDR_FROM: case SIPKIT_HDR_TO: case SIPKIT_HDR_CONTACT:
      case SIPKIT_HDR_ROUTE: case SIPKIT_HDR_RECORD_ROUTE: {
        const sipkit_addr *ad = &h->u.addr;
        size_t a = h->value.off, b = (size_t)h->value.off + h->value.len;
        CHECK_SPAN(ad->display, a, b); CHECK_SPAN(ad->tag, a, b);
        CHECK_SPAN(ad->q, a, b); CHECK_SPAN(ad->expires, a, b);
        CHECK_SPAN(ad->params, a, b);
        if (!ad->star) fz_check_uri(&ad->uri, a, b);
        fz_check_params(buf, ad->params);
        if (!ad->star) fz_check_params(buf, ad->uri.params);
        break;
      }
      case SIPKIT_HDR_CSEQ:
        CHECK(h->u.cseq.num < 0x80000000u);
        CHECK_SPAN(h->u.cseq.method_name, h->value.off, (size_t)h->value.off + h->value.len);
        CHECK(h->u.cseq.method_name.len > 0);
        break;
      case SIPKIT_HDR_CONTENT_TYPE:
        CHECK_SPAN(h->u.ctype.type, h->value.off, (size_t)h->value.off + h->value.len);
        CHECK_SPAN(h->u.ctype.subtype, h->value.off, (size_t)h->value.off + h->value.len);
        CHECK_SPAN(h->u.ctype.params, h->value.off, (size_t)h->value.off + h->value.len);
        fz_check_params(buf, h->u.ctype.params);
        break;
      case SIPKIT_HDR_MAX_FORWARDS:
        CHECK(h->u.number <= 255);
        break;
      default:
        break;
      }
    }
    sipkit_error e;
    memset(&e, 0, sizeof e);
    int rc = sipkit_header_validate(m, buf, h, &e);
    if (rc != SIPKIT_EOK) fz_check_error(rc, &e, buf, len);
    fz_check_unfold(buf, h->value);
  }
}

/* The hand-written fast paths (src/parse.c: header lines, ...) against the
 * generated machines alone (SIPKIT__PARSE_REFERENCE): the same verdict, the
 * same error (code, offset, line, column, rule) and, on success, the same
 * message and header entries, byte for byte.  Returns 0 when they agree,
 * else prints what differs and returns 1 (harnesses CHECK it). */
static inline int fz_diff_fast_path(const char *buf, size_t size, unsigned flags) {
  static sipkit_header ha[SIPKIT_MAX_HEADERS], hb[SIPKIT_MAX_HEADERS];
  sipkit_msg ma, mb;
  sipkit_error ea, eb;
  memset(ha, 0, sizeof ha);
  memset(hb, 0, sizeof hb);
  memset(&ea, 0, sizeof ea);
  memset(&eb, 0, sizeof eb);
  sipkit_msg_init(&ma, ha, SIPKIT_DEFAULT_HEADERS);
  int ra = sipkit_parse(&ma, buf, size, flags | SIPKIT__PARSE_REFERENCE, &ea);
  sipkit_msg_init(&mb, hb, SIPKIT_DEFAULT_HEADERS);
  int rb = sipkit_parse(&mb, buf, size, flags, &eb);
  if (ra != rb || ea.code != eb.code || ea.offset != eb.offset || ea.line != eb.line ||
      ea.column != eb.column || strcmp(ea.rule, eb.rule) != 0) {
    fprintf(stderr, "fast path differs (flags %#x): reference %s at %u [%s], fast %s at %u [%s]\n",
            flags, sipkit_err_name(ea.code), ea.offset, ea.rule, sipkit_err_name(eb.code),
            eb.offset, eb.rule);
    return 1;
  }
  if (ra != SIPKIT_EOK)
    return 0;
  /* the message points into its own header array: compare it relocated */
#define FZ_RELOC(field)                                                        \
  if (mb.field)                                                                \
    mb.field = (void *)((const char *)ha + ((const char *)mb.field - (const char *)hb));
  FZ_RELOC(via) FZ_RELOC(from) FZ_RELOC(to) FZ_RELOC(contact) FZ_RELOC(cseq)
  FZ_RELOC(content_type)
#undef FZ_RELOC
  mb.headers = ha;
  if (memcmp(&ma, &mb, sizeof ma) != 0 ||
      memcmp(ha, hb, ma.num_headers * sizeof *ha) != 0) {
    fprintf(stderr, "fast path differs (flags %#x): parsed message or headers\n", flags);
    return 1;
  }
  return 0;
}

#endif /* SIPKIT_FUZZ_COMMON_H */
