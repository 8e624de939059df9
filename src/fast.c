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
 * tests/test_fastpath.c and fuzz_parse parse every input with and without
 * SIPKIT__PARSE_REFERENCE (machines only) and require identical results.
 */
#include "internal.h"

static int ieq(sipkit__ptr a, const char *lower, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((a[i] | 0x20) != (unsigned char)lower[i]) /* lower: letters only */
      return 0;
  return 1;
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

/* ------------------------------------------------------------------- Via */

#define VIA_MAX_PARAMS 8

/* One via-parm: protocol-name "/" protocol-version "/" transport 1*SP
 * host [":" port] *(";" token ["=" token]), where a ttl, maddr, received,
 * branch or rport value is taken only in a form its own rule also reads
 * the same way (else the machine decides). */
int sipkit__fast_via(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr start = p, v, proto_end, tr, tr_end, sb;
  int kind;
  struct { sipkit__ptr n, val, end; int which; } prm[VIA_MAX_PARAMS];
  int np = 0;

  p = sipkit__skip_cls(p, pe, SIPKIT__C_TOKEN);
  if (p == start || p == pe || *p != '/')
    return 0;
  v = ++p;
  p = sipkit__skip_cls(p, pe, SIPKIT__C_TOKEN);
  if (p == v || p == pe || *p != '/')
    return 0;
  proto_end = p;
  tr = ++p;
  p = sipkit__skip_cls(p, pe, SIPKIT__C_TOKEN);
  if (p == tr || p == pe || *p != ' ')
    return 0;
  tr_end = p;
  while (p < pe && *p == ' ')
    p++;
  sb = p;
  p = sipkit__skip_cls(p, pe, SIPKIT__C_HOST);
  if (!(kind = host_kind(sb, p)))
    return 0;
  sipkit__ptr host_end = p;
  uint32_t port = 0;
  uint8_t has_port = 0;
  if (p < pe && *p == ':') {
    sipkit__ptr d = ++p;
    p = sipkit__skip_cls(p, pe, SIPKIT__C_DIGIT);
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
  sipkit__ptr params = p;
  while (p < pe) {
    if (*p != ';' || np == VIA_MAX_PARAMS)
      return 0;
    sipkit__ptr n = ++p, ne, val = NULL;
    p = sipkit__skip_cls(p, pe, SIPKIT__C_TOKEN);
    if (p == n)
      return 0;
    ne = p;
    if (p < pe && *p == '=') {
      val = ++p;
      p = sipkit__skip_cls(p, pe, SIPKIT__C_TOKEN);
      if (p == val)
        return 0;
    }
    int which = -1;
    switch (ne - n) {
    case 3: /* via-ttl: "ttl" EQUAL 1*3DIGIT */
      if (val && ieq(n, "ttl", 3) && p - val <= 3 &&
          sipkit__skip_cls(val, p, SIPKIT__C_DIGIT) == p)
        which = SIPKIT__VP_TTL;
      break;
    case 5:
      if (ieq(n, "rport", 5)) { /* response-port: "rport" [EQUAL 1*DIGIT] */
        if (!val || sipkit__skip_cls(val, p, SIPKIT__C_DIGIT) == p)
          which = SIPKIT__VP_RPORT;
      } else if (val && ieq(n, "maddr", 5)) { /* via-maddr: host */
        if (!host_kind(val, p))
          return 0;
        which = SIPKIT__VP_MADDR;
      }
      break;
    case 6: /* via-branch: "branch" EQUAL token */
      if (val && ieq(n, "branch", 6))
        which = SIPKIT__VP_BRANCH;
      break;
    case 8: /* via-received: IPv4address / IPv6address / IPv6reference */
      if (val && ieq(n, "received", 8)) {
        if (host_kind(val, p) != SIPKIT_HOST_IPV4)
          return 0;
        which = SIPKIT__VP_RECEIVED;
      }
      break;
    }
    prm[np].n = n;
    prm[np].val = val;
    prm[np].end = p;
    prm[np++].which = which;
  }

  /* what the machine's actions record, in its order: sipkit__via_sent_by
   * (a valid host: IPv4 exactly when host_kind says so, as its last-label
   * rule finds) and sipkit__via_param (no LWS around "=" here) written out */
  sipkit__element_begin(c, start);
  sipkit_via *via = &c->cur->u.via;
  via->protocol = sipkit__span(c, start, proto_end);
  via->transport = sipkit__span(c, tr, tr_end);
  via->host = sipkit__span(c, sb, host_end);
  via->host_type = (uint8_t)kind;
  via->port = port;
  via->has_port = has_port;
  for (int i = 0; i < np; i++) {
    sipkit_span val = {0, 0};
    if (prm[i].val)
      val = sipkit__span(c, prm[i].val, prm[i].end);
    switch (prm[i].which) {
    case SIPKIT__VP_BRANCH: via->branch = val; break;
    case SIPKIT__VP_RECEIVED: via->received = val; break;
    case SIPKIT__VP_MADDR: via->maddr = val; break;
    case SIPKIT__VP_TTL: via->ttl = val; break;
    case SIPKIT__VP_RPORT: via->rport = val; via->has_rport = 1; break;
    }
  }
  if (np)
    via->params = sipkit__span(c, params + 1, prm[np - 1].end);
  sipkit__element_end(c, pe);
  return 1;
}
