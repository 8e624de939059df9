/* sdp.c - SDP (RFC 8866) parse, build and RFC 3264 offer/answer.
 *
 * Parsing: the generated machine (grammar/sip_sdp.rl -> gen/c/sip_sdp.c)
 * checks the whole body against RFC 8866 §9 and calls back here once per
 * field, with the field already known to match its rule; this file splits
 * the values at their SPs, converts numbers, checks the limits and reads
 * rtpmap/fmtp (RFC 8866 §6.6, §6.15: prose grammar). */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "sipkit_sdp.h"

/* Declared for gen/c/sip_sdp.c in grammar/sip_sdp.rl. */
int sipkit__sdp_field(struct sipkit__ctx *c, int type, sipkit__ptr a, sipkit__ptr b);
int sipkit__sdp_fmt(struct sipkit__ctx *c, sipkit__ptr a, sipkit__ptr b);
int sipkit__sdp_run(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe);

struct sdp_ctx {
  struct sipkit__ctx c; /* first: the machine passes &x->c */
  sipkit_sdp *sdp;
  sipkit_sdp_media *m;  /* current media description, NULL at session level */
};

static int sdp_err(struct sipkit__ctx *c, int code, sipkit__ptr at, const char *rule) {
  return sipkit__fail(c, code, at, rule);
}

/* Digits [a, b) as a number: at most SIPKIT_MAX_DIGITS, <= max.  The
 * grammar has already checked they are digits (callers that read prose
 * check again).  Returns 0 or 1 after recording an error. */
static int sdp_num(struct sipkit__ctx *c, sipkit__ptr a, sipkit__ptr b, uint64_t max,
                   uint32_t *out, const char *rule) {
  uint64_t v = 0;
  sipkit__ptr p;
  if (a == b)
    return sdp_err(c, SIPKIT_ESDP, a, rule);
  if ((size_t)(b - a) > SIPKIT_MAX_DIGITS)
    return sdp_err(c, SIPKIT_ESDP, a, rule);
  for (p = a; p < b; p++) {
    if ((unsigned)(*p - '0') >= 10u)
      return sdp_err(c, SIPKIT_ESDP, p, rule);
    v = v * 10 + (uint64_t)(*p - '0');
  }
  if (v > max)
    return sdp_err(c, SIPKIT_ESDP, a, rule);
  *out = (uint32_t)v;
  return 0;
}

static sipkit__ptr upto(sipkit__ptr p, sipkit__ptr e, unsigned char ch) {
  while (p < e && *p != ch)
    p++;
  return p;
}

static int span_eqb(const void *buf, sipkit_span s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp((const char *)buf + s.off, lit, n) == 0;
}
static int span_eq(const struct sipkit__ctx *c, sipkit_span s, const char *lit) {
  return span_eqb(c->base, s, lit);
}

static int direction_of(const struct sipkit__ctx *c, sipkit_span name) {
  if (span_eq(c, name, "sendrecv")) return SIPKIT_SDP_SENDRECV;
  if (span_eq(c, name, "sendonly")) return SIPKIT_SDP_SENDONLY;
  if (span_eq(c, name, "recvonly")) return SIPKIT_SDP_RECVONLY;
  if (span_eq(c, name, "inactive")) return SIPKIT_SDP_INACTIVE;
  return SIPKIT_SDP_DIR_NONE;
}

static sipkit_sdp_format *find_format(struct sdp_ctx *x, sipkit__ptr a, sipkit__ptr b) {
  sipkit_sdp_media *m = x->m;
  for (uint32_t i = 0; i < m->num_formats; i++) {
    sipkit_sdp_format *f = &m->formats[i];
    if (f->fmt.len == (uint32_t)(b - a) && memcmp(x->c.base + f->fmt.off, a, f->fmt.len) == 0)
      return f;
  }
  return NULL;
}

static int is_token_char(unsigned char ch) {
  /* RFC 8866 token-char */
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
         (ch && strchr("!#$%&'*+-.^_`{|}~", ch));
}

