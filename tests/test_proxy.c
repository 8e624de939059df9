/* test_proxy.c - RFC 3261 §16 forwarding: a UAC (alice), a proxy-mode UA
 * and a UAS (bob) in one process and one loop over 127.0.0.1.  What bob
 * receives and what alice receives are parsed back and checked header by
 * header: Via count, Record-Route, Max-Forwards, Request-URI, Route.
 * Default timers (T1 500 ms): nothing is lost on loopback, so nothing is
 * retransmitted and the counts are exact. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "sipkit_rt.h"

/* ------------------------------------------------------------------ */
/* Reading what was received                                           */

typedef struct seen {
  char buf[4096];
  size_t len;
} seen;

static void keep(seen *s, const char *buf, size_t len) {
  assert_true(len < sizeof s->buf);
  memcpy(s->buf, buf, len);
  s->len = len;
}

typedef struct parsed {
  sipkit_msg m;
  sipkit_header h[128];
} parsed;

static const sipkit_msg *parse(parsed *p, const seen *s) {
  sipkit_msg_init(&p->m, p->h, 128);
  assert_int_equal(sipkit_parse(&p->m, s->buf, s->len, 0, NULL), SIPKIT_EOK);
  return &p->m;
}

static int count(const sipkit_msg *m, int id) {
  int n = 0;
  for (const sipkit_header *h = sipkit_msg_header(m, id); h; h = sipkit_msg_header_next(m, h))
    n++;
  return n;
}

static const char *value(const sipkit_msg *m, const char *buf, int id, char *out, size_t cap) {
  const sipkit_header *h = sipkit_msg_header(m, id);
  out[0] = 0;
  if (h)
    snprintf(out, cap, "%.*s", (int)h->value.len, buf + h->value.off);
  return out;
}

static const char *ruri(const sipkit_msg *m, const char *buf, char *out, size_t cap) {
  snprintf(out, cap, "%.*s", (int)m->request_uri.len, buf + m->request_uri.off);
  return out;
}

/* ------------------------------------------------------------------ */
/* The three parties                                                   */

enum { BOB_ANSWER = 0, BOB_RING };

typedef struct fx {
  sipkit_rt *rt;
  sipkit_ua *alice, *proxy, *bob;
  int timed_out;
  char bob_contact[96], proxy_rr[96];
  /* bob */
  int bob_mode, bob_invites, bob_acks, bob_infos, bob_byes, bob_cancels, bob_ends;
  seen bob_invite, bob_ack, bob_info, bob_bye;
  /* proxy */
  int routed, routed_dlg_null;
  int fwd_status[16], n_fwd;
  /* alice */
  int status[8], n_status, done, info_done, bye_done, info_status, bye_status, alice_ends;
  seen alice_final;
  sipkit_req *invite;
  sipkit_dlg *dlg;
} fx;

static int bob_request(void *data, sipkit_ua *ua, sipkit_srv *srv, sipkit_dlg *dlg,
                       const sipkit_msg *m, const char *buf, size_t len) {
  (void)ua, (void)dlg;
  fx *f = data;
  static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                            "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
  if (m->method == SIPKIT_METHOD_INVITE) {
    f->bob_invites++;
    keep(&f->bob_invite, buf, len);
    assert_int_equal(sipkit_srv_respond(srv, 180, NULL, NULL), SIPKIT_EOK);
    if (f->bob_mode == BOB_ANSWER) {
      sipkit_resp_opts o = {.content_type = "application/sdp", .body = sdp, .body_len = sizeof sdp - 1};
      assert_int_equal(sipkit_srv_respond(srv, 200, &o, NULL), SIPKIT_EOK);
    }
    return 1;
  }
  if (m->method == SIPKIT_METHOD_INFO) {
    f->bob_infos++;
    keep(&f->bob_info, buf, len);
    assert_int_equal(sipkit_srv_respond(srv, 200, NULL, NULL), SIPKIT_EOK); /* the core says 501 */
    return 1;
  }
  if (m->method == SIPKIT_METHOD_BYE) {
    f->bob_byes++;
    keep(&f->bob_bye, buf, len);
  }
  return 0;
}

