/* ua_auto.c - what the UA core answers by itself, statelessly: 400 for a
 * malformed request, 481, 501, 405, 483, 420, 415, 503, and where every
 * response goes (RFC 3261 §18.2.2, RFC 3581). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "rt_internal.h"

static int tok_eq(const char *a, size_t an, const char *b, size_t bn, int icase) {
  return an == bn && (icase ? strncasecmp(a, b, an) == 0 : memcmp(a, b, an) == 0);
}

/* Is tok one of the comma-separated items of list (parameters after ';'
 * ignored)? */
int sipkit__list_has(const char *list, const char *tok, size_t len) {
  const char *p = list;
  while (p && *p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *s = p;
    while (*p && *p != ',' && *p != ';')
      p++;
    const char *e = p;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
      e--;
    if (e > s && tok_eq(s, (size_t)(e - s), tok, len, 1))
      return 1;
    while (*p && *p != ',')
      p++;
  }
  return 0;
}

int sipkit__method_allowed(const sipkit_ua *ua, const sipkit_msg *m, const char *buf) {
  /* Methods are case-sensitive (§7.1): compare exactly. */
  const char *p = ua->allow;
  const char *name = SIPKIT_SPAN_PTR(buf, m->method_name);
  size_t len = m->method_name.len;
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    const char *s = p;
    while (*p && *p != ',' && *p != ' ')
      p++;
    if (p > s && tok_eq(s, (size_t)(p - s), name, len, 0))
      return 1;
  }
  return 0;
}

/* §18.2.2 with RFC 3581: where a response to req (from src) goes, and
 * what the server adds to the top Via (received when the sent-by host
 * is not the source address or rport was asked for; rport=source port
 * when asked). */
void sipkit__response_dest(const sipkit_msg *req, const char *buf, const struct sockaddr *src,
                           struct sockaddr_storage *dest, char *via_extra, size_t cap) {
  const sipkit_via *via = req->via;
  memcpy(dest, src, sipkit__addr_len(src));
  via_extra[0] = 0;
  if (!via)
    return;
  char host[128];
  size_t hl = via->host.len;
  const char *hp = SIPKIT_SPAN_PTR(buf, via->host);
  if (hl && hp[0] == '[' && hl >= 2) {
    hp++;
    hl -= 2;
  }
  if (hl >= sizeof host)
    hl = sizeof host - 1;
  memcpy(host, hp, hl);
  host[hl] = 0;
  /* Compare as addresses: "::1" and "0:0::1" are the same host. */
  int same = 0;
  int port = via->has_port ? (int)via->port : 5060;
  unsigned char a6[16];
  struct in_addr a4;
  if (src->sa_family == AF_INET && inet_pton(AF_INET, host, &a4) == 1)
    same = a4.s_addr == ((const struct sockaddr_in *)(const void *)src)->sin_addr.s_addr;
  else if (src->sa_family == AF_INET6 && inet_pton(AF_INET6, host, a6) == 1)
    same = !memcmp(a6, &((const struct sockaddr_in6 *)(const void *)src)->sin6_addr, 16);
  int rport = via->has_rport && via->rport.len == 0;
  if (!same || rport) {
    /* formatted only here: most requests come from their sent-by */
    char srcip[INET6_ADDRSTRLEN];
    sipkit__addr_format(src, srcip, sizeof srcip, 0);
    snprintf(via_extra, cap, ";received=%s", srcip);
  }
  if (rport) {
    int srcport = ntohs(src->sa_family == AF_INET6
                            ? ((const struct sockaddr_in6 *)(const void *)src)->sin6_port
                            : ((const struct sockaddr_in *)(const void *)src)->sin_port);
    size_t n = strlen(via_extra);
    snprintf(via_extra + n, cap - n, ";rport=%d", srcport);
    return; /* to the source address and port */
  }
  if (!same) {
    /* received: the source address with the sent-by port */
    if (src->sa_family == AF_INET6)
      ((struct sockaddr_in6 *)(void *)dest)->sin6_port = htons((uint16_t)port);
    else
      ((struct sockaddr_in *)(void *)dest)->sin_port = htons((uint16_t)port);
    return;
  }
  /* sent-by is the source host: its port */
  if (src->sa_family == AF_INET6)
    ((struct sockaddr_in6 *)(void *)dest)->sin6_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in *)(void *)dest)->sin_port = htons((uint16_t)port);
}

/* The builder copied the request's top Via verbatim: replace a valueless
 * ";rport" and append via_extra, in the builder's own canonical output
 * ("Via: value\r\n" right after the status line). */