/* Decimal [a, b) of at most SIPKIT_MAX_DIGITS digits, <= max: 1 and *out. */
static int dec(sipkit__ptr a, sipkit__ptr b, uint64_t max, uint32_t *out) {
  uint64_t v = 0;
  if (a == b || (size_t)(b - a) > SIPKIT_MAX_DIGITS)
    return 0;
  for (; a < b; a++) {
    if ((unsigned)(*a - '0') >= 10u)
      return 0;
    v = v * 10 + (uint64_t)(*a - '0');
  }
  if (v > max)
    return 0;
  *out = (uint32_t)v;
  return 1;
}

/* a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
 * (RFC 8866 §6.6, prose).  The §9 grammar takes any byte-string, so a value
 * that does not match is not an SDP error: the format gets rtpmap_bad
 * (RFC 4475 sdp01, a valid message, carries "a=rtpmap:31 LPC"). */
static void sdp_rtpmap(struct sdp_ctx *x, sipkit__ptr a, sipkit__ptr e) {
  struct sipkit__ctx *c = &x->c;
  sipkit__ptr sp = upto(a, e, ' '), enc, sl, cl, ce;
  sipkit_sdp_format *f = find_format(x, a, sp);
  uint32_t clock = 0, ch = 1;
  if (!f || f->has_rtpmap)
    return; /* for a format not on the m= line, or again: the first one wins */
  enc = sp + (sp < e);
  sl = enc;
  while (sl < e && is_token_char(*sl))
    sl++;
  cl = sl + (sl < e);
  ce = upto(cl, e, '/');
  if (!f->has_pt || sp == e || sl == enc || sl == e || *sl != '/' ||
      !dec(cl, ce, UINT32_MAX, &clock) || clock == 0 || ce + 1 == e) {
    f->rtpmap_bad = 1;
    return;
  }
  if (ce < e && !dec(ce + 1, e, UINT32_MAX, &ch))
    ch = 0; /* not a number: see enc_params */
  f->has_rtpmap = 1;
  f->encoding = sipkit__span(c, enc, sl);
  f->clock_rate = clock;
  f->channels = ch;
  f->enc_params = ce < e ? sipkit__span(c, ce + 1, e) : sipkit__span(c, e, e);
}

/* a=fmtp:<format> <format specific parameters> (RFC 8866 §6.15); without
 * the SP and parameters it is ignored. */
static void sdp_fmtp(struct sdp_ctx *x, sipkit__ptr a, sipkit__ptr e) {
  sipkit__ptr sp = upto(a, e, ' ');
  sipkit_sdp_format *f = find_format(x, a, sp);
  if (f && !f->has_fmtp && sp + 1 < e) {
    f->has_fmtp = 1;
    f->fmtp = sipkit__span(&x->c, sp + 1, e);
  }
}

static int sdp_attr(struct sdp_ctx *x, sipkit__ptr line, sipkit__ptr v, sipkit__ptr e,
                    sipkit__ptr b) {
  struct sipkit__ctx *c = &x->c;
  sipkit_sdp *s = x->sdp;
  uint32_t *n = x->m ? &x->m->num_attrs : &s->num_attrs;
  sipkit_sdp_attr *at;
  sipkit__ptr colon = upto(v, e, ':');
  int dir;
  if ((size_t)(b - line) > SIPKIT_SDP_MAX_ATTR_LINE)
    return sdp_err(c, SIPKIT_ESDP_LIMIT, line, "attribute-field");
  if (*n >= SIPKIT_SDP_MAX_ATTRS)
    return sdp_err(c, SIPKIT_ESDP_LIMIT, line, "attribute-field");
  at = x->m ? &x->m->attrs[(*n)++] : &s->attrs[(*n)++];
  at->name = sipkit__span(c, v, colon);
  at->has_value = colon < e;
  at->value = colon < e ? sipkit__span(c, colon + 1, e) : sipkit__span(c, e, e);
  if (!at->has_value && (dir = direction_of(c, at->name)) != SIPKIT_SDP_DIR_NONE) {
    if (x->m)
      x->m->direction = (uint8_t)dir;
    else
      s->direction = (uint8_t)dir;
  }
  if (x->m && at->has_value) {
    if (span_eq(c, at->name, "rtpmap"))
      sdp_rtpmap(x, colon + 1, e);
    else if (span_eq(c, at->name, "fmtp"))
      sdp_fmtp(x, colon + 1, e);
  }
  return 0;
}