static void bob_ack(void *data, sipkit_ua *ua, sipkit_dlg *dlg, const sipkit_msg *m,
                    const char *buf, size_t len) {
  (void)ua, (void)dlg, (void)m;
  fx *f = data;
  f->bob_acks++;
  keep(&f->bob_ack, buf, len);
}

static void bob_cancel(void *data, sipkit_ua *ua, sipkit_srv *srv) {
  (void)ua, (void)srv;
  ((fx *)data)->bob_cancels++;
}

static void bob_end(void *data, sipkit_ua *ua, sipkit_dlg *dlg, int why) {
  (void)ua, (void)dlg, (void)why;
  ((fx *)data)->bob_ends++;
}

static void on_forwarded(void *data, sipkit_srv *srv, int status, const sipkit_msg *m,
                         const char *buf, size_t len) {
  (void)srv, (void)m, (void)buf, (void)len;
  fx *f = data;
  if (f->n_fwd < 16)
    f->fwd_status[f->n_fwd++] = status;
}

/* The proxy's routing logic, as a script would write it: bob is known
 * (his contact is the location service's answer), anyone else is 404. */
static int proxy_request(void *data, sipkit_ua *ua, sipkit_srv *srv, sipkit_dlg *dlg,
                         const sipkit_msg *m, const char *buf, size_t len) {
  (void)ua, (void)len;
  fx *f = data;
  if (sipkit_srv_routed(srv)) {
    f->routed++;
    f->routed_dlg_null += dlg == NULL;
    return 0; /* the core forwards it */
  }
  if (m->ruri.user.len == 3 && !memcmp(buf + m->ruri.user.off, "bob", 3)) {
    sipkit_fwd_opts o = {.uri = f->bob_contact, .record_route = 1, .cb = on_forwarded, .data = f};
    assert_int_equal(sipkit_srv_forward(srv, &o, NULL), SIPKIT_EOK);
    /* the proxy owns srv now */
    assert_int_equal(sipkit_srv_respond(srv, 500, NULL, NULL), SIPKIT_ESTATE);
    assert_int_equal(sipkit_srv_forward(srv, &o, NULL), SIPKIT_EARGUMENT);
    return 1;
  }
  assert_int_equal(sipkit_srv_respond(srv, 404, NULL, NULL), SIPKIT_EOK);
  return 1;
}

static void alice_end(void *data, sipkit_ua *ua, sipkit_dlg *dlg, int why) {
  (void)ua, (void)dlg, (void)why;
  ((fx *)data)->alice_ends++;
}

static void alice_response(void *data, sipkit_req *req, int status, sipkit_dlg *dlg,
                           const sipkit_msg *m, const char *buf, size_t len) {
  (void)len;
  fx *f = data;
  if (f->n_status < 8)
    f->status[f->n_status++] = status;
  if (status == 180 && f->bob_mode == BOB_RING)
    assert_int_equal(sipkit_req_cancel(req), SIPKIT_EOK);
  if (status >= 200) {
    f->done = 1;
    f->dlg = dlg;
    if (m)
      keep(&f->alice_final, buf, m->size);
  }
}

static void info_response(void *data, sipkit_req *req, int status, sipkit_dlg *dlg,
                          const sipkit_msg *m, const char *buf, size_t len) {
  (void)req, (void)dlg, (void)m, (void)buf, (void)len;
  fx *f = data;
  if (status >= 200)
    f->info_status = status, f->info_done = 1;
}

static void bye_response(void *data, sipkit_req *req, int status, sipkit_dlg *dlg,
                         const sipkit_msg *m, const char *buf, size_t len) {
  (void)req, (void)dlg, (void)m, (void)buf, (void)len;
  fx *f = data;
  if (status >= 200)
    f->bye_status = status, f->bye_done = 1;
}

static const sipkit_ua_handlers bob_h = {.on_request = bob_request, .on_ack = bob_ack,
                                         .on_cancel = bob_cancel, .on_dialog_end = bob_end};
static const sipkit_ua_handlers proxy_h = {.on_request = proxy_request};
static const sipkit_ua_handlers alice_h = {.on_dialog_end = alice_end};

