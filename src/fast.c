/* fast.c - hand-written fast paths for the commonest forms of eagerly parsed
 * values, in front of their generated machines.
 *
 * A fast path recognises a subset of its ABNF rule that a character-class
 * table checks in one pass (no LWS around separators, no escapes, no quoted
 * strings, no IPv6, no lists), records exactly what the machine's actions
 * would record, by calling the same helpers with the same spans in the
 * same order, and returns 1.  On anything outside the subset it returns 0
 * having recorded nothing, and the caller runs the machine, which then
 * accepts or names the error.  So a fast path never accepts what the
 * grammar rejects, and errors still come from the machines.
 *
 * The class scans (sipkit__skip_cls_ended) test no bound: each span read
 * here is followed by a byte in none of the classes scanned, which stops
 * every run at the span's end at the latest.  For the Via and name-addr
 * values that is the CR, LF, SP or HTAB after the trimmed value; for a
 * URI, sipkit__fast_uri checks the byte itself.
 * tests/test_fastpath.c and fuzz_parse parse every input with and without
 * SIPKIT__PARSE_REFERENCE (machines only) and require identical results.
 */
#include "internal.h"

/* The bytes of s as one load would read them (any byte order; folded to
 * a constant). */
static inline uint64_t load8(const char *s) {
  uint64_t w;
  memcpy(&w, s, 8);
  return w;
}
static inline uint32_t load4(const void *s) {
  uint32_t w;
  memcpy(&w, s, 4);
  return w;
}

/* [a, a+n) is lower (letters only) in any case: four bytes a compare, the
 * last four overlapping. */
static inline int ieq(sipkit__ptr a, const char *lower, size_t n) {
  if (n < 4) {
    for (size_t i = 0; i < n; i++)
      if ((a[i] | 0x20) != (unsigned char)lower[i])
        return 0;
    return 1;
  }
  const uint32_t fold = 0x20202020u;
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    if ((load4(a + i) | fold) != load4(lower + i))
      return 0;
  return i == n || (load4(a + n - 4) | fold) == load4(lower + n - 4);
}

/* IPv4address at p (4 groups of 1*3DIGIT): its end, else NULL.  Like
 * labels and host_at, it needs no end: the byte there is no DIGIT, ALNUM
 * or "." and stops it. */
static inline sipkit__ptr ipv4_at(sipkit__ptr p) {
  for (int parts = 0;; p++) {
    sipkit__ptr d = p;
    p = sipkit__skip_cls_ended(p, SIPKIT__C_DIGIT);
    if (p == d || p - d > 3)
      return NULL;
    if (++parts == 4)
      return p;
    if (*p != '.')
      return NULL;
  }
}

static inline int ipv4(sipkit__ptr a, sipkit__ptr b) {
  return ipv4_at(a) == b;
}

/* hostname labels from h (alphanum / "-", starting and ending with
 * alphanum, an optional "." after the last): their end, *top the last
 * label; NULL where those rules fail. */
static inline __attribute__((always_inline)) sipkit__ptr labels(sipkit__ptr h, sipkit__ptr *top) {
  for (;;) {
    if (!(sipkit__cls[*h] & SIPKIT__C_ALNUM))
      return NULL;
    *top = h;
    h = sipkit__skip_cls_ended(h + 1, SIPKIT__C_LABEL);
    if (h[-1] == '-')
      return NULL;
    if (*h != '.' || !(sipkit__cls[*++h] & SIPKIT__C_ALNUM))
      return h;
  }
}

/* The host (no IPv6reference) at p, read once: its end and *kind
 * (SIPKIT_HOST_IPV4 when no host byte follows the fourth group, else a
 * hostname whose last label starts with ALPHA), or NULL.  A host byte
 * after the end means no host the fast paths take. */
static inline __attribute__((always_inline)) sipkit__ptr host_at(sipkit__ptr p, int *kind) {
  sipkit__ptr h, top;
  if ((sipkit__cls[*p] & SIPKIT__C_DIGIT) && (h = ipv4_at(p)) &&
      !(sipkit__cls[*h] & SIPKIT__C_HOST)) {
    *kind = SIPKIT_HOST_IPV4;
    return h;
  }
  if (!(h = labels(p, &top)) || !(sipkit__cls[*top] & SIPKIT__C_ALPHA))
    return NULL;
  *kind = SIPKIT_HOST_NAME;
  return h;
}