/* connection-field value: nettype SP addrtype SP connection-address */
static void sdp_conn(struct sipkit__ctx *c, sipkit_sdp_conn *k, sipkit__ptr v, sipkit__ptr e) {
  sipkit__ptr s1 = upto(v, e, ' '), s2 = upto(s1 + 1, e, ' ');
  k->nettype = sipkit__span(c, v, s1);
  k->addrtype = sipkit__span(c, s1 + 1, s2);
  k->address = sipkit__span(c, s2 + 1, e);
}

static int sdp_media_line(struct sdp_ctx *x, sipkit__ptr v, sipkit__ptr e) {
  struct sipkit__ctx *c = &x->c;
  sipkit_sdp_media *m = x->m;
  sipkit__ptr s1 = upto(v, e, ' '), pe = upto(s1 + 1, e, ' '), sl = upto(s1 + 1, pe, '/');
  sipkit__ptr s3 = upto(pe + 1, e, ' ');
  m->line = sipkit__span(c, v, e);
  m->media = sipkit__span(c, v, s1);
  if (sdp_num(c, s1 + 1, sl, 65535, &m->port, "media-field"))
    return 1;
  if (sl < pe && sdp_num(c, sl + 1, pe, UINT32_MAX, &m->num_ports, "media-field"))
    return 1;
  m->proto = sipkit__span(c, pe + 1, s3);
  if (m->proto.len >= 4 && memcmp(c->base + m->proto.off, "RTP/", 4) == 0)
    for (uint32_t i = 0; i < m->num_formats; i++)
      if (!m->formats[i].has_pt)
        return sdp_err(c, SIPKIT_ESDP, c->base + m->formats[i].fmt.off, "fmt");
  return 0;
}

int sipkit__sdp_fmt(struct sipkit__ctx *c, sipkit__ptr a, sipkit__ptr b) {
  struct sdp_ctx *x = (struct sdp_ctx *)c;
  sipkit_sdp_media *m = x->m;
  sipkit_sdp_format *f;
  uint32_t v = 0;
  if (m->num_formats >= SIPKIT_SDP_MAX_FORMATS)
    return sdp_err(c, SIPKIT_ESDP_LIMIT, a, "fmt");
  f = &m->formats[m->num_formats++];
  memset(f, 0, sizeof *f);
  f->fmt = sipkit__span(c, a, b);
  if (b - a <= 3) {
    sipkit__ptr p = a;
    while (p < b && (unsigned)(*p - '0') < 10u)
      v = v * 10 + (uint32_t)(*p++ - '0');
    if (p == b && v <= 127) {
      f->has_pt = 1;
      f->pt = v;
    }
  }
  return 0;
}

