/* parse.c - framing, limits and the checks the ABNF cannot express, around
 * the generated machines in gen/c/. */
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "internal.h"

/* ------------------------------------------------------------------ errors */

static const char *const err_names[] = {
#define XX(num, name, desc) [num] = #name,
    SIPKIT_ERRNO_MAP(XX)
#undef XX
};
static const char *const err_descs[] = {
#define XX(num, name, desc) [num] = desc,
    SIPKIT_ERRNO_MAP(XX)
#undef XX
};

const char *sipkit_err_name(int code) {
  if (code < 0 || (size_t)code >= sizeof err_names / sizeof *err_names ||
      !err_names[code])
    return "UNKNOWN";
  return err_names[code];
}

const char *sipkit_strerror(int code) {
  if (code < 0 || (size_t)code >= sizeof err_descs / sizeof *err_descs ||
      !err_descs[code])
    return "unknown error";
  return err_descs[code];
}

int sipkit__fail(struct sipkit__ctx *c, int code, sipkit__ptr at,
                 const char *rule) {
  if (c->code == SIPKIT_EOK) {
    c->code = code;
    c->err_off = (uint32_t)(at - c->base);
    c->err_rule = rule ? rule : "";
  }
  return 1;
}

void sipkit__line_col(const char *buf, size_t len, uint32_t off,
                      uint32_t *line, uint32_t *col) {
  uint32_t ln = 1;
  size_t bol = 0;
  if (off > len)
    off = (uint32_t)len;
  for (const char *p = buf, *e = buf + off;
       (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++) {
    ln++;
    bol = (size_t)(p - buf) + 1;
  }
  *line = ln;
  *col = (uint32_t)(off - bol) + 1;
}

int sipkit_error_format(const sipkit_error *err, const char *buf, size_t len,
                        char *out, size_t cap) {
  const char *rule = err->rule && *err->rule ? err->rule : NULL;
  char near[16 * 4 + 16] = "";
  if (buf && err->offset < len) {
    /* a short, escaped excerpt: never dump the input */
    size_t n = 0, k = 0;
    n += (size_t)snprintf(near, sizeof near, " near \"");
    for (size_t i = err->offset; i < len && k < 16; i++, k++) {
      unsigned char ch = (unsigned char)buf[i];
      if (ch == '\r')
        n += (size_t)snprintf(near + n, sizeof near - n, "\\r");
      else if (ch == '\n')
        n += (size_t)snprintf(near + n, sizeof near - n, "\\n");
      else if (ch == '"' || ch == '\\')
        n += (size_t)snprintf(near + n, sizeof near - n, "\\%c", ch);
      else if (ch < 0x20 || ch >= 0x7f)
        n += (size_t)snprintf(near + n, sizeof near - n, "\\x%02x", ch);
      else
        near[n++] = (char)ch, near[n] = 0;
    }
    snprintf(near + n, sizeof near - n, "\"");
  }
  return snprintf(out, cap, "error %s at %u (%u:%u): %s%s%s%s%s",
                  sipkit_err_name(err->code), err->offset, err->line,
                  err->column, sipkit_strerror(err->code), rule ? " [" : "",
                  rule ? rule : "", rule ? "]" : "", near);
}

/* ----------------------------------------------------------------- methods */

static const char *const method_names[] = {
#define XX(num, name) [num] = #name,
    SIPKIT_METHOD_MAP(XX)
#undef XX
};

static const unsigned char method_lens[] = {
#define XX(num, name) [num] = sizeof #name - 1,
    SIPKIT_METHOD_MAP(XX)
#undef XX
};

const char *sipkit_method_name(int method) {
  if (method <= 0 ||
      (size_t)method >= sizeof method_names / sizeof *method_names)
    return "";
  return method_names[method];
}

int sipkit_method_lookup(const char *name, size_t len) {
  /* Methods are case-sensitive (RFC 3261 §7.1).  Every known method starts
   * with a distinct letter but INVITE/INFO, PRACK/PUBLISH, REGISTER/REFER
   * and the first byte plus the length tell them apart. */
  int guess;
  switch (len ? name[0] : 0) {
  case 'A': guess = SIPKIT_METHOD_ACK; break;
  case 'B': guess = SIPKIT_METHOD_BYE; break;
  case 'C': guess = SIPKIT_METHOD_CANCEL; break;
  case 'I': guess = len == 6 ? SIPKIT_METHOD_INVITE : SIPKIT_METHOD_INFO; break;
  case 'M': guess = SIPKIT_METHOD_MESSAGE; break;
  case 'N': guess = SIPKIT_METHOD_NOTIFY; break;
  case 'O': guess = SIPKIT_METHOD_OPTIONS; break;
  case 'P': guess = len == 5 ? SIPKIT_METHOD_PRACK : SIPKIT_METHOD_PUBLISH; break;
  case 'R': guess = len == 8 ? SIPKIT_METHOD_REGISTER : SIPKIT_METHOD_REFER; break;
  case 'S': guess = SIPKIT_METHOD_SUBSCRIBE; break;
  case 'U': guess = SIPKIT_METHOD_UPDATE; break;
  default: return SIPKIT_METHOD_OTHER;
  }
  const char *known = method_names[guess];
  if (len != method_lens[guess])
    return SIPKIT_METHOD_OTHER;
  if (len >= 4) { /* the first and the last four bytes: all of a name up to 8 */
    uint32_t x, y, u, v;
    memcpy(&x, name, 4), memcpy(&y, known, 4);
    memcpy(&u, name + len - 4, 4), memcpy(&v, known + len - 4, 4);
    if (x != y || u != v)
      return SIPKIT_METHOD_OTHER;
    for (size_t i = 4; i + 4 < len; i++) /* SUBSCRIBE: the middle */
      if (known[i] != name[i])
        return SIPKIT_METHOD_OTHER;
    return guess;
  }
  for (size_t i = 1; i < len; i++) /* name[0] matched the switch */
    if (known[i] != name[i])
      return SIPKIT_METHOD_OTHER;
  return guess;
}

/* ----------------------------------------------------------------- headers */

static int ascii_ieq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if ((unsigned)(x - 'A') < 26u)
      x |= 0x20;
    if ((unsigned)(y - 'A') < 26u)
      y |= 0x20;
    if (x != y)
      return 0;
  }
  return 1;
}

