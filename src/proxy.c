/* proxy.c - RFC 3261 §16 on the UA core: a received request forwarded
 * over a client transaction of ours (sipkit_srv_forward), its responses
 * relayed back through the server transaction it came in, CANCEL passed
 * downstream (§16.10), and in proxy mode what passes through without a
 * transaction: ACKs for 2xx routed through us and responses whose
 * transaction is gone (§16.11).  One target per request: no forking, so
 * the best response (§16.7 step 6) is the only final there is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "rt_internal.h"

/* One forwarded request: the server side it came in (srv) and the
 * client side it went out (req).  Each side clears its pointer when it
 * ends; the last one frees the link. */
struct sipkit__fwd {
  sipkit_srv *srv;
  sipkit_req *req;
  sipkit_fwd_fn cb;
  void *data;
  uint8_t final_reported;
};

#define MAX_ROUTES 64u

/* ------------------------------------------------------------------ */
/* Who is "us"                                                         */

static int host_eq(const char *p, size_t n, const char *s) {
  return n == strlen(s) && strncasecmp(p, s, n) == 0;
}

/* A SIP URI naming this UA: our Via host (or domain) and our port. */
static int uri_is_us(const sipkit_ua *ua, const char *buf, const sipkit_uri *u) {
  if (u->scheme != SIPKIT_SCHEME_SIP && u->scheme != SIPKIT_SCHEME_SIPS)
    return 0;
  if ((u->has_port ? (int)u->port : 5060) != ua->port)
    return 0;
  const char *h = SIPKIT_SPAN_PTR(buf, u->host);
  return host_eq(h, u->host.len, ua->host) || host_eq(h, u->host.len, ua->domain);
}

static int via_is_us(const sipkit_ua *ua, const char *buf, const sipkit_via *v) {
  return (v->has_port ? (int)v->port : 5060) == ua->port &&
         host_eq(SIPKIT_SPAN_PTR(buf, v->host), v->host.len, ua->host);
}

int sipkit__proxy_routed(sipkit_ua *ua, const sipkit_msg *m, const char *buf) {
  const sipkit_header *r = sipkit_msg_header(m, SIPKIT_HDR_ROUTE);
  if (!r || !r->parsed)
    return 0;
  if (uri_is_us(ua, buf, &r->u.addr.uri))
    return 1;
  /* a strict router before us put our Record-Route value (no user part)
   * into the Request-URI (§16.4) */
  return !m->ruri.user.len && uri_is_us(ua, buf, &m->ruri);
}

/* ------------------------------------------------------------------ */
/* Building                                                            */

/* A header of a received message into b, one line per value, unfolded,
 * under its canonical name when known. */
static void copy_header(sipkit_builder *b, const char *buf, const sipkit_header *h,
                        const char *extra) {
  char v[SIPKIT_MAX_HEADER_LINE];
  size_t n = sipkit_unfold(buf, h->value, v, sizeof v);
  if (n >= sizeof v) {
    sipkit_builder_header_raw(b, "X", 1, "\r", 1); /* sticky error: too long to copy */
    return;
  }
  if (extra && *extra) {
    /* §18.2.1 / RFC 3581 on the upstream's Via: a valueless ;rport
     * gets its value, received is added */
    if (strstr(extra, ";rport=")) {
      for (size_t i = 0; i + 6 <= n; i++)
        if (!strncasecmp(v + i, ";rport", 6) &&
            (i + 6 == n || v[i + 6] == ';' || v[i + 6] == ' ' || v[i + 6] == '\t')) {
          memmove(v + i, v + i + 6, n - i - 6);
          n -= 6;
          break;
        }
    }
    size_t el = strlen(extra);
    if (n + el >= sizeof v) {
      sipkit_builder_header_raw(b, "X", 1, "\r", 1);
      return;
    }
    memcpy(v + n, extra, el);
    n += el;
  }
  if (h->id != SIPKIT_HDR_OTHER)
    sipkit_builder_header(b, h->id, v, n);
  else
    sipkit_builder_header_raw(b, SIPKIT_SPAN_PTR(buf, h->name), h->name.len, v, n);
}

static const sipkit_str *uri_of(const char *buf, const sipkit_header *h, sipkit_str *out) {
  out->p = SIPKIT_SPAN_PTR(buf, h->u.addr.uri.all);
  out->len = h->u.addr.uri.all.len;
  return out;
}

