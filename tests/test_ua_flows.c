/* test_ua_flows.c - the UA core beyond one plain call: forking (against a
 * fake forking peer on a plain socket, also after the INVITE is Accepted),
 * the INVITE server transaction in Accepted, the 2xx resent until the ACK
 * or the give-up, REFER with sipfrag NOTIFYs,
 * UPDATE, INFO, SUBSCRIBE/NOTIFY dialog ends, a NOTIFY that overtakes the
 * 2xx, the RFC 3262 PRACK give-up, transport errors, IPv6, SO_REUSEPORT,
 * socket buffers, max_dialogs on our own requests, and stepping from an
 * embedder's libuv loop.  Loopback only; counts and contents, no timing
 * assertions. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "rt_internal.h" /* sipkit__ua_fire_timers: timers without waiting */
#include "sipkit_dialog.h"
#include "sipkit_rt.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static void hval(const sipkit_msg *m, const char *buf, int id, char *out, size_t cap) {
  const sipkit_header *h = sipkit_msg_header(m, id);
  out[0] = 0;
  if (h) {
    size_t n = h->value.len < cap - 1 ? h->value.len : cap - 1;
    memcpy(out, buf + h->value.off, n);
    out[n] = 0;
  }
}

/* Every response to one request. */
typedef struct result {
  int statuses[8];
  int n, done, finals, twoxx, msg_null;
  char reason[64];
  char remote_tag[64];
  sipkit_dlg *dlg;
} result;

static void on_resp(void *data, sipkit_req *req, int status, sipkit_dlg *dlg,
                    const sipkit_msg *msg, const char *buf, size_t len) {
  (void)req, (void)len;
  result *r = data;
  if (r->n < 8)
    r->statuses[r->n++] = status;
  if (status < 200)
    return;
  r->finals++;
  r->done = 1;
  r->msg_null = msg == NULL;
  if (msg)
    snprintf(r->reason, sizeof r->reason, "%.*s", (int)msg->reason.len, buf + msg->reason.off);
  if (status < 300) {
    r->twoxx++;
    r->dlg = dlg;
    if (dlg)
      snprintf(r->remote_tag, sizeof r->remote_tag, "%s", sipkit_dlg_remote_tag(dlg));
  }
}

/* One UA's side: what it does and what it saw. */
typedef struct agent {
  sipkit_ua *ua;
  /* behaviour */
  int reliable_183;      /* INVITE: 183 reliable, never a final */
  int take_notify;       /* NOTIFY: answer 200 itself (else the core does) */
  /* observations */
  char log[16][256];     /* "METHOD|Event|Subscription-State|Content-Type|body" */
  int n_log;
  int invites, updates, infos, refers, acks, ends, last_end, srv_timeouts, srv_timeout_status;
  char ended_remote_tag[64];
  int request_when_ended; /* what sipkit_dlg_request said inside on_dialog_end */
  sipkit_dlg *dlg;       /* the last dialog a request came in / created */
  /* REFER notifier */
  uint32_t refer_cseq;
  sipkit_dlg *refer_dlg;
  int notify_step;
  result notify_res[2];
} agent;

static void on_notify_resp(void *data, sipkit_req *req, int status, sipkit_dlg *dlg,
                           const sipkit_msg *msg, const char *buf, size_t len) {
  agent *a = data;
  result *r = &a->notify_res[a->notify_step - 1];
  on_resp(r, req, status, dlg, msg, buf, len);
  if (status == 200 && a->notify_step == 1) {
    /* the referenced request succeeded: final NOTIFY, subscription over */
    a->notify_step = 2;
    assert_int_equal(sipkit_dlg_notify_refer(a->refer_dlg, a->refer_cseq, 200, NULL, 1,
                                             on_notify_resp, a, NULL, NULL),
                     SIPKIT_EOK);
  }
}

static int on_request(void *data, sipkit_ua *ua, sipkit_srv *srv, sipkit_dlg *dlg,
                      const sipkit_msg *msg, const char *buf, size_t len) {
  (void)ua, (void)len;
  agent *a = data;
  static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                            "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
  sipkit_resp_opts with_sdp = {.content_type = "application/sdp", .body = sdp,
                               .body_len = sizeof sdp - 1};
  if (a->n_log < 16) {
    char ev[64], ss[64], ct[64];
    hval(msg, buf, SIPKIT_HDR_EVENT, ev, sizeof ev);
    hval(msg, buf, SIPKIT_HDR_SUBSCRIPTION_STATE, ss, sizeof ss);
    hval(msg, buf, SIPKIT_HDR_CONTENT_TYPE, ct, sizeof ct);
    snprintf(a->log[a->n_log++], sizeof a->log[0], "%.*s|%s|%s|%s|%.*s",
             (int)msg->method_name.len, buf + msg->method_name.off, ev, ss, ct,
             (int)msg->body.len, buf + msg->body.off);
  }
  a->dlg = dlg;
  switch (msg->method) {
  case SIPKIT_METHOD_INVITE:
    a->invites++;
    if (a->reliable_183) {
      sipkit_resp_opts rel = {.reliable = 1};
      assert_int_equal(sipkit_srv_respond(srv, 183, &rel, NULL), SIPKIT_EOK);
      return 1;
    }
    assert_int_equal(sipkit_srv_respond(srv, 200, &with_sdp, NULL), SIPKIT_EOK);
    a->dlg = sipkit_srv_dialog(srv);
    return 1;
  case SIPKIT_METHOD_UPDATE:
    a->updates++;
    assert_non_null(dlg);
    assert_int_equal(sipkit_srv_respond(srv, 200, &with_sdp, NULL), SIPKIT_EOK);
    return 1;
  case SIPKIT_METHOD_INFO:
    a->infos++;
    assert_non_null(dlg);
    assert_int_equal(sipkit_srv_respond(srv, 200, NULL, NULL), SIPKIT_EOK);
    return 1;
  case SIPKIT_METHOD_SUBSCRIBE: {
    const char *lines[1] = {"Expires: 60"};
    sipkit_resp_opts o = {.headers = lines, .header_count = 1};
    assert_int_equal(sipkit_srv_respond(srv, 200, &o, NULL), SIPKIT_EOK);
    a->dlg = sipkit_srv_dialog(srv);
    return 1;
  }
  case SIPKIT_METHOD_REFER:
    a->refers++;
    assert_int_equal(sipkit_srv_respond(srv, 202, NULL, NULL), SIPKIT_EOK);
    /* RFC 3515 §2.4.4: in the dialog the REFER came in, else the one
     * the 202 created */
    a->refer_dlg = dlg ? dlg : sipkit_srv_dialog(srv);
    assert_non_null(a->refer_dlg);
    a->refer_cseq = msg->cseq->num;
    a->notify_step = 1;
    assert_int_equal(sipkit_dlg_notify_refer(a->refer_dlg, a->refer_cseq, 100, NULL, 0,
                                             on_notify_resp, a, NULL, NULL),
                     SIPKIT_EOK);
    return 1;
  case SIPKIT_METHOD_NOTIFY:
    assert_non_null(dlg);
    if (!a->take_notify)
      return 0;
    assert_int_equal(sipkit_srv_respond(srv, 200, NULL, NULL), SIPKIT_EOK);
    return 1;
  default:
    return 0;
  }
}