int sipkit__sdp_field(struct sipkit__ctx *c, int type, sipkit__ptr a, sipkit__ptr b) {
  struct sdp_ctx *x = (struct sdp_ctx *)c;
  sipkit_sdp *s = x->sdp;
  sipkit_sdp_media *m = x->m;
  sipkit__ptr v = a + 2, e = b;
  if (type == 'M') {
    if (s->num_media >= SIPKIT_SDP_MAX_MEDIA)
      return sdp_err(c, SIPKIT_ESDP_LIMIT, a, "media-description");
    x->m = &s->media[s->num_media++];
    memset(x->m, 0, offsetof(sipkit_sdp_media, formats));
    x->m->num_attrs = 0;
    return 0;
  }
  if (e > v && e[-1] == '\n')
    e--;
  if (e > v && e[-1] == '\r')
    e--;
  switch (type) {
  case 'v':
    if (sdp_num(c, v, e, 0, &s->version, "version-field"))
      return 1;
    return 0;
  case 'o': {
    sipkit__ptr q = v, w[6];
    for (int i = 0; i < 6; i++) {
      w[i] = q;
      q = upto(q, e, ' ') + 1;
    }
    s->origin = sipkit__span(c, v, e);
    s->o_username = sipkit__span(c, w[0], w[1] - 1);
    s->o_sess_id = sipkit__span(c, w[1], w[2] - 1);
    s->o_sess_version = sipkit__span(c, w[2], w[3] - 1);
    s->o_nettype = sipkit__span(c, w[3], w[4] - 1);
    s->o_addrtype = sipkit__span(c, w[4], w[5] - 1);
    s->o_address = sipkit__span(c, w[5], e);
    return 0;
  }
  case 's': s->name = sipkit__span(c, v, e); return 0;
  case 'i':
    if (m) m->info = sipkit__span(c, v, e);
    else s->info = sipkit__span(c, v, e);
    return 0;
  case 'u': s->uri = sipkit__span(c, v, e); return 0;
  case 'e': if (!s->num_emails++) s->email = sipkit__span(c, v, e); return 0;
  case 'p': if (!s->num_phones++) s->phone = sipkit__span(c, v, e); return 0;
  case 'c':
    if (m) {
      if (!m->num_conns++) sdp_conn(c, &m->conn, v, e);
    } else if (!s->num_conns++)
      sdp_conn(c, &s->conn, v, e);
    return 0;
  case 'b':
    if (m) {
      if (!m->num_bandwidths++) m->bandwidth = sipkit__span(c, v, e);
    } else if (!s->num_bandwidths++)
      s->bandwidth = sipkit__span(c, v, e);
    return 0;
  case 't':
    if (!s->num_times++) {
      sipkit__ptr sp = upto(v, e, ' ');
      s->t_start = sipkit__span(c, v, sp);
      s->t_stop = sipkit__span(c, sp + 1, e);
    }
    return 0;
  case 'r': if (!s->num_repeats++) s->repeat = sipkit__span(c, v, e); return 0;
  case 'z': s->zone = sipkit__span(c, v, e); return 0;
  case 'k':
    if (m) m->key = sipkit__span(c, v, e);
    else s->key = sipkit__span(c, v, e);
    return 0;
  case 'a': return sdp_attr(x, a, v, e, b);
  case 'm': return sdp_media_line(x, v, e);
  default: return 0;
  }
}

static const char *field_rule(unsigned char t) {
  switch (t) {
  case 'v': return "version-field";
  case 'o': return "origin-field";
  case 's': return "session-name-field";
  case 'i': return "information-field";
  case 'u': return "uri-field";
  case 'e': return "email-field";
  case 'p': return "phone-field";
  case 'c': return "connection-field";
  case 'b': return "bandwidth-field";
  case 't': return "time-field";
  case 'r': return "repeat-field";
  case 'z': return "zone-field";
  case 'k': return "key-field";
  case 'a': return "attribute-field";
  case 'm': return "media-field";
  default: return "session-description";
  }
}