int sipkit_hdr_lookup(const char *name, size_t len) {
  if (len == 1) {
    for (int id = 1; id < SIPKIT_HDR__COUNT; id++)
      if (sipkit__hdr_info[id].compact &&
          ascii_ieq(&sipkit__hdr_info[id].compact, name, 1))
        return id;
  }
  for (int id = 1; id < SIPKIT_HDR__COUNT; id++)
    if (sipkit__hdr_info[id].name_len == len &&
        ascii_ieq(sipkit__hdr_info[id].name, name, len))
      return id;
  return SIPKIT_HDR_OTHER;
}

const char *sipkit_hdr_name(int id) {
  if (id <= 0 || id >= SIPKIT_HDR__COUNT)
    return "";
  return sipkit__hdr_info[id].name;
}

char sipkit_hdr_compact(int id) {
  if (id <= 0 || id >= SIPKIT_HDR__COUNT)
    return 0;
  return sipkit__hdr_info[id].compact;
}

const sipkit_header *sipkit_msg_header(const sipkit_msg *msg, int id) {
  if (id < 0 || id >= SIPKIT_HDR__COUNT || !msg->first[id])
    return NULL;
  return &msg->headers[msg->first[id] - 1];
}

const sipkit_header *sipkit_msg_header_next(const sipkit_msg *msg,
                                            const sipkit_header *h) {
  const sipkit_header *e = msg->headers + msg->num_headers;
  const char *buf = msg->buf_;
  for (const sipkit_header *n = h + 1; n < e; n++)
    if (n->id == h->id &&
        (h->id != SIPKIT_HDR_OTHER ||
         (n->name.len == h->name.len &&
          ascii_ieq(buf + n->name.off, buf + h->name.off, h->name.len))))
      return n;
  return NULL;
}

const sipkit_header *sipkit_msg_find(const sipkit_msg *msg, const char *buf,
                                     const char *name, size_t name_len) {
  int id = sipkit_hdr_lookup(name, name_len);
  if (id != SIPKIT_HDR_OTHER)
    return sipkit_msg_header(msg, id);
  for (uint32_t i = 0; i < msg->num_headers; i++) {
    const sipkit_header *h = &msg->headers[i];
    if (h->id == SIPKIT_HDR_OTHER && h->name.len == name_len &&
        ascii_ieq(buf + h->name.off, name, name_len))
      return h;
  }
  return NULL;
}

/* ------------------------------------------------------------- header lines */

/* First byte in [p, end) that is a control byte (< 0x20 or 0x7F), many
 * bytes at a time: header values are long runs of printable text. */
static sipkit__ptr find_ctl(sipkit__ptr p, sipkit__ptr end) {
#if defined(__SSE2__)
  const __m128i limit = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
  while (end - p >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* unsigned x <= 0x1f  <=>  min(x, 0x1f) == x */
    __m128i ctl = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, limit), x),
                               _mm_cmpeq_epi8(x, del));
    unsigned mask = (unsigned)_mm_movemask_epi8(ctl);
    if (mask)
      return p + __builtin_ctz(mask);
    p += 16;
  }
#else
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  while (end - p >= 8) {
    uint64_t x, y;
    memcpy(&x, p, 8);
    y = x ^ (0x7full * ones);
    if (((x - 0x20 * ones) & ~x & highs) | ((y - ones) & ~y & highs))
      break;
    p += 8;
  }
#endif
  for (; p < end; p++)
    if (*p < 0x20 || *p == 0x7f)
      return p;
  return end;
}

static int is_eager_singleton(int id) {
  switch (id) {
  case SIPKIT_HDR_CALL_ID: case SIPKIT_HDR_CONTENT_LENGTH: case SIPKIT_HDR_CSEQ:
  case SIPKIT_HDR_FROM: case SIPKIT_HDR_TO: case SIPKIT_HDR_MAX_FORWARDS:
  case SIPKIT_HDR_CONTENT_TYPE: case SIPKIT_HDR_EXPIRES:
    return 1;
  default:
    return 0;
  }
}

/* Decimal number of at most SIPKIT_MAX_DIGITS digits (leading zeros
 * aside).  Returns 0, or 1 after recording NUMBER_TOO_LONG or, for a
 * non-digit, HEADER_VALUE. */
static int sipkit__number(struct sipkit__ctx *c, sipkit__ptr a, sipkit__ptr b,
                   uint64_t *out, const char *rule) {
  uint64_t v = 0;
  sipkit__ptr p = a;
  while (p < b && (*p == '0') && b - p > 1 && (unsigned)(p[1] - '0') < 10u)
    p++; /* leading zeros do not count against the digit limit */
  if (b - p > (long)SIPKIT_MAX_DIGITS)
    return sipkit__fail(c, SIPKIT_ENUMBER_TOO_LONG, p + SIPKIT_MAX_DIGITS, rule);
  if (p == b)
    return sipkit__fail(c, SIPKIT_EHEADER_VALUE, p, rule);
  for (; p < b; p++) {
    if ((unsigned)(*p - '0') >= 10u)
      return sipkit__fail(c, SIPKIT_EHEADER_VALUE, p, rule);
    v = v * 10 + (uint64_t)(*p - '0');
  }
  *out = v;
  return 0;
}

static sipkit__ptr skip_digits(sipkit__ptr p, sipkit__ptr e) {
  while (p < e && (unsigned)(*p - '0') < 10u)
    p++;
  return p;
}