static void on_ack(void *data, sipkit_ua *ua, sipkit_dlg *dlg, const sipkit_msg *msg,
                   const char *buf, size_t len) {
  (void)ua, (void)dlg, (void)msg, (void)buf, (void)len;
  ((agent *)data)->acks++;
}

static void on_end(void *data, sipkit_ua *ua, sipkit_dlg *dlg, int why) {
  (void)ua;
  agent *a = data;
  a->ends++;
  a->last_end = why;
  snprintf(a->ended_remote_tag, sizeof a->ended_remote_tag, "%s", sipkit_dlg_remote_tag(dlg));
  /* the handle is valid only until on_dialog_end returns: ask here */
  a->request_when_ended = sipkit_dlg_request(dlg, &(sipkit_req_opts){.method = "INFO"}, NULL,
                                             NULL, NULL, NULL);
  if (a->dlg == dlg)
    a->dlg = NULL;
}

static void on_srv_timeout(void *data, sipkit_ua *ua, sipkit_srv *srv, int status) {
  (void)ua, (void)srv;
  agent *a = data;
  a->srv_timeouts++;
  a->srv_timeout_status = status;
}

static const sipkit_ua_handlers handlers = {.on_request = on_request, .on_ack = on_ack,
                                            .on_dialog_end = on_end,
                                            .on_srv_timeout = on_srv_timeout};

typedef struct env {
  sipkit_rt *rt;
  int timed_out;
} env;

static void deadline(void *data) {
  env *e = data;
  e->timed_out = 1;
  sipkit_rt_stop(e->rt);
}

static void run_until(env *e, const int *flag, uint64_t ms) {
  sipkit_timer *t = sipkit_rt_timer(e->rt, ms, deadline, e);
  while (!*flag && !e->timed_out)
    sipkit_rt_run(e->rt, SIPKIT_RT_RUN_ONCE);
  if (!e->timed_out)
    sipkit_timer_cancel(t);
  assert_false(e->timed_out);
}

/* A runtime with the default config (T1 500 ms) and the UA of user on a
 * free loopback port. */
static void open_agent(env *e, agent *a, const char *user, const sipkit_rt_config *cfg) {
  assert_int_equal(sipkit_rt_new(&e->rt, NULL, cfg), SIPKIT_EOK);
  memset(a, 0, sizeof *a);
  sipkit_ua_config uc = {.bind = "127.0.0.1:0", .user = user};
  assert_int_equal(sipkit_ua_open(e->rt, &uc, &handlers, a, &a->ua, NULL), SIPKIT_EOK);
}

static void open_alice(env *e, agent *alice) { open_agent(e, alice, "alice", NULL); }

/* Two UAs (alice calls bob) in one runtime. */
typedef struct pair {
  env e;
  agent alice, bob;
  char bob_uri[96];
} pair;

static void pair_open(pair *p, const sipkit_rt_config *cfg, const char *bind) {
  memset(p, 0, sizeof *p);
  assert_int_equal(sipkit_rt_new(&p->e.rt, NULL, cfg), SIPKIT_EOK);
  sipkit_ua_config ub = {.bind = bind, .user = "bob"};
  sipkit_ua_config ua = {.bind = bind, .user = "alice"};
  assert_int_equal(sipkit_ua_open(p->e.rt, &ub, &handlers, &p->bob, &p->bob.ua, NULL), SIPKIT_EOK);
  assert_int_equal(sipkit_ua_open(p->e.rt, &ua, &handlers, &p->alice, &p->alice.ua, NULL),
                   SIPKIT_EOK);
  snprintf(p->bob_uri, sizeof p->bob_uri, "sip:bob@%s", sipkit_ua_addr(p->bob.ua));
}

/* alice INVITEs bob, bob answers 200: the dialog of alice. */
static sipkit_dlg *pair_call(pair *p) {
  result r;
  memset(&r, 0, sizeof r);
  sipkit_req_opts o = {.method = "INVITE", .uri = p->bob_uri};
  assert_int_equal(sipkit_ua_request(p->alice.ua, &o, on_resp, &r, NULL, NULL), SIPKIT_EOK);
  run_until(&p->e, &r.done, 5000);
  assert_int_equal(r.statuses[r.n - 1], 200);
  assert_non_null(r.dlg);
  assert_int_equal(sipkit_dlg_state(r.dlg), SIPKIT_DIALOG_CONFIRMED);
  return r.dlg;
}

static void dlg_req(pair *p, sipkit_dlg *g, const sipkit_req_opts *o, int want) {
  result r;
  memset(&r, 0, sizeof r);
  assert_int_equal(sipkit_dlg_request(g, o, on_resp, &r, NULL, NULL), SIPKIT_EOK);
  run_until(&p->e, &r.done, 5000);
  assert_int_equal(r.finals, 1);
  assert_int_equal(r.statuses[r.n - 1], want);
}

/* ------------------------------------------------------------------ */
/* A fake peer: a plain UDP socket                                     */

static int udp_socket(int *port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  socklen_t sl = sizeof sa;
  getsockname(fd, (struct sockaddr *)&sa, &sl);
  *port = ntohs(sa.sin_port);
  return fd;
}

/* Run the loop until a datagram arrives on fd (within ms); its length. */
static size_t peer_recv(env *e, int fd, char *out, size_t cap, int ms) {
  for (int i = 0; i < ms; i++) {
    sipkit_rt_run(e->rt, SIPKIT_RT_RUN_NOWAIT);
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 1) == 1) {
      ssize_t n = recv(fd, out, cap - 1, 0);
      assert_true(n > 0);
      out[n] = 0;
      return (size_t)n;
    }
  }
  out[0] = 0;
  return 0;
}

/* alice sends an INVITE to uri (a raw socket fd, which must receive it
 * into inv); its responses are recorded in r. */
static void alice_invites(env *e, agent *alice, const char *uri, int fd, result *r, char *inv,
                          size_t cap) {
  memset(r, 0, sizeof *r);
  sipkit_req_opts o = {.method = "INVITE", .uri = uri};
  assert_int_equal(sipkit_ua_request(alice->ua, &o, on_resp, r, NULL, NULL), SIPKIT_EOK);
  assert_true(peer_recv(e, fd, inv, cap, 3000) > 0);
}

static void peer_send(int fd, const sipkit_ua *ua, const char *text) {
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons((uint16_t)sipkit_ua_port(ua));
  assert_int_equal(sendto(fd, text, strlen(text), 0, (struct sockaddr *)&to, sizeof to),
                   (ssize_t)strlen(text));
}

/* "Name: value" line of a message text, without CRLF ("" when absent). */
static const char *line_of(const char *msg, const char *name, char *out, size_t cap) {
  char key[64];
  snprintf(key, sizeof key, "\r\n%s: ", name);
  const char *p = strstr(msg, key);
  out[0] = 0;
  if (p) {
    p += 2;
    const char *e = strstr(p, "\r\n");
    snprintf(out, cap, "%.*s", (int)(e - p), p);
  }
  return out;
}

static const char *first_line(const char *msg, char *out, size_t cap) {
  const char *e = strstr(msg, "\r\n");
  snprintf(out, cap, "%.*s", e ? (int)(e - msg) : 0, msg);
  return out;
}

/* A response to req (text) with its Via, From, Call-ID and CSeq, To
 * (+ ";tag=" to_tag when given), then extra lines. */