int sipkit_sdp_parse(sipkit_sdp *sdp, const char *buf, size_t len, sipkit_error *err) {
  struct sdp_ctx x;
  memset(&x, 0, sizeof x);
  x.c.base = (sipkit__ptr)buf;
  x.c.end = (sipkit__ptr)buf + len;
  x.c.code = SIPKIT_EOK;
  if (!sdp || (!buf && len) || len > UINT32_MAX) {
    if (err) {
      memset(err, 0, sizeof *err);
      err->code = SIPKIT_EARGUMENT;
      err->rule = "";
    }
    return SIPKIT_EARGUMENT;
  }
  memset(sdp, 0, offsetof(sipkit_sdp, media));
  sdp->num_media = 0;
  x.sdp = sdp;
  if (sipkit__sdp_run(&x.c, x.c.base, x.c.end) && (!x.c.err_rule || !*x.c.err_rule)) {
    /* a grammar failure: name the rule of the line it happened in */
    sipkit__ptr at = x.c.base + x.c.err_off, bol = at;
    while (bol > x.c.base && bol[-1] != '\n')
      bol--;
    x.c.err_rule = at == bol || bol == x.c.end ? "session-description" : field_rule(*bol);
  }
  sipkit__report(&x.c, err);
  return x.c.code;
}

int sipkit_sdp_direction(const sipkit_sdp *sdp, uint32_t i) {
  if (i < sdp->num_media && sdp->media[i].direction)
    return sdp->media[i].direction;
  return sdp->direction ? sdp->direction : SIPKIT_SDP_SENDRECV;
}

static int is_zero_addr(const char *buf, sipkit_span s) {
  return s.len == 7 && memcmp(buf + s.off, "0.0.0.0", 7) == 0;
}

int sipkit_sdp_is_hold(const sipkit_sdp *sdp, const char *buf, uint32_t i) {
  int d = sipkit_sdp_direction(sdp, i);
  if (d == SIPKIT_SDP_SENDONLY || d == SIPKIT_SDP_INACTIVE)
    return 1;
  if (i < sdp->num_media && sdp->media[i].num_conns)
    return is_zero_addr(buf, sdp->media[i].conn.address);
  return sdp->num_conns && is_zero_addr(buf, sdp->conn.address);
}

const sipkit_sdp_attr *sipkit_sdp_attr_find(const sipkit_sdp *sdp, const char *buf,
                                            uint32_t i, const char *name) {
  const sipkit_sdp_attr *a;
  uint32_t n;
  size_t nl = strlen(name);
  if (i == UINT32_MAX) {
    a = sdp->attrs;
    n = sdp->num_attrs;
  } else if (i < sdp->num_media) {
    a = sdp->media[i].attrs;
    n = sdp->media[i].num_attrs;
  } else
    return NULL;
  for (uint32_t k = 0; k < n; k++)
    if (a[k].name.len == nl && memcmp(buf + a[k].name.off, name, nl) == 0)
      return &a[k];
  return NULL;
}

/* ------------------------------------------------------------------ building */

struct wr {
  char *out;
  size_t cap, n;
  int bad; /* a value did not match its rule */
};

static void put(struct wr *w, const char *s, size_t n) {
  if (w->out && n && w->n + n <= w->cap)
    memcpy(w->out + w->n, s, n);
  w->n += n;
}
static void puts_(struct wr *w, const char *s) { put(w, s, strlen(s)); }
static void putu(struct wr *w, uint64_t v) {
  char t[24];
  int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
  put(w, t, (size_t)n);
}

