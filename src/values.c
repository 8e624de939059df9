/* values.c - what the machines' one-line actions call, and the public
 * helpers for URIs, parameters, folding and escapes. */
#include <stddef.h>
#include <string.h>

#include "internal.h"

static int is_lws(unsigned char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* ------------------------------------------------------------------- hosts */

/* The inside of an IPv6 reference (grammar/overlay.rl takes it loosely):
 * RFC 4291 text forms, an optional dotted IPv4 tail, and the "::"
 * written as ":::" that RFC 5118 §4.10 asks receivers to tolerate. */
int sipkit__ipv6_ok(sipkit__ptr a, sipkit__ptr b) {
  int groups = 0, compressed = 0;
  sipkit__ptr p = a;
  if (b - a >= 2 && a[0] == ':' && a[1] == ':') {
    compressed = 1;
    p = a + 2;
    if (p < b && *p == ':')
      p++;
  } else if (p < b && *p == ':') {
    return 0;
  }
  while (p < b) {
    sipkit__ptr g = p;
    int dots = 0;
    while (p < b && *p != ':')
      dots += *p++ == '.';
    if (p == g)
      return 0;
    if (dots) { /* dotted IPv4 tail: last, four decimal octets */
      unsigned octet = 0, digits = 0, parts = 0;
      if (p != b || dots != 3)
        return 0;
      for (sipkit__ptr x = g; x <= b; x++) {
        if (x == b || *x == '.') {
          if (!digits || octet > 255)
            return 0;
          parts++;
          octet = digits = 0;
        } else if ((unsigned)(*x - '0') < 10u && digits < 3) {
          octet = octet * 10 + (unsigned)(*x - '0');
          digits++;
        } else {
          return 0;
        }
      }
      groups += 2;
      break;
    }
    if (p - g > 4)
      return 0;
    groups++;
    if (p < b) { /* at a colon */
      p++;
      if (p < b && *p == ':') {
        if (compressed)
          return 0;
        compressed = 1;
        p++;
        if (p < b && *p == ':')
          p++;
      } else if (p == b) {
        return 0;
      }
    }
  }
  return compressed ? groups <= 7 : groups == 8;
}

/* Split "host[:port]" (host may be an IPv6 reference); classify the host,
 * range-check the port.  Returns 0, or 1 after recording an error. */
static int sipkit__hostport(struct sipkit__ctx *c, sipkit__ptr a, sipkit__ptr b,
                     sipkit_span *host, uint8_t *host_type, uint32_t *port,
                     uint8_t *has_port, int err_code, const char *rule) {
  /* The grammar has matched host [ ":" port ] (sent-by allows LWS around
   * the colon), so the port is the digit run at the end after a colon.  A
   * host is IPv4 when its last label is all digits: a hostname's toplabel
   * starts with ALPHA (RFC 3261 §25.1). */
  sipkit__ptr e = b, d;
  while (e > a && is_lws(e[-1]))
    e--;
  d = e;
  while (d > a && (unsigned)(d[-1] - '0') < 10u)
    d--;
  sipkit__ptr h_end = e, q = d;
  *port = 0;
  *has_port = 0;
  while (q > a && is_lws(q[-1]))
    q--;
  if (d < e && q > a && q[-1] == ':') {
    uint32_t v = 0;
    for (sipkit__ptr x = d; x < e; x++) {
      v = v * 10 + (uint32_t)(*x - '0');
      if (v > 65535) /* also keeps the accumulation from ever wrapping */
        return sipkit__fail(c, err_code, x, rule);
    }
    *port = v;
    *has_port = 1;
    h_end = q - 1;
    while (h_end > a && is_lws(h_end[-1]))
      h_end--;
  }
  *host = sipkit__span(c, a, h_end);
  if (*a == '[') {
    if (h_end - a < 3 || h_end[-1] != ']' || !sipkit__ipv6_ok(a + 1, h_end - 1))
      return sipkit__fail(c, err_code, a, "IPv6reference");
    *host_type = SIPKIT_HOST_IPV6;
  } else {
    sipkit__ptr l = h_end;
    while (l > a && (unsigned)(l[-1] - '0') < 10u)
      l--;
    *host_type = l < h_end && (l == a || l[-1] == '.') ? SIPKIT_HOST_IPV4 : SIPKIT_HOST_NAME;
  }
  return 0;
}

/* The value of "name = value" spanning [a, b) (EQUAL may carry LWS). */
static sipkit_span sipkit__param_value(const struct sipkit__ctx *c, sipkit__ptr a,
                                sipkit__ptr b) {
  sipkit__ptr eq = a; /* parameters are short: a loop beats a memchr call */
  sipkit_span none = {0, 0};
  while (eq < b && *eq != '=')
    eq++;
  if (eq == b)
    return none;
  eq++;
  while (eq < b && is_lws(*eq))
    eq++;
  while (b > eq && is_lws(b[-1]))
    b--;
  return sipkit__span(c, eq, b);
}

/* -------------------------------------------------------------------- URIs */

void sipkit__uri_clear_params(sipkit_uri *u) {
  static const sipkit_span none;
  u->params = u->headers = u->transport = u->user_param = none;
  u->method = u->maddr = u->ttl = none;
  u->lr = 0;
}

int sipkit__uri_loose(const sipkit_uri *u, const char *base) {
  if (u->lr)
    return 1;
  const unsigned char *p = (const unsigned char *)base + u->params.off;
  const unsigned char *e = p + u->params.len;
  while (p < e) { /* "name[=value]" separated by ';' */
    const unsigned char *n = p;
    while (p < e && *p != ';' && *p != '=')
      p++;
    if (p - n == 2 && (n[0] | 0x20) == 'l' && (n[1] | 0x20) == 'r')
      return 1;
    while (p < e && *p != ';')
      p++;
    if (p < e)
      p++;
  }
  return 0;
}

/* URIs up to this long are copied for sipkit__fast_uri (a UA's own and
 * its peers' URIs are tens of bytes). */
#define URI_COPY_MAX 255u

/* sipkit__fast_uri reads the byte after the URI, which buf need not hold:
 * it reads a copy ending in a NUL, a byte of no URI class, and what it
 * takes it records as the machine would, here moved to buf's offsets (a
 * span {0, 0} is an absent part; a present one never starts at the
 * copy's offset 0 but "all").  Whatever it does not take, or takes as an
 * error, the machine reads in buf itself, for its verdict and offsets. */
static int fast_uri_copy(sipkit_uri *uri, const char *buf, sipkit_span span) {
  char tmp[URI_COPY_MAX + 1];
  struct sipkit__ctx c = {0};
  if (!span.len || span.len > URI_COPY_MAX)
    return 0;
  memcpy(tmp, buf + span.off, span.len);
  tmp[span.len] = '\0';
  c.base = (sipkit__ptr)tmp;
  c.end = c.base + span.len + 1;
  if (!sipkit__fast_uri(&c, uri, c.base, c.base + span.len) || c.code != SIPKIT_EOK)
    return 0;
  sipkit_span *const parts[] = {&uri->all,       &uri->user,       &uri->password,
                                &uri->host,      &uri->params,     &uri->headers,
                                &uri->transport, &uri->user_param, &uri->method,
                                &uri->maddr,     &uri->ttl};
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
    if (parts[i]->off || parts[i]->len)
      parts[i]->off += span.off;
  return 1;
}

int sipkit_uri_parse(sipkit_uri *uri, const char *buf, sipkit_span span,
                     sipkit_error *err) {
  struct sipkit__ctx c = {0};
  if (fast_uri_copy(uri, buf, span)) {
    sipkit__report(&c, err);
    return SIPKIT_EOK;
  }
  c.base = (sipkit__ptr)buf;
  c.end = c.base + span.off + span.len;
  sipkit__ptr a = c.base + span.off;
  if (!span.len)
    sipkit__fail(&c, SIPKIT_EURI, a, "Request-URI");
  else
    sipkit__vm_uri(&c, uri, a, c.end);
  sipkit__report(&c, err);
  return c.code;
}

static int hexval(unsigned char ch) {
  if ((unsigned)(ch - '0') < 10u)
    return ch - '0';
  ch |= 0x20;
  if ((unsigned)(ch - 'a') < 6u)
    return ch - 'a' + 10;
  return -1;
}

long sipkit_unescape(const char *src, size_t len, char *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)src[i];
    if (ch == '%') {
      int hi, lo;
      if (i + 2 >= len || (hi = hexval((unsigned char)src[i + 1])) < 0 ||
          (lo = hexval((unsigned char)src[i + 2])) < 0)
        return -1;
      ch = (unsigned char)(hi << 4 | lo);
      i += 2;
    }
    if (n >= cap)
      return -1;
    out[n++] = (char)ch;
  }
  return (long)n;
}