static void respond_text(const char *req, const char *status_line, const char *to_tag,
                         const char *extra, char *out, size_t cap) {
  char via[256], from[256], to[256], cid[256], cseq[128];
  line_of(req, "Via", via, sizeof via);
  line_of(req, "From", from, sizeof from);
  line_of(req, "To", to, sizeof to);
  line_of(req, "Call-ID", cid, sizeof cid);
  line_of(req, "CSeq", cseq, sizeof cseq);
  snprintf(out, cap, "%s\r\n%s\r\n%s\r\n%s%s%s\r\n%s\r\n%s\r\n%sContent-Length: 0\r\n\r\n",
           status_line, via, from, to, to_tag ? ";tag=" : "", to_tag ? to_tag : "", cid, cseq,
           extra);
}

/* What alice sends for an extra 2xx of branch "b" to inv (§13.2.2.4),
 * received on fd (the Contact port): the ACK, then a BYE (into bye),
 * both of that branch's dialog with the INVITE's Call-ID and From. */
static void expect_extra_ack_bye(env *e, int fd, int port, const char *uri, const char *inv,
                                 char *bye, size_t cap) {
  char v[256], w[256], want[128];
  const char *method[2] = {"ACK", "BYE"}, *cseq[2] = {"CSeq: 1 ACK", "CSeq: 2 BYE"};
  for (int i = 0; i < 2; i++) {
    assert_true(peer_recv(e, fd, bye, cap, 3000) > 0);
    snprintf(want, sizeof want, "%s sip:bob@127.0.0.1:%d SIP/2.0", method[i], port);
    assert_string_equal(first_line(bye, v, sizeof v), want);
    assert_string_equal(line_of(bye, "CSeq", v, sizeof v), cseq[i]);
    snprintf(want, sizeof want, "To: <%s>;tag=b", uri);
    assert_string_equal(line_of(bye, "To", v, sizeof v), want);
    assert_string_equal(line_of(bye, "From", v, sizeof v), line_of(inv, "From", w, sizeof w));
    assert_string_equal(line_of(bye, "Call-ID", v, sizeof v),
                        line_of(inv, "Call-ID", w, sizeof w));
  }
}

/* ------------------------------------------------------------------ */
/* 1. Forking (§13.2.2.4)                                              */

static void test_forked_invite(void **state) {
  (void)state;
  env e = {0};
  agent alice;
  open_alice(&e, &alice); /* T1 500 ms: nothing is resent while we look */
  /* branch a answers from fd_a; branch b's Contact is fd_b */
  int pa, pb;
  int fd_a = udp_socket(&pa), fd_b = udp_socket(&pb);
  char uri[64], buf[4096], inv[4096], t[4096], extra[128], v[256];
  snprintf(uri, sizeof uri, "sip:bob@127.0.0.1:%d", pa);
  result r;
  alice_invites(&e, &alice, uri, fd_a, &r, inv, sizeof inv);
  char want[128], from_tag_line[256];
  snprintf(want, sizeof want, "INVITE %s SIP/2.0", uri);
  assert_string_equal(first_line(inv, v, sizeof v), want);
  snprintf(extra, sizeof extra, "Contact: <sip:bob@127.0.0.1:%d>\r\n", pa);
  respond_text(inv, "SIP/2.0 180 Ringing", "a", extra, t, sizeof t);
  peer_send(fd_a, alice.ua, t);
  respond_text(inv, "SIP/2.0 200 OK", "a", extra, t, sizeof t);
  peer_send(fd_a, alice.ua, t);
  snprintf(extra, sizeof extra, "Contact: <sip:bob@127.0.0.1:%d>\r\n", pb);
  respond_text(inv, "SIP/2.0 200 OK", "b", extra, t, sizeof t);
  peer_send(fd_a, alice.ua, t);

  line_of(inv, "From", from_tag_line, sizeof from_tag_line);
  /* branch a: its ACK, CSeq of the INVITE */
  assert_true(peer_recv(&e, fd_a, buf, sizeof buf, 3000) > 0);
  snprintf(want, sizeof want, "ACK sip:bob@127.0.0.1:%d SIP/2.0", pa);
  assert_string_equal(first_line(buf, v, sizeof v), want);
  assert_string_equal(line_of(buf, "CSeq", v, sizeof v), "CSeq: 1 ACK");
  snprintf(want, sizeof want, "To: <%s>;tag=a", uri);
  assert_string_equal(line_of(buf, "To", v, sizeof v), want);
  assert_string_equal(line_of(buf, "From", v, sizeof v), from_tag_line);
  /* branch b: ACK, then BYE (the next CSeq of that dialog) */
  expect_extra_ack_bye(&e, fd_b, pb, uri, inv, buf, sizeof buf);
  respond_text(buf, "SIP/2.0 200 OK", NULL, "", t, sizeof t);
  peer_send(fd_b, alice.ua, t);
  /* nothing else: no second BYE, no ACK for branch a again */
  assert_int_equal(peer_recv(&e, fd_b, buf, sizeof buf, 100), 0);
  assert_int_equal(peer_recv(&e, fd_a, buf, sizeof buf, 50), 0);

  /* the embedder saw one call: 180, then one 200 with branch a's dialog */
  assert_int_equal(r.n, 2);
  assert_int_equal(r.statuses[0], 180);
  assert_int_equal(r.statuses[1], 200);
  assert_int_equal(r.twoxx, 1);
  assert_string_equal(r.remote_tag, "a");
  assert_int_equal(sipkit_dlg_state(r.dlg), SIPKIT_DIALOG_CONFIRMED);
  /* branch b's dialog ended as the extra one */
  assert_int_equal(alice.ends, 1);
  assert_int_equal(alice.last_end, SIPKIT_DLG_END_EARLY_ENDED);
  assert_string_equal(alice.ended_remote_tag, "b");
  sipkit_rt_stats st;
  sipkit_rt_get_stats(e.rt, &st);
  assert_int_equal(st.dialogs, 1);
  sipkit_rt_free(e.rt);
  close(fd_a);
  close(fd_b);
}

/* RFC 6026 / §13.2.2.4 on the client: the answered request goes with
 * the 2xx, its INVITE transaction waits in Accepted for timer M; one
 * whose other forks are still early is kept until timer M ends them. */
static void test_accepted_request_release(void **state) {
  (void)state;
  for (int ringing = 0; ringing < 2; ringing++) {
    env e = {0};
    agent alice;
    open_alice(&e, &alice);
    int pa, fd = udp_socket(&pa);
    char uri[64], buf[4096], inv[4096], t[4096], extra[128];
    snprintf(uri, sizeof uri, "sip:bob@127.0.0.1:%d", pa);
    result r;
    alice_invites(&e, &alice, uri, fd, &r, inv, sizeof inv);
    snprintf(extra, sizeof extra, "Contact: <sip:bob@127.0.0.1:%d>\r\n", pa);
    if (ringing) { /* branch c rings and never answers */
      respond_text(inv, "SIP/2.0 180 Ringing", "c", extra, t, sizeof t);
      peer_send(fd, alice.ua, t);
    }
    respond_text(inv, "SIP/2.0 200 OK", "a", extra, t, sizeof t);
    peer_send(fd, alice.ua, t);
    assert_true(peer_recv(&e, fd, buf, sizeof buf, 3000) > 0); /* the ACK */
    assert_int_equal(r.twoxx, 1);
    sipkit_rt_stats st;
    sipkit_rt_get_stats(e.rt, &st);
    assert_int_equal(st.transactions, 1); /* the INVITE's, Accepted */
    assert_int_equal(st.dialogs, 1 + ringing);
    assert_int_equal(sipkit__list_empty(&alice.ua->reqs), !ringing);
    /* timer M (64*T1 after the 2xx): the transaction ends, and with it
     * the early dialog of branch c */
    assert_int_equal(sipkit__ua_fire_timers(alice.ua, 1), 1);
    sipkit_rt_get_stats(e.rt, &st);
    assert_int_equal(st.transactions, 0);
    assert_int_equal(st.dialogs, 1);
    assert_true(sipkit__list_empty(&alice.ua->reqs));
    assert_int_equal(alice.ends, ringing);
    if (ringing) {
      assert_int_equal(alice.last_end, SIPKIT_DLG_END_EARLY_ENDED);
      assert_string_equal(alice.ended_remote_tag, "c");
    }
    assert_int_equal(sipkit_dlg_state(r.dlg), SIPKIT_DIALOG_CONFIRMED);
    assert_int_equal(r.n, 1 + ringing);
    sipkit_rt_free(e.rt);
    close(fd);
  }
}

