/* internal.h - sipkit__ helpers shared by the parser core and the
 * generated machines.  Not installed. */
#ifndef SIPKIT_INTERNAL_H
#define SIPKIT_INTERNAL_H

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "sipkit.h"
#include "sipkit_hdr_table.h"

typedef const unsigned char *sipkit__ptr;

/* State of one parse, shared by parse.c and the generated machines. */
struct sipkit__ctx {
  sipkit_msg *msg;
  sipkit__ptr base;     /* buf */
  sipkit__ptr end;      /* buf + len */
  unsigned flags;
  int code;             /* first error wins */
  uint32_t err_off;
  const char *err_rule; /* the rule of the recorded error */
  const char *rule;     /* frame machine: the rule being matched */
  sipkit_header *cur;   /* header entry the value machine fills */
  int element_done;     /* list headers: the current element has ended */
  sipkit__ptr el_start; /* where the current element began */
  uint32_t vias;
};

static inline sipkit_span sipkit__span(const struct sipkit__ctx *c, sipkit__ptr a,
                                       sipkit__ptr b) {
  sipkit_span s = {(uint32_t)(a - c->base), (uint32_t)(b - a)};
  return s;
}

/* Record an error unless one is already recorded.  Returns 1. */
int sipkit__fail(struct sipkit__ctx *c, int code, sipkit__ptr at,
                 const char *rule);

/* Frame machine (gen/c/sip_frame.c): start line and header lines.  Returns
 * the position just past the empty line that ends the headers, or NULL with
 * c->code set (SIPKIT_EINCOMPLETE when the input ends first). */
sipkit__ptr sipkit__frame(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe);
/* The same from the first header line at p, after a start line taken in C
 * with the frame's own start-line actions (parse.c). */
sipkit__ptr sipkit__frame_lines(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe);

/* Test-only parse flag: no hand-written fast path; the generated machines
 * judge every byte.  Differential tests and fuzz_parse parse each input
 * with and without it and require identical results. */
#define SIPKIT__PARSE_REFERENCE (1u << 31)

/* Builder-only parse flag (sipkit_builder_finish, no msg asked for): the
 * values of Via and of the address headers (From, To, Contact, Route,
 * Record-Route) are not run through their machines, because the builder
 * ran each such line through the grammar rule of its header when it was
 * written; framing, limits, numbers and the checks of check_semantics are
 * all still made.  The message's via, from, to and contact pointers stay
 * NULL. */
#define SIPKIT__PARSE_BUILT (1u << 30)

/* Character classes (src/parse.c), RFC 3261 §25.1: token, Call-ID word,
 * DIGIT.  tests/test_fastpath.c checks the fast paths that use them against
 * the machines on every byte. */
enum {
  SIPKIT__C_TOKEN = 1, /* token */
  SIPKIT__C_WORD = 2,  /* word (callid) */
  SIPKIT__C_DIGIT = 4, /* DIGIT */
  SIPKIT__C_ALPHA = 8, /* ALPHA */
  SIPKIT__C_LABEL = 16, /* alphanum / "-": inside a host label */
  SIPKIT__C_HOST = 32, /* alphanum / "-" / ".": hostname, IPv4address */
  SIPKIT__C_USER = 64, /* unreserved / "&" / "=" / "+" / "$" / ",": user */
  SIPKIT__C_PARAM = 128, /* unreserved / param-unreserved: pname, pvalue */
  SIPKIT__C_ALNUM = SIPKIT__C_ALPHA | SIPKIT__C_DIGIT /* test with & */
};
extern const unsigned char sipkit__cls[256];

/* A hash of s[0..n) and seed, 8 bytes a step (a byte-by-byte hash costs
 * about 2 instructions a byte); take its high bits. */
static inline uint64_t sipkit__hash(uint64_t seed, const char *s, size_t n) {
  const uint64_t k = 0x9e3779b97f4a7c15ull; /* 2^64 / golden ratio */
  uint64_t h = seed * k, w;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    memcpy(&w, s + i, 8);
    h = (h ^ w) * k;
    h ^= h >> 32;
  }
  if (i < n) {
    if (n >= 8) {
      memcpy(&w, s + n - 8, 8); /* the last 8, overlapping: one load, no memcpy call */
    } else {
      w = 0;
      for (size_t j = i; j < n; j++)
        w = w << 8 | (unsigned char)s[j];
    }
    h = (h ^ w) * k;
  }
  return h;
}