int sipkit__patch_via(sipkit_builder *b, const char *via_extra) {
  if (!via_extra || !*via_extra || b->code)
    return b->code;
  char *start = memchr(b->buf, '\n', b->len);
  if (!start || (size_t)(start + 1 - b->buf) + 5 > b->len || memcmp(start + 1, "Via: ", 5) != 0)
    return SIPKIT_EOK;
  char *line = start + 1;
  char *eol = memchr(line, '\r', b->len - (size_t)(line - b->buf));
  if (!eol)
    return SIPKIT_EOK;
  size_t extra = strlen(via_extra);
  /* a valueless rport param: ";rport" followed by ';', ',' or the end */
  char *rp = NULL;
  for (char *p = line; p + 6 <= eol; p++)
    if (!strncasecmp(p, ";rport", 6) && (p + 6 == eol || p[6] == ';' || p[6] == ',' ||
                                         p[6] == ' ')) {
      rp = p;
      break;
    }
  int has_rport = strstr(via_extra, ";rport=") != NULL;
  size_t removed = rp && has_rport ? 6 : 0;
  size_t nlen = b->len + extra - removed;
  size_t line_off = (size_t)(line - b->buf), line_len = (size_t)(eol - line) - removed + extra;
  char *nb = malloc(nlen > b->cap ? nlen : b->cap);
  if (!nb)
    return SIPKIT_ENO_MEMORY;
  size_t o = 0;
  if (removed) {
    memcpy(nb, b->buf, (size_t)(rp - b->buf));
    o = (size_t)(rp - b->buf);
    memcpy(nb + o, rp + 6, (size_t)(eol - rp - 6));
    o += (size_t)(eol - rp - 6);
  } else {
    memcpy(nb, b->buf, (size_t)(eol - b->buf));
    o = (size_t)(eol - b->buf);
  }
  memcpy(nb + o, via_extra, extra);
  o += extra;
  memcpy(nb + o, eol, b->len - (size_t)(eol - b->buf));
  o += b->len - (size_t)(eol - b->buf);
  free(b->buf);
  b->buf = nb;
  b->cap = nlen > b->cap ? nlen : b->cap;
  b->len = b->need = o;
  /* the line was checked before the patch; finish does not check it again */
  return sipkit__builder_recheck(b, SIPKIT_HDR_VIA, line_off, line_len);
}

/* "Name: value" lines of the embedding API into the builder. */
int sipkit__add_lines(sipkit_builder *b, const char *const *lines, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const char *l = lines[i];
    const char *colon = l ? strchr(l, ':') : NULL;
    if (!colon)
      return SIPKIT_EARGUMENT;
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
      v++;
    size_t vl = strlen(v);
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
      vl--;
    int rc = sipkit_builder_header_raw(b, l, (size_t)(colon - l), v, vl);
    if (rc)
      return rc;
  }
  return SIPKIT_EOK;
}

int sipkit__auto_reply(sipkit_ua *ua, const sipkit_msg *req, const char *buf,
                       const struct sockaddr *src, int status, const char *reason,
                       const char *const *headers, size_t n) {
  sipkit_rt *rt = ua->rt;
  if (status >= 300 && !sipkit__cap_allows(rt))
    return SIPKIT_ELIMIT;
  struct sockaddr_storage dest;
  char extra[96];
  sipkit__response_dest(req, buf, src, &dest, extra, sizeof extra);
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  sipkit_str no_tag = {NULL, 0};
  sipkit_build_response(&b, req, buf, status, reason, reason ? strlen(reason) : 0, no_tag);
  sipkit__patch_via(&b, extra);
  sipkit_builder_header(&b, SIPKIT_HDR_SERVER, rt->user_agent, strlen(rt->user_agent));
  int rc = b.code ? b.code : sipkit__add_lines(&b, headers, n);
  if (rc == SIPKIT_EOK)
    rc = sipkit_builder_finish(&b, NULL, 0, NULL);
  if (rc == SIPKIT_EOK) {
    rt->st.auto_replies++;
    sipkit__send(ua, (struct sockaddr *)&dest, b.buf, b.len, 0);
  }
  sipkit_builder_free(&b);
  return rc;
}

/* Is [p, e) the name of one of the headers a response needs? */
static int needed_header(const char *p, const char *e) {
  static const char *const names[] = {"via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"};
  while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
    e--;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (tok_eq(p, (size_t)(e - p), names[i], strlen(names[i]), 1))
      return 1;
  return 0;
}

/* A specific reason phrase: what failed and in which rule, in the
 * characters Reason-Phrase allows. */