static void deadline(void *data) {
  fx *f = data;
  f->timed_out = 1;
  sipkit_rt_stop(f->rt);
}

static void run_until(fx *f, const int *flag, uint64_t ms) {
  sipkit_timer *t = sipkit_rt_timer(f->rt, ms, deadline, f);
  while (!*flag && !f->timed_out)
    sipkit_rt_run(f->rt, SIPKIT_RT_RUN_ONCE);
  if (!f->timed_out)
    sipkit_timer_cancel(t);
  assert_false(f->timed_out);
}

static void fx_open(fx *f) {
  memset(f, 0, sizeof *f);
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  assert_int_equal(sipkit_rt_new(&f->rt, NULL, &cfg), SIPKIT_EOK);
  sipkit_ua_config cb = {.bind = "127.0.0.1:0", .user = "bob"};
  sipkit_ua_config cp = {.bind = "127.0.0.1:0", .user = "proxy", .proxy = 1};
  sipkit_ua_config ca = {.bind = "127.0.0.1:0", .user = "alice"};
  assert_int_equal(sipkit_ua_open(f->rt, &cb, &bob_h, f, &f->bob, NULL), SIPKIT_EOK);
  assert_int_equal(sipkit_ua_open(f->rt, &cp, &proxy_h, f, &f->proxy, NULL), SIPKIT_EOK);
  assert_int_equal(sipkit_ua_open(f->rt, &ca, &alice_h, f, &f->alice, NULL), SIPKIT_EOK);
  snprintf(f->bob_contact, sizeof f->bob_contact, "sip:bob@%s", sipkit_ua_addr(f->bob));
  snprintf(f->proxy_rr, sizeof f->proxy_rr, "<sip:%s;lr>", sipkit_ua_addr(f->proxy));
}

static void fx_close(fx *f) {
  sipkit_rt_free(f->rt);
}