/* build.c's scans that let a header line skip the grammar machine
 * (exported for tests/test_build.c, which compares them with it) */
size_t sipkit__build_param_tail(int id, const char *s, size_t n);
int sipkit__build_call_id_ok(const char *s, size_t n);
int sipkit__build_cseq_ok(const char *s, size_t n);
/* Check again a header line b->buf[off..off+n) ("Name: value", no CRLF)
 * changed after the builder wrote it (ua_auto.c's Via patch); records the
 * error as a line written would: sipkit_builder_finish does not run the
 * grammar over the lines again. */
struct sipkit_builder;
int sipkit__builder_recheck(struct sipkit_builder *b, int id, size_t off, size_t n);

/* How many of the four bytes at p, from the first, are in class k
 * (SIPKIT__C_*): 0 to 4. */
static inline unsigned sipkit__cls_prefix4(sipkit__ptr p, unsigned k) {
  if (!(sipkit__cls[p[0]] & k))
    return 0;
  if (!(sipkit__cls[p[1]] & k))
    return 1;
  if (!(sipkit__cls[p[2]] & k))
    return 2;
  return sipkit__cls[p[3]] & k ? 4 : 3;
}

/* First byte in [p, e) not in class k, or e; four a step. */
static inline sipkit__ptr sipkit__skip_cls(sipkit__ptr p, sipkit__ptr e, unsigned k) {
  if (e - p >= 4) {
    const sipkit__ptr e4 = e - 4; /* the loop test is one compare */
    do {
      unsigned n = sipkit__cls_prefix4(p, k);
      if (n < 4)
        return p + n;
      p += 4;
    } while (p <= e4);
  }
  while (p < e && (sipkit__cls[*p] & k))
    p++;
  return p;
}

/* First byte at or after p not in class k, for a run known to end: the
 * byte at the end of the span being read is in no class k (the CR, LF,
 * SP or HTAB after a trimmed header value, the ">" after a name-addr's
 * URI, the SP after a Request-URI), so no bound is tested, four a step. */
static inline __attribute__((always_inline)) sipkit__ptr sipkit__skip_cls_ended(sipkit__ptr p,
                                                                            unsigned k) {
  for (;; p += 4) {
    unsigned n = sipkit__cls_prefix4(p, k);
    if (n < 4)
      return p + n;
  }
}

/* memset(d, 0, n) for the fixed sizes of the parser's structs, in 16-byte
 * stores written out: gcc's rep stos takes one instruction per 8 bytes
 * and a setup. */
#if defined(__GNUC__) && !defined(__clang__)
#define SIPKIT__UNROLL _Pragma("GCC unroll 32")
#else
#define SIPKIT__UNROLL
#endif
static inline void sipkit__zero(void *d, size_t n) {
#if defined(__SSE2__)
  unsigned char *p = (unsigned char *)d;
  const __m128i z = _mm_setzero_si128();
  size_t i = 0;
  SIPKIT__UNROLL
  for (; i + 16 <= n; i += 16)
    _mm_storeu_si128((__m128i *)(void *)(p + i), z);
  if (i < n)
    memset(p + i, 0, n - i);
#else
  memset(d, 0, n);
#endif
}

/* Fast paths (src/fast.c): 1 when the value was recognised and recorded
 * as the machine would record it, 0 (nothing recorded) when the machine
 * must decide.  The Via and name-addr values [p, pe) are trimmed header
 * values: pe < c->end and *pe is the CR, LF, SP or HTAB after them (their
 * class scans rely on it). */
int sipkit__fast_via(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe);
int sipkit__fast_uri(struct sipkit__ctx *c, sipkit_uri *uri, sipkit__ptr p, sipkit__ptr pe);
int sipkit__fast_addr(struct sipkit__ctx *c, int hdr_id, sipkit__ptr p, sipkit__ptr pe);