/* token (RFC 8866 token) */
static void put_token(struct wr *w, const char *s) {
  if (!s || !*s) { w->bad = 1; return; }
  for (const char *p = s; *p; p++)
    if (!is_token_char((unsigned char)*p)) w->bad = 1;
  puts_(w, s);
}
/* proto = token *("/" token) */
static void put_proto(struct wr *w, const char *s) {
  size_t run = 0;
  if (!s || !*s) { w->bad = 1; return; }
  for (const char *p = s; *p; p++) {
    if (*p == '/') {
      if (!run) w->bad = 1;
      run = 0;
    } else if (is_token_char((unsigned char)*p))
      run++;
    else
      w->bad = 1;
  }
  if (!run) w->bad = 1;
  puts_(w, s);
}
/* non-ws-string = 1*(VCHAR/%x80-FF) */
static void put_nonws(struct wr *w, const char *s) {
  if (!s || !*s) { w->bad = 1; return; }
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p <= 0x20 || *p == 0x7f) w->bad = 1;
  puts_(w, s);
}
/* byte-string = 1*(%x01-09/%x0B-0C/%x0E-FF) */
static void put_text(struct wr *w, const char *s) {
  if (!s || !*s) { w->bad = 1; return; }
  for (const char *p = s; *p; p++)
    if (*p == '\r' || *p == '\n') w->bad = 1;
  puts_(w, s);
}
static const char *addrtype(const char *addr) {
  return addr && strchr(addr, ':') ? "IP6" : "IP4";
}
static void put_session(struct wr *w, const char *user, uint64_t id, uint64_t ver,
                        const char *addr, const char *name) {
  puts_(w, "v=0\r\no=");
  put_nonws(w, user ? user : "-");
  puts_(w, " ");
  putu(w, id);
  puts_(w, " ");
  putu(w, ver);
  puts_(w, " IN ");
  puts_(w, addrtype(addr));
  puts_(w, " ");
  put_nonws(w, addr);
  puts_(w, "\r\ns=");
  put_text(w, name ? name : "-");
  puts_(w, "\r\nc=IN ");
  puts_(w, addrtype(addr));
  puts_(w, " ");
  put_nonws(w, addr);
  puts_(w, "\r\nt=0 0\r\n");
}
static const char *dir_name(int d) {
  switch (d) {
  case SIPKIT_SDP_SENDRECV: return "sendrecv";
  case SIPKIT_SDP_SENDONLY: return "sendonly";
  case SIPKIT_SDP_RECVONLY: return "recvonly";
  case SIPKIT_SDP_INACTIVE: return "inactive";
  default: return NULL;
  }
}
static void put_dir(struct wr *w, int d) {
  const char *n = dir_name(d);
  if (d < SIPKIT_SDP_DIR_NONE || d > SIPKIT_SDP_INACTIVE) {
    w->bad = 1;
    return;
  }
  if (n) {
    puts_(w, "a=");
    puts_(w, n);
    puts_(w, "\r\n");
  }
}
static void put_rtpmap(struct wr *w, uint32_t pt, const char *enc, uint32_t clock,
                       uint32_t channels) {
  puts_(w, "a=rtpmap:");
  putu(w, pt);
  puts_(w, " ");
  put_token(w, enc);
  puts_(w, "/");
  if (!clock) w->bad = 1;
  putu(w, clock);
  if (channels > 1) {
    puts_(w, "/");
    putu(w, channels);
  }
  puts_(w, "\r\n");
}
static void put_fmtp(struct wr *w, const char *fmt, size_t fl, const char *params,
                     size_t pl) {
  puts_(w, "a=fmtp:");
  put(w, fmt, fl);
  puts_(w, " ");
  if (!pl || memchr(params, '\r', pl) || memchr(params, '\n', pl) || memchr(params, 0, pl))
    w->bad = 1;
  put(w, params, pl);
  puts_(w, "\r\n");
}

static int finish(struct wr *w, size_t *len) {
  if (len)
    *len = w->n;
  if (w->bad)
    return SIPKIT_EINVALID_VALUE;
  return w->n > w->cap ? SIPKIT_EBUFFER_TOO_SMALL : SIPKIT_EOK;
}

