/* ua.c - the user-agent core: transactions driven by the runtime's timers,
 * requests we send (sipkit_req), requests we answer (sipkit_srv) and
 * dialogs (sipkit_dlg) on top of the pure machines of txn.c and
 * dialog.c.  Each datagram is parsed once (sipkit__ua_datagram); what a
 * handle keeps past its datagram is a sipkit__stored copy. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "rt_internal.h"
#include "strcat.h"

#define STR(s) ((sipkit_str){(s), strlen(s)})

static const char DEFAULT_ALLOW[] =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, MESSAGE, REFER, SUBSCRIBE, NOTIFY";
static const char DEFAULT_ACCEPT[] =
    "application/sdp, application/dtmf-relay, text/plain, message/sipfrag, multipart/mixed";

/* ------------------------------------------------------------------ */
/* Stored messages                                                     */

int sipkit__stored_copy(sipkit__stored *s, const sipkit_msg *m, const char *buf, size_t len) {
  memset(s, 0, sizeof *s);
  size_t nh = m->num_headers ? m->num_headers : 1;
  /* one block, the header array first (it needs the alignment): one
   * malloc and one chunk header fewer a stored message */
  s->hdrs = malloc(nh * sizeof *s->hdrs + (len ? len : 1));
  if (!s->hdrs)
    return SIPKIT_ENO_MEMORY;
  s->buf = (char *)(s->hdrs + nh);
  memcpy(s->buf, buf, len);
  s->len = len;
  memcpy(s->hdrs, m->headers, m->num_headers * sizeof *s->hdrs);
  s->msg = *m;
  s->msg.headers = s->hdrs;
  s->msg.max_headers = (uint32_t)nh;
  s->msg.buf_ = s->buf;
  /* The quick-access pointers point into the header array: rebase them. */
#define REBASE(f)                                                                     \
  if (m->f)                                                                           \
    s->msg.f = (const void *)((const char *)s->hdrs +                                 \
                              ((const char *)(const void *)m->f - (const char *)m->headers));
  REBASE(via)
  REBASE(from)
  REBASE(to)
  REBASE(contact)
  REBASE(cseq)
  REBASE(content_type)
#undef REBASE
  return SIPKIT_EOK;
}

void sipkit__stored_free(sipkit__stored *s) {
  free(s->hdrs); /* the bytes too */
  memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

/* A builder's buffer kept past the message: its capacity doubled while
 * building (up to twice the bytes), so it is cut to the bytes. */
static char *fit(char *buf, size_t len) {
  char *p = realloc(buf, len ? len : 1);
  return p ? p : buf;
}

static char *xstrdup(const char *s) {
  if (!s)
    return NULL;
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p)
    memcpy(p, s, n);
  return p;
}

static uint32_t key_hash(const char *p, size_t n) {
  return (uint32_t)(sipkit__hash(n, p, n) >> 32);
}

static uint32_t key_hash_of(const sipkit_txn_key *k) {
  return k->rfc3261 ? key_hash(k->branch, k->branch_len) : key_hash(k->call_id, k->call_id_len);
}

/* x's packed key (sipkit_txn_pkey): the branch is its second string,
 * the Call-ID its last */
static int key_branch_is(const sipkit__txn *x, const char *b, size_t len) {
  return x->key.len[1] == len && !memcmp(x->kb + x->key.len[0], b, len);
}

/* key_hash_of x's key */
static uint32_t txn_hash(const sipkit__txn *x) {
  const uint16_t *n = x->key.len;
  if (x->key.rfc3261)
    return key_hash(x->kb + n[0], n[1]);
  size_t off = 0;
  for (int i = 0; i < 8; i++)
    off += n[i];
  return key_hash(x->kb + off, n[8]);
}

/* The first transaction of the bucket of hash h (NULL: none). */
static sipkit__txn *table_first(const sipkit__txn_table *t, uint32_t h) {
  return t->b ? t->b[h & t->mask] : NULL;
}

/* Rehash into `buckets` (a power of two); on no memory the table stays as it is
 * (longer chains, still correct). */
static void table_resize(sipkit__txn_table *t, uint32_t buckets) {
  sipkit__txn **nb = calloc(buckets, sizeof *nb);
  if (!nb)
    return;
  for (uint32_t i = 0; t->b && i <= t->mask; i++)
    for (sipkit__txn *x = t->b[i], *next; x; x = next) {
      next = x->hnext;
      x->hnext = nb[x->hash & (buckets - 1)];
      nb[x->hash & (buckets - 1)] = x;
    }
  free(t->b);
  t->b = nb;
  t->mask = buckets - 1;
}

static unsigned dlg_bucket(const char *call_id, size_t len) {
  return key_hash(call_id, len) % SIPKIT__DLG_BUCKETS;
}

static uint32_t span_uint(const char *buf, sipkit_span s, const char **rest) {
  uint32_t v = 0;
  const char *p = SIPKIT_SPAN_PTR(buf, s), *e = p + s.len;
  while (p < e && (*p == ' ' || *p == '\t'))
    p++;
  while (p < e && *p >= '0' && *p <= '9' && v < 429496729u)
    v = v * 10u + (uint32_t)(*p++ - '0');
  if (rest)
    *rest = p;
  return v;
}

static int header_has_token(const sipkit_msg *m, const char *buf, int id, const char *tok) {
  size_t tl = strlen(tok);
  for (const sipkit_header *h = sipkit_msg_header(m, id); h; h = sipkit_msg_header_next(m, h)) {
    char v[512];
    size_t n = h->value.len < sizeof v - 1 ? h->value.len : sizeof v - 1;
    memcpy(v, SIPKIT_SPAN_PTR(buf, h->value), n);
    v[n] = 0;
    if (sipkit__list_has(v, tok, tl))
      return 1;
  }
  return 0;
}

/* RFC 6665 §8.2.3: Subscription-State: terminated (any parameters). */
static int subscription_terminated(const sipkit_msg *m, const char *buf) {
  const sipkit_header *h = sipkit_msg_header(m, SIPKIT_HDR_SUBSCRIPTION_STATE);
  if (!h)
    return 0;
  const char *p = SIPKIT_SPAN_PTR(buf, h->value), *e = p + h->value.len;
  while (p < e && (*p == ' ' || *p == '\t'))
    p++;
  static const char t[] = "terminated";
  size_t n = sizeof t - 1;
  if ((size_t)(e - p) < n || strncasecmp(p, t, n))
    return 0;
  p += n;
  return p == e || *p == ';' || *p == ' ' || *p == '\t';
}

/* A dialog whose only usage is a subscription (RFC 6665 §4.1.3, §4.2.2):
 * when the subscription ends, so does the dialog.  One REFER in an
 * INVITE dialog shares that dialog, which outlives it. */
static int subscription_only(const sipkit_dlg *g) {
  return g->method == SIPKIT_METHOD_SUBSCRIBE || g->method == SIPKIT_METHOD_REFER;
}

static int contact_uri(const sipkit_ua *ua, char *out, size_t cap) {
  sipkit__str_out o = sipkit__str_start(out, cap);
  sipkit__str_mem(&o, "sip:", 4);
  sipkit__str_cat(&o, ua->user);
  sipkit__str_mem(&o, "@", 1);
  sipkit__str_cat(&o, ua->host);
  sipkit__str_mem(&o, ":", 1);
  sipkit__str_uint(&o, (unsigned long)ua->port);
  return (int)o.len;
}

/* "SIP/2.0/UDP host:port" of our Via into o. */
static void via_sent_by(const sipkit_ua *ua, sipkit__str_out *o) {
  sipkit__str_mem(o, ua->sent_by, ua->sent_by_len);
}

/* "SIP/2.0/UDP host:port;rport": our Via for the core to add a branch to. */
static void via_rport(const sipkit_ua *ua, char *out, size_t cap) {
  sipkit__str_out o = sipkit__str_start(out, cap);
  via_sent_by(ua, &o);
  sipkit__str_mem(&o, ";rport", 6);
}

/* The destination of a URI: the one inside "<...>" of a Route value, or
 * the whole value.  literal: set to 1 when the address is the URI's IP
 * address, with no name resolved. */
static int uri_host_port_of(const char *uri, size_t len, struct sockaddr_storage *ss,
                            int *literal) {
  const char *lt = memchr(uri, '<', len);
  if (lt) {
    const char *gt = memchr(lt, '>', len - (size_t)(lt - uri));
    if (!gt)
      return SIPKIT_EARGUMENT;
    uri = lt + 1;
    len = (size_t)(gt - lt - 1);
  }
  sipkit_uri u;
  sipkit_span all = {0, (uint32_t)len};
  if (sipkit_uri_parse(&u, uri, all, NULL) != SIPKIT_EOK || !u.host.len)
    return SIPKIT_EARGUMENT;
  char hp[300];
  const sipkit_span h = u.maddr.len ? u.maddr : u.host;
  *literal = !u.maddr.len && (u.host_type == SIPKIT_HOST_IPV4 || u.host_type == SIPKIT_HOST_IPV6);
  if (h.len > 256)
    return SIPKIT_EARGUMENT;
  int port = u.has_port ? (int)u.port : 5060;
  int bare_v6 = h.len && uri[h.off] != '[' && memchr(uri + h.off, ':', h.len);
  sipkit__str_out o = sipkit__str_start(hp, sizeof hp);
  if (bare_v6)
    sipkit__str_mem(&o, "[", 1);
  sipkit__str_mem(&o, uri + h.off, h.len);
  if (bare_v6)
    sipkit__str_mem(&o, "]", 1);
  sipkit__str_mem(&o, ":", 1);
  sipkit__str_uint(&o, (unsigned long)port);
  return sipkit__addr_parse(hp, port, ss);
}

int sipkit__uri_host_port(const char *uri, size_t len, struct sockaddr_storage *ss) {
  int literal;
  return uri_host_port_of(uri, len, ss, &literal);
}

/* uri_host_port_of, the answers for IP addresses remembered: a UA sends most
 * requests to a few URIs (its peer's Contact, a proxy), and parsing one
 * and its address cost about 1.4k instructions a request.  A host name
 * is resolved every time: its address may change. */
static int ua_uri_dest(sipkit_ua *ua, const char *uri, size_t len, struct sockaddr_storage *ss) {
  for (unsigned i = 0; i < 2; i++) {
    const sipkit__dest_memo *m = &ua->dest_memo[i];
    if (len && m->len == len && !memcmp(m->uri, uri, len)) {
      memcpy(ss, &m->ss, sizeof *ss);
      return SIPKIT_EOK;
    }
  }
  int literal = 0;
  int rc = uri_host_port_of(uri, len, ss, &literal);
  if (rc == SIPKIT_EOK && literal && len && len <= SIPKIT__DEST_MEMO_URI) {
    sipkit__dest_memo *m = &ua->dest_memo[ua->dest_next];
    ua->dest_next ^= 1;
    m->len = (uint16_t)len;
    memcpy(m->uri, uri, len);
    memcpy(&m->ss, ss, sizeof *ss);
  }
  return rc;
}

/* ------------------------------------------------------------------ */
/* Dialogs                                                             */

static void rtx_free(sipkit_rt *rt, sipkit_dlg *g) {
  if (!g->rtx)
    return;
  sipkit__timer_drop(rt, &g->rtx->timer);
  free(g->rtx);
  g->rtx = NULL;
}

/* The UA may be gone already (reaped on a later turn): rt is passed. */
static void dlg_free(sipkit_rt *rt, sipkit_dlg *g) {
  rtx_free(rt, g);
  sipkit_dialog_free(&g->d);
  free(g);
}

/* Takes over d (its strings are freed with the handle, or here when
 * out of memory). */
static sipkit_dlg *dlg_new(sipkit_ua *ua, sipkit_dialog *d) {
  sipkit_dlg *g = calloc(1, sizeof *g);
  if (!g) {
    sipkit_dialog_free(d);
    return NULL;
  }
  g->d = *d;
  g->ua = ua;
  g->refs = 1; /* the UA's table; dropped when the dialog ends */
  sipkit__list_add(&ua->dbuckets[dlg_bucket(d->call_id, d->call_id_len)], &g->link);
  ua->rt->st.dialogs++;
  return g;
}

static sipkit_dlg *dlg_ref(sipkit_dlg *g) {
  if (g)
    g->refs++;
  return g;
}