/* §13.2.2.4: each 2xx, the retransmissions too, gets an ACK built from
 * the dialog (the first ACK is not kept for the call). */
static void test_2xx_retransmission_acked(void **state) {
  (void)state;
  env e = {0};
  agent alice;
  open_alice(&e, &alice); /* T1 500 ms: the INVITE is not resent while we look */
  int pb, fd = udp_socket(&pb);
  char uri[64], inv[4096], ok[4096], extra[128], acks[2][4096], v[256], w[256], want[128];
  snprintf(uri, sizeof uri, "sip:bob@127.0.0.1:%d", pb);
  result r;
  alice_invites(&e, &alice, uri, fd, &r, inv, sizeof inv);
  snprintf(extra, sizeof extra, "Contact: <sip:bob@127.0.0.1:%d>\r\n", pb);
  respond_text(inv, "SIP/2.0 200 OK", "b", extra, ok, sizeof ok);
  snprintf(want, sizeof want, "ACK sip:bob@127.0.0.1:%d SIP/2.0", pb);
  for (int i = 0; i < 2; i++) { /* the 200, then the same 200 again */
    peer_send(fd, alice.ua, ok);
    assert_true(peer_recv(&e, fd, acks[i], sizeof acks[i], 3000) > 0);
    assert_string_equal(first_line(acks[i], v, sizeof v), want);
    assert_string_equal(line_of(acks[i], "CSeq", v, sizeof v), "CSeq: 1 ACK");
    snprintf(w, sizeof w, "To: <%s>;tag=b", uri);
    assert_string_equal(line_of(acks[i], "To", v, sizeof v), w);
  }
  assert_string_equal(line_of(acks[1], "From", v, sizeof v), line_of(acks[0], "From", w, sizeof w));
  assert_string_equal(line_of(acks[1], "Call-ID", v, sizeof v),
                      line_of(inv, "Call-ID", w, sizeof w));
  assert_int_equal(peer_recv(&e, fd, acks[0], sizeof acks[0], 50), 0); /* one ACK per 200 */
  assert_int_equal(r.n, 1); /* the embedder saw the 200 once */
  assert_int_equal(r.statuses[0], 200);
  sipkit_rt_free(e.rt);
  close(fd);
}

/* ------------------------------------------------------------------ */
/* 2. UPDATE, INFO, REFER in a dialog with sipfrag NOTIFYs            */

static void test_update_info_refer_in_dialog(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  pair p;
  pair_open(&p, &cfg, "127.0.0.1:0");
  p.alice.take_notify = 1;
  sipkit_dlg *g = pair_call(&p); /* CSeq 1 INVITE */
  static const char sdp[] = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                            "t=0 0\r\nm=audio 4002 RTP/AVP 0\r\n";
  sipkit_req_opts up = {.method = "UPDATE", .content_type = "application/sdp", .body = sdp,
                        .body_len = sizeof sdp - 1};
  dlg_req(&p, g, &up, 200); /* 2 */
  const char *il[1] = {"Info-Package: dtmf"};
  sipkit_req_opts info = {.method = "INFO", .headers = il, .header_count = 1,
                          .content_type = "application/dtmf-relay",
                          .body = "Signal=5\r\nDuration=160\r\n", .body_len = 24};
  dlg_req(&p, g, &info, 200); /* 3 */
  const char *rl[1] = {"Refer-To: <sip:carol@127.0.0.1>"};
  sipkit_req_opts refer = {.method = "REFER", .headers = rl, .header_count = 1};
  dlg_req(&p, g, &refer, 202); /* 4 */
  run_until(&p.e, &p.bob.notify_res[1].done, 5000);

  assert_int_equal(p.bob.updates, 1);
  assert_int_equal(p.bob.infos, 1);
  assert_int_equal(p.bob.refers, 1);
  assert_int_equal(p.bob.refer_cseq, 4);
  assert_int_equal(p.bob.n_log, 4);
  assert_string_equal(p.bob.log[1], "UPDATE|||application/sdp|v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"
                                    "s=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0\r\n");
  assert_string_equal(p.bob.log[2], "INFO|||application/dtmf-relay|Signal=5\r\nDuration=160\r\n");
  assert_string_equal(p.bob.log[3], "REFER||||");
  /* the referrer got both NOTIFYs in the INVITE dialog, exact */
  assert_int_equal(p.alice.n_log, 2);
  assert_string_equal(p.alice.log[0], "NOTIFY|refer;id=4|active|message/sipfrag;version=2.0|"
                                      "SIP/2.0 100 Trying\r\n");
  assert_string_equal(p.alice.log[1], "NOTIFY|refer;id=4|terminated;reason=noresource|"
                                      "message/sipfrag;version=2.0|SIP/2.0 200 OK\r\n");
  assert_int_equal(p.bob.notify_res[0].statuses[0], 200);
  assert_int_equal(p.bob.notify_res[1].statuses[0], 200);
  /* the implicit subscription ended, the INVITE dialog did not */
  assert_int_equal(p.alice.ends, 0);
  assert_int_equal(p.bob.ends, 0);
  assert_int_equal(sipkit_dlg_state(g), SIPKIT_DIALOG_CONFIRMED);
  sipkit_req_opts bye = {.method = "BYE"};
  dlg_req(&p, g, &bye, 200);
  assert_int_equal(p.alice.ends, 1);
  assert_int_equal(p.alice.last_end, SIPKIT_DLG_END_BYE_SENT);
  assert_int_equal(p.bob.ends, 1);
  assert_int_equal(p.bob.last_end, SIPKIT_DLG_END_BYE_RECEIVED);
  sipkit_rt_free(p.e.rt);
}

/* REFER outside a dialog: the 202 makes a dialog for the subscription
 * alone, which the final NOTIFY ends on both sides. */