/* First byte in [p, e) whose entry in cls is 0, or e; four a step. */
static inline sipkit__ptr sipkit__skip_run(sipkit__ptr p, sipkit__ptr e, const unsigned char *cls) {
  for (; e - p >= 4; p += 4) {
    if (!cls[p[0]])
      return p;
    if (!cls[p[1]])
      return p + 1;
    if (!cls[p[2]])
      return p + 2;
    if (!cls[p[3]])
      return p + 3;
  }
  while (p < e && cls[*p])
    p++;
  return p;
}

/* Called by the frame machine after each line end, with p at the start of
 * the next line.  Takes every following header line of the simple form
 * token *(SP / HTAB) ":" (the name looked up in sipkit__hdr_slots, the
 * rest done by sipkit__header_line, as the machine would) and returns the
 * start of the first line it did not take, for the machine to judge; NULL
 * on an error sipkit__header_line recorded. */
sipkit__ptr sipkit__header_lines(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe);

/* Called by the frame machine for each header line, at its colon.  Returns
 * the position of the line terminator (CR of the final CRLF, or the LF in
 * lenient mode), or NULL on error. */
sipkit__ptr sipkit__header_line(struct sipkit__ctx *c, sipkit__ptr name,
                                sipkit__ptr name_end, sipkit__ptr colon,
                                int hdr_id);
/* First ch in [p, end), or NULL: memchr without the call, for the short
 * distances of header values. */
static inline sipkit__ptr sipkit__find_byte(sipkit__ptr p, sipkit__ptr end, unsigned char ch) {
#if defined(__SSE2__)
  const __m128i v = _mm_set1_epi8((char)ch);
  if (end - p >= 16) {
    const sipkit__ptr e16 = end - 16; /* the loop test is one compare */
    do {
      unsigned m = (unsigned)_mm_movemask_epi8(
          _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), v));
      if (m)
        return p + __builtin_ctz(m);
      p += 16;
    } while (p <= e16);
    if (p == end)
      return NULL;
    /* the last 16 bytes, in one load overlapping the ones already seen */
    unsigned m = (unsigned)_mm_movemask_epi8(
                     _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)e16), v)) >>
                 (p - e16);
    return m ? p + __builtin_ctz(m) : NULL;
  }
#endif
  for (; p < end; p++)
    if (*p == ch)
      return p;
  return NULL;
}

/* The first SP, CR or LF in [p, pe), or pe: the end of a Request-URI. */
static inline sipkit__ptr sipkit__find_sp_eol(sipkit__ptr q, sipkit__ptr pe) {
#if defined(__SSE2__)
  const __m128i sp = _mm_set1_epi8(' '), cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
  for (; pe - q >= 16; q += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
    unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
        _mm_cmpeq_epi8(x, sp), _mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, lf))));
    if (m)
      return q + __builtin_ctz(m);
  }
#endif
  while (q < pe && *q != ' ' && *q != '\r' && *q != '\n')
    q++;
  return q;
}

/* The last byte before the SP (or line end) that ends the Request-URI:
 * the frame skips it, and the URI machine then reads it once. */
static inline sipkit__ptr sipkit__skip_to_sp(sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr q = sipkit__find_sp_eol(p, pe);
  return q > p ? q - 1 : p;
}
void sipkit__start_line(struct sipkit__ctx *c, int what, sipkit__ptr a,
                        sipkit__ptr b);
enum { SIPKIT__SL_METHOD, SIPKIT__SL_RURI, SIPKIT__SL_VERSION,
       SIPKIT__SL_STATUS, SIPKIT__SL_REASON };

/* Value machines (gen/c/sip_*.c).  Each runs its ABNF rule over [p, pe)
 * and fills c->cur; returns 0, or 1 with c->code set. */
int sipkit__vm_uri(struct sipkit__ctx *c, sipkit_uri *uri, sipkit__ptr p, sipkit__ptr pe);
int sipkit__vm_via(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe);
int sipkit__vm_addr(struct sipkit__ctx *c, int hdr_id, sipkit__ptr p, sipkit__ptr pe);
int sipkit__vm_misc(struct sipkit__ctx *c, int hdr_id, sipkit__ptr p, sipkit__ptr pe);
int sipkit__vm_validate(struct sipkit__ctx *c, int hdr_id, sipkit__ptr p, sipkit__ptr pe);