static void dlg_unref(sipkit_dlg *g) {
  if (g && --g->refs == 0)
    sipkit__bury(g->ua->rt, &g->ua->rt->dlg_graves, &g->link);
}

static void dlg_end(sipkit_dlg *g, int why) {
  if (!g || g->ended)
    return;
  sipkit_ua *ua = g->ua;
  g->ended = 1;
  g->end_why = why;
  g->d.state = SIPKIT_DIALOG_TERMINATED;
  if (g->rtx)
    sipkit__timer_stop(ua->rt, &g->rtx->timer);
  sipkit__list_del(&g->link);
  ua->rt->st.dialogs--;
  if (ua->h.on_dialog_end)
    ua->h.on_dialog_end(ua->data, ua, g, why);
  dlg_unref(g);
}

/* The dialog a message belongs to, with sipkit_dialog_find's verdict
 * (dialogs with the message's Call-ID are asked one by one). */
static int dlg_find(sipkit_ua *ua, const sipkit_msg *m, const char *buf, sipkit_dlg **out) {
  sipkit_dlg *fork = NULL, *extra = NULL;
  *out = NULL;
  if (m->call_id.len) {
    sipkit__link *b = &ua->dbuckets[dlg_bucket(SIPKIT_SPAN_PTR(buf, m->call_id), m->call_id.len)];
    for (sipkit__link *l = b->next; l != b; l = l->next) {
      sipkit_dlg *g = SIPKIT__CONTAINER(l, sipkit_dlg, link);
      long idx;
      int v = sipkit_dialog_find(&g->d, 1, m, buf, &idx);
      if (v == SIPKIT_DIALOG_ACCEPT) {
        *out = g;
        return v;
      }
      if (v == SIPKIT_DIALOG_EXTRA_2XX)
        extra = g;
      else if (v == SIPKIT_DIALOG_NEW_FORK && !fork)
        fork = g;
    }
  }
  if (m->status == 0)
    return sipkit_dialog_find(NULL, 0, m, buf, NULL);
  if (extra) {
    *out = extra;
    return SIPKIT_DIALOG_EXTRA_2XX;
  }
  if (fork) {
    *out = fork;
    return SIPKIT_DIALOG_NEW_FORK;
  }
  return SIPKIT_DIALOG_NO_MATCH;
}

/* Next hop of an in-dialog request: the first route, else the remote
 * target (§12.2.1.1, §8.1.2). */
static int dlg_next_hop(const sipkit_dlg *g, struct sockaddr_storage *ss) {
  size_t n;
  const char *r = sipkit_dialog_route(&g->d, 0, &n);
  if (r)
    return ua_uri_dest(g->ua, r, n, ss);
  return ua_uri_dest(g->ua, g->d.remote_target, g->d.remote_target_len, ss);
}

/* ------------------------------------------------------------------ */
/* Transactions                                                        */

static void client_response(sipkit__txn *x, int status, const sipkit_msg *m, const char *buf);
static void client_fail(sipkit__txn *x, int status);
static int ack_to_dialog(sipkit_ua *ua, const sipkit_msg *m, const char *buf);
static void send_100(sipkit_srv *s);
static void req_release(sipkit_req *req);
static void srv_release(sipkit_srv *s);
static int creates_dialog(int method);

static void txn_live_free(sipkit__txn *x) {
  sipkit__txlive *l = x->live;
  if (!l)
    return;
  free(l->bytes);
  sipkit__stored_free(&l->sent);
  free(l->ack_buf);
  if (x->live_own)
    free(l);
  x->live = NULL;
}

static void txn_free(sipkit_rt *rt, sipkit__txn *x) {
  sipkit__timer_drop(rt, &x->timer);
  txn_live_free(x);
  free(x);
}

static sipkit_dlg *dlg_ref(sipkit_dlg *g);
static void dlg_unref(sipkit_dlg *g);
static void req_free(sipkit_req *req);

/* The answered request of an INVITE in Accepted goes too (its handle
 * ended with its final response, sipkit_rt.h) unless it still has work:
 * a forwarded one, a re-INVITE, or early dialogs of other forks that
 * timer M must end (req_release). */
static void req_let_go(sipkit__txn *x) {
  sipkit_req *req = x->req;
  if (!req->done || req->fwd || req->dlg)
    return;
  for (unsigned i = 0; i < req->n_early; i++)
    if (!req->early[i]->ended && req->early[i]->d.state == SIPKIT_DIALOG_EARLY)
      return;
  for (unsigned i = 0; i < req->n_early; i++)
    dlg_unref(req->early[i]);
  req->n_early = 0;
  req->txn = NULL;
  x->req = NULL;
  req_free(req);
}

/* A transaction that sends nothing more lets go of its live part (the
 * machine, the bytes, the request copy); its record's timer, set by
 * txn_run, ends it.  RFC 6026 Accepted: an INVITE transaction waits for
 * timer M / L, passing 2xx retransmissions (client) or ACKs (server) on
 * to the TU and absorbing the rest (handle_response, handle_request), as
 * the machine would.  A non-INVITE client transaction in Completed only
 * absorbs retransmitted finals for Timer K (T4, 5 s over UDP): a BYE's
 * live part (~2.4 KB) was held a call for those 5 s by a client under
 * load; its responses have been passed on (auth retries and dialogs read
 * the copy before this). */
static void txn_done_sending(sipkit__txn *x) {
  if (x->closing || !x->live || !x->live_own)
    return;
  int state = x->live->t.state;
  if (x->kind == SIPKIT_TXN_NON_INVITE_CLIENT) {
    if (state == SIPKIT_TXN_COMPLETED)
      txn_live_free(x);
    return;
  }
  if (state != SIPKIT_TXN_ACCEPTED)
    return;
  if (x->client) {
    /* A fork's 2xx makes its dialog from a sibling (client_response), so
     * the INVITE goes once one exists; a re-INVITE or a forwarded one
     * makes none. */
    sipkit_req *req = x->req;
    if (!req || !(req->fwd || req->dlg || req->n_early))
      return;
    if (req->n_early)
      x->sib = dlg_ref(req->early[0]);
    req_let_go(x);
  }
  txn_live_free(x);
}

static void txn_fired(sipkit__tnode *n);

/* A non-INVITE server transaction keeps its live part to the end (its
 * last response is resent for Timer J): it is in the same block.  The
 * others let go of theirs early (txn_done_sending). */
static sipkit__txn *txn_new(sipkit_ua *ua, int kind, const sipkit_txn_key *k) {
  int own = kind != SIPKIT_TXN_NON_INVITE_SERVER;
  size_t base = offsetof(sipkit__txn, kb) + sipkit_txn_key_pack_len(k);
  size_t al = _Alignof(sipkit__txlive);
  size_t at = (base + al - 1) / al * al;
  sipkit__txn *x = calloc(1, own ? base : at + sizeof(sipkit__txlive));
  if (!x)
    return NULL;
  x->live = own ? calloc(1, sizeof *x->live) : (sipkit__txlive *)(void *)((char *)x + at);
  x->live_own = (uint8_t)own;
  if (!x->live || sipkit_txn_init(&x->live->t, kind, &ua->rt->cfg.txn, 0) != SIPKIT_EOK ||
      sipkit__timer_register(ua->rt, &x->timer) != SIPKIT_EOK) {
    if (own)
      free(x->live);
    free(x);
    return NULL;
  }
  sipkit_txn_key_pack(&x->key, x->kb, k);
  x->kind = (uint8_t)kind;
  x->ua = ua;
  x->client = kind == SIPKIT_TXN_INVITE_CLIENT || kind == SIPKIT_TXN_NON_INVITE_CLIENT;
  x->unanswered = x->client;
  sipkit__list_add(&ua->txns, &x->link);
  ua->rt->st.transactions++;
  ua->rt->st.unanswered += x->unanswered;
  return x;
}

static void txn_insert(sipkit__txn *x) {
  sipkit__txn_table *t = x->client ? &x->ua->ctab : &x->ua->stab;
  if (!t->b || t->count > t->mask)
    table_resize(t, t->b ? (t->mask + 1) * 2 : SIPKIT__TXN_BUCKETS_MIN);
  if (!t->b) {
    x->hnext = NULL; /* no memory for the first buckets: unmatched, as if lost */
    return;
  }
  x->hash = txn_hash(x);
  x->hnext = t->b[x->hash & t->mask];
  t->b[x->hash & t->mask] = x;
  t->count++;
}

static void txn_unlink(sipkit__txn *x) {
  sipkit__txn_table *t = x->client ? &x->ua->ctab : &x->ua->stab;
  if (!t->b)
    return;
  sipkit__txn **pp = &t->b[x->hash & t->mask];
  while (*pp && *pp != x)
    pp = &(*pp)->hnext;
  if (!*pp)
    return;
  *pp = x->hnext;
  t->count--;
  if (t->mask + 1 > SIPKIT__TXN_BUCKETS_MIN && t->count < (t->mask + 1) / 4)
    table_resize(t, (t->mask + 1) / 2);
}

static void txn_destroy(sipkit__txn *x) {
  if (x->closing)
    return;
  sipkit_ua *ua = x->ua;
  x->closing = 1;
  txn_unlink(x);
  sipkit__list_del(&x->link);
  ua->rt->st.transactions--;
  ua->rt->st.unanswered -= x->unanswered;
  sipkit__timer_stop(ua->rt, &x->timer);
  if (x->req && x->req->txn == x)
    req_release(x->req);
  dlg_unref(x->sib);
  x->sib = NULL;
  if (x->srv)
    srv_release(x->srv);
  sipkit__bury(ua->rt, &ua->rt->txn_graves, &x->link);
}

/* One timer node per transaction, set to its earliest running timer. */
static void txn_schedule(sipkit__txn *x) {
  sipkit_rt *rt = x->ua->rt;
  uint64_t next = UINT64_MAX;
  if (x->send_failed) {
    sipkit__timer_arm(rt, &x->timer, 0, txn_fired);
    return;
  }
  const sipkit_txn *t = &x->live->t;
  for (int i = 0; i < SIPKIT_TXN_TIMER__COUNT; i++)
    if ((t->armed & (1u << i)) && t->at[i] < next)
      next = t->at[i];
  if (next == UINT64_MAX)
    sipkit__timer_stop(rt, &x->timer);
  else
    sipkit__timer_arm(rt, &x->timer, next, txn_fired);
}

/* Carry out what the machine asked for.  Callbacks may close the UA:
 * x->closing is checked after each action (x itself is freed later, by
 * its close callback). */
static void txn_run(sipkit__txn *x, const sipkit_txn_actions *acts, const sipkit_msg *m,
                    const char *buf, int from_timer) {
  sipkit_ua *ua = x->ua;
  for (unsigned i = 0; i < acts->n && !x->closing; i++) {
    const sipkit_txn_action *a = &acts->a[i];
    switch (a->type) {
    case SIPKIT_TXN_ACT_SEND_REQUEST:
    case SIPKIT_TXN_ACT_SEND_RESPONSE:
      if (sipkit__send(ua, (struct sockaddr *)&x->live->peer, a->data, a->len, from_timer) !=
          SIPKIT_EOK)
        x->send_failed = 1;
      break;
    case SIPKIT_TXN_ACT_SEND_ACK:
      if (a->code == SIPKIT_EOK)
        sipkit__send(ua, (struct sockaddr *)&x->live->peer, a->data, a->len, 0);
      break;
    case SIPKIT_TXN_ACT_SEND_100:
      if (x->srv)
        send_100(x->srv);
      break;
    case SIPKIT_TXN_ACT_PASS_RESPONSE:
      if (m)
        client_response(x, a->status, m, buf);
      break;
    case SIPKIT_TXN_ACT_PASS_REQUEST:
      if (m && m->method == SIPKIT_METHOD_ACK)
        (void)ack_to_dialog(ua, m, buf);
      break;
    case SIPKIT_TXN_ACT_TIMEOUT:
      ua->rt->st.txn_timeouts++;
      if (x->client)
        client_fail(x, 408);
      break;
    case SIPKIT_TXN_ACT_TRANSPORT_ERROR:
      if (x->client)
        client_fail(x, 503);
      break;
    case SIPKIT_TXN_ACT_TERMINATED:
      txn_destroy(x);
      return;
    default:
      break;
    }
  }
  /* §17.1.4: a request the kernel refused ends its client transaction,
   * on the next loop turn (txn_fired) so that no callback runs inside
   * sipkit_ua_request.  A server transaction goes on: its srv may still
   * be held by the embedder, and a final response is resent anyway. */
  if (!x->client)
    x->send_failed = 0;
  if (!x->closing)
    txn_schedule(x);
}