/* RFC 3261 host without IPv6reference, [a, b): SIPKIT_HOST_IPV4 for
 * IPv4address (4 groups of 1*3DIGIT), SIPKIT_HOST_NAME for hostname
 * (*(domainlabel ".") toplabel ["."]: labels are alphanum, or alphanum
 * *(alphanum / "-") alphanum; the toplabel starts with ALPHA), else 0. */
static int host_kind(sipkit__ptr a, sipkit__ptr b) {
  if (a == b)
    return 0;
  if (sipkit__cls[*a] & SIPKIT__C_DIGIT) {
    sipkit__ptr p = a;
    int parts = 0;
    for (;;) {
      sipkit__ptr d = p;
      p = sipkit__skip_cls(p, b, SIPKIT__C_DIGIT);
      if (p == d || p - d > 3)
        break;
      if (++parts == 4 || p == b || *p != '.')
        break;
      p++;
    }
    if (parts == 4 && p == b)
      return SIPKIT_HOST_IPV4;
    /* else perhaps a hostname whose last label starts with ALPHA */
  }
  sipkit__ptr p = a, label = a;
  if (b[-1] == '.')
    b--; /* the optional trailing "." */
  while (p < b) {
    label = p;
    if (!(sipkit__cls[*p] & SIPKIT__C_ALNUM))
      return 0;
    p = sipkit__skip_cls(p + 1, b, SIPKIT__C_LABEL);
    if (p[-1] == '-')
      return 0;
    if (p < b && (*p != '.' || ++p == b))
      return 0;
  }
  return p == b && (sipkit__cls[*label] & SIPKIT__C_ALPHA) ? SIPKIT_HOST_NAME : 0;
}

/* One ";" name ["=" value] parameter at p (on the ";"), name and value
 * runs of class k: the end of the parameter, *ne the end of the name,
 * *val the value or NULL; NULL when p holds no such parameter. */
static inline sipkit__ptr param(sipkit__ptr p, sipkit__ptr pe, unsigned k, sipkit__ptr *ne,
                                sipkit__ptr *val) {
  if (*p != ';')
    return NULL;
  sipkit__ptr n = ++p;
  p = sipkit__skip_cls_ended(p, k);
  if (p == n)
    return NULL;
  *ne = p;
  *val = NULL;
  if (p < pe && *p == '=') {
    sipkit__ptr v = ++p;
    p = sipkit__skip_cls_ended(p, k);
    if (p == v)
      return NULL;
    *val = v;
  }
  return p;
}

/* ------------------------------------------------------------------- Via */

#define VIA_MAX_PARAMS 8 /* more: the machine's */


/* One via-parm: protocol-name "/" protocol-version "/" transport 1*SP
 * host [":" port] *(";" token ["=" token]), where a ttl, maddr, received,
 * branch or rport value is taken only in a form its own rule also reads
 * the same way (else the machine decides). */