static void invite_bob(fx *f, const char *user) {
  char uri[128];
  snprintf(uri, sizeof uri, "sip:%s@%s", user, sipkit_ua_addr(f->proxy));
  sipkit_req_opts o = {.method = "INVITE", .uri = uri};
  assert_int_equal(sipkit_ua_request(f->alice, &o, alice_response, f, &f->invite, NULL),
                   SIPKIT_EOK);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void test_call_through_proxy(void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  parsed p;
  char v[256], want[256];
  invite_bob(&f, "bob");
  run_until(&f, &f.done, 5000);
  assert_int_equal(f.n_status, 2); /* 100 is hop by hop: not relayed */
  assert_int_equal(f.status[0], 180);
  assert_int_equal(f.status[1], 200);
  assert_int_equal(f.bob_invites, 1);

  /* what bob received: the proxy's Via on top of alice's, its
   * Record-Route, Max-Forwards 70 - 1, the registered contact */
  const sipkit_msg *m = parse(&p, &f.bob_invite);
  assert_string_equal(ruri(m, f.bob_invite.buf, v, sizeof v), f.bob_contact);
  assert_int_equal(count(m, SIPKIT_HDR_VIA), 2);
  snprintf(want, sizeof want, "SIP/2.0/UDP %s;branch=", sipkit_ua_addr(f.proxy));
  assert_memory_equal(value(m, f.bob_invite.buf, SIPKIT_HDR_VIA, v, sizeof v), want, strlen(want));
  const sipkit_header *second = sipkit_msg_header_next(m, sipkit_msg_header(m, SIPKIT_HDR_VIA));
  snprintf(want, sizeof want, ";received=127.0.0.1;rport=%d", sipkit_ua_port(f.alice));
  assert_non_null(strstr(f.bob_invite.buf + second->value.off, want));
  assert_int_equal(count(m, SIPKIT_HDR_RECORD_ROUTE), 1);
  assert_string_equal(value(m, f.bob_invite.buf, SIPKIT_HDR_RECORD_ROUTE, v, sizeof v), f.proxy_rr);
  assert_string_equal(value(m, f.bob_invite.buf, SIPKIT_HDR_MAX_FORWARDS, v, sizeof v), "69");
  assert_int_equal(count(m, SIPKIT_HDR_ROUTE), 0);
  assert_int_equal(m->body.len > 0, 0); /* alice offered nothing */

  /* what alice received: her Via only, the Record-Route */
  m = parse(&p, &f.alice_final);
  assert_int_equal(m->status, 200);
  assert_int_equal(count(m, SIPKIT_HDR_VIA), 1);
  assert_string_equal(value(m, f.alice_final.buf, SIPKIT_HDR_RECORD_ROUTE, v, sizeof v), f.proxy_rr);
  assert_true(m->body.len > 0);
  assert_non_null(f.dlg);
  assert_string_equal(sipkit_dlg_remote_target(f.dlg), f.bob_contact);

  /* the proxy's callback saw 180 and 200 */
  assert_int_equal(f.n_fwd, 2);
  assert_int_equal(f.fwd_status[0], 180);
  assert_int_equal(f.fwd_status[1], 200);

  /* the ACK went through the proxy (stateless): two Vias, Route consumed */
  run_until(&f, &f.bob_acks, 5000);
  assert_int_equal(f.bob_acks, 1);
  m = parse(&p, &f.bob_ack);
  assert_string_equal(ruri(m, f.bob_ack.buf, v, sizeof v), f.bob_contact);
  assert_int_equal(count(m, SIPKIT_HDR_VIA), 2);
  assert_int_equal(count(m, SIPKIT_HDR_ROUTE), 0);
  assert_string_equal(value(m, f.bob_ack.buf, SIPKIT_HDR_MAX_FORWARDS, v, sizeof v), "69");

  /* INFO and BYE follow the route set: through the proxy, not
   * answered 481 there, forwarded by its core */
  sipkit_req_opts io = {.method = "INFO", .content_type = "application/dtmf-relay",
                        .body = "Signal=5\r\nDuration=160\r\n", .body_len = 25};
  assert_int_equal(sipkit_dlg_request(f.dlg, &io, info_response, &f, NULL, NULL), SIPKIT_EOK);
  run_until(&f, &f.info_done, 5000);
  assert_int_equal(f.info_status, 200);
  assert_int_equal(f.bob_infos, 1);
  m = parse(&p, &f.bob_info);
  assert_string_equal(ruri(m, f.bob_info.buf, v, sizeof v), f.bob_contact);
  assert_int_equal(count(m, SIPKIT_HDR_VIA), 2);
  assert_int_equal(count(m, SIPKIT_HDR_ROUTE), 0);
  assert_int_equal(m->body.len, 25);

  sipkit_req_opts bo = {.method = "BYE"};
  assert_int_equal(sipkit_dlg_request(f.dlg, &bo, bye_response, &f, NULL, NULL), SIPKIT_EOK);
  run_until(&f, &f.bye_done, 5000);
  assert_int_equal(f.bye_status, 200);
  assert_int_equal(f.bob_byes, 1);
  m = parse(&p, &f.bob_bye);
  assert_int_equal(count(m, SIPKIT_HDR_VIA), 2);
  assert_int_equal(f.routed, 2); /* INFO and BYE, each outside the proxy's dialogs */
  assert_int_equal(f.routed_dlg_null, 2);
  assert_int_equal(f.alice_ends, 1);
  assert_int_equal(f.bob_ends, 1);

  sipkit_rt_stats st;
  sipkit_rt_get_stats(f.rt, &st);
  assert_int_equal(st.retransmissions, 0);
  fx_close(&f);
}

static void test_cancel_relayed(void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  f.bob_mode = BOB_RING;
  invite_bob(&f, "bob");
  run_until(&f, &f.done, 5000);
  assert_int_equal(f.n_status, 2);
  assert_int_equal(f.status[0], 180);
  assert_int_equal(f.status[1], 487);
  assert_int_equal(f.bob_cancels, 1); /* bob saw the CANCEL the proxy passed on */
  parsed p;
  const sipkit_msg *m = parse(&p, &f.alice_final);
  assert_int_equal(count(m, SIPKIT_HDR_VIA), 1);
  /* proxy callback: 180, the CANCEL (0), bob's 487 */
  assert_int_equal(f.n_fwd, 3);
  assert_int_equal(f.fwd_status[0], 180);
  assert_int_equal(f.fwd_status[1], 0);
  assert_int_equal(f.fwd_status[2], 487);
  fx_close(&f);
}

static void test_unknown_user_404(void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  invite_bob(&f, "carol");
  run_until(&f, &f.done, 5000);
  assert_int_equal(f.n_status, 1);
  assert_int_equal(f.status[0], 404);
  assert_int_equal(f.bob_invites, 0);
  fx_close(&f);
}

/* A raw socket plays the upstream so that Max-Forwards can be set. */
static int raw_exchange(fx *f, int mf, char *out, size_t cap) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
  socklen_t sl = sizeof me;
  getsockname(fd, (struct sockaddr *)&me, &sl);
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "MESSAGE sip:bob@%s SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKraw%d\r\n"
                   "Max-Forwards: %d\r\n"
                   "From: <sip:raw@127.0.0.1>;tag=r1\r\n"
                   "To: <sip:bob@%s>\r\n"
                   "Call-ID: raw-%d@127.0.0.1\r\n"
                   "CSeq: 1 MESSAGE\r\n"
                   "Content-Length: 0\r\n\r\n",
                   sipkit_ua_addr(f->proxy), ntohs(me.sin_port), mf, mf, sipkit_ua_addr(f->proxy),
                   mf);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sipkit_ua_port(f->proxy)),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(sendto(fd, req, (size_t)n, 0, (struct sockaddr *)&to, sizeof to), n);
  ssize_t got = -1;
  for (int i = 0; i < 2000 && got < 0; i++) {
    sipkit_rt_run(f->rt, SIPKIT_RT_RUN_NOWAIT);
    got = recv(fd, out, cap - 1, MSG_DONTWAIT);
    if (got < 0)
      usleep(1000);
  }
  close(fd);
  assert_true(got > 0);
  out[got] = 0;
  return atoi(out + 8);
}