/* Checks and conversions after a short value passed its machine. */
static int finish_misc(struct sipkit__ctx *c, sipkit_header *h, sipkit__ptr a,
                       sipkit__ptr b) {
  sipkit_msg *m = c->msg;
  uint64_t v;
  switch (h->id) {
  case SIPKIT_HDR_CSEQ:
    if (sipkit__number(c, a, skip_digits(a, b), &v, "CSeq"))
      return 1;
    if (v >= 0x80000000u) /* RFC 3261 §8.1.1.5 */
      return sipkit__fail(c, SIPKIT_ENUMBER_RANGE, a, "CSeq");
    h->u.cseq.num = (uint32_t)v;
    h->u.cseq.method = sipkit_method_lookup(
        (const char *)c->base + h->u.cseq.method_name.off, h->u.cseq.method_name.len);
    m->cseq = &h->u.cseq;
    return 0;
  case SIPKIT_HDR_CALL_ID:
    m->call_id = h->value;
    return 0;
  case SIPKIT_HDR_CONTENT_TYPE:
    m->content_type = &h->u.ctype;
    return 0;
  case SIPKIT_HDR_CONTENT_LENGTH:
    if (sipkit__number(c, a, b, &v, "Content-Length"))
      return 1;
    if (v > SIPKIT_MAX_MSG_SIZE)
      return sipkit__fail(c, SIPKIT_ECONTENT_LENGTH, a, "Content-Length");
    h->u.number = (uint32_t)v;
    m->content_length = (uint32_t)v;
    m->has_content_length = 1;
    return 0;
  case SIPKIT_HDR_MAX_FORWARDS:
    if (sipkit__number(c, a, b, &v, "Max-Forwards"))
      return 1;
    if (v > 255) /* RFC 3261 §20.22: 0..255 */
      return sipkit__fail(c, SIPKIT_ENUMBER_RANGE, a, "Max-Forwards");
    h->u.number = m->max_forwards = (uint32_t)v;
    return 0;
  case SIPKIT_HDR_EXPIRES:
    if (sipkit__number(c, a, b, &v, "delta-seconds"))
      return 1;
    /* RFC 3261 §20.19: larger values mean 2^32-1 */
    h->u.number = m->expires = v > 0xffffffffu ? 0xffffffffu : (uint32_t)v;
    return 0;
  }
  return 0;
}

/* 1*9DIGIT filling [a, b) (so no leading-zero or range question arises
 * below 10^9): 1 with the value, else 0. */
static inline __attribute__((always_inline)) int short_number(sipkit__ptr a, sipkit__ptr b,
                                                             uint32_t *out) {
  if ((size_t)(b - a) - 1u >= 9u)
    return 0;
  uint32_t v = 0;
  for (; a < b; a++) {
    unsigned d = (unsigned)(*a - '0');
    if (d >= 10u)
      return 0;
    v = v * 10 + d;
  }
  *out = v;
  return 1;
}

/* The commonest forms of the short values, recognised exactly in one pass
 * with what the machine (sip_misc.rl) and finish_misc would record; 0 with
 * nothing recorded when they must decide (other forms, range errors).
 * Numbers: 1*9DIGIT.  Call-ID: word ["@" word].  CSeq: 1*9DIGIT 1*SP
 * token (Method is token: extension-method is token minus the others).
 * Content-Type: token "/" token, no parameters.  Inlined into the header
 * line: a call costs about what checking a short number does.  [a, b) is
 * the trimmed value: the CR, LF, SP or HTAB at b ends every class scan. */
static inline __attribute__((always_inline)) int
short_fast(struct sipkit__ctx *c, sipkit_header *h, int hdr_id, sipkit__ptr a, sipkit__ptr b) {
  sipkit_msg *m = c->msg;
  uint32_t v;
  sipkit__ptr q;
  switch (hdr_id) {
  case SIPKIT_HDR_CONTENT_LENGTH:
    if (!short_number(a, b, &v) || v > SIPKIT_MAX_MSG_SIZE)
      return 0;
    h->u.number = m->content_length = v;
    m->has_content_length = 1;
    return 1;
  case SIPKIT_HDR_MAX_FORWARDS:
    if (!short_number(a, b, &v) || v > 255)
      return 0;
    h->u.number = m->max_forwards = v;
    return 1;
  case SIPKIT_HDR_EXPIRES:
    if (!short_number(a, b, &v))
      return 0;
    h->u.number = m->expires = v;
    return 1;
  case SIPKIT_HDR_CALL_ID:
    q = sipkit__skip_cls_ended(a, SIPKIT__C_WORD);
    if (q == a)
      return 0;
    if (q < b && *q == '@') {
      sipkit__ptr w = q + 1;
      q = sipkit__skip_cls_ended(w, SIPKIT__C_WORD);
      if (q == w)
        return 0;
    }
    if (q != b)
      return 0;
    m->call_id = h->value;
    return 1;
  case SIPKIT_HDR_CONTENT_TYPE: { /* m-type "/" m-subtype: two tokens */
    q = sipkit__skip_cls_ended(a, SIPKIT__C_TOKEN);
    if (q == a || q == b || *q != '/')
      return 0;
    sipkit__ptr t = sipkit__skip_cls_ended(q + 1, SIPKIT__C_TOKEN);
    if (t == q + 1 || t != b)
      return 0;
    h->u.ctype.type = sipkit__span(c, a, q);
    h->u.ctype.subtype = sipkit__span(c, q + 1, b);
    m->content_type = &h->u.ctype;
    return 1;
  }
  case SIPKIT_HDR_CSEQ: {
    sipkit__ptr d = sipkit__skip_cls_ended(a, SIPKIT__C_DIGIT);
    if (d == b || *d != ' ' || !short_number(a, d, &v))
      return 0;
    q = d + 1;
    while (q < b && *q == ' ')
      q++;
    sipkit__ptr t = sipkit__skip_cls_ended(q, SIPKIT__C_TOKEN);
    if (t == q || t != b)
      return 0;
    h->u.cseq.method_name = sipkit__span(c, q, t);
    h->u.cseq.num = v;
    h->u.cseq.method = sipkit_method_lookup((const char *)q, (size_t)(t - q));
    m->cseq = &h->u.cseq;
    return 1;
  }
  }
  return 0;
}

static sipkit__ptr incomplete(struct sipkit__ctx *c) {
  if (c->code == SIPKIT_EOK) {
    c->code = SIPKIT_EINCOMPLETE;
    c->err_off = (uint32_t)(c->end - c->base);
  }
  return NULL;
}

static inline __attribute__((always_inline)) sipkit__ptr
header_line(struct sipkit__ctx *c, sipkit__ptr name, sipkit__ptr name_end, sipkit__ptr colon,
            int hdr_id, sipkit__ptr *next);

sipkit__ptr sipkit__header_line(struct sipkit__ctx *c, sipkit__ptr name,
                                sipkit__ptr name_end, sipkit__ptr colon,
                                int hdr_id) {
  sipkit__ptr next;
  if (c->code != SIPKIT_EOK)
    return NULL;
  return header_line(c, name, name_end, colon, hdr_id, &next);
}

/* Also sets *next to the start of the following line: sipkit__header_lines
 * goes on there without looking at the terminator again. */