static void reason_of(const sipkit_error *err, char *out, size_t cap) {
  const char *rule = err->rule && *err->rule ? err->rule : "";
  switch (err->code) {
  case SIPKIT_EMISSING_HEADER:
    snprintf(out, cap, "Missing %s", *rule ? rule : "Header");
    break;
  case SIPKIT_ECSEQ_METHOD:
    snprintf(out, cap, "CSeq Method Mismatch");
    break;
  case SIPKIT_EDUPLICATE_HEADER:
    snprintf(out, cap, "Duplicate %s", *rule ? rule : "Header");
    break;
  case SIPKIT_ECONTENT_LENGTH:
  case SIPKIT_EBODY_TRUNCATED:
    snprintf(out, cap, "Bad Content-Length");
    break;
  default:
    snprintf(out, cap, "Bad %s", *rule ? rule : sipkit_err_name(err->code));
    break;
  }
  for (char *p = out; *p; p++)
    if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
          *p == '-' || *p == '_' || *p == '.' || *p == ' '))
      *p = '-';
}

/* A request that did not parse: 400 when Via, From, To, Call-ID and CSeq
 * still do (taken alone, with a stand-in request line), else silence.
 * Never for a response or an ACK. */
void sipkit__auto_malformed(sipkit_ua *ua, const char *buf, size_t len,
                            const struct sockaddr *src, const sipkit_error *err) {
  if (len < 4 || !memcmp(buf, "SIP/", 4))
    return;
  const char *sp = memchr(buf, ' ', len < 32 ? len : 32);
  if (sp && sp - buf == 3 && !memcmp(buf, "ACK", 3))
    return;
  const char *stand_in = "OPTIONS sip:invalid SIP/2.0\r\n";
  size_t cap = strlen(stand_in) + len + 3;
  char *copy = malloc(cap);
  if (!copy)
    return;
  size_t o = strlen(stand_in);
  memcpy(copy, stand_in, o);
  const char *p = memchr(buf, '\n', len);
  const char *end = buf + len;
  int keep = 0;
  while (p && ++p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl + 1 : end;
    if (*p == '\r' || *p == '\n')
      break; /* end of the headers */
    if (*p != ' ' && *p != '\t') {
      const char *colon = memchr(p, ':', (size_t)(le - p));
      keep = colon && needed_header(p, colon);
    }
    if (keep) {
      memcpy(copy + o, p, (size_t)(le - p));
      o += (size_t)(le - p);
    }
    p = nl;
  }
  memcpy(copy + o, "\r\n", 2);
  o += 2;
  sipkit_msg m;
  sipkit_msg_init(&m, ua->bhdrs, SIPKIT_MAX_HEADERS);
  if (sipkit_parse(&m, copy, o, SIPKIT_PARSE_NO_CHECKS, NULL) == SIPKIT_EOK && m.via && m.from &&
      m.to && m.call_id.len && m.cseq && m.cseq->method != SIPKIT_METHOD_ACK) {
    char reason[96];
    reason_of(err, reason, sizeof reason);
    sipkit__auto_reply(ua, &m, copy, src, 400, reason, NULL, 0);
  }
  free(copy);
}

/* Require: every option tag must be in the UA's Supported (§8.2.2.3). */
int sipkit__check_require(sipkit_ua *ua, const sipkit_msg *m, const char *buf, char *unsupported,
                          size_t cap) {
  size_t o = 0;
  unsupported[0] = 0;
  for (const sipkit_header *h = sipkit_msg_header(m, SIPKIT_HDR_REQUIRE); h;
       h = sipkit_msg_header_next(m, h)) {
    const char *p = SIPKIT_SPAN_PTR(buf, h->value), *e = p + h->value.len;
    while (p < e) {
      while (p < e && (*p == ' ' || *p == ',' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
      const char *s = p;
      while (p < e && *p != ',' && *p != ' ' && *p != '\t')
        p++;
      if (p > s && !sipkit__list_has(ua->supported, s, (size_t)(p - s)) &&
          o + (size_t)(p - s) + 3 < cap) {
        if (o) {
          memcpy(unsupported + o, ", ", 2);
          o += 2;
        }
        memcpy(unsupported + o, s, (size_t)(p - s));
        o += (size_t)(p - s);
        unsupported[o] = 0;
      }
    }
  }
  return o ? 420 : 0;
}

/* A body of a type not in Accept gets 415 (§8.2.3). */
int sipkit__check_content_type(sipkit_ua *ua, const sipkit_msg *m, const char *buf) {
  if (!m->body.len || !m->content_type)
    return 0;
  char t[160];
  const sipkit_ctype *ct = m->content_type;
  if (ct->type.len + ct->subtype.len + 2 > sizeof t)
    return 415;
  memcpy(t, SIPKIT_SPAN_PTR(buf, ct->type), ct->type.len);
  t[ct->type.len] = '/';
  memcpy(t + ct->type.len + 1, SIPKIT_SPAN_PTR(buf, ct->subtype), ct->subtype.len);
  size_t n = ct->type.len + 1 + ct->subtype.len;
  return sipkit__list_has(ua->accept, t, n) ? 0 : 415;
}
