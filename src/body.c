/* body.c - application/dtmf-relay, application/dtmf and multipart bodies.
 * See sipkit_body.h.  Message bytes are only ever read through
 * (pointer, length): no str* function touches them (bodies may hold NULs). */
#include <string.h>

#include "sipkit_body.h"

typedef const unsigned char *uptr;

static int fail(sipkit_error *err, const char *buf, uint32_t off,
                const char *rule) {
  if (err) {
    uint32_t line = 1, col = 1;
    for (uint32_t i = 0; i < off; i++) {
      if (buf[i] == '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
    }
    err->code = SIPKIT_EINVALID_VALUE;
    err->offset = off;
    err->line = line;
    err->column = col;
    err->rule = rule;
  }
  return SIPKIT_EINVALID_VALUE;
}

static int arg_fail(sipkit_error *err) {
  if (err) {
    memset(err, 0, sizeof *err);
    err->code = SIPKIT_EARGUMENT;
    err->rule = "";
  }
  return SIPKIT_EARGUMENT;
}

static void ok(sipkit_error *err) {
  if (err) {
    memset(err, 0, sizeof *err);
    err->rule = "";
  }
}

static int is_wsp(unsigned char ch) { return ch == ' ' || ch == '\t'; }

/* RFC 3261 token */
static int is_token(unsigned char ch) {
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
    return 1;
  return ch != 0 && memchr("-.!%*_+`'~", ch, 10) != NULL;
}

static unsigned char lower(unsigned char ch) {
  return (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch + 32) : ch;
}

/* a (length n) equals the lower-case literal lit, ignoring case */
static int ieq(const unsigned char *a, size_t n, const char *lit, size_t litn) {
  if (n != litn)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (lower(a[i]) != (unsigned char)lit[i])
      return 0;
  return 1;
}

/* ------------------------------------------------------------------ */
/* DTMF                                                                */

/* the canonical signal for ch, or 0 */
static char dtmf_signal(unsigned char ch) {
  if ((ch >= '0' && ch <= '9') || ch == '*' || ch == '#' || (ch >= 'A' && ch <= 'D'))
    return (char)ch;
  if (ch >= 'a' && ch <= 'd')
    return (char)(ch - 32);
  return 0;
}

int sipkit_dtmf_relay_parse(sipkit_dtmf *d, const char *buf, size_t len,
                            sipkit_error *err) {
  if (!d || (!buf && len))
    return arg_fail(err);
  if (len > UINT32_MAX)
    return arg_fail(err);
  uptr s = (uptr)buf;
  uint32_t n = (uint32_t)len, i = 0;
  int have_signal = 0;
  memset(d, 0, sizeof *d);
  while (i < n) {
    /* one line: [i, le) with its terminator at le */
    uint32_t ls = i, le = i;
    while (le < n && s[le] != '\n' && s[le] != '\r')
      le++;
    if (le < n && s[le] == '\r' && (le + 1 >= n || s[le + 1] != '\n'))
      return fail(err, buf, le, "dtmf-relay line");
    uint32_t next = le < n ? (s[le] == '\r' ? le + 2 : le + 1) : n;
    uint32_t k0 = ls;
    while (k0 < le && is_wsp(s[k0]))
      k0++;
    if (k0 == le) { /* empty line */
      i = next;
      continue;
    }
    uint32_t k1 = k0;
    while (k1 < le && is_token(s[k1]))
      k1++;
    if (k1 == k0)
      return fail(err, buf, k0, "dtmf-relay line");
    uint32_t q = k1;
    while (q < le && is_wsp(s[q]))
      q++;
    if (q >= le || s[q] != '=')
      return fail(err, buf, q, "dtmf-relay line");
    uint32_t v0 = q + 1;
    while (v0 < le && is_wsp(s[v0]))
      v0++;
    uint32_t v1 = le;
    while (v1 > v0 && is_wsp(s[v1 - 1]))
      v1--;
    for (uint32_t j = v0; j < v1; j++)
      if (s[j] < 0x20 && s[j] != '\t')
        return fail(err, buf, j, "dtmf-relay line");
    if (ieq(s + k0, k1 - k0, "signal", 6)) {
      if (have_signal)
        return fail(err, buf, k0, "dtmf-relay Signal");
      if (v0 == v1 || !dtmf_signal(s[v0]))
        return fail(err, buf, v0, "dtmf-relay Signal");
      if (v1 - v0 > 1) /* "Signal=10", "Signal=5x" */
        return fail(err, buf, v0 + 1, "dtmf-relay Signal");
      d->signal = dtmf_signal(s[v0]);
      have_signal = 1;
    } else if (ieq(s + k0, k1 - k0, "duration", 8)) {
      if (d->has_duration)
        return fail(err, buf, k0, "dtmf-relay Duration");
      if (v0 == v1)
        return fail(err, buf, v0, "dtmf-relay Duration");
      uint32_t val = 0;
      for (uint32_t j = v0; j < v1; j++) {
        if (s[j] < '0' || s[j] > '9')
          return fail(err, buf, j, "dtmf-relay Duration");
        if (j - v0 >= SIPKIT_DTMF_MAX_DIGITS)
          return fail(err, buf, j, "dtmf-relay Duration");
        val = val * 10 + (uint32_t)(s[j] - '0');
      }
      if (val == 0 || val > SIPKIT_DTMF_MAX_DURATION)
        return fail(err, buf, v0, "dtmf-relay Duration");
      d->duration = val;
      d->has_duration = 1;
    }
    i = next;
  }
  if (!have_signal)
    return fail(err, buf, n, "dtmf-relay Signal");
  ok(err);
  return SIPKIT_EOK;
}

/* write s (n bytes) at *pos if it fits; always advance *pos */
static void put(char *out, size_t cap, size_t *pos, const char *src, size_t n) {
  if (*pos + n <= cap && out)
    memcpy(out + *pos, src, n);
  *pos += n;
}

static int finish_build(size_t pos, size_t cap, size_t *len) {
  if (len)
    *len = pos;
  return pos > cap ? SIPKIT_EBUFFER_TOO_SMALL : SIPKIT_EOK;
}

int sipkit_dtmf_relay_build(const sipkit_dtmf *d, char *out, size_t cap,
                            size_t *len) {
  if (len)
    *len = 0;
  if (!d || (!out && cap))
    return SIPKIT_EARGUMENT;
  char sig = dtmf_signal((unsigned char)d->signal);
  if (!sig || d->duration > SIPKIT_DTMF_MAX_DURATION)
    return SIPKIT_EINVALID_VALUE;
  size_t pos = 0;
  put(out, cap, &pos, "Signal=", 7);
  put(out, cap, &pos, &sig, 1);
  put(out, cap, &pos, "\r\n", 2);
  if (d->duration) {
    char num[SIPKIT_DTMF_MAX_DIGITS + 1];
    size_t k = sizeof num;
    uint32_t v = d->duration;
    do {
      num[--k] = (char)('0' + v % 10);
      v /= 10;
    } while (v && k);
    put(out, cap, &pos, "Duration=", 9);
    put(out, cap, &pos, num + k, sizeof num - k);
    put(out, cap, &pos, "\r\n", 2);
  }
  return finish_build(pos, cap, len);
}

int sipkit_dtmf_parse(sipkit_dtmf *d, const char *buf, size_t len,
                      sipkit_error *err) {
  if (!d || (!buf && len) || len > UINT32_MAX)
    return arg_fail(err);
  uptr s = (uptr)buf;
  uint32_t n = (uint32_t)len, i = 0;
  memset(d, 0, sizeof *d);
  while (i < n && is_wsp(s[i]))
    i++;
  if (i >= n)
    return fail(err, buf, n, "dtmf");
  if (!dtmf_signal(s[i]))
    return fail(err, buf, i, "dtmf");
  d->signal = dtmf_signal(s[i]);
  i++;
  while (i < n && is_wsp(s[i]))
    i++;
  if (i < n && s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
    i += 2;
  else if (i < n && s[i] == '\n')
    i++;
  if (i < n)
    return fail(err, buf, i, "dtmf");
  ok(err);
  return SIPKIT_EOK;
}

int sipkit_dtmf_build(const sipkit_dtmf *d, char *out, size_t cap, size_t *len) {
  if (len)
    *len = 0;
  if (!d || (!out && cap))
    return SIPKIT_EARGUMENT;
  char sig = dtmf_signal((unsigned char)d->signal);
  if (!sig)
    return SIPKIT_EINVALID_VALUE;
  size_t pos = 0;
  put(out, cap, &pos, &sig, 1);
  return finish_build(pos, cap, len);
}

/* ------------------------------------------------------------------ */
/* Multipart                                                           */

/* RFC 2046 §5.1.1 bchars (space handled by the caller) */
static int is_bchar(unsigned char ch) {
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
    return 1;
  return ch != 0 && memchr("'()+_,-./:=?", ch, 12) != NULL;
}

struct mp {
  const char *buf;
  uptr s;          /* buf as bytes */
  uptr b;          /* boundary */
  uint32_t blen;
  uint32_t end;    /* body end (offset into buf) */
  sipkit_error *err;
};

/* Find the boundary in params: sets x->b, x->blen. */
static int find_boundary(struct mp *x, sipkit_span params) {
  uint32_t pos = 0;
  sipkit_span name, value;
  int found = 0;
  while (sipkit_param_next(x->buf, params, &pos, &name, &value)) {
    if (!ieq(x->s + name.off, name.len, "boundary", 8))
      continue;
    if (found)
      return fail(x->err, x->buf, name.off, "multipart boundary");
    found = 1;
    uint32_t v0 = value.off, v1 = value.off + value.len;
    int quoted = 0;
    if (v1 > v0 && x->s[v0] == '"') {
      quoted = 1;
      if (v1 - v0 < 2 || x->s[v1 - 1] != '"')
        return fail(x->err, x->buf, v0, "multipart boundary");
      v0++;
      v1--;
    }
    if (v1 == v0 || v1 - v0 > SIPKIT_MAX_BOUNDARY)
      return fail(x->err, x->buf, value.off, "multipart boundary");
    for (uint32_t j = v0; j < v1; j++) {
      /* a space only inside quotes (not a token byte), never last */
      int sp_ok = quoted && x->s[j] == ' ' && j + 1 < v1;
      if (!is_bchar(x->s[j]) && !sp_ok)
        return fail(x->err, x->buf, j, "multipart boundary");
    }
    x->b = x->s + v0;
    x->blen = v1 - v0;
  }
  if (!found)
    return fail(x->err, x->buf, params.off, "multipart boundary");
  return SIPKIT_EOK;
}

/* Is there a delimiter line at p (which starts a line)?  0 no, 1 a
 * delimiter (*next = after its line end), 2 the close delimiter. */
static int delim_at(const struct mp *x, uint32_t p, uint32_t *next) {
  if (x->end - p < 2 + x->blen || x->s[p] != '-' || x->s[p + 1] != '-' ||
      memcmp(x->s + p + 2, x->b, x->blen) != 0)
    return 0;
  uint32_t q = p + 2 + x->blen;
  if (x->end - q >= 2 && x->s[q] == '-' && x->s[q + 1] == '-') {
    *next = q + 2;
    return 2;
  }
  while (q < x->end && is_wsp(x->s[q]))
    q++;
  if (q < x->end && x->s[q] == '\n') {
    *next = q + 1;
    return 1;
  }
  if (x->end - q >= 2 && x->s[q] == '\r' && x->s[q + 1] == '\n') {
    *next = q + 2;
    return 1;
  }
  return 0;
}

/* First delimiter at or after from that starts a line (at from itself
 * when at_start).  Returns its offset, or end; *kind as
 * delim_at. */
static uint32_t find_delim(const struct mp *x, uint32_t from, int at_start,
                           int *kind, uint32_t *next) {
  uint32_t p = from;
  if (at_start && (*kind = delim_at(x, p, next)) != 0)
    return p;
  while (p < x->end) {
    const void *nl = memchr(x->s + p, '\n', x->end - p);
    if (!nl)
      break;
    p = (uint32_t)((uptr)nl - x->s) + 1;
    if ((*kind = delim_at(x, p, next)) != 0)
      return p;
  }
  *kind = 0;
  return x->end;
}

static int parse_ctype(struct mp *x, sipkit_part *part, uint32_t v0, uint32_t v1) {
  uptr s = x->s;
  uint32_t i = v0, t0 = i;
  while (i < v1 && is_token(s[i]))
    i++;
  if (i == t0)
    return fail(x->err, x->buf, i, "multipart Content-Type");
  part->ctype.type.off = t0;
  part->ctype.type.len = i - t0;
  while (i < v1 && (is_wsp(s[i]) || s[i] == '\r' || s[i] == '\n'))
    i++;
  if (i >= v1 || s[i] != '/')
    return fail(x->err, x->buf, i, "multipart Content-Type");
  i++;
  while (i < v1 && (is_wsp(s[i]) || s[i] == '\r' || s[i] == '\n'))
    i++;
  uint32_t st0 = i;
  while (i < v1 && is_token(s[i]))
    i++;
  if (i == st0)
    return fail(x->err, x->buf, i, "multipart Content-Type");
  part->ctype.subtype.off = st0;
  part->ctype.subtype.len = i - st0;
  while (i < v1 && (is_wsp(s[i]) || s[i] == '\r' || s[i] == '\n'))
    i++;
  if (i < v1) {
    if (s[i] != ';')
      return fail(x->err, x->buf, i, "multipart Content-Type");
    i++;
    while (i < v1 && (is_wsp(s[i]) || s[i] == '\r' || s[i] == '\n'))
      i++;
  }
  part->ctype.params.off = i;
  part->ctype.params.len = v1 - i;
  part->is_multipart = ieq(s + t0, part->ctype.type.len, "multipart", 9) ? 1 : 0;
  return SIPKIT_EOK;
}

/* One part: content [ps, pe). */
static int parse_part(struct mp *x, sipkit_part *part, uint32_t ps, uint32_t pe,
                      uint8_t depth) {
  uptr s = x->s;
  memset(part, 0, sizeof *part);
  part->depth = depth;
  part->all.off = ps;
  part->all.len = pe - ps;
  part->headers.off = ps;
  uint32_t i = ps;
  for (;;) {
    if (i >= pe) { /* fields and no body: MIME-part-headers [CRLF *OCTET] */
      part->headers.len = i - ps;
      break;
    }
    /* an empty line ends the headers */
    if (s[i] == '\n' || (s[i] == '\r' && i + 1 < pe && s[i + 1] == '\n')) {
      part->headers.len = i - ps;
      i += s[i] == '\n' ? 1 : 2;
      break;
    }
    if (is_wsp(s[i])) /* a fold with nothing before it */
      return fail(x->err, x->buf, i, "multipart field");
    /* field-name */
    uint32_t n0 = i;
    while (i < pe && s[i] != ':') {
      if (s[i] <= 0x20 || s[i] >= 0x7f) {
        if (is_wsp(s[i])) { /* SP/HT allowed only right before the colon */
          uint32_t w = i;
          while (w < pe && is_wsp(s[w]))
            w++;
          if (w < pe && s[w] == ':') {
            i = w;
            break;
          }
        }
        if (s[i] == '\r' || s[i] == '\n')
          return fail(x->err, x->buf, i, "multipart field");
        return fail(x->err, x->buf, i, "multipart field-name");
      }
      i++;
    }
    if (i >= pe)
      return fail(x->err, x->buf, i, "multipart field");
    uint32_t n1 = i;
    while (n1 > n0 && is_wsp(s[n1 - 1]))
      n1--;
    if (n1 == n0)
      return fail(x->err, x->buf, n0, "multipart field-name");
    i++; /* ':' */
    /* value up to the line end that is not followed by a fold */
    uint32_t v0 = i, v1 = i;
    for (;;) {
      while (i < pe && s[i] != '\r' && s[i] != '\n')
        i++;
      if (i >= pe) /* unterminated field at the end of the part */
        return fail(x->err, x->buf, pe, "multipart body-part");
      if (s[i] == '\r' && (i + 1 >= pe || s[i + 1] != '\n')) {
        if (i + 1 >= pe)
          return fail(x->err, x->buf, pe, "multipart body-part");
        return fail(x->err, x->buf, i, "multipart field");
      }
      v1 = i;
      i += s[i] == '\n' ? 1 : 2;
      if (i < pe && is_wsp(s[i]))
        continue; /* fold */
      break;
    }
    while (v0 < v1 && (is_wsp(s[v0]) || s[v0] == '\r' || s[v0] == '\n'))
      v0++;
    while (v1 > v0 && (is_wsp(s[v1 - 1]) || s[v1 - 1] == '\r' || s[v1 - 1] == '\n'))
      v1--;
    if (part->num_headers >= SIPKIT_MAX_PART_HEADERS)
      return fail(x->err, x->buf, n0, "multipart part headers limit");
    sipkit_part_header *h = &part->hdrs[part->num_headers++];
    h->name.off = n0;
    h->name.len = n1 - n0;
    h->value.off = v0;
    h->value.len = v1 - v0;
    if (ieq(s + n0, n1 - n0, "content-type", 12)) {
      if (part->has_ctype)
        return fail(x->err, x->buf, n0, "multipart Content-Type");
      part->has_ctype = 1;
      part->content_type = h->value;
      int rc = parse_ctype(x, part, v0, v1);
      if (rc)
        return rc;
    } else if (ieq(s + n0, n1 - n0, "content-id", 10)) {
      if (!part->content_id.len)
        part->content_id = h->value;
    } else if (ieq(s + n0, n1 - n0, "content-disposition", 19)) {
      if (!part->disposition.len)
        part->disposition = h->value;
    }
  }
  part->body.off = i;
  part->body.len = pe - i;
  return SIPKIT_EOK;
}

static int split(const char *buf, sipkit_span body, sipkit_span params,
                 sipkit_part *parts, size_t cap, size_t *num_parts,
                 sipkit_error *err, uint8_t depth) {
  struct mp x;
  x.buf = buf;
  x.s = (uptr)buf;
  x.err = err;
  x.end = body.off + body.len;
  x.b = NULL;
  x.blen = 0;
  int rc = find_boundary(&x, params);
  if (rc)
    return rc;
  if (body.len < 2 + x.blen)
    return fail(err, buf, body.off, "multipart delimiter");
  size_t limit = cap < SIPKIT_MAX_PARTS ? cap : SIPKIT_MAX_PARTS;
  int kind;
  uint32_t next;
  uint32_t d = find_delim(&x, body.off, 1, &kind, &next);
  if (!kind)
    return fail(err, buf, x.end, "multipart delimiter");
  if (kind == 2) /* "--b--" first: no part */
    return fail(err, buf, d, "multipart body-part");
  size_t n = 0;
  for (;;) {
    uint32_t ps = next, dstart = d;
    d = find_delim(&x, ps, 1, &kind, &next);
    if (!kind)
      return fail(err, buf, x.end, "multipart close-delimiter");
    /* the line end before d belongs to the delimiter */
    if (d == ps) /* nothing between the delimiters */
      return fail(err, buf, d, "multipart body-part");
    uint32_t pe = d - 1;
    if (pe > ps && x.s[pe - 1] == '\r')
      pe--;
    if (pe == ps)
      return fail(err, buf, d, "multipart body-part");
    if (n >= limit)
      return fail(err, buf, dstart, "multipart parts limit");
    rc = parse_part(&x, &parts[n], ps, pe, depth);
    if (rc)
      return rc;
    n++;
    if (kind == 2)
      break;
  }
  *num_parts = n;
  ok(err);
  return SIPKIT_EOK;
}

int sipkit_multipart_parse(const char *buf, sipkit_span body, sipkit_span params,
                           sipkit_part *parts, size_t cap, size_t *num_parts,
                           sipkit_error *err) {
  if (!buf || !parts || !cap || !num_parts)
    return arg_fail(err);
  *num_parts = 0;
  if ((uint64_t)body.off + body.len > UINT32_MAX ||
      (uint64_t)params.off + params.len > UINT32_MAX)
    return arg_fail(err);
  return split(buf, body, params, parts, cap, num_parts, err, 1);
}

int sipkit_multipart_parse_part(const char *buf, const sipkit_part *part,
                                sipkit_part *parts, size_t cap,
                                size_t *num_parts, sipkit_error *err) {
  if (!buf || !part || !parts || !cap || !num_parts)
    return arg_fail(err);
  *num_parts = 0;
  if (!part->is_multipart)
    return fail(err, buf, part->content_type.off, "multipart Content-Type");
  if ((unsigned)part->depth + 1 > SIPKIT_MAX_MULTIPART_DEPTH)
    return fail(err, buf, part->body.off, "multipart depth limit");
  return split(buf, part->body, part->ctype.params, parts, cap, num_parts, err,
               (uint8_t)(part->depth + 1));
}