static void test_max_forwards(void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  char resp[4096];
  /* 0 at the proxy: 483 from the proxy itself (§16.3 step 3) */
  assert_int_equal(raw_exchange(&f, 0, resp, sizeof resp), 483);
  /* 1: forwarded with 0, bob's core answers 483, relayed with one Via */
  assert_int_equal(raw_exchange(&f, 1, resp, sizeof resp), 483);
  assert_int_equal(f.n_fwd, 1);
  assert_int_equal(f.fwd_status[0], 483);
  seen s;
  keep(&s, resp, strlen(resp));
  parsed p;
  assert_int_equal(count(parse(&p, &s), SIPKIT_HDR_VIA), 1);
  fx_close(&f);
}

static void test_allow_method(void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  assert_int_equal(sipkit_ua_allow_method(f.bob, "PUBLISH"), SIPKIT_EOK);
  assert_int_equal(sipkit_ua_allow_method(f.bob, "PUBLISH"), SIPKIT_EOK);
  assert_int_equal(sipkit_ua_allow_method(f.bob, "BAD METHOD"), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_ua_allow_method(f.bob, ""), SIPKIT_EARGUMENT);
  /* OPTIONS shows the list: PUBLISH once, at the end */
  sipkit_req_opts o = {.method = "OPTIONS", .uri = f.bob_contact};
  assert_int_equal(sipkit_ua_request(f.alice, &o, alice_response, &f, NULL, NULL), SIPKIT_EOK);
  run_until(&f, &f.done, 5000);
  parsed p;
  char v[512];
  const sipkit_msg *m = parse(&p, &f.alice_final);
  assert_string_equal(value(m, f.alice_final.buf, SIPKIT_HDR_ALLOW, v, sizeof v),
                      "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, MESSAGE, REFER, "
                      "SUBSCRIBE, NOTIFY, PUBLISH");
  fx_close(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_call_through_proxy),
      cmocka_unit_test(test_cancel_relayed),
      cmocka_unit_test(test_unknown_user_404),
      cmocka_unit_test(test_max_forwards),
      cmocka_unit_test(test_allow_method),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