static inline __attribute__((always_inline)) sipkit__ptr
header_line(struct sipkit__ctx *c, sipkit__ptr name, sipkit__ptr name_end, sipkit__ptr colon,
            int hdr_id, sipkit__ptr *next) {
  sipkit_msg *m = c->msg;
  sipkit__ptr end = c->end, p = colon + 1, eol, nl;
  const int eager = sipkit__hdr_info[hdr_id].eager;

  /* c->code is SIPKIT_EOK here: the callers see to it */
  if (eager) {
    /* The value machine checks every byte of an eager value: only the
     * end of the logical line is needed here. */
    for (;;) {
      nl = sipkit__find_byte(p, end, '\n');
      if (!nl)
        return incomplete(c);
      if (nl[-1] == '\r') { /* nl > p, or nl[-1] is the colon or a fold's SP / HTAB */
        eol = nl - 1;
      } else if (c->flags & SIPKIT_PARSE_LENIENT_LF) {
        eol = nl;
      } else {
        sipkit__fail(c, SIPKIT_EBARE_LF, nl, "CRLF");
        return NULL;
      }
      if (nl + 1 == end)
        return incomplete(c); /* a fold may follow */
      if (nl[1] != ' ' && nl[1] != '\t')
        break;
      p = nl + 2;
    }
  } else {
    /* Find the end of the logical line, folds included, and refuse bytes
     * no header value may hold. */
    for (;;) {
      p = find_ctl(p, end);
      if (p == end)
        return incomplete(c);
      if (*p == '\r') {
        if (p + 1 == end)
          return incomplete(c);
        if (p[1] != '\n') {
          sipkit__fail(c, SIPKIT_EHEADER_LINE, p, "CRLF");
          return NULL;
        }
        eol = p;
        nl = p + 1;
      } else if (*p == '\n') {
        if (!(c->flags & SIPKIT_PARSE_LENIENT_LF)) {
          sipkit__fail(c, SIPKIT_EBARE_LF, p, "CRLF");
          return NULL;
        }
        eol = nl = p;
      } else if (*p == '\t' ||
                 (hdr_id != SIPKIT_HDR_OTHER && p[-1] == '\\' && p - 1 > colon)) {
        /* HTAB, or a quoted-pair escaping a control byte: the header's own
         * rule (sipkit_header_validate) decides whether one may stand there. */
        p++;
        continue;
      } else {
        sipkit__fail(c, SIPKIT_EHEADER_LINE, p, "header-value");
        return NULL;
      }
      if (nl + 1 == end)
        return incomplete(c); /* a fold may follow */
      if (nl[1] != ' ' && nl[1] != '\t')
        break;
      p = nl + 2;
    }
  }
  *next = nl + 1;
  if ((size_t)(eol - name) > SIPKIT_MAX_HEADER_LINE) {
    sipkit__fail(c, SIPKIT_ELINE_TOO_LONG, name + SIPKIT_MAX_HEADER_LINE, "message-header");
    return NULL;
  }

  /* Trim LWS on both sides: leading LWS is HCOLON's SWS; trailing LWS is
   * what extension-header's header-value allows every line (README). */
  sipkit__ptr a = colon + 1, b = eol;
  if (*a == ' ' && a[1] > ' ') /* a[1] is at most b, which holds CR or LF */
    a++; /* the usual single SP */
  else
    while (a < b && (*a == ' ' || *a == '\t' || *a == '\r' || *a == '\n'))
      a++;
  if (b[-1] <= ' ') /* bytes below SP here: HTAB, CR, LF; b > colon, so b[-1] is in the line */
    while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r' || b[-1] == '\n'))
      b--;

  if (m->num_headers >= m->max_headers) {
    sipkit__fail(c, SIPKIT_ETOO_MANY_HEADERS, name, "message-header");
    return NULL;
  }
  if (m->first[hdr_id] && is_eager_singleton(hdr_id)) {
    sipkit__fail(c, SIPKIT_EDUPLICATE_HEADER, name, sipkit__hdr_info[hdr_id].rule);
    return NULL;
  }
  sipkit_header *h = &m->headers[m->num_headers++];
  h->name = sipkit__span(c, name, name_end);
  h->value = sipkit__span(c, a, b);
  h->id = (uint16_t)hdr_id;
  h->parsed = 0;
  h->element = 0;
  if (!m->first[hdr_id])
    m->first[hdr_id] = (uint16_t)m->num_headers;
  if (!eager)
    return eol;

  h->parsed = 1;
  c->cur = h;
  c->element_done = 0;
  int bad;
  switch (hdr_id) {
  case SIPKIT_HDR_VIA:
    sipkit__zero(&h->u.via, sizeof h->u.via);
    if (++c->vias > SIPKIT_MAX_VIAS)
      return sipkit__fail(c, SIPKIT_ETOO_MANY_VIAS, name, "Via"), NULL;
    if (!(c->flags & (SIPKIT__PARSE_REFERENCE | SIPKIT__PARSE_BUILT)) && sipkit__fast_via(c, a, b))
      bad = c->code != SIPKIT_EOK;
    else
      bad = !(c->flags & SIPKIT__PARSE_BUILT) && sipkit__vm_via(c, a, b);
    if (!bad && !m->via)
      m->via = &h->u.via;
    break;
  case SIPKIT_HDR_FROM: case SIPKIT_HDR_TO: case SIPKIT_HDR_CONTACT:
  case SIPKIT_HDR_ROUTE: case SIPKIT_HDR_RECORD_ROUTE:
    /* all but the URI, which sipkit__fast_uri zeroes (the machine's below) */
    h->u.addr.display = (sipkit_span){0, 0};
    sipkit__zero(&h->u.addr.tag, sizeof h->u.addr - offsetof(sipkit_addr, tag));
    if (!(c->flags & (SIPKIT__PARSE_REFERENCE | SIPKIT__PARSE_BUILT)) &&
        sipkit__fast_addr(c, hdr_id, a, b)) {
      /* one element, in angle brackets (no "*"): only its URI is left */
      sipkit_span u = h->u.addr.uri.all;
      /* sipkit__uri without its reference-flag test, known clear here:
       * calling it measured 6,718 against 6,698 instructions a message */
      if (sipkit__fast_uri(c, &h->u.addr.uri, c->base + u.off, c->base + u.off + u.len))
        bad = c->code != SIPKIT_EOK;
      else
        bad = sipkit__vm_uri(c, &h->u.addr.uri, c->base + u.off, c->base + u.off + u.len);
      if (bad)
        c->err_rule = "addr-spec";
    } else if (c->flags & SIPKIT__PARSE_BUILT) {
      bad = 0;
    } else {
      sipkit__zero(&h->u.addr.uri, sizeof h->u.addr.uri);
      bad = sipkit__vm_addr(c, hdr_id, a, b);
      /* the URIs the value machine recorded as spans (grammar/sip_addr.rl) */
      for (sipkit_header *e = h; !bad && e < m->headers + m->num_headers; e++) {
        sipkit_span u = e->u.addr.uri.all;
        if (!e->u.addr.star &&
            sipkit__uri(c, &e->u.addr.uri, c->base + u.off, c->base + u.off + u.len)) {
          c->err_rule = "addr-spec";
          bad = 1;
        }
      }
    }
    if (!bad) {
      if (hdr_id == SIPKIT_HDR_FROM)
        m->from = &h->u.addr;
      else if (hdr_id == SIPKIT_HDR_TO)
        m->to = &h->u.addr;
      else if (hdr_id == SIPKIT_HDR_CONTACT && !m->contact)
        m->contact = &h->u.addr;
    }
    break;
  default:
    memset(&h->u, 0, sizeof h->u.cseq > sizeof h->u.ctype ? sizeof h->u.cseq : sizeof h->u.ctype);
    if (!(c->flags & SIPKIT__PARSE_REFERENCE) && short_fast(c, h, hdr_id, a, b))
      return eol;
    bad = sipkit__vm_misc(c, hdr_id, a, b) || finish_misc(c, h, a, b);
    if (bad && hdr_id == SIPKIT_HDR_CONTENT_LENGTH && c->code == SIPKIT_EHEADER_VALUE)
      c->code = SIPKIT_ECONTENT_LENGTH; /* framing depends on it: say so */
    break;
  }
  return bad ? NULL : eol;
}