static void test_refer_out_of_dialog(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  pair p;
  pair_open(&p, &cfg, "127.0.0.1:0");
  const char *rl[1] = {"Refer-To: <sip:carol@127.0.0.1>"};
  result r;
  memset(&r, 0, sizeof r);
  sipkit_req_opts o = {.method = "REFER", .uri = p.bob_uri, .headers = rl, .header_count = 1};
  assert_int_equal(sipkit_ua_request(p.alice.ua, &o, on_resp, &r, NULL, NULL), SIPKIT_EOK);
  run_until(&p.e, &p.bob.notify_res[1].done, 5000);
  assert_int_equal(r.statuses[0], 202);
  assert_non_null(r.dlg);
  assert_int_equal(p.alice.n_log, 2);
  assert_string_equal(p.alice.log[0], "NOTIFY|refer;id=1|active|message/sipfrag;version=2.0|"
                                      "SIP/2.0 100 Trying\r\n");
  assert_string_equal(p.alice.log[1], "NOTIFY|refer;id=1|terminated;reason=noresource|"
                                      "message/sipfrag;version=2.0|SIP/2.0 200 OK\r\n");
  /* the core answered both NOTIFYs 200 (alice does not take them) */
  assert_int_equal(p.bob.notify_res[1].statuses[0], 200);
  assert_int_equal(p.alice.ends, 1);
  assert_int_equal(p.alice.last_end, SIPKIT_DLG_END_SUBSCRIPTION_TERMINATED);
  assert_int_equal(p.bob.ends, 1);
  assert_int_equal(p.bob.last_end, SIPKIT_DLG_END_SUBSCRIPTION_TERMINATED);
  sipkit_rt_stats st;
  sipkit_rt_get_stats(p.e.rt, &st);
  assert_int_equal(st.dialogs, 0);
  sipkit_rt_free(p.e.rt);
}

/* ------------------------------------------------------------------ */
/* 3. SUBSCRIBE / NOTIFY (RFC 6665)                                    */

static void test_subscription_terminated(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  pair p;
  pair_open(&p, &cfg, "127.0.0.1:0");
  result r;
  memset(&r, 0, sizeof r);
  const char *sl[2] = {"Event: presence", "Expires: 60"};
  sipkit_req_opts o = {.method = "SUBSCRIBE", .uri = p.bob_uri, .headers = sl, .header_count = 2};
  assert_int_equal(sipkit_ua_request(p.alice.ua, &o, on_resp, &r, NULL, NULL), SIPKIT_EOK);
  run_until(&p.e, &r.done, 5000);
  assert_int_equal(r.statuses[0], 200);
  sipkit_dlg *notifier = p.bob.dlg;
  assert_non_null(notifier);
  const char *n1[2] = {"Event: presence", "Subscription-State: active;expires=60"};
  sipkit_req_opts no = {.method = "NOTIFY", .headers = n1, .header_count = 2};
  dlg_req(&p, notifier, &no, 200);
  assert_int_equal(p.alice.ends, 0);
  const char *n2[2] = {"Event: presence", "Subscription-State: terminated;reason=timeout"};
  no.headers = n2;
  dlg_req(&p, notifier, &no, 200);
  assert_int_equal(p.alice.n_log, 2);
  assert_string_equal(p.alice.log[1], "NOTIFY|presence|terminated;reason=timeout||");
  assert_int_equal(p.alice.ends, 1);
  assert_int_equal(p.alice.last_end, SIPKIT_DLG_END_SUBSCRIPTION_TERMINATED);
  assert_int_equal(p.bob.ends, 1);
  assert_int_equal(p.bob.last_end, SIPKIT_DLG_END_SUBSCRIPTION_TERMINATED);
  assert_int_equal(p.alice.request_when_ended, SIPKIT_ESTATE);
  sipkit_rt_free(p.e.rt);
}

/* RFC 6665 §4.1.2.4: the NOTIFY overtakes the 200 to the SUBSCRIBE. */
static void test_notify_before_2xx(void **state) {
  (void)state;
  env e = {0};
  agent alice;
  open_alice(&e, &alice);
  int pn, fd = udp_socket(&pn);
  char uri[64], sub[4096], buf[4096], t[4096], v[256], from[256], to[256], cid[256];
  snprintf(uri, sizeof uri, "sip:pres@127.0.0.1:%d", pn);
  result r;
  memset(&r, 0, sizeof r);
  const char *sl[2] = {"Event: presence", "Expires: 60"};
  sipkit_req_opts o = {.method = "SUBSCRIBE", .uri = uri, .headers = sl, .header_count = 2};
  assert_int_equal(sipkit_ua_request(alice.ua, &o, on_resp, &r, NULL, NULL), SIPKIT_EOK);
  assert_true(peer_recv(&e, fd, sub, sizeof sub, 3000) > 0);
  line_of(sub, "From", from, sizeof from);
  line_of(sub, "To", to, sizeof to);
  line_of(sub, "Call-ID", cid, sizeof cid);
  /* NOTIFY first: its To is the SUBSCRIBE's From, its From tag ours */
  const char *contact = sipkit_ua_addr(alice.ua);
  for (int cseq = 1; cseq <= 2; cseq++) {
    snprintf(t, sizeof t,
             "NOTIFY sip:alice@%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKn%d\r\n"
             "Max-Forwards: 70\r\nFrom: <%s>;tag=n1\r\nTo: %s\r\n%s\r\nCSeq: %d NOTIFY\r\n"
             "Contact: <sip:pres@127.0.0.1:%d>\r\nEvent: presence\r\n"
             "Subscription-State: %s\r\nContent-Length: 0\r\n\r\n",
             contact, pn, cseq, uri, from + 6, cid, cseq, pn,
             cseq == 1 ? "active;expires=60" : "terminated;reason=noresource");
    peer_send(fd, alice.ua, t);
    assert_true(peer_recv(&e, fd, buf, sizeof buf, 3000) > 0);
    assert_string_equal(first_line(buf, v, sizeof v), "SIP/2.0 200 OK");
    snprintf(t, sizeof t, "CSeq: %d NOTIFY", cseq);
    assert_string_equal(line_of(buf, "CSeq", v, sizeof v), t);
    if (cseq == 1) {
      assert_non_null(alice.dlg);
      assert_string_equal(sipkit_dlg_remote_tag(alice.dlg), "n1");
      assert_int_equal(r.n, 0);
      /* now the 200 to the SUBSCRIBE: it finds the dialog the NOTIFY made */
      char extra[96];
      snprintf(extra, sizeof extra, "Contact: <sip:pres@127.0.0.1:%d>\r\nExpires: 60\r\n", pn);
      respond_text(sub, "SIP/2.0 200 OK", "n1", extra, t, sizeof t);
      peer_send(fd, alice.ua, t);
      run_until(&e, &r.done, 3000);
      assert_int_equal(r.statuses[0], 200);
      assert_ptr_equal(r.dlg, alice.dlg);
      sipkit_rt_stats st;
      sipkit_rt_get_stats(e.rt, &st);
      assert_int_equal(st.dialogs, 1);
    }
  }
  assert_int_equal(alice.ends, 1);
  assert_int_equal(alice.last_end, SIPKIT_DLG_END_SUBSCRIPTION_TERMINATED);
  /* a NOTIFY for no subscription still gets 481 */
  snprintf(t, sizeof t,
           "NOTIFY sip:alice@%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKn9\r\n"
           "Max-Forwards: 70\r\nFrom: <%s>;tag=n1\r\nTo: %s\r\n%s\r\nCSeq: 3 NOTIFY\r\n"
           "Event: presence\r\nSubscription-State: active\r\nContent-Length: 0\r\n\r\n",
           contact, pn, uri, from + 6, cid);
  peer_send(fd, alice.ua, t);
  assert_true(peer_recv(&e, fd, buf, sizeof buf, 3000) > 0);
  assert_string_equal(first_line(buf, v, sizeof v), "SIP/2.0 481 Call/Transaction Does Not Exist");
  (void)to;
  sipkit_rt_free(e.rt);
  close(fd);
}

