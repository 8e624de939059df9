/* test_corpus.c - table-driven runner over the external torture corpora.
 *
 * For every folder in CORPORA it loads tests/msgs/<folder>/verdicts.tsv at
 * run time (paths are relative to the repository root; run from there) and
 * makes one cmocka test per row:
 *
 *   file  verdict(accept|reject)  error(NAME|-)  framing(datagram|stream)
 *   mode(strict|lenient-lf)  why  [checks]
 *
 * Every message is
 *   1. parsed with sipkit_parse() (datagram) and checked against the verdict
 *      and the exact error code; the error location must be sane and
 *      sipkit_error_format() must produce "error NAME at OFF (L:C): ...";
 *   2. parsed again flush against a PROT_NONE guard page (any over-read
 *      faults) and must give the same result;
 *   3. parsed with sipkit_parse_stream() on every prefix 0..len, both with a
 *      fresh msg per prefix (each prefix flush against the guard page) and
 *      incrementally (same msg, buffer grown one byte at a time): prefixes
 *      give SIPKIT_EINCOMPLETE until the message is complete, then the same
 *      result as the datagram parse, compared field by field.
 *      Datagram-only messages (accepted without Content-Length: RFC 4475
 *      inv2543 and the JAIN-SIP messages that have none) skip the split
 *      check; for them the stream parse of the whole input must give
 *      SIPKIT_ENO_CONTENT_LENGTH.  Rejected messages: a prefix gives
 *      INCOMPLETE or the error of the whole input; the whole input gives the
 *      datagram error, except BODY_TRUNCATED and HEADERS_END (stream: still
 *      INCOMPLETE) and a message without Content-Length (NO_CONTENT_LENGTH).
 *   4. every datagram prefix is parsed against the guard page too (no check
 *      of the result beyond "a known code": this is for over-reads).
 *
 * JAIN-SIP .url files are parsed with sipkit_uri_parse(); .hdr files are
 * wrapped in a minimal valid OPTIONS request (see wrap_header) and the
 * header is also run through sipkit_header_validate().
 *
 * checks column (';'-separated, '-' for none):
 *   validate:NAME=CODE   sipkit_header_validate() on the first NAME header
 *   ruri.port=N          msg.ruri.port
 *   ruri.has_port=N      msg.ruri.has_port
 *   trailing=N           len - msg.size (octets ignored after the message)
 *   then-append-lf       after checking the bytes as given, append the
 *                        missing empty line (LF) and expect the whole
 *                        pipeline to accept (JAIN-SIP cases whose CDATA
 *                        stops after the last header line)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "sipkit.h"

static const char *const CORPORA[] = {"rfc4475", "rfc5118", "rfc5118-crlf",
                                      "jain-sip"};

enum kind { K_MSG, K_HDR, K_URL };

typedef struct corpus_case {
  char name[160]; /* "rfc4475/wsinv.dat" (the cmocka test name) */
  char path[256];
  int accept;
  int err;            /* expected code for rejects */
  int stream_framing; /* framing column = stream */
  unsigned flags;
  enum kind kind;
  char checks[256];
} corpus_case;

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static int err_code_by_name(const char *name) {
#define XX(num, n, desc)                                                       \
  if (strcmp(name, #n) == 0) return num;
  SIPKIT_ERRNO_MAP(XX)
#undef XX
  return -1;
}

static char *load_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n == cap) buf = realloc(buf, cap *= 2);
    size_t r = fread(buf + n, 1, cap - n, f);
    if (r == 0) break;
    n += r;
  }
  fclose(f);
  *len = n;
  return buf;
}

/* A region whose last byte is followed by a PROT_NONE page. */
typedef struct guard {
  char *base;
  size_t size; /* usable bytes before the guard page */
  size_t page;
} guard;