/* A URI of the parser: the fast path, else the machine; 0, or 1 with
 * c->code set (sipkit__vm_uri's contract). */
static inline int sipkit__uri(struct sipkit__ctx *c, sipkit_uri *uri, sipkit__ptr p,
                              sipkit__ptr pe) {
  if (!(c->flags & SIPKIT__PARSE_REFERENCE) && sipkit__fast_uri(c, uri, p, pe))
    return c->code != SIPKIT_EOK;
  return sipkit__vm_uri(c, uri, p, pe);
}

/* Helpers the machines' one-line actions call. */
/* Marks every machine holding a URI declares (grammar/uri_actions.rl). */
#define SIPKIT__URI_MARKS \
  sipkit__ptr m_ui = p, m_hp = p, m_port = NULL, m_up = NULL, m_kp = p, m_uh = p; \
  (void)m_ui; (void)m_hp; (void)m_port; (void)m_up; (void)m_kp; (void)m_uh

static inline void sipkit__uri_userinfo(struct sipkit__ctx *c, sipkit_uri *u, sipkit__ptr a,
                          sipkit__ptr b) {
  sipkit__ptr at = b - 1; /* userinfo ends in "@" */
  sipkit__ptr colon = a; /* a user part is short: no memchr call */
  while (colon < at && *colon != ':')
    colon++;
  if (colon == at)
    colon = NULL;
  u->user = sipkit__span(c, a, colon ? colon : at);
  if (colon)
    u->password = sipkit__span(c, colon + 1, at);
}
void sipkit__uri_clear_params(sipkit_uri *u);
static inline void sipkit__uri_end(struct sipkit__ctx *c, sipkit_uri *u, sipkit__ptr a,
                     sipkit__ptr b, int scheme) {
  u->all = sipkit__span(c, a, b);
  u->scheme = (uint8_t)scheme;
  if (scheme == SIPKIT_SCHEME_OTHER && b - a >= 4 && (a[0] | 0x20) == 't' && (a[1] | 0x20) == 'e' && (a[2] | 0x20) == 'l' && a[3] == ':') {
    /* RFC 3966: the number up to the first parameter */
    sipkit__ptr n = a + 4, semi = memchr(n, ';', (size_t)(b - n));
    u->scheme = SIPKIT_SCHEME_TEL;
    u->user = sipkit__span(c, n, semi ? semi : b);
    if (semi)
      u->params = sipkit__span(c, semi + 1, b);
  }
}

enum { SIPKIT__UP_TRANSPORT, SIPKIT__UP_USER, SIPKIT__UP_METHOD, SIPKIT__UP_TTL,
       SIPKIT__UP_MADDR, SIPKIT__UP_LR };
static inline void sipkit__uri_param(struct sipkit__ctx *c, sipkit_uri *u, int which,
                       sipkit__ptr a, sipkit__ptr b) {
  /* uri-parameters have no LWS around "=" */
  sipkit__ptr eq = a; /* short: no memchr call */
  while (eq < b && *eq != '=')
    eq++;
  if (eq == b)
    eq = NULL;
  sipkit_span v = eq ? sipkit__span(c, eq + 1, b) : sipkit__span(c, b, b);
  switch (which) {
  case SIPKIT__UP_TRANSPORT: u->transport = v; break;
  case SIPKIT__UP_USER: u->user_param = v; break;
  case SIPKIT__UP_METHOD: u->method = v; break;
  case SIPKIT__UP_TTL: u->ttl = v; break;
  case SIPKIT__UP_MADDR: u->maddr = v; break;
  }
}
/* Loose routing (RFC 3261 §19.1.1): an "lr" URI parameter, with or without
 * a value ("lr=on", "lr=true": Kamailio's full-lr mode writes them); u->lr
 * only marks the bare one.  base: what u's spans are offsets into. */
int sipkit__uri_loose(const sipkit_uri *u, const char *base);

/* RFC 4291 address text between the brackets of an IPv6 reference. */
int sipkit__ipv6_ok(sipkit__ptr a, sipkit__ptr b);