/* ------------------------------------------------------------------ */
/* 4. RFC 3262 §3: no PRACK within 64*T1                               */

static void test_prack_timeout_500(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  cfg.txn.t1 = 10; /* 64*T1 = 640 ms */
  cfg.txn.t2 = 40;
  pair p;
  pair_open(&p, &cfg, "127.0.0.1:0");
  p.bob.reliable_183 = 1;
  /* alice says 100rel but never PRACKs (o.prack 0) */
  const char *lines[1] = {"Supported: 100rel"};
  result r;
  memset(&r, 0, sizeof r);
  sipkit_req_opts o = {.method = "INVITE", .uri = p.bob_uri, .headers = lines, .header_count = 1};
  assert_int_equal(sipkit_ua_request(p.alice.ua, &o, on_resp, &r, NULL, NULL), SIPKIT_EOK);
  run_until(&p.e, &r.done, 8000);
  assert_int_equal(r.statuses[0], 183);
  assert_int_equal(r.statuses[r.n - 1], 500);
  assert_int_equal(r.finals, 1);
  assert_string_equal(r.reason, "No PRACK");
  assert_int_equal(p.bob.srv_timeouts, 1);
  assert_int_equal(p.bob.srv_timeout_status, 500);
  /* both early dialogs ended with the 500 */
  assert_int_equal(p.bob.ends, 1);
  assert_int_equal(p.bob.last_end, SIPKIT_DLG_END_EARLY_ENDED);
  assert_int_equal(p.alice.ends, 1);
  assert_int_equal(p.alice.last_end, SIPKIT_DLG_END_EARLY_ENDED);
  sipkit_rt_stats st;
  sipkit_rt_get_stats(p.e.rt, &st);
  assert_true(st.retransmissions > 0); /* the 183 was resent */
  assert_int_equal(st.dialogs, 0);
  sipkit_rt_free(p.e.rt);
}

/* ------------------------------------------------------------------ */
/* 5. Transport errors                                                 */

static void test_transport_errors(void **state) {
  (void)state;
  env e = {0};
  agent alice;
  open_alice(&e, &alice); /* timer B / F: 32 s, far past the deadline */
  /* a port with nothing listening: bound, then closed */
  int dead, fd = udp_socket(&dead);
  close(fd);
  char uri[64];
  snprintf(uri, sizeof uri, "sip:nobody@127.0.0.1:%d", dead);
  const char *methods[2] = {"INVITE", "OPTIONS"};
  for (int i = 0; i < 2; i++) {
    result r;
    memset(&r, 0, sizeof r);
    sipkit_req_opts o = {.method = methods[i], .uri = uri};
    assert_int_equal(sipkit_ua_request(alice.ua, &o, on_resp, &r, NULL, NULL), SIPKIT_EOK);
    /* ICMP port unreachable, read from the error queue (IP_RECVERR) */
    run_until(&e, &r.done, 5000);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.statuses[0], 503);
    assert_true(r.msg_null);
  }
  /* a send the kernel refuses at once (UDP port 0: EINVAL): 503 too,
   * never inside sipkit_ua_request */
  result r;
  memset(&r, 0, sizeof r);
  sipkit_req_opts o = {.method = "OPTIONS", .uri = "sip:x@127.0.0.1", .dest = "127.0.0.1:0"};
  assert_int_equal(sipkit_ua_request(alice.ua, &o, on_resp, &r, NULL, NULL), SIPKIT_EOK);
  assert_int_equal(r.n, 0);
  run_until(&e, &r.done, 5000);
  assert_int_equal(r.statuses[0], 503);
  assert_true(r.msg_null);
  sipkit_rt_stats st;
  sipkit_rt_get_stats(e.rt, &st);
  assert_int_equal(st.txn_timeouts, 0);
  assert_true(st.transport_errors >= 3);
  assert_int_equal(st.transactions, 0);
  sipkit_rt_free(e.rt);
}

/* RFC 6026 Accepted after the INVITE is gone (the client keeps no copy
 * of it once a dialog exists): a fork's 2xx that comes after the first
 * dialog ended still gets its dialog, made from the ended sibling, an
 * ACK and a BYE with the INVITE's Call-ID, From and CSeq. */
static void test_fork_after_first_dialog_ended(void **state) {
  (void)state;
  env e = {0};
  agent alice;
  open_alice(&e, &alice); /* T1 500 ms: nothing is resent while we look */
  int pa, pb;
  int fd_a = udp_socket(&pa), fd_b = udp_socket(&pb);
  char uri[64], buf[4096], inv[4096], t[4096], okb[4096], extra[128], v[256];
  snprintf(uri, sizeof uri, "sip:bob@127.0.0.1:%d", pa);
  result r;
  alice_invites(&e, &alice, uri, fd_a, &r, inv, sizeof inv);
  snprintf(extra, sizeof extra, "Contact: <sip:bob@127.0.0.1:%d>\r\n", pa);
  respond_text(inv, "SIP/2.0 200 OK", "a", extra, t, sizeof t);
  peer_send(fd_a, alice.ua, t);
  assert_true(peer_recv(&e, fd_a, buf, sizeof buf, 3000) > 0); /* its ACK */
  assert_int_equal(r.twoxx, 1);
  /* alice hangs up branch a: BYE, 200 */
  result rb;
  memset(&rb, 0, sizeof rb);
  assert_int_equal(sipkit_dlg_request(r.dlg, &(sipkit_req_opts){.method = "BYE"}, on_resp, &rb,
                                      NULL, NULL),
                   SIPKIT_EOK);
  assert_true(peer_recv(&e, fd_a, buf, sizeof buf, 3000) > 0);
  assert_string_equal(line_of(buf, "CSeq", v, sizeof v), "CSeq: 2 BYE");
  respond_text(buf, "SIP/2.0 200 OK", NULL, "", t, sizeof t);
  peer_send(fd_a, alice.ua, t);
  run_until(&e, &rb.done, 3000);
  assert_int_equal(alice.ends, 1);
  assert_int_equal(alice.last_end, SIPKIT_DLG_END_BYE_SENT);
  /* branch b answers late, within the INVITE's 32 s */
  snprintf(extra, sizeof extra, "Contact: <sip:bob@127.0.0.1:%d>\r\n", pb);
  respond_text(inv, "SIP/2.0 200 OK", "b", extra, okb, sizeof okb);
  /* twice: the dialog the first made is ended and gone by the second, so
   * the second is made, ACKed and ended again (sipkit_dialog_find) */
  for (int i = 0; i < 2; i++) {
    peer_send(fd_a, alice.ua, okb);
    expect_extra_ack_bye(&e, fd_b, pb, uri, inv, buf, sizeof buf);
    assert_int_equal(alice.ends, 2 + i);
    assert_int_equal(alice.last_end, SIPKIT_DLG_END_EARLY_ENDED);
    assert_string_equal(alice.ended_remote_tag, "b");
  }
  assert_int_equal(r.n, 1); /* the embedder saw one 200 */
  sipkit_rt_free(e.rt);
  close(fd_a);
  close(fd_b);
}

/* carol's INVITE (into inv) to ua from a raw socket fd bound to
 * 127.0.0.1:port, answered 200 (into ok). */