/* Character classes of RFC 3261 §25.1 for the fast paths (SIPKIT__C_*):
 * letters are A, digits N; the marks as listed.  USER is unreserved /
 * "&" / "=" / "+" / "$" / "," (user without escapes and without the
 * ";" "?" "/" that make a user part look like parameters or headers);
 * PARAM is paramchar without escapes. */
#define U (SIPKIT__C_USER | SIPKIT__C_PARAM)
#define T (SIPKIT__C_TOKEN | SIPKIT__C_WORD)
#define A (SIPKIT__C_TOKEN | SIPKIT__C_WORD | SIPKIT__C_ALPHA | SIPKIT__C_LABEL | SIPKIT__C_HOST | U)
#define N (SIPKIT__C_TOKEN | SIPKIT__C_WORD | SIPKIT__C_DIGIT | SIPKIT__C_LABEL | SIPKIT__C_HOST | U)
const unsigned char sipkit__cls[256] = {
    /* token: alphanum - . ! % * _ + ` ' ~ (all of them word too) */
    ['!'] = T | U, ['%'] = T, ['\''] = T | U, ['*'] = T | U, ['+'] = T | U,
    ['-'] = T | U | SIPKIT__C_LABEL | SIPKIT__C_HOST, ['.'] = T | U | SIPKIT__C_HOST,
    ['_'] = T | U, ['`'] = T, ['~'] = T | U,
    ['0'] = N, ['1'] = N, ['2'] = N, ['3'] = N, ['4'] = N, ['5'] = N, ['6'] = N,
    ['7'] = N, ['8'] = N, ['9'] = N,
    ['A'] = A, ['B'] = A, ['C'] = A, ['D'] = A, ['E'] = A, ['F'] = A, ['G'] = A,
    ['H'] = A, ['I'] = A, ['J'] = A, ['K'] = A, ['L'] = A, ['M'] = A, ['N'] = A,
    ['O'] = A, ['P'] = A, ['Q'] = A, ['R'] = A, ['S'] = A, ['T'] = A, ['U'] = A,
    ['V'] = A, ['W'] = A, ['X'] = A, ['Y'] = A, ['Z'] = A,
    ['a'] = A, ['b'] = A, ['c'] = A, ['d'] = A, ['e'] = A, ['f'] = A, ['g'] = A,
    ['h'] = A, ['i'] = A, ['j'] = A, ['k'] = A, ['l'] = A, ['m'] = A, ['n'] = A,
    ['o'] = A, ['p'] = A, ['q'] = A, ['r'] = A, ['s'] = A, ['t'] = A, ['u'] = A,
    ['v'] = A, ['w'] = A, ['x'] = A, ['y'] = A, ['z'] = A,
    /* word (Call-ID) only, as far as token goes: ( ) < > : \ DQUOTE / [ ] ? { } */
    ['('] = SIPKIT__C_WORD | U, [')'] = SIPKIT__C_WORD | U, ['<'] = SIPKIT__C_WORD,
    ['>'] = SIPKIT__C_WORD, [':'] = SIPKIT__C_WORD | SIPKIT__C_PARAM, ['\\'] = SIPKIT__C_WORD,
    ['"'] = SIPKIT__C_WORD, ['/'] = SIPKIT__C_WORD | SIPKIT__C_PARAM,
    ['['] = SIPKIT__C_WORD | SIPKIT__C_PARAM, [']'] = SIPKIT__C_WORD | SIPKIT__C_PARAM,
    ['?'] = SIPKIT__C_WORD, ['{'] = SIPKIT__C_WORD, ['}'] = SIPKIT__C_WORD,
    /* neither token nor word */
    ['&'] = U, ['$'] = U, ['='] = SIPKIT__C_USER, [','] = SIPKIT__C_USER,
};
#undef U
#undef T
#undef A
#undef N

/* The id of a header name [s, s+n), 1 <= n: SIPKIT_HDR_OTHER when it is no
 * known name or compact form.  avail: bytes readable from s (>= n). */
static int hdr_find(sipkit__ptr s, unsigned n, size_t avail) {
  if (n > SIPKIT__HDR_KEY_MAX)
    return SIPKIT_HDR_OTHER;
  for (unsigned h = sipkit__hdr_hash(s, n);; h = (h + 1) & (SIPKIT__HDR_HASH_SIZE - 1)) {
    const struct sipkit__hdr_slot *e = &sipkit__hdr_slots[h];
    if (!e->id)
      return SIPKIT_HDR_OTHER;
    if (e->len != n)
      continue;
    const struct sipkit__hdr_key *k = &sipkit__hdr_keys[e->key];
    unsigned i = 0;
#if defined(__SSE2__)
    /* 16 bytes at a time; bytes past the name are masked out */
    for (; i < n && avail - i >= 16; i += 16) {
      __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
      __m128i f = _mm_loadu_si128((const __m128i *)(const void *)(k->fold + i));
      __m128i l = _mm_loadu_si128((const __m128i *)(const void *)(k->lower + i));
      unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_or_si128(x, f), l));
      /* the first 16 or n - i bytes all equal */
      if ((unsigned)__builtin_ctz(~eq) < n - i && eq != 0xffffu)
        break;
    }
    if (i >= n)
      return e->id;