/* hostport [a, b): the port, when present, starts at port; host_type from
 * the host rule that matched. */
static inline void sipkit__uri_hostport(struct sipkit__ctx *c, sipkit_uri *u, sipkit__ptr a,
                          sipkit__ptr port, sipkit__ptr b, int host_type) {
  sipkit__ptr h_end = port ? port - 1 : b;
  u->host = sipkit__span(c, a, h_end);
  u->host_type = (uint8_t)host_type;
  u->port = 0;
  u->has_port = 0;
  if (host_type == SIPKIT_HOST_IPV6 && !sipkit__ipv6_ok(a + 1, h_end - 1)) {
    sipkit__fail(c, SIPKIT_EURI, a, "IPv6reference");
    return;
  }
  if (port) {
    uint32_t v = 0;
    for (sipkit__ptr x = port; x < b; x++) {
      v = v * 10 + (uint32_t)(*x - '0');
      if (v > 65535) { /* also keeps the accumulation from ever wrapping */
        sipkit__fail(c, SIPKIT_EURI, x, "port");
        return;
      }
    }
    u->port = v;
    u->has_port = 1;
  }
}


/* List headers: an element starts / ends.  Pushing a new entry may fail
 * (header array full). */
void sipkit__element_begin(struct sipkit__ctx *c, sipkit__ptr p);
static inline void sipkit__element_end(struct sipkit__ctx *c, sipkit__ptr p) {
  c->cur->value = sipkit__span(c, c->el_start, p);
  c->element_done = 1;
}

enum { SIPKIT__VP_BRANCH, SIPKIT__VP_RECEIVED, SIPKIT__VP_MADDR, SIPKIT__VP_TTL,
       SIPKIT__VP_RPORT };
void sipkit__via_param(struct sipkit__ctx *c, int which, sipkit__ptr a, sipkit__ptr b);
void sipkit__via_sent_by(struct sipkit__ctx *c, sipkit__ptr a, sipkit__ptr b);

enum { SIPKIT__AP_TAG, SIPKIT__AP_Q, SIPKIT__AP_EXPIRES };
void sipkit__addr_param(struct sipkit__ctx *c, int which, sipkit__ptr a, sipkit__ptr b);
/* At the "<" of a name-addr: records the URI span up to ">" and returns
 * the position of its last byte for the machine to resume at. */
static inline sipkit__ptr sipkit__addr_skip_uri(struct sipkit__ctx *c, sipkit__ptr lt, sipkit__ptr pe) {
  /* The URI inside < > is judged by the URI machine afterwards; the
   * value machine only needs to see its last byte and the ">". */
  sipkit__ptr gt = sipkit__find_byte(lt + 1, pe, '>');
  if (!gt || gt == lt + 1)
    return lt + 1;
  c->cur->u.addr.uri.all = sipkit__span(c, lt + 1, gt);
  c->cur->u.addr.angle = 1;
  return gt - 1;
}
void sipkit__addr_display(struct sipkit__ctx *c, sipkit__ptr a, sipkit__ptr b);

/* Decimal number of at most SIPKIT_MAX_DIGITS digits; leading zeros
 * allowed.  Returns 0, or 1 after recording NUMBER_TOO_LONG / the error
 * given for a non-digit. */

/* Copy the bytes of span s of buf into dst (capacity cap): a longer value
 * is SIPKIT_EBUFFER_TOO_SMALL, never truncated.  For the transaction and
 * dialog layers, which keep values past the message buffer. */
static inline int sipkit__copy_span(char *dst, uint16_t *dlen, size_t cap, const char *buf,
                                    sipkit_span s) {
  if (s.len > cap)
    return SIPKIT_EBUFFER_TOO_SMALL;
  if (s.len)
    memcpy(dst, buf + s.off, s.len);
  *dlen = (uint16_t)s.len;
  return SIPKIT_EOK;
}

/* Copy the outcome of a parse into *err (may be NULL). */
void sipkit__report(const struct sipkit__ctx *c, sipkit_error *err);

/* 1-based line and column of offset off in buf. */
void sipkit__line_col(const char *buf, size_t len, uint32_t off, uint32_t *line,
                      uint32_t *col);

#endif