int sipkit_sdp_build(const sipkit_sdp_desc *d, char *out, size_t cap, size_t *len) {
  struct wr w = {out, out ? cap : 0, 0, 0};
  if (!d || d->num_media > SIPKIT_SDP_MAX_MEDIA || (d->num_media && !d->media))
    return SIPKIT_EARGUMENT;
  put_session(&w, d->username, d->sess_id, d->sess_version, d->address, d->session_name);
  for (size_t i = 0; i < d->num_media; i++) {
    const sipkit_sdp_media_desc *m = &d->media[i];
    if (!m->num_codecs || m->num_codecs > SIPKIT_SDP_MAX_FORMATS || !m->codecs ||
        m->port > 65535)
      return SIPKIT_EINVALID_VALUE;
    puts_(&w, "m=");
    put_token(&w, m->media);
    puts_(&w, " ");
    putu(&w, m->port);
    puts_(&w, " ");
    put_proto(&w, m->proto);
    for (size_t k = 0; k < m->num_codecs; k++) {
      if (m->codecs[k].pt > 127)
        w.bad = 1;
      puts_(&w, " ");
      putu(&w, m->codecs[k].pt);
    }
    puts_(&w, "\r\n");
    if (m->address) {
      puts_(&w, "c=IN ");
      puts_(&w, addrtype(m->address));
      puts_(&w, " ");
      put_nonws(&w, m->address);
      puts_(&w, "\r\n");
    }
    for (size_t k = 0; k < m->num_codecs; k++) {
      const sipkit_sdp_codec *cd = &m->codecs[k];
      char pt[4];
      int pl = snprintf(pt, sizeof pt, "%u", (unsigned)(cd->pt & 127));
      if (cd->encoding)
        put_rtpmap(&w, cd->pt, cd->encoding, cd->clock_rate, cd->channels);
      if (cd->fmtp)
        put_fmtp(&w, pt, (size_t)pl, cd->fmtp, strlen(cd->fmtp));
    }
    put_dir(&w, m->direction);
  }
  return finish(&w, len);
}

int sipkit_sdp_offer(const sipkit_sdp_audio *a, char *out, size_t cap, size_t *len) {
  sipkit_sdp_codec cd[3];
  sipkit_sdp_media_desc m;
  sipkit_sdp_desc d;
  size_t n = 0;
  if (!a)
    return SIPKIT_EARGUMENT;
  if (a->codecs & SIPKIT_SDP_PCMU)
    cd[n++] = (sipkit_sdp_codec){0, "PCMU", 8000, 0, NULL};
  if (a->codecs & SIPKIT_SDP_PCMA)
    cd[n++] = (sipkit_sdp_codec){8, "PCMA", 8000, 0, NULL};
  if (n == 0)
    return SIPKIT_EINVALID_VALUE;
  if (a->codecs & SIPKIT_SDP_TELEPHONE_EVENT)
    cd[n++] = (sipkit_sdp_codec){a->event_pt ? a->event_pt : 101, "telephone-event", 8000, 0,
                                 "0-16"};
  m = (sipkit_sdp_media_desc){"audio", a->port, "RTP/AVP", cd, n, NULL,
                              a->hold ? SIPKIT_SDP_SENDONLY : SIPKIT_SDP_SENDRECV};
  d = (sipkit_sdp_desc){a->username, a->sess_id, a->sess_version, a->address, NULL, &m, 1};
  return sipkit_sdp_build(&d, out, cap, len);
}

enum { K_NONE, K_PCMU, K_PCMA, K_EVENT };

static int span_ieq(const char *buf, sipkit_span s, const char *lit) {
  size_t n = strlen(lit);
  if (s.len != n)
    return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char x = (unsigned char)buf[s.off + i], y = (unsigned char)lit[i];
    if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
    if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
    if (x != y)
      return 0;
  }
  return 1;
}

static int codec_kind(const char *buf, const sipkit_sdp_format *f) {
  if (f->has_rtpmap) {
    if (f->clock_rate != 8000 || f->channels != 1)
      return K_NONE;
    if (span_ieq(buf, f->encoding, "PCMU")) return K_PCMU;
    if (span_ieq(buf, f->encoding, "PCMA")) return K_PCMA;
    if (span_ieq(buf, f->encoding, "telephone-event")) return K_EVENT;
    return K_NONE;
  }
  if (f->has_pt && f->pt == 0) return K_PCMU;
  if (f->has_pt && f->pt == 8) return K_PCMA;
  return K_NONE;
}