#endif
    while (i < n && (s[i] | k->fold[i]) == k->lower[i])
      i++;
    if (i == n)
      return e->id;
  }
}

/* First ':' in [p, pe), or pe; looks at most 64 bytes (header names are
 * short: a longer one goes to the machine). */
static sipkit__ptr find_colon(sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr lim = pe - p > 64 ? p + 64 : pe;
#if defined(__SSE2__)
  const __m128i colon = _mm_set1_epi8(':');
  for (; lim - p >= 16; p += 16) {
    unsigned m = (unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), colon));
    if (m)
      return p + __builtin_ctz(m);
  }
#endif
  for (; p < lim; p++)
    if (*p == ':')
      return p;
  return pe;
}

sipkit__ptr sipkit__header_lines(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe) {
  /* after an error the frame's own lines go to sipkit__header_line,
   * which stops at the first; header_line returns NULL on each error */
  if ((c->flags & SIPKIT__PARSE_REFERENCE) || c->code != SIPKIT_EOK)
    return p;
  for (;;) {
    sipkit__ptr name = p, colon, name_end;
    int id;
#if defined(__SSE2__)
    if (pe - p >= 16) {
      /* the usual case: "Name:" within 16 bytes; one load serves the
       * colon search and the name compare.  LWS before the colon makes
       * the name no key and no token: the frame then takes the line. */
      __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
      unsigned cm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(':')));
      unsigned n = cm ? (unsigned)__builtin_ctz(cm) : 0;
      if (n) {
        colon = name_end = p + n;
        /* a key's colon and 0xff padding make all 16 bytes equal exactly
         * when they hold its name, n long; an empty slot ends the probe
         * run with id 0 (SIPKIT_HDR_OTHER), whatever its key */
        for (unsigned h = sipkit__hdr_hash(p, n);; h = (h + 1) & (SIPKIT__HDR_HASH_SIZE - 1)) {
          const struct sipkit__hdr_slot *e = &sipkit__hdr_slots[h];
          const struct sipkit__hdr_key *k = &sipkit__hdr_keys[e->key];
          unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
              _mm_or_si128(x, _mm_loadu_si128((const __m128i *)(const void *)k->fold)),
              _mm_loadu_si128((const __m128i *)(const void *)k->lower)));
          if (eq == 0xffffu || !e->id) {
            id = e->id;
            break;
          }
        }
        goto named;
      }
    }
#endif
    colon = name_end = find_colon(p, pe);
    if (colon == pe)
      return name;
    if (name_end > name && name_end[-1] <= ' ')
      while (name_end > name && (name_end[-1] == ' ' || name_end[-1] == '\t'))
        name_end--;
    if (name_end == name)
      return name;
    id = hdr_find(name, (unsigned)(name_end - name), (size_t)(pe - name));
#if defined(__SSE2__)
  named:
#endif
    if (id == SIPKIT_HDR_OTHER) {
      /* extension-header: header-name = token */
      for (sipkit__ptr q = name; q < name_end; q++)
        if (!(sipkit__cls[*q] & SIPKIT__C_TOKEN))
          return name;
    }
    if (!header_line(c, name, name_end, colon, id, &p))
      return NULL;
  }
}

/* -------------------------------------------------------------- start line */

static int version_ok(sipkit__ptr a, sipkit__ptr b) {
  /* "SIP/2.0", letters in any case: two overlapping 4-byte loads */
  uint32_t x, y, fold, sip, ver;
  if (b - a != 7)
    return 0;
  memcpy(&x, a, 4);
  memcpy(&y, a + 3, 4);
  memcpy(&fold, "\x20\x20\x20\0", 4); /* not "/": 0x0f | 0x20 is "/" */
  memcpy(&sip, "sip/", 4);
  memcpy(&ver, "/2.0", 4);
  return (x | fold) == sip && y == ver;
}

void sipkit__start_line(struct sipkit__ctx *c, int what, sipkit__ptr a,
                        sipkit__ptr b) {
  sipkit_msg *m = c->msg;
  switch (what) {
  case SIPKIT__SL_METHOD:
    m->method_name = sipkit__span(c, a, b);
    m->method = sipkit_method_lookup((const char *)a, (size_t)(b - a));
    break;
  case SIPKIT__SL_RURI:
    m->request_uri = sipkit__span(c, a, b);
    if (sipkit__uri(c, &m->ruri, a, b)) {
      c->code = SIPKIT_EREQUEST_URI;
      c->err_rule = "Request-URI";
    } else if (m->ruri.headers.off) {
      sipkit__fail(c, SIPKIT_EURI_HEADERS, c->base + m->ruri.headers.off - 1, "Request-URI");
    }
    break;
  case SIPKIT__SL_VERSION:
    m->version = sipkit__span(c, a, b);
    if (!version_ok(a, b))
      sipkit__fail(c, SIPKIT_EVERSION, a, "SIP-Version");
    break;
  case SIPKIT__SL_STATUS:
    m->status = (a[0] - '0') * 100 + (a[1] - '0') * 10 + (a[2] - '0');
    if (m->status < 100 || m->status > 699)
      sipkit__fail(c, SIPKIT_ESTATUS_CODE, a, "Status-Code");
    break;
  case SIPKIT__SL_REASON:
    m->reason = sipkit__span(c, a, b);
    break;
  }
}

/* ------------------------------------------------------------------ parsing */

void sipkit_msg_init(sipkit_msg *msg, sipkit_header *headers,
                     size_t max_headers) {
  sipkit__zero(msg, sizeof *msg);
  msg->headers = headers;
  msg->max_headers = (uint32_t)(max_headers > SIPKIT_MAX_HEADERS ? SIPKIT_MAX_HEADERS
                                                                 : max_headers);
}