static void guard_init(guard *g, size_t need) {
  g->page = (size_t)sysconf(_SC_PAGESIZE);
  size_t pages = (need + g->page - 1) / g->page;
  if (pages == 0) pages = 1;
  g->size = pages * g->page;
  g->base = mmap(NULL, g->size + g->page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(g->base != MAP_FAILED);
  assert_int_equal(mprotect(g->base + g->size, g->page, PROT_NONE), 0);
}

/* Copy n bytes so that they end exactly at the guard page. */
static const char *guard_place(guard *g, const char *src, size_t n) {
  assert_true(n <= g->size);
  char *p = g->base + g->size - n;
  if (n) memcpy(p, src, n);
  return p;
}

static void guard_free(guard *g) { munmap(g->base, g->size + g->page); }

#define MAXH SIPKIT_DEFAULT_HEADERS

typedef struct parsed {
  sipkit_msg msg;
  sipkit_header hdrs[MAXH];
  sipkit_error err;
  int rc;
  size_t consumed;
} parsed;

static parsed *parsed_new(void) {
  parsed *p = calloc(1, sizeof *p);
  sipkit_msg_init(&p->msg, p->hdrs, MAXH);
  return p;
}

static void parsed_reset(parsed *p) {
  memset(p, 0, sizeof *p);
  sipkit_msg_init(&p->msg, p->hdrs, MAXH);
}

static const char *cname(int code) {
  const char *n = sipkit_err_name(code);
  return n ? n : "(null)";
}

#define CHECK_CODE(got, want, what)                                            \
  do {                                                                         \
    if ((got) != (want)) {                                                     \
      print_error("%s: %s: got %s (%d), want %s (%d)\n", c->name, what,        \
                  cname(got), (int)(got), cname(want), (int)(want));           \
      fail();                                                                  \
    }                                                                          \
  } while (0)

static void span_eq(const char *what, const char *field, sipkit_span a,
                    sipkit_span b) {
  if (a.off != b.off || a.len != b.len) {
    print_error("%s: field %s differs: %u+%u vs %u+%u\n", what, field, a.off,
                a.len, b.off, b.len);
    fail();
  }
}

#define SPAN_EQ(f) span_eq(what, #f, a->f, b->f)
#define INT_EQ(f)                                                              \
  do {                                                                         \
    if ((long long)a->f != (long long)b->f) {                                  \
      print_error("%s: field %s differs: %lld vs %lld\n", what, #f,            \
                  (long long)a->f, (long long)b->f);                           \
      fail();                                                                  \
    }                                                                          \
  } while (0)

static void uri_eq(const char *what, const sipkit_uri *a, const sipkit_uri *b) {
  SPAN_EQ(all); SPAN_EQ(user); SPAN_EQ(password); SPAN_EQ(host);
  SPAN_EQ(params); SPAN_EQ(headers); SPAN_EQ(transport); SPAN_EQ(user_param);
  SPAN_EQ(method); SPAN_EQ(maddr); SPAN_EQ(ttl);
  INT_EQ(port); INT_EQ(scheme); INT_EQ(host_type); INT_EQ(lr); INT_EQ(has_port);
}

static void hdr_eq(const char *what, const sipkit_header *a,
                   const sipkit_header *b) {
  SPAN_EQ(name); SPAN_EQ(value);
  INT_EQ(id); INT_EQ(parsed); INT_EQ(element);
  if (!a->parsed) return;
  switch (a->id) {
  case SIPKIT_HDR_VIA:
    SPAN_EQ(u.via.protocol); SPAN_EQ(u.via.transport); SPAN_EQ(u.via.host);
    SPAN_EQ(u.via.branch); SPAN_EQ(u.via.received); SPAN_EQ(u.via.rport);
    SPAN_EQ(u.via.maddr); SPAN_EQ(u.via.ttl); SPAN_EQ(u.via.params);
    INT_EQ(u.via.port); INT_EQ(u.via.host_type); INT_EQ(u.via.has_rport);
    INT_EQ(u.via.has_port);
    break;
  case SIPKIT_HDR_FROM: case SIPKIT_HDR_TO: case SIPKIT_HDR_CONTACT:
  case SIPKIT_HDR_ROUTE: case SIPKIT_HDR_RECORD_ROUTE:
    SPAN_EQ(u.addr.display); SPAN_EQ(u.addr.tag); SPAN_EQ(u.addr.q);
    SPAN_EQ(u.addr.expires); SPAN_EQ(u.addr.params);
    INT_EQ(u.addr.star); INT_EQ(u.addr.display_quoted); INT_EQ(u.addr.angle);
    uri_eq(what, &a->u.addr.uri, &b->u.addr.uri);
    break;
  case SIPKIT_HDR_CSEQ:
    INT_EQ(u.cseq.num); INT_EQ(u.cseq.method); SPAN_EQ(u.cseq.method_name);
    break;
  case SIPKIT_HDR_CONTENT_LENGTH: case SIPKIT_HDR_MAX_FORWARDS:
  case SIPKIT_HDR_EXPIRES:
    INT_EQ(u.number);
    break;
  case SIPKIT_HDR_CONTENT_TYPE:
    SPAN_EQ(u.ctype.type); SPAN_EQ(u.ctype.subtype); SPAN_EQ(u.ctype.params);
    break;
  default:
    break;
  }
}

/* Quick pointers must point at the same header entry in both. */
static void ptr_eq(const char *what, const char *field, const void *pa,
                   const sipkit_msg *ma, const void *pb, const sipkit_msg *mb) {
  long oa = pa ? (long)((const char *)pa - (const char *)ma->headers) : -1;
  long ob = pb ? (long)((const char *)pb - (const char *)mb->headers) : -1;
  if (oa != ob) {
    print_error("%s: quick pointer %s differs (%ld vs %ld)\n", what, field, oa,
                ob);
    fail();
  }
}

/* Field-by-field comparison of two successful parses of the same bytes. */
static void msg_eq(const char *what, const sipkit_msg *a, const sipkit_msg *b) {
  INT_EQ(status); INT_EQ(method);
  SPAN_EQ(method_name); SPAN_EQ(reason); SPAN_EQ(version); SPAN_EQ(request_uri);
  if (a->status == 0) uri_eq(what, &a->ruri, &b->ruri);
  SPAN_EQ(body); INT_EQ(size); INT_EQ(has_content_length);
  if (a->has_content_length) INT_EQ(content_length);
  SPAN_EQ(call_id);
  INT_EQ(num_headers);
  if (a->first[SIPKIT_HDR_MAX_FORWARDS]) INT_EQ(max_forwards);
  if (a->first[SIPKIT_HDR_EXPIRES]) INT_EQ(expires);
  for (int i = 0; i < SIPKIT_HDR__COUNT; i++) {
    if (a->first[i] != b->first[i]) {
      print_error("%s: first[%d] differs: %u vs %u\n", what, i, a->first[i],
                  b->first[i]);
      fail();
    }
  }
  ptr_eq(what, "via", a->via, a, b->via, b);
  ptr_eq(what, "from", a->from, a, b->from, b);
  ptr_eq(what, "to", a->to, a, b->to, b);
  ptr_eq(what, "contact", a->contact, a, b->contact, b);
  ptr_eq(what, "cseq", a->cseq, a, b->cseq, b);
  ptr_eq(what, "content_type", a->content_type, a, b->content_type, b);
  uint32_t n = a->num_headers < b->num_headers ? a->num_headers : b->num_headers;
  for (uint32_t i = 0; i < n; i++) {
    char w[256];
    snprintf(w, sizeof w, "%s header[%u]", what, i);
    hdr_eq(w, &a->headers[i], &b->headers[i]);
  }
}

/* Sanity of a successful parse that does not depend on the input. */
static void msg_sane(const corpus_case *c, const sipkit_msg *m, size_t len) {
  if (m->size > len || m->body.off + m->body.len > m->size ||
      m->num_headers > MAXH) {
    print_error("%s: size %u body %u+%u num_headers %u (len %zu)\n", c->name,
                m->size, m->body.off, m->body.len, m->num_headers, len);
    fail();
  }
  if (m->has_content_length) {
    assert_int_equal(m->body.len, m->content_length);
    assert_int_equal(m->body.off + m->body.len, m->size);
  } else {
    assert_int_equal(m->size, len); /* datagram: body is the rest */
  }
  for (uint32_t i = 0; i < m->num_headers; i++) {
    const sipkit_header *h = &m->headers[i];
    assert_true(h->name.len > 0);
    assert_true(h->name.off + h->name.len <= m->size);
    assert_true(h->value.off + h->value.len <= m->size);
    assert_true(h->id < SIPKIT_HDR__COUNT);
    if (h->id != SIPKIT_HDR_OTHER) assert_true(m->first[h->id] >= 1 &&
                                               m->first[h->id] <= i + 1);
  }
  for (int id = 1; id < SIPKIT_HDR__COUNT; id++) {
    if (m->first[id]) {
      assert_true(m->first[id] <= m->num_headers);
      assert_int_equal(m->headers[m->first[id] - 1].id, id);
    }
  }
  if (m->status == 0) { /* request: quick pointers present */
    assert_true(m->request_uri.len > 0);
  } else {
    assert_true(m->status >= 100 && m->status <= 699);
  }
}

static void err_sane(const corpus_case *c, const sipkit_error *e, int code,
                     const char *buf, size_t len) {
  CHECK_CODE(e->code, code, "err.code");
  assert_true(e->offset <= len);
  assert_true(e->line >= 1);
  assert_true(e->column >= 1);
  assert_non_null(e->rule);
  char out[512];
  int n = sipkit_error_format(e, buf, len, out, sizeof out);
  assert_true(n > 0);
  char want[128];
  snprintf(want, sizeof want, "error %s at %u (%u:%u): ", sipkit_err_name(code),
           e->offset, e->line, e->column);
  if (strncmp(out, want, strlen(want)) != 0) {
    print_error("%s: sipkit_error_format gave \"%s\", want prefix \"%s\"\n",
                c->name, out, want);
    fail();
  }
  /* snprintf semantics: a short buffer gets the same needed length */
  char small[8];
  assert_int_equal(sipkit_error_format(e, buf, len, small, sizeof small), n);
  assert_true(memchr(small, 0, sizeof small) != NULL);
}

/* ------------------------------------------------------------------ */
/* checks column                                                       */

static void run_checks(const corpus_case *c, const parsed *p, const char *buf,
                       size_t len) {
  if (strcmp(c->checks, "-") == 0 || c->checks[0] == 0) return;
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s", c->checks);
  char *save = NULL;
  for (char *t = strtok_r(tmp, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
    if (strncmp(t, "validate:", 9) == 0) {
      char *eq = strchr(t, '=');
      assert_non_null(eq);
      *eq = 0;
      const char *hname = t + 9;
      const sipkit_header *h =
          sipkit_msg_find(&p->msg, buf, hname, strlen(hname));
      if (h == NULL) {
        print_error("%s: no %s header to validate\n", c->name, hname);
        fail();
      }
      sipkit_error e;
      memset(&e, 0, sizeof e);
      int want = err_code_by_name(eq + 1);
      int rc = sipkit_header_validate(&p->msg, buf, h, &e);
      CHECK_CODE(rc, want, "sipkit_header_validate");
    } else if (strncmp(t, "ruri.port=", 10) == 0) {
      assert_int_equal(p->msg.ruri.port, atoi(t + 10));
    } else if (strncmp(t, "ruri.has_port=", 14) == 0) {
      assert_int_equal(p->msg.ruri.has_port, atoi(t + 14));
    } else if (strcmp(t, "then-append-lf") == 0) {
      /* handled by run_case */
    } else if (strncmp(t, "trailing=", 9) == 0) {
      assert_int_equal(len - p->msg.size, (size_t)atoi(t + 9));
    } else {
      print_error("%s: unknown check '%s'\n", c->name, t);
      fail();
    }
  }
}

/* ------------------------------------------------------------------ */
/* the per-row test                                                    */

/* A JAIN-SIP .hdr case wrapped in a minimal valid request.  The mandatory
 * header the case itself supplies (From, To, Content-Type) is left out of
 * the wrapper.  Line ends are LF like the case files (lenient-lf mode). */
static char *wrap_header(const char *h, size_t hlen, size_t *outlen,
                         char *hname, size_t hname_cap) {
  size_t n = 0;
  while (n < hlen && h[n] != ':' && h[n] != ' ' && h[n] != '\t') n++;
  snprintf(hname, hname_cap, "%.*s", (int)n, h);
  int is_from = sipkit_hdr_lookup(h, n) == SIPKIT_HDR_FROM;
  int is_to = sipkit_hdr_lookup(h, n) == SIPKIT_HDR_TO;
  char *out = malloc(hlen + 1024);
  size_t o = 0;
#define PUT(s) (memcpy(out + o, s, strlen(s)), o += strlen(s))
  PUT("OPTIONS sip:wrap@example.com SIP/2.0\n");
  PUT("Via: SIP/2.0/UDP wrap.example.com;branch=z9hG4bKwrap\n");
  PUT("Max-Forwards: 70\n");
  if (!is_from) PUT("From: <sip:a@example.com>;tag=w1\n");
  if (!is_to) PUT("To: <sip:b@example.com>\n");
  PUT("Call-ID: wrap@example.com\n");
  PUT("CSeq: 1 OPTIONS\n");
  memcpy(out + o, h, hlen);
  o += hlen;
  if (hlen == 0 || h[hlen - 1] != '\n') PUT("\n");
  PUT("Content-Length: 0\n\n");
#undef PUT
  *outlen = o;
  return out;
}

/* Does the input contain an empty line (CRLF CRLF or, leniently, LF LF)? */
static int headers_terminated(const char *buf, size_t len) {
  size_t i0 = 0;
  while (i0 < len && (buf[i0] == '\r' || buf[i0] == '\n')) i0++; /* keep-alives */
  for (size_t i = i0; i + 1 < len; i++)
    if (buf[i] == '\n' && (buf[i + 1] == '\n' ||
                           (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')))
      return 1;
  return 0;
}

static void stream_checks(const corpus_case *c, const char *buf, size_t len,
                          const parsed *dg, guard *g) {
  parsed *p = parsed_new();
  int full;
  size_t consumed = 0;
  const char *gb;

  /* whole input, fresh msg, against the guard page */
  gb = guard_place(g, buf, len);
  full = sipkit_parse_stream(&p->msg, gb, len, c->flags, &consumed, &p->err);

  int want_full;
  if (dg->rc == SIPKIT_EOK)
    want_full = dg->msg.has_content_length ? SIPKIT_EOK : SIPKIT_ENO_CONTENT_LENGTH;
  else if (dg->rc == SIPKIT_EBODY_TRUNCATED || dg->rc == SIPKIT_EHEADERS_END ||
           (!headers_terminated(buf, len) && full == SIPKIT_EINCOMPLETE))
    want_full = SIPKIT_EINCOMPLETE; /* a stream waits for the end of headers */
  else
    want_full = dg->rc;
  if (full != want_full &&
      !(dg->rc != SIPKIT_EOK && full == SIPKIT_ENO_CONTENT_LENGTH)) {
    CHECK_CODE(full, want_full, "stream parse of the whole input");
  }
  if (full == SIPKIT_EOK) {
    assert_int_equal(consumed, dg->msg.size);
    msg_eq(c->name, &dg->msg, &p->msg);
  } else if (full == dg->rc && full != SIPKIT_EINCOMPLETE) {
    /* the same error at the same place */
    assert_int_equal(p->err.code, dg->err.code);
    assert_int_equal(p->err.offset, dg->err.offset);
    assert_int_equal(p->err.line, dg->err.line);
    assert_int_equal(p->err.column, dg->err.column);
  }
  if (dg->rc == SIPKIT_EOK && !dg->msg.has_content_length) {
    /* datagram-only message: no split check */
    free(p);
    return;
  }

  /* every prefix, fresh msg, flush against the guard page */
  size_t end = full == SIPKIT_EOK ? dg->msg.size : len;
  for (size_t k = 0; k <= end; k++) {
    parsed_reset(p);
    gb = guard_place(g, buf, k);
    int rc = sipkit_parse_stream(&p->msg, gb, k, c->flags, &consumed, &p->err);
    if (full == SIPKIT_EOK && k < end) {
      if (rc != SIPKIT_EINCOMPLETE) {
        print_error("%s: stream prefix %zu of %zu: got %s, want INCOMPLETE\n",
                    c->name, k, end, cname(rc));
        fail();
      }
    } else if (rc != SIPKIT_EINCOMPLETE && rc != full) {
      print_error("%s: stream prefix %zu of %zu: got %s, want INCOMPLETE or %s\n",
                  c->name, k, end, cname(rc), cname(full));
      fail();
    }
    if (rc == SIPKIT_EOK) {
      assert_int_equal(consumed, dg->msg.size);
      msg_eq(c->name, &dg->msg, &p->msg);
    }
  }

  /* incremental: the same msg, the buffer grown one byte at a time */
  parsed_reset(p);
  int last = SIPKIT_EINCOMPLETE;
  size_t k;
  for (k = 0; k <= len; k++) {
    last = sipkit_parse_stream(&p->msg, buf, k, c->flags, &consumed, &p->err);
    if (last != SIPKIT_EINCOMPLETE) break;
  }
  if (last != full) {
    print_error("%s: incremental stream parse ended with %s at %zu, want %s\n",
                c->name, cname(last), k, cname(full));
    fail();
  }
  if (full == SIPKIT_EOK) {
    assert_int_equal(k, dg->msg.size);
    assert_int_equal(consumed, dg->msg.size);
    msg_eq(c->name, &dg->msg, &p->msg);
  }
  free(p);
}

static void run_url(const corpus_case *c, const char *buf, size_t len) {
  guard g;
  guard_init(&g, len);
  const char *gb = guard_place(&g, buf, len);
  sipkit_uri u, u2;
  sipkit_error e;
  memset(&u, 0, sizeof u);
  memset(&e, 0, sizeof e);
  sipkit_span all = {0, (uint32_t)len};
  int rc = sipkit_uri_parse(&u, gb, all, &e);
  CHECK_CODE(rc, c->accept ? SIPKIT_EOK : c->err, "sipkit_uri_parse");
  if (rc == SIPKIT_EOK) {
    assert_int_equal(u.all.off, 0);
    assert_int_equal(u.all.len, len);
    memset(&u2, 0, sizeof u2);
    assert_int_equal(sipkit_uri_parse(&u2, buf, all, &e), SIPKIT_EOK);
    uri_eq(c->name, &u, &u2);
  }
  /* every prefix against the guard page: must not over-read */
  for (size_t k = 0; k < len; k++) {
    sipkit_span s = {0, (uint32_t)k};
    gb = guard_place(&g, buf, k);
    rc = sipkit_uri_parse(&u2, gb, s, &e);
    assert_true(rc >= 0 && rc <= SIPKIT_EHEADERS_END);
  }
  guard_free(&g);
}

static void run_message(const corpus_case *c, const char *buf, size_t len,
                        const char *hname);

static void run_case(void **state) {
  const corpus_case *c = *state;
  size_t flen = 0;
  char *fbuf = load_file(c->path, &flen);
  if (fbuf == NULL) {
    print_error("%s: cannot read %s (run from the repository root)\n", c->name,
                c->path);
    fail();
  }
  if (c->kind == K_URL) {
    run_url(c, fbuf, flen);
    free(fbuf);
    return;
  }
  char *buf = fbuf;
  size_t len = flen;
  char hname[64] = "";
  if (c->kind == K_HDR) buf = wrap_header(fbuf, flen, &len, hname, sizeof hname);
  run_message(c, buf, len, hname);
  if (strstr(c->checks, "then-append-lf") != NULL) {
    /* the bytes as given were checked above; now the same message with the
     * empty line that ends the header section added must be accepted */
    corpus_case c2 = *c;
    snprintf(c2.name, sizeof c2.name, "%.150s+LF", c->name);
    c2.accept = 1;
    c2.err = SIPKIT_EOK;
    snprintf(c2.checks, sizeof c2.checks, "-");
    char *b2 = malloc(len + 2);
    memcpy(b2, buf, len);
    size_t l2 = len;
    if (l2 == 0 || b2[l2 - 1] != '\n') b2[l2++] = '\n';
    b2[l2++] = '\n';
    run_message(&c2, b2, l2, hname);
    free(b2);
  }
  if (buf != fbuf) free(buf);
  free(fbuf);
}

static void run_message(const corpus_case *c, const char *buf, size_t len,
                        const char *hname) {
  /* 1. datagram parse of a private exact-size copy */
  parsed *dg = parsed_new();
  char *exact = malloc(len ? len : 1);
  memcpy(exact, buf, len);
  dg->rc = sipkit_parse(&dg->msg, exact, len, c->flags, &dg->err);
  if (c->accept) {
    if (dg->rc != SIPKIT_EOK) {
      char out[512];
      sipkit_error_format(&dg->err, exact, len, out, sizeof out);
      print_error("%s: want accept, got %s\n", c->name, out);
      fail();
    }
    msg_sane(c, &dg->msg, len);
    run_checks(c, dg, exact, len);
    if (c->kind == K_HDR) {
      const sipkit_header *h = sipkit_msg_find(&dg->msg, exact, hname, strlen(hname));
      assert_non_null(h);
      sipkit_error e;
      int rc = sipkit_header_validate(&dg->msg, exact, h, &e);
      CHECK_CODE(rc, SIPKIT_EOK, "sipkit_header_validate of the wrapped header");
    }
  } else {
    if (dg->rc != c->err) {
      char out[512] = "OK";
      if (dg->rc) sipkit_error_format(&dg->err, exact, len, out, sizeof out);
      print_error("%s: want %s, got %s\n", c->name, cname(c->err), out);
      fail();
    }
    err_sane(c, &dg->err, c->err, exact, len);
  }

  /* 2. the same against the guard page */
  guard g;
  guard_init(&g, len);
  parsed *gp = parsed_new();
  const char *gb = guard_place(&g, buf, len);
  gp->rc = sipkit_parse(&gp->msg, gb, len, c->flags, &gp->err);
  CHECK_CODE(gp->rc, dg->rc, "guard-page datagram parse");
  if (gp->rc == SIPKIT_EOK) {
    msg_eq(c->name, &dg->msg, &gp->msg);
  } else {
    assert_int_equal(gp->err.offset, dg->err.offset);
    assert_int_equal(gp->err.line, dg->err.line);
    assert_int_equal(gp->err.column, dg->err.column);
  }

  /* 3. stream framing (the framing column says how the message is meant;
   *    every message is also checked for stream/datagram agreement) */
  if (c->stream_framing) {
    size_t consumed;
    parsed_reset(gp);
    int rc = sipkit_parse_stream(&gp->msg, buf, len, c->flags, &consumed, &gp->err);
    CHECK_CODE(rc, c->accept ? SIPKIT_EOK : c->err, "stream framing verdict");
  }
  stream_checks(c, buf, len, dg, &g);

  /* 4. every datagram prefix against the guard page */
  for (size_t k = 0; k < len; k++) {
    parsed_reset(gp);
    gb = guard_place(&g, buf, k);
    int rc = sipkit_parse(&gp->msg, gb, k, c->flags, &gp->err);
    assert_true(rc >= 0 && rc <= SIPKIT_EHEADERS_END);
  }

  guard_free(&g);
  free(gp);
  free(dg);
  free(exact);
}

/* ------------------------------------------------------------------ */
/* verdicts.tsv loader                                                 */

static int load_verdicts(const char *dir, corpus_case **cases, size_t *n,
                         size_t *cap) {
  char path[256];
  snprintf(path, sizeof path, "tests/msgs/%s/verdicts.tsv", dir);
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "test_corpus: cannot open %s (run from the repository root)\n",
            path);
    return -1;
  }
  char line[4096];
  int lineno = 0, bad = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    line[strcspn(line, "\r\n")] = 0;
    if (line[0] == '#' || line[0] == 0) continue;
    char *col[8] = {0};
    int nc = 0;
    char *s = line;
    while (nc < 8) {
      col[nc++] = s;
      char *t = strchr(s, '\t');
      if (!t) break;
      *t = 0;
      s = t + 1;
    }
    if (nc < 6) {
      fprintf(stderr, "%s:%d: want at least 6 columns\n", path, lineno);
      bad = 1;
      continue;
    }
    if (*n == *cap) *cases = realloc(*cases, (*cap = *cap * 2 + 64) * sizeof **cases);
    corpus_case *c = &(*cases)[(*n)++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s/%s", dir, col[0]);
    snprintf(c->path, sizeof c->path, "tests/msgs/%s/%s", dir, col[0]);
    c->accept = strcmp(col[1], "accept") == 0;
    if (!c->accept && strcmp(col[1], "reject") != 0) {
      fprintf(stderr, "%s:%d: verdict '%s'\n", path, lineno, col[1]);
      bad = 1;
    }
    c->err = c->accept ? SIPKIT_EOK : err_code_by_name(col[2]);
    if (!c->accept && c->err <= 0) {
      fprintf(stderr, "%s:%d: unknown error name '%s'\n", path, lineno, col[2]);
      bad = 1;
    }
    c->stream_framing = strcmp(col[3], "stream") == 0;
    if (!c->stream_framing && strcmp(col[3], "datagram") != 0) {
      fprintf(stderr, "%s:%d: framing '%s'\n", path, lineno, col[3]);
      bad = 1;
    }
    if (strcmp(col[4], "lenient-lf") == 0)
      c->flags = SIPKIT_PARSE_LENIENT_LF;
    else if (strcmp(col[4], "strict") != 0) {
      fprintf(stderr, "%s:%d: mode '%s'\n", path, lineno, col[4]);
      bad = 1;
    }
    snprintf(c->checks, sizeof c->checks, "%s", nc > 6 ? col[6] : "-");
    size_t fl = strlen(col[0]);
    c->kind = K_MSG;
    if (fl > 4 && strcmp(col[0] + fl - 4, ".url") == 0) c->kind = K_URL;
    if (fl > 4 && strcmp(col[0] + fl - 4, ".hdr") == 0) c->kind = K_HDR;
  }
  fclose(f);
  return bad ? -1 : 0;
}

int main(int argc, char **argv) {
  corpus_case *cases = NULL;
  size_t n = 0, cap = 0;
  int bad = 0;
  for (size_t i = 0; i < sizeof CORPORA / sizeof CORPORA[0]; i++)
    if (load_verdicts(CORPORA[i], &cases, &n, &cap) != 0) bad = 1;
  if (bad) return 1;

  /* optional filter: run only cases whose name contains argv[1] */
  struct CMUnitTest *tests = calloc(n ? n : 1, sizeof *tests);
  size_t nt = 0;
  for (size_t i = 0; i < n; i++) {
    if (argc > 1 && strstr(cases[i].name, argv[1]) == NULL) continue;
    tests[nt].name = cases[i].name;
    tests[nt].test_func = run_case;
    tests[nt].initial_state = &cases[i];
    nt++;
  }
  int rc = _cmocka_run_group_tests("corpus", tests, nt, NULL, NULL);
  free(tests);
  free(cases);
  return rc;
}