/* The forwarded copy of request m (§16.6) into b, started here (the
 * caller finishes or frees it), and its next hop. */
static int build_forward(sipkit_ua *ua, const sipkit_msg *m, const char *buf,
                         const char *via_extra, const sipkit_fwd_opts *o, sipkit_builder *b,
                         struct sockaddr_storage *dest, sipkit_error *err) {
  sipkit_builder_init_dynamic(b);
  const sipkit_header *rt[MAX_ROUTES];
  size_t nr = 0;
  for (const sipkit_header *h = sipkit_msg_header(m, SIPKIT_HDR_ROUTE); h;
       h = sipkit_msg_header_next(m, h)) {
    if (nr == MAX_ROUTES || !h->parsed)
      return SIPKIT_ELIMIT;
    rt[nr++] = h;
  }
  size_t first = 0, last = nr;
  sipkit_str target = {SIPKIT_SPAN_PTR(buf, m->request_uri), m->request_uri.len}, trail = {NULL, 0};
  /* §16.4: the Request-URI is our Record-Route value (a strict router
   * sent it): the real target is the last Route */
  if (nr && !m->ruri.user.len && uri_is_us(ua, buf, &m->ruri))
    uri_of(buf, rt[--last], &target);
  /* §16.4: a top Route naming us is consumed */
  if (first < last && uri_is_us(ua, buf, &rt[first]->u.addr.uri))
    first++;
  if (o->uri) {
    target.p = o->uri;
    target.len = strlen(o->uri);
  }
  /* §16.6 step 6: a strict router next gets its URI as the Request-URI
   * and the target as the last Route */
  if (first < last && !sipkit__uri_loose(&rt[first]->u.addr.uri, buf)) {
    trail = target;
    uri_of(buf, rt[first++], &target);
  }
  int rc;
  if (o->dest)
    rc = sipkit__addr_parse(o->dest, 5060, dest);
  else if (first < last)
    rc = sipkit__uri_host_port(SIPKIT_SPAN_PTR(buf, rt[first]->value), rt[first]->value.len, dest);
  else
    rc = sipkit__uri_host_port(target.p, target.len, dest);
  if (rc != SIPKIT_EOK)
    return SIPKIT_EARGUMENT;

  char branch[SIPKIT_BRANCH_SIZE], via[256], rr[128], mf[16];
  if (sipkit_gen_branch(branch, sizeof branch) < 0)
    return SIPKIT_EIO;
  snprintf(via, sizeof via, "SIP/2.0/UDP %s:%d;branch=%s", ua->host, ua->port, branch);
  sipkit_builder_request(b, SIPKIT_SPAN_PTR(buf, m->method_name), m->method_name.len, target.p,
                         target.len);
  sipkit_builder_header(b, SIPKIT_HDR_VIA, via, strlen(via));
  for (uint32_t i = 0; i < m->num_headers; i++) {
    const sipkit_header *h = &m->headers[i];
    if (h->id == SIPKIT_HDR_VIA)
      copy_header(b, buf, h, &h->u.via == m->via ? via_extra : NULL);
  }
  if (o->record_route) { /* before any Record-Route already there (§16.6 step 4) */
    int n = snprintf(rr, sizeof rr, "sip:%s:%d;lr", ua->host, ua->port);
    sipkit_builder_addr(b, SIPKIT_HDR_RECORD_ROUTE, NULL, 0, rr, (size_t)n, NULL, 0);
  }
  snprintf(mf, sizeof mf, "%u", m->first[SIPKIT_HDR_MAX_FORWARDS] ? m->max_forwards - 1 : 70u);
  sipkit_builder_header(b, SIPKIT_HDR_MAX_FORWARDS, mf, strlen(mf));
  for (size_t i = first; i < last; i++)
    copy_header(b, buf, rt[i], NULL);
  if (trail.p)
    sipkit_builder_addr(b, SIPKIT_HDR_ROUTE, NULL, 0, trail.p, trail.len, NULL, 0);
  for (uint32_t i = 0; i < m->num_headers; i++) {
    const sipkit_header *h = &m->headers[i];
    if (h->id != SIPKIT_HDR_VIA && h->id != SIPKIT_HDR_ROUTE &&
        h->id != SIPKIT_HDR_MAX_FORWARDS && h->id != SIPKIT_HDR_CONTENT_LENGTH)
      copy_header(b, buf, h, NULL);
  }
  rc = b->code ? b->code : sipkit__add_lines(b, o->headers, o->header_count);
  if (rc != SIPKIT_EOK && err)
    *err = b->err;
  return rc;
}