static void reset(sipkit_msg *m, const char *buf) {
  sipkit_header *headers = m->headers;
  uint32_t max = m->max_headers, scan = m->scan_from_;
  sipkit__zero(m, sizeof *m);
  m->headers = headers;
  m->max_headers = max;
  m->scan_from_ = scan;
  m->buf_ = buf;
}

static int check_semantics(struct sipkit__ctx *c) {
  sipkit_msg *m = c->msg;
  static const int mandatory[] = {SIPKIT_HDR_TO, SIPKIT_HDR_FROM, SIPKIT_HDR_CALL_ID,
                                  SIPKIT_HDR_CSEQ, SIPKIT_HDR_VIA};
  if (!(m->first[SIPKIT_HDR_TO] && m->first[SIPKIT_HDR_FROM] && m->first[SIPKIT_HDR_CALL_ID] &&
        m->first[SIPKIT_HDR_CSEQ] && m->first[SIPKIT_HDR_VIA])) /* the loop only names the missing one */
    for (size_t i = 0; i < sizeof mandatory / sizeof *mandatory; i++)
      if (!m->first[mandatory[i]])
        return sipkit__fail(c, SIPKIT_EMISSING_HEADER, c->base + m->body.off,
                            sipkit__hdr_info[mandatory[i]].rule);
  if (!m->status) {
    const sipkit_span *x = &m->method_name, *y = &m->cseq->method_name;
    /* known methods: the ids decide (sipkit_method_lookup is exact) */
    if (m->method != SIPKIT_METHOD_OTHER && m->cseq->method != SIPKIT_METHOD_OTHER
            ? m->method != m->cseq->method
            : x->len != y->len || memcmp(c->base + x->off, c->base + y->off, x->len))
      return sipkit__fail(c, SIPKIT_ECSEQ_METHOD,
                          c->base + m->headers[m->first[SIPKIT_HDR_CSEQ] - 1].value.off,
                          "CSeq");
  }
  return 0;
}

void sipkit__report(const struct sipkit__ctx *c, sipkit_error *err) {
  if (!err)
    return;
  err->code = c->code;
  err->offset = c->err_off;
  err->rule = c->code == SIPKIT_EOK ? "" : (c->err_rule ? c->err_rule : "");
  if (c->code == SIPKIT_EOK) {
    err->line = err->column = 0;
    return;
  }
  sipkit__line_col((const char *)c->base, (size_t)(c->end - c->base), c->err_off,
                   &err->line, &err->column);
}

/* The commonest start lines, "Method SP Request-URI SP SIP/2.0 CRLF" and
 * "SIP/2.0 SP 3DIGIT SP Reason-Phrase CRLF" with a reason of unreserved
 * bytes, SP and ; / ? : @ & = + $ , only: checked to be lines the frame
 * matches, then recorded by the frame's own actions in its order (the
 * Request-URI check may record an error, as there).  The start of the next
 * line, or NULL with nothing recorded: the frame then reads the line. */
static sipkit__ptr start_line_fast(struct sipkit__ctx *c, sipkit__ptr p) {
  sipkit__ptr pe = c->end;
  if (pe - p >= 12 && version_ok(p, p + 7) && p[7] == ' ') {
    sipkit__ptr s = p + 8, r = p + 12, e;
    if ((unsigned)(s[0] - '0') >= 10u || (unsigned)(s[1] - '0') >= 10u ||
        (unsigned)(s[2] - '0') >= 10u || s[3] != ' ')
      return NULL;
    for (e = r; e < pe && ((sipkit__cls[*e] & SIPKIT__C_USER) || *e == ' ' || *e == ';' ||
                           *e == '/' || *e == '?' || *e == ':' || *e == '@');
         e++)
      ;
    if (pe - e < 2 || e[0] != '\r' || e[1] != '\n')
      return NULL;
    sipkit__start_line(c, SIPKIT__SL_VERSION, p, p + 7);
    sipkit__start_line(c, SIPKIT__SL_STATUS, s, s + 3);
    sipkit__start_line(c, SIPKIT__SL_REASON, r, e);
    return e + 2;
  }
  sipkit__ptr me = sipkit__skip_cls(p, pe, SIPKIT__C_TOKEN), u, ue, v;
  if (me == p || me == pe || *me != ' ')
    return NULL;
  u = me + 1;
  ue = sipkit__find_sp_eol(u, pe);
  if (ue == u || pe - ue < 10 || *ue != ' ')
    return NULL;
  v = ue + 1;
  if (!version_ok(v, v + 7) || v[7] != '\r' || v[8] != '\n')
    return NULL;
  sipkit__start_line(c, SIPKIT__SL_METHOD, p, me);
  sipkit__start_line(c, SIPKIT__SL_RURI, u, ue);
  sipkit__start_line(c, SIPKIT__SL_VERSION, v, v + 7);
  return v + 9;
}

/* Runs the frame over [buf+skip, buf+len); on success sets the body start. */
static sipkit__ptr parse_head(struct sipkit__ctx *c, sipkit__ptr start) {
  sipkit__ptr line = NULL, body;
  if (!(c->flags & SIPKIT__PARSE_REFERENCE) && (line = start_line_fast(c, start)) != NULL)
    body = sipkit__frame_lines(c, line, c->end);
  else
    body = sipkit__frame(c, start, c->end);
  if (!body && c->code != SIPKIT_EINCOMPLETE && c->err_off < (uint32_t)(c->end - c->base)) {
    sipkit__ptr at = c->base + c->err_off;
    /* A line end without CR is the commonest cause of a failed match in
     * strict mode: say so rather than naming the rule. */
    if (*at == '\n' && (at == c->base || at[-1] != '\r') &&
        !(c->flags & SIPKIT_PARSE_LENIENT_LF))
      c->code = SIPKIT_EBARE_LF;
    else if (c->code == SIPKIT_ESTART_LINE && strcmp(c->err_rule, "header-name") == 0) {
      /* a name that ends at the line end is a line without a colon */
      if ((*at == '\r' || *at == '\n') && at > c->base && at[-1] != '\n') {
        c->code = SIPKIT_EHEADER_LINE;
        c->err_rule = "HCOLON";
      } else {
        c->code = SIPKIT_EHEADER_NAME;
      }
    }
    else if (c->code == SIPKIT_ESTART_LINE && strcmp(c->err_rule, "HCOLON") == 0)
      c->code = SIPKIT_EHEADER_LINE;
    else if (c->code == SIPKIT_ESTART_LINE && strcmp(c->err_rule, "Status-Code") == 0)
      c->code = SIPKIT_ESTATUS_CODE;
  }
  return body;
}