/* The payload quotes our datagram from its first byte: the request line
 * and the top Via we wrote, whose branch names the client transaction
 * (the destination must be the transaction's too). */
void sipkit__ua_send_error(sipkit_ua *ua, const struct sockaddr *dest, const char *p, size_t len) {
  static const char key[] = ";branch=";
  const size_t kl = sizeof key - 1;
  if (ua->closing || len < 8 || !memcmp(p, "SIP/2.0 ", 8))
    return; /* a response of ours: its server transaction goes on */
  size_t i = 0, end = len;
  for (size_t j = 0; j + 4 <= len; j++)
    if (!memcmp(p + j, "\r\n\r\n", 4)) {
      end = j;
      break;
    }
  while (i + kl <= end && memcmp(p + i, key, kl))
    i++;
  if (i + kl > end)
    return;
  const char *b = p + i + kl;
  size_t bl = 0;
  while (b + bl < p + end && b[bl] != ';' && b[bl] != ',' && b[bl] != '\r' && b[bl] != ' ')
    bl++;
  if (b + bl == p + end || !bl)
    return; /* cut off by the quote: not sure which transaction */
  size_t ml = 0;
  while (ml < end && p[ml] != ' ')
    ml++;
  uint32_t h = key_hash(b, bl);
  for (sipkit__txn *x = table_first(&ua->ctab, h); x; x = x->hnext) {
    /* Accepted sends nothing (RFC 6026 figure 5 has no transport error there) */
    if (x->hash != h || x->closing || !x->live || !key_branch_is(x, b, bl) || x->key.len[0] != ml ||
        memcmp(x->kb, p, ml) || !sipkit__addr_equal((const struct sockaddr *)&x->live->peer, dest))
      continue;
    sipkit_txn_actions acts;
    sipkit_txn_on_transport_error(&x->live->t, sipkit__now(ua->rt), &acts);
    txn_run(x, &acts, NULL, NULL, 0);
    return;
  }
}

static void txn_fired(sipkit__tnode *n) {
  sipkit__txn *x = SIPKIT__CONTAINER(n, sipkit__txn, timer);
  uint64_t now = sipkit__now(x->ua->rt);
  if (!x->live) { /* Accepted or Completed without its live part: timer M / L / K fired */
    txn_destroy(x);
    return;
  }
  sipkit_txn *t = &x->live->t;
  if (x->send_failed) {
    sipkit_txn_actions te;
    x->send_failed = 0;
    sipkit_txn_on_transport_error(t, now, &te);
    txn_run(x, &te, NULL, NULL, 0);
    return;
  }
  for (int i = 0; i < SIPKIT_TXN_TIMER__COUNT && !x->closing; i++) {
    if ((t->armed & (1u << i)) && t->at[i] <= now) {
      sipkit_txn_actions acts;
      sipkit_txn_on_timer(t, i, now, &acts);
      txn_run(x, &acts, NULL, NULL, 1);
    }
  }
  if (!x->closing)
    txn_schedule(x);
}

/* The server transaction k (a request's key) belongs to; cancel: the
 * INVITE transaction a CANCEL with key k is aimed at. */
static sipkit__txn *find_server_txn(sipkit_ua *ua, const sipkit_txn_key *k, int cancel) {
  uint32_t h = key_hash_of(k);
  for (sipkit__txn *y = table_first(&ua->stab, h); y; y = y->hnext) {
    if (y->hash != h || (k->rfc3261 && !key_branch_is(y, k->branch, k->branch_len)))
      continue; /* a magic-cookie key matches only its branch */
    sipkit_txn_key yk;
    sipkit_txn_key_unpack(&yk, &y->key, y->kb);
    if (cancel ? y->kind == SIPKIT_TXN_INVITE_SERVER && sipkit_txn_key_match_cancel_target(&yk, k)
               : sipkit_txn_key_match_request(&yk, k))
      return y;
  }
  return NULL;
}