/* Response m without its top Via (ours), in a heap buffer. */
static int strip_top_via(const sipkit_msg *m, const char *buf, char **out, size_t *len) {
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  sipkit_builder_response(&b, m->status, SIPKIT_SPAN_PTR(buf, m->reason), m->reason.len);
  for (uint32_t i = 0; i < m->num_headers; i++) {
    const sipkit_header *h = &m->headers[i];
    if ((h->id == SIPKIT_HDR_VIA && &h->u.via == m->via) || h->id == SIPKIT_HDR_CONTENT_LENGTH)
      continue;
    copy_header(&b, buf, h, NULL);
  }
  int rc = b.code ? b.code
                  : sipkit_builder_finish(&b, SIPKIT_SPAN_PTR(buf, m->body), m->body.len, NULL);
  if (rc != SIPKIT_EOK) {
    sipkit_builder_free(&b);
    return rc;
  }
  *out = b.buf; /* the builder's heap buffer is the caller's now */
  *len = b.len;
  return SIPKIT_EOK;
}

/* §18.2.2 / RFC 3581 from the Via after ours: received, rport. */
static int second_via_dest(const sipkit_msg *m, const char *buf, struct sockaddr_storage *ss) {
  const sipkit_header *h = sipkit_msg_header(m, SIPKIT_HDR_VIA);
  h = h ? sipkit_msg_header_next(m, h) : NULL;
  if (!h)
    return SIPKIT_EARGUMENT;
  const sipkit_via *v = &h->u.via;
  sipkit_span host = v->received.len ? v->received : v->host;
  int port = v->has_port ? (int)v->port : 5060;
  if (v->rport.len) {
    port = 0;
    for (uint32_t i = 0; i < v->rport.len && i < 5; i++)
      port = port * 10 + (buf[v->rport.off + i] - '0');
  }
  const char *hp = SIPKIT_SPAN_PTR(buf, host);
  int v6 = memchr(hp, ':', host.len) && hp[0] != '[';
  char hostport[300];
  if (host.len > 256)
    return SIPKIT_EARGUMENT;
  snprintf(hostport, sizeof hostport, v6 ? "[%.*s]:%d" : "%.*s:%d", (int)host.len, hp, port);
  return sipkit__addr_parse(hostport, port, ss);
}

/* ------------------------------------------------------------------ */
/* Forwarding                                                          */

static void fwd_report(sipkit__fwd *f, int status, const sipkit_msg *m, const char *buf) {
  if (!f->cb || f->final_reported || !f->srv)
    return;
  if (status >= 200)
    f->final_reported = 1;
  f->cb(f->data, f->srv, status, m, buf, m ? m->size : 0);
}

int sipkit_srv_forward(sipkit_srv *s, const sipkit_fwd_opts *o, sipkit_error *err) {
  static const sipkit_fwd_opts none;
  if (!o)
    o = &none;
  if (!s || !s->txn || s->final_sent || s->fwd)
    return SIPKIT_EARGUMENT;
  sipkit_ua *ua = s->ua;
  if (ua->closing)
    return SIPKIT_ESTATE;
  const sipkit_msg *m = &s->req.msg;
  const char *qb = s->req.buf;
  if (m->first[SIPKIT_HDR_MAX_FORWARDS] && m->max_forwards == 0) {
    sipkit_srv_respond(s, 483, NULL, NULL); /* §16.3 step 3 */
    return SIPKIT_ELIMIT;
  }
  if (ua->rt->st.transactions >= ua->rt->cfg.max_transactions)
    return SIPKIT_ELIMIT;
  sipkit_builder b;
  struct sockaddr_storage dest;
  int rc = build_forward(ua, m, qb, s->via_extra, o, &b, &dest, err);
  if (rc != SIPKIT_EOK) {
    sipkit_builder_free(&b);
    return rc;
  }
  sipkit__fwd *f = calloc(1, sizeof *f);
  sipkit_req *req = f ? sipkit__req_new(ua, m->method, NULL, NULL) : NULL;
  if (!req) {
    free(f);
    sipkit_builder_free(&b);
    return SIPKIT_ENO_MEMORY;
  }
  rc = sipkit__client_start(ua, req, &b, SIPKIT_SPAN_PTR(qb, m->body), m->body.len, &dest, err);
  if (rc != SIPKIT_EOK) {
    sipkit__req_free(req);
    free(f);
    return rc;
  }
  f->srv = s;
  f->req = req;
  f->cb = o->cb;
  f->data = o->data;
  s->fwd = f;
  req->fwd = f;
  return SIPKIT_EOK;
}