static void carol_calls(env *e, const sipkit_ua *ua, int fd, int port, char *inv, size_t icap,
                        char *ok, size_t ocap) {
  char v[256];
  snprintf(inv, icap,
           "INVITE sip:bob@127.0.0.1:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-acc-1\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:carol@127.0.0.1:%d>;tag=c1\r\n"
           "To: <sip:bob@127.0.0.1:%d>\r\n"
           "Call-ID: acc-1@127.0.0.1\r\n"
           "CSeq: 1 INVITE\r\n"
           "Contact: <sip:carol@127.0.0.1:%d>\r\n"
           "Content-Length: 0\r\n\r\n",
           sipkit_ua_port(ua), port, port, sipkit_ua_port(ua), port);
  peer_send(fd, ua, inv);
  assert_true(peer_recv(e, fd, ok, ocap, 3000) > 0);
  assert_string_equal(first_line(ok, v, sizeof v), "SIP/2.0 200 OK");
}

/* §13.3.1.4 without an ACK: the 2xx is resent, the same bytes each time,
 * until 64*T1 after the first; then the dialog is ended with a BYE. */
static void test_2xx_resent_until_no_ack(void **state) {
  (void)state;
  env e = {0};
  agent bob;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  cfg.txn.t1 = 20; /* give up after 1,280 ms */
  open_agent(&e, &bob, "bob", &cfg);
  int pc, fd = udp_socket(&pc);
  char inv[1024], first[4096], buf[4096], v[256], want[128];
  carol_calls(&e, bob.ua, fd, pc, inv, sizeof inv, first, sizeof first);
  /* the timers one at a time, the clock skipping to each deadline */
  int resent = 0;
  for (;;) {
    assert_int_equal(sipkit__ua_fire_timers(bob.ua, 1), 1);
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 100) != 1)
      continue; /* timer L ended the transaction: nothing sent */
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = 0;
    if (strncmp(buf, "BYE ", 4) == 0)
      break;
    assert_string_equal(buf, first);
    resent++;
  }
  /* at 20, 60, 140, 300, 620 and 1,260 ms; given up at 1,280 */
  assert_int_equal(resent, 6);
  snprintf(want, sizeof want, "BYE sip:carol@127.0.0.1:%d SIP/2.0", pc);
  assert_string_equal(first_line(buf, v, sizeof v), want);
  assert_string_equal(line_of(buf, "CSeq", v, sizeof v), "CSeq: 1 BYE");
  assert_string_equal(line_of(buf, "Call-ID", v, sizeof v), "Call-ID: acc-1@127.0.0.1");
  assert_int_equal(bob.ends, 1);
  assert_int_equal(bob.last_end, SIPKIT_DLG_END_NO_ACK);
  assert_int_equal(bob.acks, 0);
  sipkit_rt_stats st;
  sipkit_rt_get_stats(e.rt, &st);
  assert_int_equal(st.retransmissions, 6);
  assert_int_equal(st.dialogs, 0);
  sipkit_rt_free(e.rt);
  close(fd);
}

/* RFC 6026 Accepted on the server (the transaction keeps only its key
 * there): the INVITE retransmitted after the 2xx is absorbed (no second
 * request for the embedder, no answer), an ACK that matches the
 * transaction (same branch) goes to the dialog, once. */
static void test_server_accepted_absorbs(void **state) {
  (void)state;
  env e = {0};
  agent bob;
  open_agent(&e, &bob, "bob", NULL);
  int pc, fd = udp_socket(&pc);
  char inv[1024], ack[1024], buf[4096], totag[256];
  carol_calls(&e, bob.ua, fd, pc, inv, sizeof inv, buf, sizeof buf);
  assert_int_equal(bob.invites, 1);
  line_of(buf, "To", totag, sizeof totag);
  sipkit_rt_stats st;
  sipkit_rt_get_stats(e.rt, &st);
  assert_int_equal(st.transactions, 1); /* the INVITE's, Accepted */
  peer_send(fd, bob.ua, inv); /* retransmitted: absorbed */
  assert_int_equal(peer_recv(&e, fd, buf, sizeof buf, 100), 0);
  assert_int_equal(bob.invites, 1);
  sipkit_rt_get_stats(e.rt, &st);
  assert_int_equal(st.transactions, 1);
  assert_int_equal(st.auto_replies, 0);
  snprintf(ack, sizeof ack,
           "ACK sip:carol@127.0.0.1:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-acc-1\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:carol@127.0.0.1:%d>;tag=c1\r\n"
           "%s\r\n"
           "Call-ID: acc-1@127.0.0.1\r\n"
           "CSeq: 1 ACK\r\n"
           "Content-Length: 0\r\n\r\n",
           pc, pc, pc, totag);
  for (int i = 0; i < 2; i++) { /* the ACK and its copy: reported once */
    peer_send(fd, bob.ua, ack);
    assert_int_equal(peer_recv(&e, fd, buf, sizeof buf, 50), 0);
    assert_int_equal(bob.acks, 1);
  }
  /* acknowledged: the 2xx is not resent (T1 500 ms) */
  assert_int_equal(peer_recv(&e, fd, buf, sizeof buf, 700), 0);
  sipkit_rt_get_stats(e.rt, &st);
  assert_int_equal(st.transactions, 1);
  assert_int_equal(st.dialogs, 1);
  assert_int_equal(st.retransmissions, 0);
  sipkit_rt_free(e.rt);
  close(fd);
}

/* ------------------------------------------------------------------ */
/* 6. IPv6, SO_REUSEPORT, buffers                                      */

typedef struct v6trace {
  char invite[2048];
} v6trace;

static void on_trace(void *data, int dir, uint64_t t, const struct sockaddr *l,
                     const struct sockaddr *rem, const char *bytes, size_t len) {
  (void)t, (void)l, (void)rem;
  v6trace *tr = data;
  if (dir == SIPKIT_RT_SENT && !tr->invite[0] && len > 7 && !memcmp(bytes, "INVITE ", 7))
    snprintf(tr->invite, sizeof tr->invite, "%.*s", (int)len, bytes);
}

static void test_ipv6_call(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  pair p;
  pair_open(&p, &cfg, "[::1]:0");
  v6trace tr;
  memset(&tr, 0, sizeof tr);
  sipkit_rt_set_trace(p.e.rt, on_trace, &tr);
  assert_int_equal(strncmp(sipkit_ua_addr(p.bob.ua), "[::1]:", 6), 0);
  sipkit_dlg *g = pair_call(&p);
  char want[128], v[256];
  snprintf(want, sizeof want, "INVITE sip:bob@[::1]:%d SIP/2.0", sipkit_ua_port(p.bob.ua));
  assert_string_equal(first_line(tr.invite, v, sizeof v), want);
  snprintf(want, sizeof want, "Via: SIP/2.0/UDP [::1]:%d;branch=", sipkit_ua_port(p.alice.ua));
  assert_int_equal(strncmp(line_of(tr.invite, "Via", v, sizeof v), want, strlen(want)), 0);
  snprintf(want, sizeof want, "Contact: <sip:alice@[::1]:%d>", sipkit_ua_port(p.alice.ua));
  assert_string_equal(line_of(tr.invite, "Contact", v, sizeof v), want);
  snprintf(want, sizeof want, "sip:bob@[::1]:%d", sipkit_ua_port(p.bob.ua));
  assert_string_equal(sipkit_dlg_remote_target(g), want);
  sipkit_req_opts bye = {.method = "BYE"};
  dlg_req(&p, g, &bye, 200);
  assert_int_equal(p.bob.acks, 1); /* the ACK went before the BYE */
  assert_int_equal(p.bob.ends, 1);
  assert_int_equal(p.bob.last_end, SIPKIT_DLG_END_BYE_RECEIVED);
  sipkit_rt_free(p.e.rt);
}