static sipkit__txn *find_client_txn(sipkit_ua *ua, const sipkit_msg *m, const char *buf) {
  sipkit_txn_key k;
  if (!m->via || !m->via->branch.len || sipkit_txn_key_make(&k, m, buf) != SIPKIT_EOK)
    return NULL;
  uint32_t h = key_hash(k.branch, k.branch_len);
  for (sipkit__txn *y = table_first(&ua->ctab, h); y; y = y->hnext) {
    if (y->hash != h || !key_branch_is(y, k.branch, k.branch_len))
      continue;
    sipkit_txn_key yk;
    sipkit_txn_key_unpack(&yk, &y->key, y->kb);
    if (sipkit_txn_key_match_response(&yk, &k))
      return y;
  }
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Requests we send                                                    */

static int via_value(const sipkit_ua *ua, char *out, size_t cap) {
  char branch[SIPKIT_BRANCH_SIZE];
  if (sipkit_gen_branch(branch, sizeof branch) < 0)
    return SIPKIT_EIO;
  sipkit__str_out o = sipkit__str_start(out, cap);
  via_sent_by(ua, &o);
  sipkit__str_mem(&o, ";branch=", 8);
  sipkit__str_cat(&o, branch);
  sipkit__str_mem(&o, ";rport", 6);
  return SIPKIT_EOK;
}

static int needs_contact(int method) {
  return method == SIPKIT_METHOD_INVITE || method == SIPKIT_METHOD_SUBSCRIBE ||
         method == SIPKIT_METHOD_REFER || method == SIPKIT_METHOD_REGISTER ||
         method == SIPKIT_METHOD_UPDATE || method == SIPKIT_METHOD_NOTIFY;
}

static void add_contact(sipkit_builder *b, const sipkit_ua *ua) {
  char c[300];
  int n = contact_uri(ua, c, sizeof c);
  sipkit_builder_addr(b, SIPKIT_HDR_CONTACT, NULL, 0, c, (size_t)n, NULL, 0);
}

/* Finish b, store it in a new client transaction for req and send it. */
static int client_start(sipkit_ua *ua, sipkit_req *req, sipkit_builder *b, const char *body,
                        size_t body_len, const struct sockaddr_storage *dest, sipkit_error *err) {
  sipkit_msg m;
  sipkit_msg_init(&m, ua->bhdrs, SIPKIT_MAX_HEADERS);
  int rc = sipkit_builder_finish(b, body, body_len, &m);
  if (rc != SIPKIT_EOK) {
    if (err)
      *err = b->err;
    sipkit_builder_free(b);
    return rc;
  }
  sipkit_txn_key k; /* invalid (zeroed) when it cannot be made: matches nothing */
  (void)sipkit_txn_key_make(&k, &m, b->buf);
  sipkit__txn *x = txn_new(ua, m.method == SIPKIT_METHOD_INVITE ? SIPKIT_TXN_INVITE_CLIENT
                                                                  : SIPKIT_TXN_NON_INVITE_CLIENT,
                           &k);
  if (!x || sipkit__stored_copy(&x->live->sent, &m, b->buf, b->len) != SIPKIT_EOK) {
    sipkit_builder_free(b);
    if (x)
      txn_destroy(x);
    return SIPKIT_ENO_MEMORY;
  }
  sipkit_builder_free(b);
  sipkit__txlive *l = x->live;
  memcpy(&l->peer, dest, sizeof l->peer);
  txn_insert(x);
  x->req = req;
  req->txn = x;
  sipkit_txn_actions acts;
  sipkit_txn_start(&l->t, l->sent.buf, l->sent.len, sipkit__now(ua->rt), &acts);
  txn_run(x, &acts, NULL, NULL, 0);
  return SIPKIT_EOK;
}

int sipkit__client_start(sipkit_ua *ua, sipkit_req *req, sipkit_builder *b, const char *body,
                         size_t body_len, const struct sockaddr_storage *dest, sipkit_error *err) {
  return client_start(ua, req, b, body, body_len, dest, err);
}

static sipkit_req *req_new(sipkit_ua *ua, int method, sipkit_response_fn cb, void *data) {
  sipkit_req *req = calloc(1, sizeof *req);
  if (!req)
    return NULL;
  req->ua = ua;
  req->cb = cb;
  req->data = data;
  req->method = method;
  req->internal = cb == NULL;
  sipkit__list_add(&ua->reqs, &req->link);
  return req;
}

static void req_free(sipkit_req *req) {
  if (req->fwd)
    sipkit__fwd_req_gone(req);
  sipkit__list_del(&req->link);
  dlg_unref(req->dlg);
  free(req);
}

sipkit_req *sipkit__req_new(sipkit_ua *ua, int method, sipkit_response_fn cb, void *data) {
  return req_new(ua, method, cb, data);
}

void sipkit__req_free(sipkit_req *req) { req_free(req); }

/* The request's last transaction ended. */
static void req_release(sipkit_req *req) {
  for (unsigned i = 0; i < req->n_early; i++) {
    sipkit_dlg *g = req->early[i];
    if (!g->ended && g->d.state == SIPKIT_DIALOG_EARLY)
      dlg_end(g, SIPKIT_DLG_END_EARLY_ENDED);
    dlg_unref(g);
  }
  req->n_early = 0;
  req_free(req);
}

static void end_early(sipkit_req *req) {
  for (unsigned i = 0; i < req->n_early; i++) {
    sipkit_dlg *g = req->early[i];
    if (!g->ended && g->d.state == SIPKIT_DIALOG_EARLY)
      dlg_end(g, SIPKIT_DLG_END_EARLY_ENDED);
  }
}

int sipkit_ua_request(sipkit_ua *ua, const sipkit_req_opts *o, sipkit_response_fn cb, void *data,
                      sipkit_req **out, sipkit_error *err) {
  if (out)
    *out = NULL;
  if (!ua || !o || !o->method || !o->uri || (o->body_len && !o->body))
    return SIPKIT_EARGUMENT;
  if (ua->closing)
    return SIPKIT_ESTATE;
  if (ua->rt->st.transactions >= ua->rt->cfg.max_transactions)
    return SIPKIT_ELIMIT;
  struct sockaddr_storage dest;
  int rc = o->dest ? sipkit__addr_parse(o->dest, 5060, &dest)
                   : ua_uri_dest(ua, o->uri, strlen(o->uri), &dest);
  if (rc != SIPKIT_EOK)
    return rc;
  int method = sipkit_method_lookup(o->method, strlen(o->method));
  /* Admission: the dialogs this request's responses create are always
   * made (a 2xx must be ACKed and its dialog known to BYE it), so the
   * limit is applied here, where the caller can still be told. */
  if (creates_dialog(method) && ua->rt->st.dialogs >= ua->rt->cfg.max_dialogs)
    return SIPKIT_ELIMIT;
  char v[400], tag[SIPKIT_TAG_SIZE], ftag[SIPKIT_TAG_SIZE + 5], cid[SIPKIT_CALL_ID_SIZE],
      cseq[64], from[300];
  if (via_value(ua, v, sizeof v) || sipkit_gen_tag(tag, sizeof tag) < 0 ||
      (!o->call_id && sipkit_gen_call_id(cid, sizeof cid) < 0))
    return SIPKIT_EIO;
  if (o->cseq > 0x7fffffffu) /* RFC 3261 §8.1.1.5 */
    return SIPKIT_ENUMBER_RANGE;
  sipkit__str_out so = sipkit__str_start(ftag, sizeof ftag);
  sipkit__str_mem(&so, ";tag=", 5);
  sipkit__str_cat(&so, tag);
  so = sipkit__str_start(cseq, sizeof cseq);
  sipkit__str_uint(&so, o->cseq ? (unsigned long)o->cseq : 1ul);
  sipkit__str_mem(&so, " ", 1);
  sipkit__str_mem(&so, o->method, strnlen(o->method, 40));
  if (!o->from) {
    so = sipkit__str_start(from, sizeof from);
    sipkit__str_mem(&so, "sip:", 4);
    sipkit__str_cat(&so, ua->user);
    sipkit__str_mem(&so, "@", 1);
    sipkit__str_cat(&so, ua->domain);
  }
  const char *f = o->from ? o->from : from, *to = o->to ? o->to : o->uri;
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  sipkit_builder_request(&b, o->method, strlen(o->method), o->uri, strlen(o->uri));
  sipkit_builder_header(&b, SIPKIT_HDR_VIA, v, strlen(v));
  sipkit_builder_header(&b, SIPKIT_HDR_MAX_FORWARDS, "70", 2);
  sipkit_builder_addr(&b, SIPKIT_HDR_FROM, ua->display, ua->display ? strlen(ua->display) : 0, f,
                      strlen(f), ftag, strlen(ftag));
  sipkit_builder_addr(&b, SIPKIT_HDR_TO, NULL, 0, to, strlen(to), NULL, 0);
  const char *call_id = o->call_id ? o->call_id : cid;
  sipkit_builder_header(&b, SIPKIT_HDR_CALL_ID, call_id, strlen(call_id));
  sipkit_builder_header(&b, SIPKIT_HDR_CSEQ, cseq, strlen(cseq));
  if (needs_contact(method))
    add_contact(&b, ua);
  if (method == SIPKIT_METHOD_INVITE && o->prack)
    sipkit_builder_header(&b, SIPKIT_HDR_SUPPORTED, "100rel", 6);
  sipkit_builder_header(&b, SIPKIT_HDR_USER_AGENT, ua->rt->user_agent,
                        strlen(ua->rt->user_agent));
  rc = b.code ? b.code : sipkit__add_lines(&b, o->headers, o->header_count);
  if (rc == SIPKIT_EOK && o->content_type)
    rc = sipkit_builder_header(&b, SIPKIT_HDR_CONTENT_TYPE, o->content_type,
                               strlen(o->content_type));
  if (rc != SIPKIT_EOK) {
    if (err)
      *err = b.err;
    sipkit_builder_free(&b);
    return rc;
  }
  sipkit_req *req = req_new(ua, method, cb, data);
  if (!req) {
    sipkit_builder_free(&b);
    return SIPKIT_ENO_MEMORY;
  }
  req->no_auth = (uint8_t)(o->no_auth != 0);
  req->prack = (uint8_t)(o->prack != 0);
  rc = client_start(ua, req, &b, o->body, o->body_len, &dest, err);
  if (rc != SIPKIT_EOK) {
    req_free(req);
    return rc;
  }
  if (out)
    *out = req;
  return SIPKIT_EOK;
}

/* Start b (dynamic) with the lines of an in-dialog request (§12.2.1.1)
 * and our Via with a new branch. */
static void dlg_build_start(sipkit_dlg *g, sipkit_builder *b, const char *method, uint32_t cseq) {
  char via[300];
  via_rport(g->ua, via, sizeof via);
  sipkit_str routes[SIPKIT_DIALOG_MAX_ROUTES];
  sipkit_dialog_view v;
  sipkit_dialog_view_fill(&g->d, &v, routes);
  sipkit_builder_init_dynamic(b);
  sipkit_str no_branch = {NULL, 0};
  sipkit_build_in_dialog(b, &v, STR(method), cseq, STR(via), no_branch);
}

int sipkit_dlg_request(sipkit_dlg *g, const sipkit_req_opts *o, sipkit_response_fn cb,
                       void *data, sipkit_req **out, sipkit_error *err) {
  if (out)
    *out = NULL;
  if (!g || !o || !o->method || (o->body_len && !o->body))
    return SIPKIT_EARGUMENT;
  sipkit_ua *ua = g->ua;
  if (g->ended || ua->closing)
    return SIPKIT_ESTATE;
  if (ua->rt->st.transactions >= ua->rt->cfg.max_transactions)
    return SIPKIT_ELIMIT;
  struct sockaddr_storage dest;
  int rc = dlg_next_hop(g, &dest);
  if (rc != SIPKIT_EOK)
    return rc;
  int method = sipkit_method_lookup(o->method, strlen(o->method));
  uint32_t cseq;
  rc = sipkit_dialog_next_cseq(&g->d, method, &cseq);
  if (rc != SIPKIT_EOK)
    return rc;
  sipkit_builder b;
  dlg_build_start(g, &b, o->method, cseq);
  if (needs_contact(method))
    add_contact(&b, ua);
  sipkit_builder_header(&b, SIPKIT_HDR_USER_AGENT, ua->rt->user_agent,
                        strlen(ua->rt->user_agent));
  rc = b.code ? b.code : sipkit__add_lines(&b, o->headers, o->header_count);
  if (rc == SIPKIT_EOK && o->content_type)
    rc = sipkit_builder_header(&b, SIPKIT_HDR_CONTENT_TYPE, o->content_type,
                               strlen(o->content_type));
  if (rc != SIPKIT_EOK) {
    if (err)
      *err = b.err;
    sipkit_builder_free(&b);
    return rc;
  }
  sipkit_req *req = req_new(ua, method, cb, data);
  if (!req) {
    sipkit_builder_free(&b);
    return SIPKIT_ENO_MEMORY;
  }
  req->dlg = dlg_ref(g);
  req->no_auth = (uint8_t)(o->no_auth != 0);
  rc = client_start(ua, req, &b, o->body, o->body_len, &dest, err);
  if (rc != SIPKIT_EOK) {
    req_free(req);
    return rc;
  }
  if (out)
    *out = req;
  return SIPKIT_EOK;
}

static void send_cancel(sipkit_req *req) {
  sipkit__txn *x = req->txn;
  sipkit_ua *ua = req->ua;
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  sipkit_build_cancel(&b, &x->live->sent.msg, x->live->sent.buf);
  sipkit_req *c = req_new(ua, SIPKIT_METHOD_CANCEL, NULL, NULL);
  if (!c) {
    sipkit_builder_free(&b);
    return;
  }
  struct sockaddr_storage dest;
  sipkit__addr_storage(&dest, &x->live->peer);
  if (client_start(ua, c, &b, NULL, 0, &dest, NULL) != SIPKIT_EOK)
    req_free(c);
}

int sipkit_req_cancel(sipkit_req *req) {
  if (!req || req->method != SIPKIT_METHOD_INVITE)
    return SIPKIT_EARGUMENT;
  if (req->done || req->ua->closing)
    return SIPKIT_ESTATE;
  if (req->cancelled)
    return SIPKIT_EOK;
  req->cancelled = 1;
  if (req->got_provisional)
    send_cancel(req);
  else
    req->cancel_pending = 1; /* §9.1: not before a provisional */
  return SIPKIT_EOK;
}

void sipkit_req_set_data(sipkit_req *req, void *data) {
  if (req)
    req->data = data;
}

void *sipkit_req_data(sipkit_req *req) { return req ? req->data : NULL; }

/* §22.2: answer a 401 / 407 once, same Call-ID, CSeq + 1, new branch. */
static int auth_retry(sipkit_req *req, int status, const sipkit_msg *m, const char *buf) {
  sipkit_ua *ua = req->ua;
  sipkit__txn *old = req->txn;
  const sipkit_msg *q = &old->live->sent.msg;
  const char *qb = old->live->sent.buf;
  int hid = status == 401 ? SIPKIT_HDR_WWW_AUTHENTICATE : SIPKIT_HDR_PROXY_AUTHENTICATE;
  sipkit_challenge ch;
  if (sipkit_auth_challenge_pick(&ch, m, buf, hid, NULL) != SIPKIT_EOK || !q->cseq)
    return SIPKIT_EAUTH;
  char ruri[512], method[40], cred[2048], cseq[64];
  if (q->request_uri.len >= sizeof ruri || q->method_name.len >= sizeof method)
    return SIPKIT_EARGUMENT;
  memcpy(ruri, SIPKIT_SPAN_PTR(qb, q->request_uri), q->request_uri.len);
  ruri[q->request_uri.len] = 0;
  memcpy(method, SIPKIT_SPAN_PTR(qb, q->method_name), q->method_name.len);
  method[q->method_name.len] = 0;
  sipkit_auth_client cl;
  memset(&cl, 0, sizeof cl);
  cl.username = ua->user;
  cl.password = ua->password;
  cl.method = method;
  cl.uri = ruri;
  cl.body = SIPKIT_SPAN_PTR(qb, q->body);
  cl.body_len = q->body.len;
  cl.nc = 1;
  size_t clen;
  if (sipkit_auth_build(&ch, buf, &cl, cred, sizeof cred, &clen, NULL) != SIPKIT_EOK)
    return SIPKIT_EAUTH;
  uint32_t num = q->cseq->num + 1;
  if (req->dlg && sipkit_dialog_next_cseq(&req->dlg->d, q->method, &num) != SIPKIT_EOK)
    return SIPKIT_ESTATE;
  sipkit__str_out co = sipkit__str_start(cseq, sizeof cseq);
  sipkit__str_uint(&co, num);
  sipkit__str_mem(&co, " ", 1);
  sipkit__str_cat(&co, method);
  char v[400];
  if (via_value(ua, v, sizeof v))
    return SIPKIT_EIO;
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  sipkit_builder_request(&b, method, strlen(method), ruri, strlen(ruri));
  sipkit_builder_header(&b, SIPKIT_HDR_VIA, v, strlen(v));
  for (uint32_t i = 0; i < q->num_headers; i++) {
    const sipkit_header *h = &q->headers[i];
    if (h->id == SIPKIT_HDR_VIA || h->id == SIPKIT_HDR_CSEQ || h->id == SIPKIT_HDR_CONTENT_LENGTH ||
        h->id == SIPKIT_HDR_AUTHORIZATION || h->id == SIPKIT_HDR_PROXY_AUTHORIZATION)
      continue;
    if (h->id == SIPKIT_HDR_USER_AGENT)
      sipkit_builder_header(&b, SIPKIT_HDR_CSEQ, cseq, strlen(cseq));
    sipkit_builder_header_raw(&b, SIPKIT_SPAN_PTR(qb, h->name), h->name.len,
                              SIPKIT_SPAN_PTR(qb, h->value), h->value.len);
  }
  if (!sipkit_msg_header(q, SIPKIT_HDR_USER_AGENT))
    sipkit_builder_header(&b, SIPKIT_HDR_CSEQ, cseq, strlen(cseq));
  sipkit_builder_header(&b, status == 401 ? SIPKIT_HDR_AUTHORIZATION : SIPKIT_HDR_PROXY_AUTHORIZATION,
                        cred, clen);
  if (b.code) {
    sipkit_builder_free(&b);
    return SIPKIT_EINVALID_VALUE;
  }
  struct sockaddr_storage dest;
  sipkit__addr_storage(&dest, &old->live->peer);
  old->req = NULL; /* the old transaction finishes alone (it ACKs an INVITE's 401) */
  req->auth_tried = 1;
  int rc = client_start(ua, req, &b, SIPKIT_SPAN_PTR(qb, q->body), q->body.len, &dest, NULL);
  if (rc != SIPKIT_EOK)
    req->txn = old, old->req = req;
  return rc;
}

/* §13.2.2.4: an ACK for each 2xx, built from the dialog each time (a new
 * branch: the ACK of a 2xx is a transaction of its own) rather than
 * kept for the whole call, as 2xx retransmissions are rare. */
static void send_2xx_ack(sipkit_dlg *g) {
  sipkit_builder b;
  dlg_build_start(g, &b, "ACK", sipkit_dialog_ack_cseq(&g->d));
  struct sockaddr_storage hop;
  if (sipkit_builder_finish(&b, NULL, 0, NULL) == SIPKIT_EOK && dlg_next_hop(g, &hop) == SIPKIT_EOK)
    sipkit__send(g->ua, (struct sockaddr *)&hop, b.buf, b.len, 0);
  sipkit_builder_free(&b);
}

static void send_bye(sipkit_dlg *g) {
  sipkit_req_opts o;
  memset(&o, 0, sizeof o);
  o.method = "BYE";
  sipkit_dlg_request(g, &o, NULL, NULL, NULL, NULL);
}

static int is_reliable_1xx(const sipkit_msg *m, const char *buf) {
  return m->status > 100 && m->status < 200 && sipkit_msg_header(m, SIPKIT_HDR_RSEQ) &&
         header_has_token(m, buf, SIPKIT_HDR_REQUIRE, "100rel");
}

static void send_prack(sipkit_dlg *g, uint32_t rseq, uint32_t cseq) {
  char rack[80];
  snprintf(rack, sizeof rack, "RAck: %u %u INVITE", rseq, cseq);
  const char *lines[1] = {rack};
  sipkit_req_opts o;
  memset(&o, 0, sizeof o);
  o.method = "PRACK";
  o.headers = lines;
  o.header_count = 1;
  sipkit_dlg_request(g, &o, NULL, NULL, NULL, NULL);
}

/* From the request, or in Accepted (the request gone, see txn_done_sending)
 * from a dialog the INVITE created before. */
static sipkit_dlg *dlg_create_uac(sipkit_ua *ua, sipkit__txn *x, const sipkit_msg *m,
                                  const char *buf) {
  sipkit_dialog d;
  int rc = x->live ? sipkit_dialog_uac_create(&d, &x->live->sent.msg, x->live->sent.buf, m, buf)
           : x->sib ? sipkit_dialog_uac_fork(&d, &x->sib->d, x->key.cseq, m, buf)
                    : SIPKIT_EARGUMENT;
  if (rc != SIPKIT_EOK)
    return NULL;
  sipkit_dlg *g = dlg_new(ua, &d);
  if (g)
    g->method = x->key.method;
  return g;
}

/* PASS_RESPONSE: dialogs first (ACK every 2xx, forks, 100rel), then the
 * embedder's callback, then dialog ends it caused. */
static void client_response(sipkit__txn *x, int status, const sipkit_msg *m, const char *buf) {
  sipkit_ua *ua = x->ua;
  sipkit_req *req = x->req;
  int method = x->key.method;
  sipkit_dlg *g = NULL, *end_g = NULL;
  int end_why = 0;
  if (req && req->fwd) {
    /* a forwarded request: no dialog, no auth, every response goes
     * upstream (2xx retransmissions too, RFC 6026 Accepted) */
    if (status < 200) {
      req->got_provisional = 1;
      if (req->cancel_pending) {
        req->cancel_pending = 0;
        send_cancel(req);
      }
    } else {
      req->done = 1;
    }
    sipkit__fwd_response(req, status, m, buf);
    return;
  }
  if (method == SIPKIT_METHOD_INVITE && req && req->dlg) { /* re-INVITE */
    g = req->dlg->ended ? NULL : req->dlg;
    if (g) {
      int v = sipkit_dialog_on_response(&g->d, m, buf);
      if (v == SIPKIT_DIALOG_SEND_ACK)
        send_2xx_ack(g);
      else if (v == SIPKIT_DIALOG_ENDED)
        end_g = g, end_why = SIPKIT_DLG_END_REJECTED;
    }
  } else if (method == SIPKIT_METHOD_INVITE && status > 100 && status < 300 &&
             (status >= 200 || (m->to && m->to->tag.len))) {
    sipkit_dlg *f;
    int v = dlg_find(ua, m, buf, &f);
    if (v == SIPKIT_DIALOG_ACCEPT) {
      g = f;
      if (sipkit_dialog_on_response(&g->d, m, buf) == SIPKIT_DIALOG_SEND_ACK)
        send_2xx_ack(g);
    } else {
      g = dlg_create_uac(ua, x, m, buf);
      if (g && req && req->n_early < sizeof req->early / sizeof req->early[0])
        req->early[req->n_early++] = dlg_ref(g);
      if (g && status >= 200)
        send_2xx_ack(g);
      if (g && (v == SIPKIT_DIALOG_EXTRA_2XX || (status >= 200 && (!req || req->done)))) {
        /* §13.2.2.4: a second 2xx from another branch: ACK it, BYE it */
        send_bye(g);
        dlg_end(g, SIPKIT_DLG_END_EARLY_ENDED);
        return;
      }
    }
    if (g && req && !req->done && is_reliable_1xx(m, buf)) {
      uint32_t rseq = span_uint(buf, sipkit_msg_header(m, SIPKIT_HDR_RSEQ)->value, NULL);
      if (req->has_rseq && rseq <= req->rseq)
        return; /* RFC 3262 §4: a retransmitted reliable provisional */
      req->rseq = rseq;
      req->has_rseq = 1;
      if (req->prack)
        send_prack(g, rseq, x->live->sent.msg.cseq->num);
    }
  } else if (method != SIPKIT_METHOD_INVITE && req && req->dlg && !req->dlg->ended) {
    g = req->dlg;
    if (sipkit_dialog_on_response(&g->d, m, buf) == SIPKIT_DIALOG_ENDED)
      end_g = g,
      end_why = method == SIPKIT_METHOD_BYE ? SIPKIT_DLG_END_BYE_SENT : SIPKIT_DLG_END_REJECTED;
    else if (method == SIPKIT_METHOD_NOTIFY && status >= 200 && status < 300 &&
             subscription_only(g) && subscription_terminated(&x->live->sent.msg, x->live->sent.buf))
      end_g = g, end_why = SIPKIT_DLG_END_SUBSCRIPTION_TERMINATED;
  } else if ((method == SIPKIT_METHOD_SUBSCRIBE || method == SIPKIT_METHOD_REFER) && req &&
             !req->dlg && status >= 200 && status < 300) {
    sipkit_dlg *f;
    g = dlg_find(ua, m, buf, &f) == SIPKIT_DIALOG_ACCEPT ? f : dlg_create_uac(ua, x, m, buf);
  }
  if (!req || req->done || req->internal) {
    if (req && status >= 200)
      req->done = 1;
    dlg_end(end_g, end_why);
    return;
  }
  if (status < 200) {
    req->got_provisional = 1;
    if (req->cancel_pending) {
      req->cancel_pending = 0;
      send_cancel(req);
    }
    if (req->cb)
      req->cb(req->data, req, status, g, m, buf, m->size);
    return;
  }
  if ((status == 401 || status == 407) && !req->no_auth && !req->auth_tried && ua->password &&
      auth_retry(req, status, m, buf) == SIPKIT_EOK)
    return;
  req->done = 1;
  if (req->cb)
    req->cb(req->data, req, status, g, m, buf, m->size);
  if (ua->closing)
    return;
  dlg_end(end_g, end_why);
  if (method == SIPKIT_METHOD_INVITE && status >= 300 && !req->dlg)
    end_early(req);
}

static void client_fail(sipkit__txn *x, int status) {
  sipkit_req *req = x->req;
  if (!req || req->done)
    return;
  req->done = 1;
  if (req->fwd) {
    sipkit__fwd_response(req, status, NULL, NULL);
    return;
  }
  if (req->cb)
    req->cb(req->data, req, status, NULL, NULL, NULL, 0);
  if (req->ua->closing)
    return;
  if (req->dlg && status == 408)
    dlg_end(req->dlg, SIPKIT_DLG_END_REJECTED);
  else if (req->dlg && req->method == SIPKIT_METHOD_BYE)
    dlg_end(req->dlg, SIPKIT_DLG_END_BYE_SENT); /* nothing more to say to that peer */
  if (req->method == SIPKIT_METHOD_INVITE && !req->dlg)
    end_early(req);
}

static void handle_response(sipkit_ua *ua, const sipkit_msg *m, const char *buf) {
  sipkit__txn *x = find_client_txn(ua, m, buf);
  if (x) {
    sipkit__txlive *l = x->live;
    ua->rt->st.unanswered -= x->unanswered;
    x->unanswered = 0;
    if (!l) { /* INVITE Accepted (RFC 6026): 2xx to TU; non-INVITE Completed: absorbed */
      if (x->kind == SIPKIT_TXN_INVITE_CLIENT && m->status >= 200 && m->status < 300)
        client_response(x, m->status, m, buf);
      return;
    }
    sipkit_txn_actions acts;
    /* Only a 3xx-6xx gets its ACK from the transaction (§17.1.1.3); the
     * ACK of a 2xx is the dialog's (§13.2.2.4), so most INVITEs never
     * need this buffer. */
    if (x->kind == SIPKIT_TXN_INVITE_CLIENT && m->status >= 300 && !l->ack_buf) {
      l->ack_buf = malloc(SIPKIT__ACK_MAX);
      if (l->ack_buf)
        sipkit_txn_set_ack_buffer(&l->t, &l->sent.msg, l->sent.buf, l->ack_buf, SIPKIT__ACK_MAX);
    }
    sipkit_txn_on_response(&l->t, m->status, m, buf, sipkit__now(ua->rt), &acts);
    txn_run(x, &acts, m, buf, 0);
    txn_done_sending(x);
    return;
  }
  if (ua->proxy && sipkit__proxy_stray_response(ua, m, buf))
    return;
  /* A 2xx retransmitted after the INVITE transaction ended (timer M):
   * the dialog still ACKs it. */
  if (m->cseq && m->cseq->method == SIPKIT_METHOD_INVITE && m->status >= 200 && m->status < 300) {
    sipkit_dlg *g;
    if (dlg_find(ua, m, buf, &g) == SIPKIT_DIALOG_ACCEPT &&
        sipkit_dialog_on_response(&g->d, m, buf) == SIPKIT_DIALOG_SEND_ACK)
      send_2xx_ack(g);
  }
}

/* ------------------------------------------------------------------ */
/* Requests we answer                                                  */

static void srv_free(sipkit_rt *rt, sipkit_srv *s) {
  sipkit__timer_drop(rt, &s->rel_timer);
  sipkit__stored_free(&s->req);
  free(s->rel_bytes);
  free(s);
}

static void srv_release(sipkit_srv *s) {
  if (s->fwd)
    sipkit__fwd_srv_gone(s);
  if (s->txn)
    s->txn->srv = NULL;
  s->txn = NULL;
  sipkit__list_del(&s->link);
  dlg_unref(s->dlg);
  s->dlg = NULL;
  sipkit__timer_stop(s->ua->rt, &s->rel_timer);
  sipkit__bury(s->ua->rt, &s->ua->rt->srv_graves, &s->link);
}

static sipkit_srv *srv_new(sipkit_ua *ua, const sipkit_msg *m, const char *buf, size_t len,
                           const struct sockaddr *src, sipkit_dlg *g, const sipkit_txn_key *k) {
  sipkit_srv *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  if (sipkit__timer_register(ua->rt, &s->rel_timer) != SIPKIT_EOK) {
    free(s);
    return NULL;
  }
  if (sipkit__stored_copy(&s->req, m, buf, len) != SIPKIT_EOK) {
    sipkit__timer_drop(ua->rt, &s->rel_timer);
    free(s);
    return NULL;
  }
  sipkit__txn *x = txn_new(ua, m->method == SIPKIT_METHOD_INVITE ? SIPKIT_TXN_INVITE_SERVER
                                                                 : SIPKIT_TXN_NON_INVITE_SERVER,
                           k);
  if (!x) {
    sipkit__timer_drop(ua->rt, &s->rel_timer);
    sipkit__stored_free(&s->req);
    free(s);
    return NULL;
  }
  s->ua = ua;
  memcpy(&s->src, src, sipkit__addr_len(src));
  struct sockaddr_storage dest;
  sipkit__response_dest(m, buf, src, &dest, s->via_extra, sizeof s->via_extra);
  sipkit__addr_keep(&s->dest, &dest);
  if (!(m->to && m->to->tag.len) && sipkit_gen_tag(s->to_tag, sizeof s->to_tag) < 0)
    s->to_tag[0] = 0;
  s->peer_100rel = (uint8_t)(header_has_token(m, buf, SIPKIT_HDR_SUPPORTED, "100rel") ||
                             header_has_token(m, buf, SIPKIT_HDR_REQUIRE, "100rel"));
  s->dlg = dlg_ref(g);
  sipkit__list_add(&ua->srvs, &s->link);
  x->srv = s;
  s->txn = x;
  memcpy(&x->live->peer, &s->dest, sizeof x->live->peer);
  txn_insert(x);
  sipkit_txn_actions acts;
  sipkit_txn_start(&x->live->t, NULL, 0, sipkit__now(ua->rt), &acts);
  txn_run(x, &acts, NULL, NULL, 0);
  return s;
}

static void send_100(sipkit_srv *s) {
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  sipkit_str tag = {NULL, 0};
  sipkit_build_response(&b, &s->req.msg, s->req.buf, 100, NULL, 0, tag);
  sipkit__patch_via(&b, s->via_extra);
  if (sipkit_builder_finish(&b, NULL, 0, NULL) == SIPKIT_EOK)
    sipkit__send(s->ua, (struct sockaddr *)&s->dest, b.buf, b.len, 0);
  sipkit_builder_free(&b);
}

static void rel_fired(sipkit__tnode *n) {
  sipkit_srv *s = SIPKIT__CONTAINER(n, sipkit_srv, rel_timer);
  sipkit_ua *ua = s->ua;
  uint64_t now = sipkit__now(ua->rt);
  if (s->final_sent && !s->fwd && !s->rseq) { /* set by srv_done */
    srv_release(s);
    return;
  }
  if (!s->rel_pending || s->final_sent || ua->closing)
    return;
  if (now >= s->rel_giveup) {
    /* RFC 3262 §3: no PRACK within 64*T1: "the UAS SHOULD reject the
     * original request with a 5xx response". */
    s->rel_pending = 0;
    sipkit_resp_opts o;
    memset(&o, 0, sizeof o);
    o.reason = "No PRACK";
    ua->rt->st.auto_replies++;
    if (sipkit_srv_respond(s, 500, &o, NULL) == SIPKIT_EOK && !ua->closing &&
        ua->h.on_srv_timeout)
      ua->h.on_srv_timeout(ua->data, ua, s, 500);
    return;
  }
  sipkit__send(ua, (struct sockaddr *)&s->dest, s->rel_bytes, s->rel_len, 1);
  s->rel_interval *= 2;
  /* the last wait ends at the give-up time, not an interval after it */
  uint64_t left = s->rel_giveup - now;
  sipkit__timer_arm(ua->rt, &s->rel_timer, now + (s->rel_interval < left ? s->rel_interval : left),
                    rel_fired);
}

static void rtx_fired(sipkit__tnode *n) {
  sipkit__rtx *r = SIPKIT__CONTAINER(n, sipkit__rtx, timer);
  sipkit_dlg *g = r->g;
  sipkit_ua *ua = g->ua;
  uint64_t now = sipkit__now(ua->rt), next = 0;
  int v = sipkit_dialog_on_timer(&g->d, now, &next);
  if (v == SIPKIT_DIALOG_RESEND_2XX) {
    sipkit__send(ua, (struct sockaddr *)&r->peer, r->bytes, r->len, 1);
  } else if (v == SIPKIT_DIALOG_NO_ACK) {
    /* §13.3.1.4: confirmed for the session layer, then ended with BYE */
    send_bye(g);
    dlg_end(g, SIPKIT_DLG_END_NO_ACK);
    return;
  }
  if (next)
    sipkit__timer_arm(ua->rt, &r->timer, next, rtx_fired);
}

static int creates_dialog(int method) {
  return method == SIPKIT_METHOD_INVITE || method == SIPKIT_METHOD_SUBSCRIBE ||
         method == SIPKIT_METHOD_REFER;
}

/* Answered: the srv ends (sipkit_rt.h) while its transaction waits up to
 * 32 s for retransmissions, which its key alone matches.  It is released
 * on the next loop turn, so the caller may still read it until it
 * returns to the loop.  A forwarded srv belongs to the proxy, and one
 * that sent reliable provisionals still matches PRACKs: those stay with
 * their transaction. */
static void srv_done(sipkit_srv *s) {
  if (!s->fwd && !s->rseq && !s->ua->closing)
    sipkit__timer_arm(s->ua->rt, &s->rel_timer, 0, rel_fired);
}

int sipkit_srv_respond(sipkit_srv *s, int status, const sipkit_resp_opts *o, sipkit_error *err) {
  if (!s || s->final_sent || !s->txn || status < 100 || status > 699 ||
      (o && o->body_len && !o->body))
    return SIPKIT_EARGUMENT;
  sipkit_ua *ua = s->ua;
  if (ua->closing || s->fwd)
    return SIPKIT_ESTATE;
  const sipkit_msg *q = &s->req.msg;
  const char *qb = s->req.buf;
  int method = q->method;
  int in_dialog = q->to && q->to->tag.len;
  int creates = !in_dialog && status > 100 && status < 300 && creates_dialog(method);
  int reliable = o && o->reliable && method == SIPKIT_METHOD_INVITE && status > 100 &&
                 status < 200 && s->peer_100rel;
  const char *reason = o ? o->reason : NULL;
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  sipkit_str tag = {s->to_tag, strlen(s->to_tag)};
  sipkit_build_response(&b, q, qb, status, reason, reason ? strlen(reason) : 0, tag);
  sipkit__patch_via(&b, s->via_extra);
  if (creates || ((method == SIPKIT_METHOD_INVITE || method == SIPKIT_METHOD_UPDATE) &&
                  status > 100 && status < 300))
    add_contact(&b, ua);
  char rseq[24];
  if (reliable) {
    snprintf(rseq, sizeof rseq, "%u", s->rseq + 1);
    sipkit_builder_header(&b, SIPKIT_HDR_REQUIRE, "100rel", 6);
    sipkit_builder_header(&b, SIPKIT_HDR_RSEQ, rseq, strlen(rseq));
  }
  sipkit_builder_header(&b, SIPKIT_HDR_SERVER, ua->rt->user_agent, strlen(ua->rt->user_agent));
  int rc = b.code ? b.code : sipkit__add_lines(&b, o ? o->headers : NULL, o ? o->header_count : 0);
  if (rc == SIPKIT_EOK && o && o->content_type)
    rc = sipkit_builder_header(&b, SIPKIT_HDR_CONTENT_TYPE, o->content_type,
                               strlen(o->content_type));
  if (rc == SIPKIT_EOK)
    rc = sipkit_builder_finish(&b, o ? o->body : NULL, o ? o->body_len : 0, NULL);
  if (rc != SIPKIT_EOK) {
    if (err)
      *err = b.err;
    sipkit_builder_free(&b);
    return rc;
  }
  uint64_t now = sipkit__now(ua->rt);
  sipkit__txn *x = s->txn;
  sipkit_txn_actions acts;
  b.buf = fit(b.buf, b.len); /* kept by the transaction: before it takes the pointer */
  b.cap = b.len;
  rc = sipkit_txn_respond(&x->live->t, status, b.buf, b.len, now, &acts);
  if (rc != SIPKIT_EOK) {
    sipkit_builder_free(&b);
    return rc;
  }
  free(x->live->bytes);
  x->live->bytes = b.buf; /* the transaction resends these bytes */
  x->live->len = b.len;
  if (creates && !s->dlg) {
    sipkit_dialog d;
    if (sipkit_dialog_uas_create(&d, q, qb, status, tag) == SIPKIT_EOK)
      s->dlg = dlg_ref(dlg_new(ua, &d));
    if (s->dlg)
      s->dlg->method = method;
  }
  sipkit_dlg *g = s->dlg;
  if (creates && g && status >= 200 && g->d.state == SIPKIT_DIALOG_EARLY)
    g->d.state = SIPKIT_DIALOG_CONFIRMED;
  if (reliable) {
    s->rseq++;
    free(s->rel_bytes);
    s->rel_bytes = malloc(b.len);
    if (s->rel_bytes) {
      memcpy(s->rel_bytes, b.buf, b.len);
      s->rel_len = b.len;
      s->rel_pending = 1;
      s->rel_interval = ua->rt->cfg.txn.t1;
      s->rel_giveup = now + 64u * (uint64_t)ua->rt->cfg.txn.t1;
      sipkit__timer_arm(ua->rt, &s->rel_timer, now + s->rel_interval, rel_fired);
    }
  }
  if (status >= 200) {
    s->final_sent = 1;
    s->rel_pending = 0;
    sipkit__timer_stop(ua->rt, &s->rel_timer);
    if (method == SIPKIT_METHOD_INVITE && g && !g->ended) {
      if (status < 300) {
        sipkit_dialog_uas_2xx_sent(&g->d, now, ua->rt->cfg.txn.t1, ua->rt->cfg.txn.t2);
        rtx_free(ua->rt, g);
        sipkit__rtx *r = malloc(sizeof *r + b.len);
        if (r && sipkit__timer_register(ua->rt, &r->timer) != SIPKIT_EOK) {
          free(r);
          r = NULL;
        }
        if (r) { /* else as if every retransmission were lost */
          r->g = g;
          memcpy(r->bytes, b.buf, b.len);
          r->len = b.len;
          memcpy(&r->peer, &s->dest, sizeof r->peer);
          g->rtx = r;
          sipkit__timer_arm(ua->rt, &r->timer, g->d.rtx_next, rtx_fired);
        }
      } else if (in_dialog) {
        sipkit_dialog_invite_answered(&g->d);
      }
    }
  }
  txn_run(x, &acts, NULL, NULL, 0);
  if (status >= 300 && method == SIPKIT_METHOD_INVITE && !in_dialog && g && !ua->closing)
    dlg_end(g, SIPKIT_DLG_END_EARLY_ENDED);
  if (status >= 200 && status < 300 && method == SIPKIT_METHOD_NOTIFY && g && !g->ended &&
      !ua->closing && subscription_only(g) && subscription_terminated(q, qb))
    dlg_end(g, SIPKIT_DLG_END_SUBSCRIPTION_TERMINATED);
  /* Once answered, the request copy is only read to match a PRACK of a
   * reliable provisional (RSeq, CSeq): the transaction matches
   * retransmissions and ACKs by its key, and a 2xx is resent by the
   * dialog, so an INVITE waiting 32 s for stray ACKs (RFC 6026) need
   * not keep it. */
  if (status >= 200 && !s->rseq)
    sipkit__stored_free(&s->req);
  txn_done_sending(x); /* a 2xx was sent; the dialog resends its own copy */
  if (status >= 200)
    srv_done(s);
  return SIPKIT_EOK;
}

int sipkit__srv_relay(sipkit_srv *s, int status, char *bytes, size_t len) {
  sipkit__txn *x = s->txn;
  if (!x || !x->live || s->ua->closing) {
    free(bytes);
    return SIPKIT_ESTATE;
  }
  sipkit_txn_actions acts;
  int rc = sipkit_txn_respond(&x->live->t, status, bytes, len, sipkit__now(s->ua->rt), &acts);
  if (rc != SIPKIT_EOK) {
    free(bytes);
    return rc;
  }
  free(x->live->bytes);
  x->live->bytes = bytes; /* the transaction resends these bytes */
  x->live->len = len;
  if (status >= 200)
    s->final_sent = 1;
  txn_run(x, &acts, NULL, NULL, 0);
  return SIPKIT_EOK;
}

int sipkit_srv_routed(const sipkit_srv *s) { return s ? s->routed : 0; }

sipkit_dlg *sipkit_srv_dialog(sipkit_srv *s) { return s && s->dlg && !s->dlg->ended ? s->dlg : NULL; }
void sipkit_srv_set_data(sipkit_srv *s, void *data) {
  if (s)
    s->data = data;
}
void *sipkit_srv_data(sipkit_srv *s) { return s ? s->data : NULL; }

/* 0 when the ACK is in none of our dialogs. */
static int ack_to_dialog(sipkit_ua *ua, const sipkit_msg *m, const char *buf) {
  sipkit_dlg *g;
  if (dlg_find(ua, m, buf, &g) != SIPKIT_DIALOG_ACCEPT)
    return 0;
  if (sipkit_dialog_on_request(&g->d, m, buf) != SIPKIT_DIALOG_ACCEPT)
    return 1;
  if (!g->d.rtx_active) /* §13.3.1.4: acknowledged, the 2xx is not sent again */
    rtx_free(ua->rt, g);
  /* The peer ACKs each 2xx retransmission: report one ACK per INVITE. */
  if (g->acked && g->acked_cseq == m->cseq->num)
    return 1;
  g->acked = 1;
  g->acked_cseq = m->cseq->num;
  if (ua->h.on_ack)
    ua->h.on_ack(ua->data, ua, g, m, buf, m->size);
  return 1;
}

/* RFC 3262 §3: a PRACK whose RAck names a reliable provisional we are
 * retransmitting stops it. */
static int prack_match(sipkit_ua *ua, sipkit_dlg *g, const sipkit_msg *m, const char *buf) {
  const sipkit_header *h = sipkit_msg_header(m, SIPKIT_HDR_RACK);
  if (!h)
    return 0;
  const char *rest;
  uint32_t rseq = span_uint(buf, h->value, &rest);
  sipkit_span tail = {(uint32_t)(rest - buf), (uint32_t)(h->value.off + h->value.len - (uint32_t)(rest - buf))};
  uint32_t cseq = span_uint(buf, tail, NULL);
  for (sipkit__link *l = ua->srvs.next; l != &ua->srvs; l = l->next) {
    sipkit_srv *s = SIPKIT__CONTAINER(l, sipkit_srv, link);
    if (s->dlg == g && s->rseq == rseq && s->req.msg.cseq && s->req.msg.cseq->num == cseq &&
        s->req.msg.method == SIPKIT_METHOD_INVITE) {
      s->rel_pending = 0;
      sipkit__timer_stop(ua->rt, &s->rel_timer);
      return 1;
    }
  }
  return 0;
}

static void core_answer(sipkit_srv *s, int prack_ok) {
  sipkit_ua *ua = s->ua;
  int method = s->req.msg.method;
  sipkit_resp_opts o;
  memset(&o, 0, sizeof o);
  if (s->routed) { /* proxy mode: the embedder left it to us */
    sipkit_fwd_opts fo;
    memset(&fo, 0, sizeof fo);
    if (sipkit_srv_forward(s, &fo, NULL) == SIPKIT_EOK || s->final_sent || ua->closing)
      return;
    o.reason = "Cannot Forward";
    ua->rt->st.auto_replies++;
    sipkit_srv_respond(s, 500, &o, NULL);
    return;
  }
  ua->rt->st.auto_replies++;
  if (method == SIPKIT_METHOD_OPTIONS) {
    char allow[512], accept[512], sup[256];
    snprintf(allow, sizeof allow, "Allow: %s", ua->allow);
    snprintf(accept, sizeof accept, "Accept: %s", ua->accept);
    snprintf(sup, sizeof sup, "Supported: %s", ua->supported);
    const char *lines[3] = {allow, accept, sup};
    o.headers = lines;
    o.header_count = *ua->supported ? 3 : 2;
    sipkit_srv_respond(s, 200, &o, NULL);
  } else if (method == SIPKIT_METHOD_BYE || (method == SIPKIT_METHOD_NOTIFY && s->dlg)) {
    /* RFC 6665 §4.1.3: a subscriber answers a NOTIFY of its dialog 200 */
    sipkit_srv_respond(s, 200, NULL, NULL);
  } else if (method == SIPKIT_METHOD_PRACK) {
    sipkit_srv_respond(s, prack_ok ? 200 : 481, NULL, NULL);
  } else {
    sipkit_srv_respond(s, 501, NULL, NULL);
  }
}

static void handle_cancel(sipkit_ua *ua, const sipkit_msg *m, const char *buf, size_t len,
                          const struct sockaddr *src, const sipkit_txn_key *k) {
  sipkit__txn *inv = find_server_txn(ua, k, 1);
  if (!inv) {
    sipkit__auto_reply(ua, m, buf, src, 481, NULL, NULL, 0);
    return;
  }
  sipkit_srv *c = srv_new(ua, m, buf, len, src, NULL, k);
  if (c)
    sipkit_srv_respond(c, 200, NULL, NULL); /* §9.2 */
  sipkit_srv *s = inv->srv;
  if (!s || s->final_sent || ua->closing)
    return;
  if (s->fwd) { /* §16.10: the downstream answers 487, relayed by the proxy */
    sipkit__fwd_cancel(s, m, buf);
    return;
  }
  s->cancelled = 1;
  sipkit_srv_respond(s, 487, NULL, NULL);
  if (ua->h.on_cancel && !ua->closing)
    ua->h.on_cancel(ua->data, ua, s);
}

static int span_eq(const char *a, sipkit_span as, const char *b, sipkit_span bs) {
  return as.len == bs.len && !memcmp(SIPKIT_SPAN_PTR(a, as), SIPKIT_SPAN_PTR(b, bs), as.len);
}

/* RFC 6665 §4.1.2.4: a NOTIFY may overtake the 2xx to the SUBSCRIBE (or
 * REFER, RFC 3515 §2.4.4) that it answers: our pending request with its
 * Call-ID whose From tag is the NOTIFY's To tag. */
static sipkit_req *notify_pending_req(sipkit_ua *ua, const sipkit_msg *m, const char *buf) {
  for (sipkit__link *l = ua->reqs.next; l != &ua->reqs; l = l->next) {
    sipkit_req *r = SIPKIT__CONTAINER(l, sipkit_req, link);
    if ((r->method != SIPKIT_METHOD_SUBSCRIBE && r->method != SIPKIT_METHOD_REFER) || r->dlg ||
        r->done || !r->txn)
      continue;
    const sipkit_msg *q = &r->txn->live->sent.msg;
    const char *qb = r->txn->live->sent.buf;
    if (q->from && span_eq(qb, q->call_id, buf, m->call_id) &&
        span_eq(qb, q->from->tag, buf, m->to->tag))
      return r;
  }
  return NULL;
}

/* The dialog as the NOTIFY makes it (RFC 6665 §4.1.2.4): like a UAS
 * dialog from that request (remote tag and target from it, its
 * Record-Route in order), our tag being its To tag; our CSeq goes on
 * from the SUBSCRIBE's. */
static sipkit_dlg *notify_dialog(sipkit_ua *ua, sipkit_req *r, const sipkit_msg *m,
                                 const char *buf) {
  /* sipkit_dialog_uas_create refuses a request with a To tag (it mints
   * the tag): give it a view of the NOTIFY without one. */
  sipkit_msg view = *m;
  sipkit_addr to = *m->to;
  to.tag.len = 0;
  view.to = &to;
  sipkit_str tag = {SIPKIT_SPAN_PTR(buf, m->to->tag), m->to->tag.len};
  sipkit_dialog d;
  if (sipkit_dialog_uas_create(&d, &view, buf, 200, tag) != SIPKIT_EOK)
    return NULL;
  d.local_cseq = r->txn->live->sent.msg.cseq ? r->txn->live->sent.msg.cseq->num : 1;
  sipkit_dlg *g = dlg_new(ua, &d);
  if (g)
    g->method = r->method;
  return g;
}

static void handle_request(sipkit_ua *ua, const sipkit_msg *m, const char *buf, size_t len,
                           const struct sockaddr *src) {
  sipkit_rt *rt = ua->rt;
  sipkit_txn_key k;
  if (sipkit_txn_key_make(&k, m, buf) != SIPKIT_EOK) {
    if (m->method != SIPKIT_METHOD_ACK)
      sipkit__auto_reply(ua, m, buf, src, 400, "Bad Via", NULL, 0);
    return;
  }
  sipkit__txn *x = find_server_txn(ua, &k, 0);
  sipkit_txn_actions acts;
  if (m->method == SIPKIT_METHOD_ACK) {
    if (x && !x->live) { /* Accepted (RFC 6026): ACK / to TU */
      (void)ack_to_dialog(ua, m, buf);
    } else if (x) {
      sipkit_txn_on_request(&x->live->t, m->method, sipkit__now(rt), &acts);
      txn_run(x, &acts, m, buf, 0);
    } else if (!ack_to_dialog(ua, m, buf) && ua->proxy && sipkit__proxy_routed(ua, m, buf)) {
      sipkit__proxy_ack(ua, m, buf, src);
    }
    return;
  }
  if (x) { /* a retransmission: the transaction answers it (absorbed in Accepted) */
    if (x->live) {
      sipkit_txn_on_request(&x->live->t, m->method, sipkit__now(rt), &acts);
      txn_run(x, &acts, m, buf, 0);
    }
    return;
  }
  if (m->method == SIPKIT_METHOD_CANCEL) {
    handle_cancel(ua, m, buf, len, src, &k);
    return;
  }
  char line[640];
  const char *lines[1] = {line};
  if (rt->st.transactions >= rt->cfg.max_transactions) {
    snprintf(line, sizeof line, "Retry-After: %u", rt->cfg.retry_after);
    sipkit__auto_reply(ua, m, buf, src, 503, NULL, lines, 1);
    return;
  }
  if (m->first[SIPKIT_HDR_MAX_FORWARDS] && m->max_forwards == 0) {
    sipkit__auto_reply(ua, m, buf, src, 483, NULL, NULL, 0);
    return;
  }
  /* proxy mode: requests of dialogs between others, routed through us */
  int routable = ua->proxy && m->to && m->to->tag.len && sipkit__proxy_routed(ua, m, buf);
  int routed = 0;
  if (!routable && !sipkit__method_allowed(ua, m, buf)) {
    snprintf(line, sizeof line, "Allow: %s", ua->allow);
    sipkit__auto_reply(ua, m, buf, src, m->method == SIPKIT_METHOD_OTHER ? 501 : 405, NULL, lines,
                       1);
    return;
  }
  sipkit_dlg *g = NULL;
  sipkit_req *subscriber = NULL;
  if (m->to && m->to->tag.len) {
    if (dlg_find(ua, m, buf, &g) != SIPKIT_DIALOG_ACCEPT) {
      g = NULL;
      subscriber = m->method == SIPKIT_METHOD_NOTIFY ? notify_pending_req(ua, m, buf) : NULL;
      routed = !subscriber && routable;
      if (!subscriber && !routed) {
        sipkit__auto_reply(ua, m, buf, src, 481, NULL, NULL, 0);
        return;
      }
    }
  } else if (creates_dialog(m->method) && rt->st.dialogs >= rt->cfg.max_dialogs) {
    snprintf(line, sizeof line, "Retry-After: %u", rt->cfg.retry_after);
    sipkit__auto_reply(ua, m, buf, src, 503, NULL, lines, 1);
    return;
  }
  char unsup[512];
  if (!ua->proxy && sipkit__check_require(ua, m, buf, unsup, sizeof unsup)) {
    snprintf(line, sizeof line, "Unsupported: %s", unsup);
    sipkit__auto_reply(ua, m, buf, src, 420, NULL, lines, 1);
    return;
  }
  if (!ua->proxy && sipkit__check_content_type(ua, m, buf)) {
    snprintf(line, sizeof line, "Accept: %s", ua->accept);
    sipkit__auto_reply(ua, m, buf, src, 415, NULL, lines, 1);
    return;
  }
  int ended = 0;
  if (subscriber) {
    g = notify_dialog(ua, subscriber, m, buf);
    if (!g) {
      sipkit__auto_reply(ua, m, buf, src, 500, NULL, NULL, 0);
      return;
    }
  } else if (g) {
    int v = sipkit_dialog_on_request(&g->d, m, buf);
    if (v == SIPKIT_DIALOG_REJECT_500 || v == SIPKIT_DIALOG_REJECT_491) {
      sipkit__auto_reply(ua, m, buf, src, v, NULL, NULL, 0);
      return;
    }
    if (v == SIPKIT_DIALOG_DROP)
      return;
    ended = v == SIPKIT_DIALOG_ENDED;
  }
  sipkit_srv *s = srv_new(ua, m, buf, len, src, g, &k);
  if (!s)
    return;
  s->routed = (uint8_t)routed;
  int prack_ok = m->method == SIPKIT_METHOD_PRACK && g && prack_match(ua, g, m, buf);
  int taken = ua->h.on_request ? ua->h.on_request(ua->data, ua, s, g, m, buf, len) : 0;
  if (ua->closing)
    return;
  s->taken = (uint8_t)(taken != 0);
  if (!taken && !s->final_sent)
    core_answer(s, prack_ok);
  if (ended && !ua->closing)
    dlg_end(g, SIPKIT_DLG_END_BYE_RECEIVED);
}

void sipkit__ua_datagram(sipkit_ua *ua, const char *buf, size_t len, const struct sockaddr *src) {
  sipkit_msg m;
  sipkit_error err;
  if (ua->closing)
    return;
  /* CRLF keep-alives (RFC 5626 §4.4.1) are not messages */
  size_t i = 0;
  while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
    i++;
  if (i == len)
    return;
  sipkit_msg_init(&m, ua->hdrs, SIPKIT_MAX_HEADERS);
  if (sipkit_parse(&m, buf, len, 0, &err) != SIPKIT_EOK) {
    ua->rt->st.malformed++;
    sipkit__auto_malformed(ua, buf, len, src, &err);
    return;
  }
  if (m.status)
    handle_response(ua, &m, buf);
  else
    handle_request(ua, &m, buf, len, src);
}

/* ------------------------------------------------------------------ */
/* User agents                                                         */

void sipkit__ua_free_cb(uv_handle_t *h) {
  sipkit_ua *ua = h->data;
  free(ua->ctab.b);
  free(ua->stab.b);
  free(ua->user);
  free(ua->domain);
  free(ua->display);
  free(ua->password);
  free(ua->allow);
  free(ua->supported);
  free(ua->accept);
  free(ua->rbuf);
  free(ua);
}

int sipkit_ua_open(sipkit_rt *rt, const sipkit_ua_config *cfg, const sipkit_ua_handlers *h,
                   void *data, sipkit_ua **out, int *sys_err) {
  if (out)
    *out = NULL;
  if (sys_err)
    *sys_err = 0;
  if (!rt || !cfg || !cfg->bind || !out)
    return SIPKIT_EARGUMENT;
  sipkit_ua *ua = calloc(1, sizeof *ua);
  if (!ua)
    return SIPKIT_ENO_MEMORY;
  ua->rt = rt;
  if (h)
    ua->h = *h;
  ua->data = data;
  sipkit__list_init(&ua->txns);
  sipkit__list_init(&ua->reqs);
  sipkit__list_init(&ua->srvs);
  sipkit__list_init(&ua->delayed);
  for (unsigned i = 0; i < SIPKIT__DLG_BUCKETS; i++)
    sipkit__list_init(&ua->dbuckets[i]);
  int rc = sipkit__udp_open(ua, cfg->bind, cfg->reuseport, sys_err);
  if (rc != SIPKIT_EOK) {
    if (ua->closing != 2) {
      free(ua->rbuf);
      free(ua);
    }
    return rc;
  }
  char ip[INET6_ADDRSTRLEN + 2];
  sipkit__addr_format((struct sockaddr *)&ua->local, ua->addr, sizeof ua->addr, 1);
  sipkit__addr_format((struct sockaddr *)&ua->local, ip, sizeof ip, 0);
  ua->port = ntohs(((struct sockaddr_in *)&ua->local)->sin_port); /* same offset in sockaddr_in6 */
  int v6 = ua->local.ss_family == AF_INET6;
  int any = !strcmp(ip, "0.0.0.0") || !strcmp(ip, "::");
  /* A wildcard bind has no address to put in Via / Contact: the domain,
   * else loopback (documented). */
  if (any)
    snprintf(ua->host, sizeof ua->host, "%s",
             cfg->domain ? cfg->domain : (v6 ? "[::1]" : "127.0.0.1"));
  else
    snprintf(ua->host, sizeof ua->host, v6 ? "[%s]" : "%s", ip);
  sipkit__str_out sb = sipkit__str_start(ua->sent_by, sizeof ua->sent_by);
  sipkit__str_mem(&sb, "SIP/2.0/UDP ", 12);
  sipkit__str_cat(&sb, ua->host);
  sipkit__str_mem(&sb, ":", 1);
  sipkit__str_uint(&sb, (unsigned long)ua->port);
  ua->sent_by_len = sb.len;
  ua->user = xstrdup(cfg->user ? cfg->user : "sipkit");
  ua->domain = xstrdup(cfg->domain ? cfg->domain : ua->host);
  ua->display = xstrdup(cfg->display);
  ua->password = xstrdup(cfg->password);
  ua->allow = xstrdup(cfg->allow ? cfg->allow : DEFAULT_ALLOW);
  ua->supported = xstrdup(cfg->supported ? cfg->supported : "100rel");
  ua->accept = xstrdup(cfg->accept ? cfg->accept : DEFAULT_ACCEPT);
  ua->proxy = cfg->proxy != 0;
  sipkit__list_add(&rt->uas, &ua->link);
  *out = ua;
  if (!ua->user || !ua->domain || !ua->allow || !ua->supported || !ua->accept ||
      (cfg->display && !ua->display) || (cfg->password && !ua->password)) {
    sipkit_ua_close(ua);
    *out = NULL;
    return SIPKIT_ENO_MEMORY;
  }
  return SIPKIT_EOK;
}

/* Dialogs report CLOSED so the embedder can release what it attached;
 * requests and server transactions end silently. */
static void ua_drop_all(sipkit_ua *ua) {
  for (unsigned i = 0; i < SIPKIT__DLG_BUCKETS; i++)
    while (!sipkit__list_empty(&ua->dbuckets[i]))
      dlg_end(SIPKIT__CONTAINER(ua->dbuckets[i].next, sipkit_dlg, link), SIPKIT_DLG_END_CLOSED);
  while (!sipkit__list_empty(&ua->txns))
    txn_destroy(SIPKIT__CONTAINER(ua->txns.next, sipkit__txn, link));
  while (!sipkit__list_empty(&ua->reqs))
    req_free(SIPKIT__CONTAINER(ua->reqs.next, sipkit_req, link));
  sipkit__udp_close(ua);
}

void sipkit__ua_reset(sipkit_ua *ua) {
  if (ua && !ua->closing)
    ua_drop_all(ua);
}

/* The UA a node of the heap belongs to (NULL: the runtime's or an
 * embedder's timer), told by its fire function. */
static sipkit_ua *node_ua(sipkit__tnode *n) {
  if (n->fire == txn_fired)
    return SIPKIT__CONTAINER(n, sipkit__txn, timer)->ua;
  if (n->fire == rtx_fired)
    return SIPKIT__CONTAINER(n, sipkit__rtx, timer)->g->ua;
  if (n->fire == rel_fired)
    return SIPKIT__CONTAINER(n, sipkit_srv, rel_timer)->ua;
  return NULL;
}

unsigned sipkit__ua_fire_timers(sipkit_ua *ua, unsigned max) {
  unsigned n = 0;
  while (ua && !ua->closing && n < max) {
    sipkit_rt *rt = ua->rt;
    sipkit__tnode *first = NULL;
    for (uint32_t i = 0; i < rt->heap_len; i++) {
      sipkit__tnode *t = rt->heap[i];
      if (node_ua(t) == ua && (!first || sipkit__timer_before(t, first)))
        first = t;
    }
    for (unsigned l = 0; l < SIPKIT__LANES; l++) /* a lane's others wait off the heap */
      for (sipkit__tnode *t = rt->lanes[l].first; t; t = t->lnext)
        if (node_ua(t) == ua && (!first || sipkit__timer_before(t, first)))
          first = t;
    if (!first)
      break;
    uint64_t now = sipkit__now(rt);
    if (first->due > now)
      rt->skew += first->due - now;
    sipkit__timer_stop(rt, first);
    first->fire(first);
    n++;
  }
  return n;
}

void sipkit__ua_reap(sipkit_rt *rt) {
  while (!sipkit__list_empty(&rt->srv_graves)) {
    sipkit__link *l = rt->srv_graves.next;
    sipkit__list_del(l);
    srv_free(rt, SIPKIT__CONTAINER(l, sipkit_srv, link));
  }
  while (!sipkit__list_empty(&rt->txn_graves)) {
    sipkit__link *l = rt->txn_graves.next;
    sipkit__list_del(l);
    txn_free(rt, SIPKIT__CONTAINER(l, sipkit__txn, link));
  }
  while (!sipkit__list_empty(&rt->dlg_graves)) {
    sipkit__link *l = rt->dlg_graves.next;
    sipkit__list_del(l);
    dlg_free(rt, SIPKIT__CONTAINER(l, sipkit_dlg, link));
  }
}

void sipkit_ua_close(sipkit_ua *ua) {
  if (!ua || ua->closing)
    return;
  ua->closing = 1;
  sipkit__list_del(&ua->link);
  ua_drop_all(ua);
  uv_close((uv_handle_t *)&ua->udp, sipkit__ua_free_cb);
}

int sipkit_ua_allow_method(sipkit_ua *ua, const char *method) {
  if (!ua || !method || !*method)
    return SIPKIT_EARGUMENT;
  size_t n = strlen(method);
  for (size_t i = 0; i < n; i++) /* token (§25.1), as the Method rule */
    if (!((method[i] >= 'A' && method[i] <= 'Z') || (method[i] >= 'a' && method[i] <= 'z') ||
          (method[i] >= '0' && method[i] <= '9') || strchr("-.!%*_+`'~", method[i])))
      return SIPKIT_EARGUMENT;
  /* Allow entries compare exactly (methods are case-sensitive, §7.1) */
  for (const char *p = ua->allow; (p = strstr(p, method)) != NULL; p += n)
    if ((p == ua->allow || p[-1] == ' ' || p[-1] == ',') && (p[n] == 0 || p[n] == ',' || p[n] == ' '))
      return SIPKIT_EOK;
  size_t have = strlen(ua->allow);
  char *a = realloc(ua->allow, have + n + 3);
  if (!a)
    return SIPKIT_ENO_MEMORY;
  snprintf(a + have, n + 3, "%s%s", have ? ", " : "", method);
  ua->allow = a;
  return SIPKIT_EOK;
}

int sipkit_ua_port(const sipkit_ua *ua) { return ua ? ua->port : 0; }
const char *sipkit_ua_addr(const sipkit_ua *ua) { return ua ? ua->addr : ""; }
sipkit_rt *sipkit_ua_rt(sipkit_ua *ua) { return ua ? ua->rt : NULL; }

/* ------------------------------------------------------------------ */
/* Dialog accessors                                                    */

int sipkit_dlg_state(const sipkit_dlg *g) { return g ? g->d.state : SIPKIT_DIALOG_NULL; }
/* The dialog's own copies are NUL-terminated (sipkit_dialog.h). */
static const char *dlg_str(const char *s) { return s ? s : ""; }
const char *sipkit_dlg_call_id(const sipkit_dlg *g) { return g ? dlg_str(g->d.call_id) : ""; }
const char *sipkit_dlg_local_tag(const sipkit_dlg *g) { return g ? dlg_str(g->d.local_tag) : ""; }
const char *sipkit_dlg_remote_tag(const sipkit_dlg *g) { return g ? dlg_str(g->d.remote_tag) : ""; }
const char *sipkit_dlg_remote_target(const sipkit_dlg *g) {
  return g ? dlg_str(g->d.remote_target) : "";
}
void sipkit_dlg_set_data(sipkit_dlg *g, void *data) {
  if (g)
    g->data = data;
}
void *sipkit_dlg_data(sipkit_dlg *g) { return g ? g->data : NULL; }
sipkit_ua *sipkit_dlg_ua(sipkit_dlg *g) { return g ? g->ua : NULL; }

void sipkit_dlg_close(sipkit_dlg *g) {
  if (g && !g->ended)
    dlg_end(g, SIPKIT_DLG_END_CLOSED);
}

int sipkit_dlg_notify_refer(sipkit_dlg *g, uint32_t refer_cseq, int frag_status,
                            const char *frag_reason, int final, sipkit_response_fn cb,
                            void *data, sipkit_req **out, sipkit_error *err) {
  if (out)
    *out = NULL;
  if (!g || frag_status < 100 || frag_status > 699)
    return SIPKIT_EARGUMENT;
  if (!frag_reason)
    frag_reason = sipkit_reason_phrase(frag_status);
  char event[48], body[160];
  /* RFC 3515 §2.4.6: id names the REFER (its CSeq) when a dialog carries
   * more than one; the caller leaves it out with 0 */
  if (refer_cseq)
    snprintf(event, sizeof event, "Event: refer;id=%u", refer_cseq);
  else
    snprintf(event, sizeof event, "Event: refer");
  int n = snprintf(body, sizeof body, "SIP/2.0 %d %s\r\n", frag_status, frag_reason);
  if (n < 0 || (size_t)n >= sizeof body)
    return SIPKIT_EARGUMENT;
  const char *lines[2] = {event, final ? "Subscription-State: terminated;reason=noresource"
                                       : "Subscription-State: active"};
  sipkit_req_opts o;
  memset(&o, 0, sizeof o);
  o.method = "NOTIFY";
  o.headers = lines;
  o.header_count = 2;
  o.content_type = "message/sipfrag;version=2.0";
  o.body = body;
  o.body_len = (size_t)n;
  return sipkit_dlg_request(g, &o, cb, data, out, err);
}