/* ------------------------------------------------------------ list headers */

void sipkit__element_begin(struct sipkit__ctx *c, sipkit__ptr p) {
  if (c->element_done) {
    sipkit_msg *m = c->msg;
    sipkit_header *prev = c->cur;
    if (m->num_headers >= m->max_headers) {
      sipkit__fail(c, SIPKIT_ETOO_MANY_HEADERS, p, "message-header");
      return; /* keep filling prev: the parse fails anyway */
    }
    if (prev->id == SIPKIT_HDR_VIA && ++c->vias > SIPKIT_MAX_VIAS)
      sipkit__fail(c, SIPKIT_ETOO_MANY_VIAS, p, "via-parm");
    sipkit_header *h = &m->headers[m->num_headers++];
    if (prev->id == SIPKIT_HDR_VIA)
      memset(h, 0, offsetof(sipkit_header, u) + sizeof h->u.via);
    else
      memset(h, 0, sizeof *h);
    h->name = prev->name;
    h->id = prev->id;
    h->parsed = 1;
    h->element = (uint8_t)(prev->element + 1);
    c->cur = h;
    c->element_done = 0;
  }
  c->el_start = p;
}


/* --------------------------------------------------------------------- Via */

void sipkit__via_sent_by(struct sipkit__ctx *c, sipkit__ptr a, sipkit__ptr b) {
  sipkit_via *v = &c->cur->u.via;
  sipkit__hostport(c, a, b, &v->host, &v->host_type, &v->port, &v->has_port,
                   SIPKIT_EHEADER_VALUE, "sent-by");
}