int sipkit__fast_via(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr start = p, v, proto_end, tr, tr_end, sb;
  int kind, np = 0;

  if (c->element_done)
    return 0; /* not the first element of the line: the machine's */
  if (pe - p >= 8 && load8((const char *)p) == load8("SIP/2.0/")) {
    proto_end = p + 7; /* the usual protocol, one load */
    tr = p += 8;
  } else {
    p = sipkit__skip_cls_ended(p, SIPKIT__C_TOKEN);
    if (p == start || p == pe || *p != '/')
      return 0;
    v = ++p;
    p = sipkit__skip_cls_ended(p, SIPKIT__C_TOKEN);
    if (p == v || p == pe || *p != '/')
      return 0;
    proto_end = p;
    tr = ++p;
  }
  p = sipkit__skip_cls_ended(p, SIPKIT__C_TOKEN);
  if (p == tr || p == pe || *p != ' ')
    return 0;
  tr_end = p;
  while (p < pe && *p == ' ')
    p++;
  sb = p;
  if (!(p = host_at(sb, &kind)))
    return 0;
  sipkit__ptr host_end = p;
  uint32_t port = 0;
  uint8_t has_port = 0;
  if (p < pe && *p == ':') {
    sipkit__ptr d = ++p;
    p = sipkit__skip_cls_ended(p, SIPKIT__C_DIGIT);
    if (p == d)
      return 0;
    /* sipkit__via_sent_by's conversion; above 65535 it records the error,
     * so leave that to the machine */
    for (sipkit__ptr x = d; x < p; x++) {
      port = port * 10 + (uint32_t)(*x - '0');
      if (port > 65535)
        return 0;
    }
    has_port = 1;
  }

  /* what the machine's actions record, in its order: the element start,
   * sipkit__via_sent_by (a valid host: IPv4 exactly when host_at says so,
   * as its last-label rule finds), each sipkit__via_param (no LWS around
   * "=" here) as it is read; the entry is zeroed again when the machine
   * must decide after all */
  sipkit_via *via = &c->cur->u.via;
  c->el_start = start; /* sipkit__element_begin of a first element */
  via->protocol = sipkit__span(c, start, proto_end);
  via->transport = sipkit__span(c, tr, tr_end);
  via->host = sipkit__span(c, sb, host_end);
  via->host_type = (uint8_t)kind;
  via->port = port;
  via->has_port = has_port;
  sipkit__ptr params = p;
  while (p < pe) {
    sipkit__ptr n = p + 1, ne, val;
    if (np++ == VIA_MAX_PARAMS || !(p = param(p, pe, SIPKIT__C_TOKEN, &ne, &val)))
      goto machine;
    const sipkit_span vs = val ? sipkit__span(c, val, p) : (sipkit_span){0, 0};
    switch (ne - n) {
    case 3: /* via-ttl: "ttl" EQUAL 1*3DIGIT */
      if (val && ieq(n, "ttl", 3) && p - val <= 3 &&
          sipkit__skip_cls_ended(val, SIPKIT__C_DIGIT) == p)
        via->ttl = vs;
      break;
    case 5:
      if (ieq(n, "rport", 5)) { /* response-port: "rport" [EQUAL 1*DIGIT] */
        if (!val || sipkit__skip_cls_ended(val, SIPKIT__C_DIGIT) == p)
          via->rport = vs, via->has_rport = 1;
      } else if (val && ieq(n, "maddr", 5)) { /* via-maddr: host */
        if (!host_kind(val, p))
          goto machine;
        via->maddr = vs;
      }
      break;
    case 6: /* via-branch: "branch" EQUAL token */
      if (val && ieq(n, "branch", 6))
        via->branch = vs;
      break;
    case 8: /* via-received: IPv4address / IPv6address / IPv6reference */
      if (val && ieq(n, "received", 8)) {
        if (!ipv4(val, p))
          goto machine;
        via->received = vs;
      }
      break;
    }
  }
  if (np)
    via->params = sipkit__span(c, params + 1, pe);
  sipkit__element_end(c, pe);
  return 1;
machine:
  sipkit__zero(via, sizeof *via);
  return 0;
}

/* ------------------------------------------------------------------- URI */

/* SIP-URI / SIPS-URI of the form "sip:" / "sips:" [user "@"] host
 * [":" port] *(";" pname ["=" pvalue]): no escapes, no password, no
 * headers, no IPv6 reference, a user without ";" "?" "/" (USER), a
 * transport, user, method, ttl or maddr value only in a form its own rule
 * also reads.  Without "@" in front none can follow (PARAM has none), so
 * the user/host split is the machine's.  One pass, writing *uri as it
 * goes: on 0 the machine clears it again. */