static int kind_wanted(int k, unsigned codecs) {
  return (k == K_PCMU && (codecs & SIPKIT_SDP_PCMU)) ||
         (k == K_PCMA && (codecs & SIPKIT_SDP_PCMA)) ||
         (k == K_EVENT && (codecs & SIPKIT_SDP_TELEPHONE_EVENT));
}

int sipkit_sdp_answer(const sipkit_sdp *offer, const char *ob, const sipkit_sdp_audio *a,
                      char *out, size_t cap, size_t *len) {
  struct wr w = {out, out ? cap : 0, 0, 0};
  if (!offer || !ob || !a)
    return SIPKIT_EARGUMENT;
  if (a->port > 65535)
    return SIPKIT_EINVALID_VALUE;
  put_session(&w, a->username, a->sess_id, a->sess_version, a->address, NULL);
  for (uint32_t i = 0; i < offer->num_media; i++) {
    const sipkit_sdp_media *m = &offer->media[i];
    int ok = 0, dir;
    if (m->port != 0 && span_eqb(ob, m->media, "audio") && span_eqb(ob, m->proto, "RTP/AVP"))
      for (uint32_t k = 0; k < m->num_formats; k++) {
        int kind = codec_kind(ob, &m->formats[k]);
        if ((kind == K_PCMU || kind == K_PCMA) && kind_wanted(kind, a->codecs))
          ok = 1;
      }
    if (!ok) { /* rejected (RFC 3264 §6): port 0, the offer's formats */
      puts_(&w, "m=");
      put(&w, ob + m->media.off, m->media.len);
      puts_(&w, " 0 ");
      put(&w, ob + m->proto.off, m->proto.len);
      for (uint32_t k = 0; k < m->num_formats; k++) {
        puts_(&w, " ");
        put(&w, ob + m->formats[k].fmt.off, m->formats[k].fmt.len);
      }
      puts_(&w, "\r\n");
      continue;
    }
    puts_(&w, "m=audio ");
    putu(&w, a->port);
    puts_(&w, " RTP/AVP");
    for (uint32_t k = 0; k < m->num_formats; k++)
      if (kind_wanted(codec_kind(ob, &m->formats[k]), a->codecs)) {
        puts_(&w, " ");
        putu(&w, m->formats[k].pt);
      }
    puts_(&w, "\r\n");
    for (uint32_t k = 0; k < m->num_formats; k++) {
      const sipkit_sdp_format *f = &m->formats[k];
      int kind = codec_kind(ob, f);
      if (!kind_wanted(kind, a->codecs))
        continue;
      put_rtpmap(&w, f->pt, kind == K_PCMU ? "PCMU" : kind == K_PCMA ? "PCMA" : "telephone-event",
                 8000, 0);
      if (kind == K_EVENT) {
        if (f->has_fmtp && f->fmtp.len)
          put_fmtp(&w, ob + f->fmt.off, f->fmt.len, ob + f->fmtp.off, f->fmtp.len);
        else
          put_fmtp(&w, ob + f->fmt.off, f->fmt.len, "0-16", 4);
      }
    }
    /* mirror the offer (RFC 3264 §6.1); legacy c=0.0.0.0 counts as sendonly */
    dir = sipkit_sdp_direction(offer, i);
    if (dir == SIPKIT_SDP_SENDRECV && sipkit_sdp_is_hold(offer, ob, i))
      dir = SIPKIT_SDP_SENDONLY;
    switch (dir) {
    case SIPKIT_SDP_SENDONLY: dir = SIPKIT_SDP_RECVONLY; break;
    case SIPKIT_SDP_RECVONLY: dir = SIPKIT_SDP_SENDONLY; break;
    default: break;
    }
    if (a->hold) /* we stop receiving */
      dir = dir == SIPKIT_SDP_SENDRECV ? SIPKIT_SDP_SENDONLY
            : dir == SIPKIT_SDP_RECVONLY ? SIPKIT_SDP_INACTIVE : dir;
    put_dir(&w, dir);
  }
  return finish(&w, len);
}