/* A final of our own for srv (the downstream gave none). */
static void respond_own(sipkit__fwd *f, int status) {
  sipkit_srv *s = f->srv;
  s->fwd = NULL; /* sipkit_srv_respond refuses a forwarded srv */
  sipkit_srv_respond(s, status, NULL, NULL);
  s->fwd = f;
}

void sipkit__fwd_response(sipkit_req *req, int status, const sipkit_msg *m, const char *buf) {
  sipkit__fwd *f = req->fwd;
  sipkit_ua *ua = req->ua;
  if (!m) { /* §16.7 step 2 / §16.8: timeout or transport error downstream */
    if (f->srv && !f->srv->final_sent && !ua->closing)
      respond_own(f, status);
    fwd_report(f, status, NULL, NULL);
    return;
  }
  if (status == 100) /* §16.7 step 5: hop by hop, ours went already */
    return;
  char *bytes;
  size_t len;
  if (strip_top_via(m, buf, &bytes, &len) != SIPKIT_EOK)
    return;
  if (f->srv && f->srv->txn) {
    /* the server transaction refuses what its state does not allow
     * (a 1xx after the final) */
    if (sipkit__srv_relay(f->srv, status, bytes, len) != SIPKIT_EOK)
      return;
  } else {
    struct sockaddr_storage dest;
    if (status >= 200 && status < 300 && second_via_dest(m, buf, &dest) == SIPKIT_EOK)
      sipkit__send(ua, (struct sockaddr *)&dest, bytes, len, 0);
    free(bytes);
    return;
  }
  fwd_report(f, status, m, buf);
}

void sipkit__fwd_cancel(sipkit_srv *s, const sipkit_msg *c, const char *buf) {
  sipkit__fwd *f = s->fwd;
  if (f->req && !f->req->done)
    sipkit_req_cancel(f->req); /* sent once a provisional came (§9.1) */
  if (f->cb && !f->final_reported)
    f->cb(f->data, s, 0, c, buf, c->size);
}

void sipkit__fwd_req_gone(sipkit_req *req) {
  sipkit__fwd *f = req->fwd;
  req->fwd = NULL;
  f->req = NULL;
  if (!f->srv)
    free(f);
}

void sipkit__fwd_srv_gone(sipkit_srv *s) {
  sipkit__fwd *f = s->fwd;
  s->fwd = NULL;
  f->srv = NULL;
  if (!f->req)
    free(f);
}

/* ------------------------------------------------------------------ */
/* Without a transaction                                               */

void sipkit__proxy_ack(sipkit_ua *ua, const sipkit_msg *m, const char *buf,
                       const struct sockaddr *src) {
  if (m->first[SIPKIT_HDR_MAX_FORWARDS] && m->max_forwards == 0)
    return;
  struct sockaddr_storage back, dest;
  char extra[96];
  sipkit__response_dest(m, buf, src, &back, extra, sizeof extra);
  static const sipkit_fwd_opts none;
  sipkit_builder b;
  if (build_forward(ua, m, buf, extra, &none, &b, &dest, NULL) == SIPKIT_EOK &&
      sipkit_builder_finish(&b, SIPKIT_SPAN_PTR(buf, m->body), m->body.len, NULL) == SIPKIT_EOK)
    sipkit__send(ua, (struct sockaddr *)&dest, b.buf, b.len, 0);
  sipkit_builder_free(&b);
}

int sipkit__proxy_stray_response(sipkit_ua *ua, const sipkit_msg *m, const char *buf) {
  struct sockaddr_storage dest;
  if (!m->via || !via_is_us(ua, buf, m->via) || second_via_dest(m, buf, &dest) != SIPKIT_EOK)
    return 0;
  char *bytes;
  size_t len;
  if (strip_top_via(m, buf, &bytes, &len) == SIPKIT_EOK) {
    sipkit__send(ua, (struct sockaddr *)&dest, bytes, len, 0);
    free(bytes);
  }
  return 1;
}