int sipkit__fast_uri(struct sipkit__ctx *c, sipkit_uri *uri, sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr start = p, hs, h;
  int scheme, kind;

  sipkit__zero(uri, sizeof *uri); /* on 0 too: the machine then fills it */
  /* the class scans take no bound: a byte of none of their classes must
   * follow the URI (">" in a name-addr, SP after a Request-URI) */
  if (pe - p < 5 || pe >= c->end ||
      (sipkit__cls[*pe] & (SIPKIT__C_TOKEN | SIPKIT__C_DIGIT | SIPKIT__C_LABEL |
                           SIPKIT__C_USER | SIPKIT__C_PARAM)))
    return 0;
  /* letters in any case; not the 4th byte: 0x1a | 0x20 is ':' */
  const uint32_t w = load4(p) | load4("\x20\x20\x20\0");
  if (w == load4("sip:")) {
    scheme = SIPKIT_SCHEME_SIP;
    p += 4;
  } else if ((w | load4("\0\0\0\x20")) == load4("sips") && p[4] == ':') {
    scheme = SIPKIT_SCHEME_SIPS;
    p += 5;
  } else {
    return 0;
  }
  hs = p;
  /* the host first: without a user part it is all there is, with one
   * the scan has read the user bytes once */
  h = host_at(p, &kind);
  if (!h || (h < pe && *h != ':' && *h != ';')) {
    sipkit__ptr q = sipkit__skip_cls_ended(h ? h : p, SIPKIT__C_USER);
    if (q == pe || *q != '@' || q == p)
      return 0;
    uri->user = sipkit__span(c, p, q);
    hs = q + 1;
    if (!(h = host_at(hs, &kind)))
      return 0;
  }
  uri->host = sipkit__span(c, hs, h);
  uri->host_type = (uint8_t)kind;
  if (h < pe && *h == ':') {
    sipkit__ptr d = ++h;
    uint32_t port = 0;
    for (; h < pe && (unsigned)(*h - '0') < 10u; h++)
      port = port * 10 + (uint32_t)(*h - '0');
    /* sipkit__uri_hostport's conversion; above 65535 it records the
     * error, so leave that (and long runs of leading zeros) to the machine */
    if (h == d || h - d > 5 || port > 65535)
      return 0;
    uri->port = port;
    uri->has_port = 1;
  }
  if (h < pe) {
    sipkit__ptr params = h + 1;
    do {
      sipkit__ptr n = h + 1, ne, val;
      if (!(h = param(h, pe, SIPKIT__C_PARAM, &ne, &val)))
        return 0;
      sipkit_span *v = NULL;
      switch (ne - n) {
      case 2: /* lr-param: "lr" alone; "lr=x" is an other-param */
        if (!val && ieq(n, "lr", 2))
          uri->lr = 1;
        break;
      case 3: /* ttl-param: "ttl=" 1*3DIGIT */
        if (val && ieq(n, "ttl", 3)) {
          if (h - val > 3 || sipkit__skip_cls_ended(val, SIPKIT__C_DIGIT) != h)
            return 0;
          uri->ttl = sipkit__span(c, val, h);
        }
        break;
      case 4: /* user-param: "user=" token */
        if (val && ieq(n, "user", 4))
          v = &uri->user_param;
        break;
      case 5: /* maddr-param: "maddr=" host */
        if (val && ieq(n, "maddr", 5)) {
          if (!host_kind(val, h))
            return 0;
          uri->maddr = sipkit__span(c, val, h);
        }
        break;
      case 6: /* method-param: "method=" Method (token) */
        if (val && ieq(n, "method", 6))
          v = &uri->method;
        break;
      case 9: /* transport-param: "transport=" token */
        if (val && ieq(n, "transport", 9))
          v = &uri->transport;
        break;
      }
      if (v) {
        if (sipkit__skip_cls_ended(val, SIPKIT__C_TOKEN) != h)
          return 0;
        *v = sipkit__span(c, val, h);
      }
    } while (h < pe);
    uri->params = sipkit__span(c, params, pe);
  }
  sipkit__uri_end(c, uri, start, pe, scheme);
  return 1;
}

/* ------------------------------------------------------------- name-addr */

/* DQUOTE *(printable ASCII but DQUOTE and "\") DQUOTE at p: the end, else
 * NULL (escapes, control and non-ASCII bytes are the machine's). */
static inline sipkit__ptr quoted(sipkit__ptr p, sipkit__ptr pe) {
  p++;
#if defined(__SSE2__)
  /* 16 bytes a load: the first DQUOTE, "\", byte below SP (signed: and
   * above 0x7f) or DEL ends the scan */
  const __m128i dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(' '),
                del = _mm_set1_epi8(0x7f);
  for (; pe - p >= 16; p += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    unsigned m = (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, dq), _mm_cmpeq_epi8(x, bs)),
                     _mm_or_si128(_mm_cmplt_epi8(x, sp), _mm_cmpeq_epi8(x, del))));
    if (m) {
      p += __builtin_ctz(m);
      return *p == '"' ? p + 1 : NULL;
    }
  }
#endif
  for (; p < pe; p++) {
    if (*p == '"')
      return p + 1;
    if (*p < 0x20 || *p >= 0x7f || *p == '\\')
      return NULL;
  }
  return NULL;
}

/* qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")], filling [a, b). */
static inline int qvalue(sipkit__ptr a, sipkit__ptr b) {
  if (a == b || (*a != '0' && *a != '1'))
    return 0;
  if (b - a == 1)
    return 1;
  if (a[1] != '.' || b - a > 5)
    return 0;
  for (sipkit__ptr x = a + 2; x < b; x++)
    if (*a == '0' ? (unsigned)(*x - '0') >= 10u : *x != '0')
      return 0;
  return 1;
}