static sipkit__ptr skip_crlf(sipkit__ptr p, sipkit__ptr e) {
  while (p < e && (*p == '\r' || *p == '\n'))
    p++;
  return p;
}

int sipkit_parse(sipkit_msg *msg, const char *buf, size_t len, unsigned flags,
                 sipkit_error *err) {
  struct sipkit__ctx c = {0};
  if (!msg || (!buf && len)) {
    if (err)
      *err = (sipkit_error){SIPKIT_EARGUMENT, 0, 0, 0, ""};
    return SIPKIT_EARGUMENT;
  }
  reset(msg, buf);
  c.msg = msg;
  c.base = (sipkit__ptr)buf;
  c.end = c.base + len;
  c.flags = flags;
  if (len > SIPKIT_MAX_MSG_SIZE) {
    c.end = c.base + SIPKIT_MAX_MSG_SIZE;
    sipkit__fail(&c, SIPKIT_EMSG_TOO_LARGE, c.end, "");
  } else {
    sipkit__ptr start = skip_crlf(c.base, c.end);
    if (start == c.end) {
      sipkit__fail(&c, SIPKIT_EEMPTY, start, "");
    } else {
      sipkit__ptr body = parse_head(&c, start);
      if (!body) {
        if (c.code == SIPKIT_EINCOMPLETE) {
          c.code = SIPKIT_EOK;
          sipkit__fail(&c, SIPKIT_EHEADERS_END, c.end, "message-header");
        }
      } else {
        size_t avail = (size_t)(c.end - body);
        size_t blen = msg->has_content_length ? msg->content_length : avail;
        if (blen > avail) {
          sipkit__fail(&c, SIPKIT_EBODY_TRUNCATED, c.end, "message-body");
        } else {
          msg->body = sipkit__span(&c, body, body + blen);
          msg->size = (uint32_t)(body + blen - c.base);
          if (!(flags & SIPKIT_PARSE_NO_CHECKS))
            check_semantics(&c);
        }
      }
    }
  }
  if (c.code == SIPKIT_EOK && err) /* sipkit__report's answer, without the call */
    *err = (sipkit_error){SIPKIT_EOK, c.err_off, 0, 0, ""};
  else
    sipkit__report(&c, err);
  return c.code;
}

/* End of the header section at or after from, or NULL. */
/* A bare-LF end is found in strict mode too, so that the frame reports
 * BARE_LF at once instead of waiting for bytes that never come. */
static sipkit__ptr find_head_end(sipkit__ptr from, sipkit__ptr end) {
  for (sipkit__ptr p = from; p < end && (p = memchr(p, '\n', (size_t)(end - p))); p++) {
    if (p + 1 < end && p[1] == '\n')
      return p + 2;
    if (p + 2 < end && p[1] == '\r' && p[2] == '\n')
      return p + 3;
  }
  return NULL;
}

int sipkit_parse_stream(sipkit_msg *msg, const char *buf, size_t len,
                        unsigned flags, size_t *consumed, sipkit_error *err) {
  struct sipkit__ctx c = {0};
  if (!msg || !consumed || (!buf && len)) {
    if (err)
      *err = (sipkit_error){SIPKIT_EARGUMENT, 0, 0, 0, ""};
    return SIPKIT_EARGUMENT;
  }
  *consumed = 0;
  c.msg = msg;
  c.base = (sipkit__ptr)buf;
  c.end = c.base + len;
  c.flags = flags;
  sipkit__ptr start = skip_crlf(c.base, c.end);
  uint32_t from = msg->scan_from_ > (uint32_t)(start - c.base) ? msg->scan_from_
                                                               : (uint32_t)(start - c.base);
  if (from > len)
    from = (uint32_t)(start - c.base);
  sipkit__ptr head_end = find_head_end(c.base + from, c.end);
  if (!head_end) {
    /* Remember how far no header end was found so a byte-by-byte feed
     * stays linear; the last two bytes may start one. */
    msg->scan_from_ = len > 2 ? (uint32_t)len - 2 : 0;
    if (len - (size_t)(start - c.base) > SIPKIT_MAX_MSG_SIZE)
      sipkit__fail(&c, SIPKIT_EMSG_TOO_LARGE, c.base + SIPKIT_MAX_MSG_SIZE, "");
    else
      c.code = SIPKIT_EINCOMPLETE, c.err_off = (uint32_t)len;
    sipkit__report(&c, err);
    return c.code;
  }
  reset(msg, buf);
  msg->scan_from_ = 0;
  if ((size_t)(head_end - start) > SIPKIT_MAX_MSG_SIZE) {
    sipkit__fail(&c, SIPKIT_EMSG_TOO_LARGE, start + SIPKIT_MAX_MSG_SIZE, "");
    sipkit__report(&c, err);
    return c.code;
  }
  c.end = head_end; /* the frame sees exactly the header section */
  sipkit__ptr body = parse_head(&c, start);
  c.end = c.base + len;
  if (body) {
    if (!msg->has_content_length) {
      sipkit__fail(&c, SIPKIT_ENO_CONTENT_LENGTH, body, "Content-Length");
    } else if ((size_t)(body - start) + msg->content_length > SIPKIT_MAX_MSG_SIZE) {
      sipkit__fail(&c, SIPKIT_EMSG_TOO_LARGE, body, "");
    } else if ((size_t)(c.end - body) < msg->content_length) {
      msg->scan_from_ = (uint32_t)(head_end - c.base) - 3;
      c.code = SIPKIT_EINCOMPLETE;
      c.err_off = (uint32_t)len;
    } else {
      msg->body = sipkit__span(&c, body, body + msg->content_length);
      msg->size = (uint32_t)(body + msg->content_length - c.base);
      *consumed = msg->size;
      if (!(flags & SIPKIT_PARSE_NO_CHECKS))
        check_semantics(&c);
    }
  } else if (c.code == SIPKIT_EINCOMPLETE) {
    /* The frame saw the whole header section: incomplete means a line
     * never ended properly. */
    c.code = SIPKIT_EOK;
    sipkit__fail(&c, SIPKIT_EHEADERS_END, head_end, "message-header");
  }
  sipkit__report(&c, err);
  return c.code;
}