void sipkit__via_param(struct sipkit__ctx *c, int which, sipkit__ptr a,
                       sipkit__ptr b) {
  sipkit_via *v = &c->cur->u.via;
  sipkit_span val = sipkit__param_value(c, a, b);
  switch (which) {
  case SIPKIT__VP_BRANCH: v->branch = val; break;
  case SIPKIT__VP_RECEIVED: v->received = val; break;
  case SIPKIT__VP_MADDR: v->maddr = val; break;
  case SIPKIT__VP_TTL: v->ttl = val; break;
  case SIPKIT__VP_RPORT: v->rport = val; v->has_rport = 1; break;
  }
}

/* --------------------------------------------------------------- name-addr */

void sipkit__addr_param(struct sipkit__ctx *c, int which, sipkit__ptr a,
                        sipkit__ptr b) {
  sipkit_addr *ad = &c->cur->u.addr;
  sipkit_span val = sipkit__param_value(c, a, b);
  switch (which) {
  case SIPKIT__AP_TAG:
    /* The grammar lets from-param repeat; two tags would name two dialogs
     * (battery U13, CVE-2018-14767).  The same tag may be reported twice
     * (actions are last-write-wins), a second one starts elsewhere. */
    if (ad->tag.len && ad->tag.off != val.off) {
      sipkit__fail(c, SIPKIT_EHEADER_VALUE, a, "tag-param");
      return;
    }
    ad->tag = val;
    break;
  case SIPKIT__AP_Q: ad->q = val; break;
  case SIPKIT__AP_EXPIRES: ad->expires = val; break;
  }
}