/* One name-addr element of From, To, Contact, Route or Record-Route:
 * [display-name] "<" URI ">" *(";" token ["=" (token / quoted-string)])
 * with a display-name of tokens separated by SP or a quoted-string
 * without escapes, SP only before "<", none around ";" and "=", and a
 * tag, q or expires parameter only in the form its own rule reads.  The
 * URI goes to the URI step as the machine's angle action leaves it: a
 * span up to the first ">". */
int sipkit__fast_addr(struct sipkit__ctx *c, int hdr_id, sipkit__ptr a, sipkit__ptr pe) {
  sipkit__ptr p = a, dn = NULL, dn_end = NULL, lt, gt, aps = NULL;
  sipkit__ptr tag = NULL, tag_end = NULL, q = NULL, q_end = NULL, ex = NULL, ex_end = NULL;

  if (p == pe || c->element_done) /* c->element_done: not the line's first element */
    return 0;
  if (*p == '"') {
    dn = p;
    if (!(p = dn_end = quoted(p, pe)))
      return 0;
    while (p < pe && *p == ' ')
      p++;
  } else if (*p != '<') {
    dn = p;
    for (;;) { /* token *(LWS token) SWS "<" */
      sipkit__ptr t = sipkit__skip_cls_ended(p, SIPKIT__C_TOKEN);
      if (t == p)
        return 0;
      p = dn_end = t;
      while (p < pe && *p == ' ')
        p++;
      if (p == pe)
        return 0;
      if (*p == '<')
        break;
      if (p == t) /* "sip:..." and other bare URIs */
        return 0;
    }
  }
  if (p == pe || *p != '<')
    return 0;
  lt = p;
  gt = sipkit__find_byte(lt + 1, pe, '>');
  /* the one URI byte the machine reads, before ">", is addr-uri */
  if (!gt || gt == lt + 1 || gt[-1] <= ' ' || gt[-1] == '"' || gt[-1] == '<' || gt[-1] == 0x7f)
    return 0;
  p = gt + 1;
  while (p < pe) {
    if (*p != ';')
      return 0;
    sipkit__ptr n = ++p, ne, val = NULL;
    p = sipkit__skip_cls_ended(p, SIPKIT__C_TOKEN);
    if (p == n)
      return 0;
    ne = p;
    if (p < pe && *p == '=') {
      val = ++p;
      if (p < pe && *p == '"') {
        if (!(p = quoted(p, pe)))
          return 0;
      } else {
        p = sipkit__skip_cls_ended(p, SIPKIT__C_TOKEN);
        if (p == val)
          return 0;
      }
    }
    if (!aps)
      aps = n;
    if (!val)
      continue;
    if (hdr_id == SIPKIT_HDR_FROM || hdr_id == SIPKIT_HDR_TO) {
      /* tag-param: "tag" EQUAL token; the "=" (val) makes it one load */
      if (ne - n == 3 && (load4(n) | load4("\x20\x20\x20\0")) == load4("tag=")) {
        if (tag || *val == '"')
          return 0;
        tag = val, tag_end = p;
      }
    } else if (hdr_id == SIPKIT_HDR_CONTACT) {
      if (ne - n == 1 && (*n | 0x20) == 'q') { /* c-p-q */
        if (!qvalue(val, p))
          return 0;
        q = val, q_end = p;
      } else if (ne - n == 7 && ieq(n, "expires", 7)) { /* c-p-expires: 1*DIGIT */
        if (sipkit__skip_cls_ended(val, SIPKIT__C_DIGIT) != p)
          return 0;
        ex = val, ex_end = p;
      }
    }
  }

  /* what the machine's actions record, in its order */
  sipkit_addr *ad = &c->cur->u.addr;
  const int element = hdr_id != SIPKIT_HDR_FROM && hdr_id != SIPKIT_HDR_TO;
  if (element)
    c->el_start = a; /* sipkit__element_begin of a first element */
  if (dn && *dn == '"') { /* sipkit__addr_display: no LWS to trim here */
    ad->display = sipkit__span(c, dn + 1, dn_end - 1);
    ad->display_quoted = 1;
  } else if (dn) {
    ad->display = sipkit__span(c, dn, dn_end);
  }
  ad->uri.all = sipkit__span(c, lt + 1, gt);
  ad->angle = 1;
  if (aps)
    ad->params = sipkit__span(c, aps, pe);
  if (tag)
    ad->tag = sipkit__span(c, tag, tag_end);
  if (q)
    ad->q = sipkit__span(c, q, q_end);
  if (ex)
    ad->expires = sipkit__span(c, ex, ex_end);
  if (element)
    sipkit__element_end(c, pe);
  return 1;
}