static void test_reuseport_and_buffers(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  cfg.recv_buffer = 100000;
  cfg.send_buffer = 100000;
  sipkit_rt *rt;
  assert_int_equal(sipkit_rt_new(&rt, NULL, &cfg), SIPKIT_EOK);
  sipkit_ua *a, *b, *c;
  sipkit_ua_config uc = {.bind = "127.0.0.1:0", .reuseport = 1};
  assert_int_equal(sipkit_ua_open(rt, &uc, NULL, NULL, &a, NULL), SIPKIT_EOK);
  char bind[64];
  snprintf(bind, sizeof bind, "127.0.0.1:%d", sipkit_ua_port(a));
  uc.bind = bind;
  assert_int_equal(sipkit_ua_open(rt, &uc, NULL, NULL, &b, NULL), SIPKIT_EOK);
  assert_int_equal(sipkit_ua_port(b), sipkit_ua_port(a));
  int sys_err = 0;
  uc.reuseport = 0;
  assert_int_equal(sipkit_ua_open(rt, &uc, NULL, NULL, &c, &sys_err), SIPKIT_EIO);
  assert_null(c);
  assert_int_equal(sys_err, UV_EADDRINUSE);
  /* Linux doubles the value for its bookkeeping (socket(7)) */
  int v = 0;
  socklen_t vl = sizeof v;
  assert_true(sipkit_ua_fd(a) >= 0);
  assert_int_equal(getsockopt(sipkit_ua_fd(a), SOL_SOCKET, SO_RCVBUF, &v, &vl), 0);
  assert_true(v >= 100000);
  vl = sizeof v;
  assert_int_equal(getsockopt(sipkit_ua_fd(a), SOL_SOCKET, SO_SNDBUF, &v, &vl), 0);
  assert_true(v >= 100000);
  assert_int_equal(sipkit_ua_fd(NULL), -1);
  sipkit_rt_free(rt);
}

/* ------------------------------------------------------------------ */
/* 7. max_dialogs on our own requests                                  */

static void test_max_dialogs_own_requests(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  cfg.max_dialogs = 2; /* one call: alice's dialog and bob's, one runtime */
  pair p;
  pair_open(&p, &cfg, "127.0.0.1:0");
  sipkit_dlg *g = pair_call(&p);
  sipkit_rt_stats st;
  sipkit_rt_get_stats(p.e.rt, &st);
  assert_int_equal(st.dialogs, 2);
  sipkit_req *req = (sipkit_req *)1;
  const char *methods[3] = {"INVITE", "SUBSCRIBE", "REFER"};
  for (int i = 0; i < 3; i++) {
    sipkit_req_opts o = {.method = methods[i], .uri = p.bob_uri};
    assert_int_equal(sipkit_ua_request(p.alice.ua, &o, on_resp, NULL, &req, NULL), SIPKIT_ELIMIT);
    assert_null(req);
  }
  /* requests that make no dialog still go */
  result r;
  memset(&r, 0, sizeof r);
  sipkit_req_opts opt = {.method = "OPTIONS", .uri = p.bob_uri};
  assert_int_equal(sipkit_ua_request(p.alice.ua, &opt, on_resp, &r, NULL, NULL), SIPKIT_EOK);
  run_until(&p.e, &r.done, 5000);
  assert_int_equal(r.statuses[0], 200);
  sipkit_req_opts bye = {.method = "BYE"};
  dlg_req(&p, g, &bye, 200);
  g = pair_call(&p); /* room again */
  (void)g;
  sipkit_rt_free(p.e.rt);
}

/* ------------------------------------------------------------------ */
/* 8. Stepping from the embedder's loop                                */

static void test_embedder_loop(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  sipkit_rt *rt;
  assert_int_equal(sipkit_rt_new(&rt, &loop, &cfg), SIPKIT_EOK);
  assert_ptr_equal(sipkit_rt_loop(rt), &loop);
  agent alice, bob;
  memset(&alice, 0, sizeof alice);
  memset(&bob, 0, sizeof bob);
  sipkit_ua_config ub = {.bind = "127.0.0.1:0", .user = "bob"};
  sipkit_ua_config ua = {.bind = "127.0.0.1:0", .user = "alice"};
  assert_int_equal(sipkit_ua_open(rt, &ub, &handlers, &bob, &bob.ua, NULL), SIPKIT_EOK);
  assert_int_equal(sipkit_ua_open(rt, &ua, &handlers, &alice, &alice.ua, NULL), SIPKIT_EOK);
  char uri[96];
  snprintf(uri, sizeof uri, "sip:bob@%s", sipkit_ua_addr(bob.ua));
  result inv, bye;
  memset(&inv, 0, sizeof inv);
  memset(&bye, 0, sizeof bye);
  sipkit_req_opts o = {.method = "INVITE", .uri = uri};
  assert_int_equal(sipkit_ua_request(alice.ua, &o, on_resp, &inv, NULL, NULL), SIPKIT_EOK);
  const struct timespec ms = {0, 1000000};
  int bye_sent = 0;
  /* the embedder's own loop turns, never blocking; bounded (5 s) */
  for (int steps = 0; steps < 5000 && !bye.done; steps++) {
    uv_run(&loop, UV_RUN_NOWAIT);
    if (inv.done && !bye_sent) {
      assert_non_null(inv.dlg);
      sipkit_req_opts b = {.method = "BYE"};
      assert_int_equal(sipkit_dlg_request(inv.dlg, &b, on_resp, &bye, NULL, NULL), SIPKIT_EOK);
      bye_sent = 1;
    }
    if (!bye.done)
      nanosleep(&ms, NULL);
  }
  assert_true(bye.done);
  assert_int_equal(inv.statuses[inv.n - 1], 200);
  assert_int_equal(bye.statuses[0], 200);
  assert_int_equal(bob.acks, 1);
  assert_int_equal(bob.ends, 1);
  assert_int_equal(alice.ends, 1);
  sipkit_rt_free(rt);
  /* our loop: the close callbacks of rt's handles run here, then nothing
   * of sipkit is left on it */
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forked_invite),
      cmocka_unit_test(test_2xx_retransmission_acked),
      cmocka_unit_test(test_fork_after_first_dialog_ended),
      cmocka_unit_test(test_accepted_request_release),
      cmocka_unit_test(test_server_accepted_absorbs),
      cmocka_unit_test(test_2xx_resent_until_no_ack),
      cmocka_unit_test(test_update_info_refer_in_dialog),
      cmocka_unit_test(test_refer_out_of_dialog),
      cmocka_unit_test(test_subscription_terminated),
      cmocka_unit_test(test_notify_before_2xx),
      cmocka_unit_test(test_prack_timeout_500),
      cmocka_unit_test(test_transport_errors),
      cmocka_unit_test(test_ipv6_call),
      cmocka_unit_test(test_reuseport_and_buffers),
      cmocka_unit_test(test_max_dialogs_own_requests),
      cmocka_unit_test(test_embedder_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