void sipkit__addr_display(struct sipkit__ctx *c, sipkit__ptr a, sipkit__ptr b) {
  sipkit_addr *ad = &c->cur->u.addr;
  while (b > a && is_lws(b[-1]))
    b--;
  if (b - a >= 2 && *a == '"' && b[-1] == '"') {
    ad->display = sipkit__span(c, a + 1, b - 1);
    ad->display_quoted = 1;
  } else {
    ad->display = sipkit__span(c, a, b);
    ad->display_quoted = 0;
  }
}

/* ------------------------------------------------------------ raw values */

size_t sipkit_unfold(const char *buf, sipkit_span value, char *out, size_t cap) {
  const unsigned char *p = (const unsigned char *)buf + value.off;
  const unsigned char *e = p + value.len;
  size_t n = 0, ws_start = 0; /* ws_start: output length before trailing WSP */
  int in_ws = 0;
  while (p < e) {
    unsigned char ch = *p;
    if (ch == '\r' || ch == '\n') {
      /* a fold: drop the WSP before it, the line end and the WSP after */
      if (in_ws)
        n = ws_start;
      while (p < e && is_lws(*p))
        p++;
      if (n < cap)
        out[n] = ' ';
      ws_start = n++;
      in_ws = 1;
      continue;
    }
    if (ch == ' ' || ch == '\t') {
      if (!in_ws) {
        ws_start = n;
        in_ws = 1;
      }
    } else {
      in_ws = 0;
    }
    if (n < cap)
      out[n] = (char)ch;
    n++;
    p++;
  }
  return n;
}

int sipkit_param_next(const char *buf, sipkit_span params, uint32_t *pos,
                      sipkit_span *name, sipkit_span *value) {
  const unsigned char *base = (const unsigned char *)buf;
  uint32_t i = *pos, end = params.len;
  const unsigned char *s = base + params.off;
  while (i < end && (is_lws(s[i]) || s[i] == ';'))
    i++;
  if (i >= end) {
    *pos = end;
    return 0;
  }
  uint32_t n0 = i;
  while (i < end && s[i] != '=' && s[i] != ';' && !is_lws(s[i]))
    i++;
  name->off = params.off + n0;
  name->len = i - n0;
  while (i < end && is_lws(s[i]))
    i++;
  value->off = params.off + i;
  value->len = 0;
  if (i < end && s[i] == '=') {
    i++;
    while (i < end && is_lws(s[i]))
      i++;
    uint32_t v0 = i;
    int quoted = 0;
    for (; i < end; i++) {
      if (quoted) {
        if (s[i] == '\\' && i + 1 < end)
          i++;
        else if (s[i] == '"')
          quoted = 0;
      } else if (s[i] == '"') {
        quoted = 1;
      } else if (s[i] == ';') {
        break;
      }
    }
    uint32_t v1 = i;
    while (v1 > v0 && is_lws(s[v1 - 1]))
      v1--;
    value->off = params.off + v0;
    value->len = v1 - v0;
  }
  while (i < end && s[i] != ';')
    i++;
  *pos = i;
  return 1;
}

int sipkit_header_validate(const sipkit_msg *msg, const char *buf,
                           const sipkit_header *h, sipkit_error *err) {
  struct sipkit__ctx c = {0};
  /* a list header's line ends with its last element */
  const sipkit_header *last = h, *end = msg->headers + msg->num_headers;
  while (last + 1 < end && last[1].element > last->element && last[1].name.off == h->name.off)
    last++;
  c.base = (sipkit__ptr)buf;
  c.end = c.base + last->value.off + last->value.len;
  if (h->id >= SIPKIT_HDR__COUNT)
    sipkit__fail(&c, SIPKIT_EARGUMENT, c.base + h->name.off, "");
  else
    sipkit__vm_validate(&c, h->id, c.base + h->name.off, c.end);
  sipkit__report(&c, err);
  return c.code;
}
