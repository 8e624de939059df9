/* test_ua.c - a sipkit UAC and a sipkit UAS in one process and one loop,
 * over 127.0.0.1: calls, CANCEL, digest REGISTER, PRACK, re-INVITE,
 * SUBSCRIBE/NOTIFY, and 100 calls under 20% injected loss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sipkit_auth.h"
#include "sipkit_dialog.h"
#include "sipkit_rt.h"

/* ------------------------------------------------------------------ */
/* The UAS side                                                        */

enum { UAS_ANSWER = 0, UAS_RING, UAS_PRACK };

typedef struct uas {
  int mode;
  int invites, reinvites, infos, byes, acks, cancels, pracks, registers, subscribes, ends;
  int last_end;
  char last_rack[64];
  char register_call_id[2][64];
  unsigned register_cseq[2];
  sipkit_srv *pending_invite;
  sipkit_dlg *sub_dlg;
  const char *password;
} uas;

static void copy_hdr(const sipkit_msg *m, const char *buf, int id, char *out, size_t cap) {
  const sipkit_header *h = sipkit_msg_header(m, id);
  out[0] = 0;
  if (h) {
    size_t n = h->value.len < cap - 1 ? h->value.len : cap - 1;
    memcpy(out, buf + h->value.off, n);
    out[n] = 0;
  }
}

static int uas_register(uas *u, sipkit_srv *srv, const sipkit_msg *m, const char *buf) {
  if (u->registers < 2) {
    size_t n = m->call_id.len < 63 ? m->call_id.len : 63;
    memcpy(u->register_call_id[u->registers], buf + m->call_id.off, n);
    u->register_call_id[u->registers][n] = 0;
    u->register_cseq[u->registers] = m->cseq->num;
  }
  u->registers++;
  const sipkit_header *h = sipkit_msg_header(m, SIPKIT_HDR_AUTHORIZATION);
  if (!h) {
    sipkit_auth_challenge_in in = {"test.example", "0123456789abcdef", NULL, SIPKIT_DIGEST_MD5,
                                   SIPKIT_QOP_AUTH, 0};
    char v[512], line[600];
    size_t len;
    assert_int_equal(sipkit_auth_challenge_build(&in, v, sizeof v, &len, NULL), SIPKIT_EOK);
    snprintf(line, sizeof line, "WWW-Authenticate: %s", v);
    const char *lines[1] = {line};
    sipkit_resp_opts o = {.headers = lines, .header_count = 1};
    assert_int_equal(sipkit_srv_respond(srv, 401, &o, NULL), SIPKIT_EOK);
    return 1;
  }
  sipkit_credentials cr;
  assert_int_equal(sipkit_auth_parse_credentials(&cr, SIPKIT_HDR_AUTHORIZATION, buf, h->value, NULL),
                   SIPKIT_EOK);
  sipkit_auth_verify_in vin = {u->password, NULL, "REGISTER", NULL, 0};
  int ok = sipkit_auth_verify(&cr, buf, &vin) == SIPKIT_EOK;
  assert_int_equal(sipkit_srv_respond(srv, ok ? 200 : 403, NULL, NULL), SIPKIT_EOK);
  return 1;
}

static int uas_on_request(void *data, sipkit_ua *ua, sipkit_srv *srv, sipkit_dlg *dlg,
                          const sipkit_msg *msg, const char *buf, size_t len) {
  (void)ua;
  (void)len;
  uas *u = data;
  static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                            "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
  sipkit_resp_opts with_sdp = {.content_type = "application/sdp", .body = sdp,
                               .body_len = sizeof sdp - 1};
  switch (msg->method) {
  case SIPKIT_METHOD_INVITE:
    if (dlg) {
      u->reinvites++;
      assert_int_equal(sipkit_srv_respond(srv, 200, &with_sdp, NULL), SIPKIT_EOK);
      return 1;
    }
    u->invites++;
    if (u->mode == UAS_PRACK) {
      sipkit_resp_opts rel = {.reliable = 1};
      assert_int_equal(sipkit_srv_respond(srv, 183, &rel, NULL), SIPKIT_EOK);
      u->pending_invite = srv;
      return 1;
    }
    assert_int_equal(sipkit_srv_respond(srv, 180, NULL, NULL), SIPKIT_EOK);
    if (u->mode == UAS_ANSWER)
      assert_int_equal(sipkit_srv_respond(srv, 200, &with_sdp, NULL), SIPKIT_EOK);
    else
      u->pending_invite = srv;
    return 1;
  case SIPKIT_METHOD_PRACK:
    u->pracks++;
    copy_hdr(msg, buf, SIPKIT_HDR_RACK, u->last_rack, sizeof u->last_rack);
    if (u->pending_invite) {
      assert_int_equal(sipkit_srv_respond(u->pending_invite, 200, &with_sdp, NULL), SIPKIT_EOK);
      u->pending_invite = NULL;
    }
    return 0; /* the core answers the PRACK 200 */
  case SIPKIT_METHOD_INFO:
    u->infos++;
    assert_non_null(dlg);
    assert_int_equal(sipkit_srv_respond(srv, 200, NULL, NULL), SIPKIT_EOK);
    return 1;
  case SIPKIT_METHOD_BYE:
    u->byes++;
    return 0;
  case SIPKIT_METHOD_REGISTER:
    return uas_register(u, srv, msg, buf);
  case SIPKIT_METHOD_SUBSCRIBE: {
    u->subscribes++;
    const char *lines[1] = {"Expires: 60"};
    sipkit_resp_opts o = {.headers = lines, .header_count = 1};
    assert_int_equal(sipkit_srv_respond(srv, 200, &o, NULL), SIPKIT_EOK);
    u->sub_dlg = sipkit_srv_dialog(srv);
    return 1;
  }
  case SIPKIT_METHOD_MESSAGE:
    assert_int_equal(sipkit_srv_respond(srv, 202, NULL, NULL), SIPKIT_EOK);
    return 1;
  default:
    return 0;
  }
}

static void uas_on_ack(void *data, sipkit_ua *ua, sipkit_dlg *dlg, const sipkit_msg *msg,
                       const char *buf, size_t len) {
  (void)ua, (void)dlg, (void)msg, (void)buf, (void)len;
  ((uas *)data)->acks++;
}

static void uas_on_cancel(void *data, sipkit_ua *ua, sipkit_srv *srv) {
  (void)ua;
  uas *u = data;
  u->cancels++;
  if (u->pending_invite == srv)
    u->pending_invite = NULL;
}

static void uas_on_end(void *data, sipkit_ua *ua, sipkit_dlg *dlg, int why) {
  (void)ua, (void)dlg;
  uas *u = data;
  u->ends++;
  u->last_end = why;
  if (dlg == u->sub_dlg)
    u->sub_dlg = NULL;
}

static const sipkit_ua_handlers uas_handlers = {.on_request = uas_on_request,
                                                .on_ack = uas_on_ack,
                                                .on_cancel = uas_on_cancel,
                                                .on_dialog_end = uas_on_end};

/* ------------------------------------------------------------------ */
/* The UAC side: a call as a chain of callbacks                       */

typedef struct uac {
  sipkit_rt *rt;
  sipkit_ua *ua;
  char target[64];
  int calls_wanted, calls_done, calls_failed;
  int statuses[16];
  int n_status;
  int info_status, bye_status, reinvite_status;
  int do_reinvite, cancel_on_180, prack;
  int ends, last_end;
  int notify_seen;
  sipkit_req *invite;
  sipkit_dlg *dlg;
  int finished;
} uac;

static void start_call(uac *c);

static void uac_on_end(void *data, sipkit_ua *ua, sipkit_dlg *dlg, int why) {
  (void)ua, (void)dlg;
  uac *c = data;
  c->ends++;
  c->last_end = why;
}

static int uac_on_request(void *data, sipkit_ua *ua, sipkit_srv *srv, sipkit_dlg *dlg,
                          const sipkit_msg *msg, const char *buf, size_t len) {
  (void)ua, (void)buf, (void)len;
  uac *c = data;
  if (msg->method == SIPKIT_METHOD_NOTIFY && dlg) {
    c->notify_seen++;
    assert_int_equal(sipkit_srv_respond(srv, 200, NULL, NULL), SIPKIT_EOK);
    return 1;
  }
  return 0;
}

static const sipkit_ua_handlers uac_handlers = {.on_request = uac_on_request,
                                                .on_dialog_end = uac_on_end};

static void call_over(uac *c, int ok) {
  c->calls_done++;
  if (!ok)
    c->calls_failed++;
  if (c->calls_done < c->calls_wanted)
    start_call(c);
  else
    c->finished = 1;
}

static void on_bye(void *data, sipkit_req *req, int status, sipkit_dlg *dlg, const sipkit_msg *msg,
                   const char *buf, size_t len) {
  (void)req, (void)dlg, (void)msg, (void)buf, (void)len;
  uac *c = data;
  if (status < 200)
    return;
  c->bye_status = status;
  call_over(c, status == 200);
}

static void send_bye(uac *c) {
  sipkit_req_opts o = {.method = "BYE"};
  assert_int_equal(sipkit_dlg_request(c->dlg, &o, on_bye, c, NULL, NULL), SIPKIT_EOK);
}

static void on_reinvite(void *data, sipkit_req *req, int status, sipkit_dlg *dlg,
                        const sipkit_msg *msg, const char *buf, size_t len) {
  (void)req, (void)dlg, (void)msg, (void)buf, (void)len;
  uac *c = data;
  if (status < 200)
    return;
  c->reinvite_status = status;
  send_bye(c);
}

static void on_info(void *data, sipkit_req *req, int status, sipkit_dlg *dlg, const sipkit_msg *msg,
                    const char *buf, size_t len) {
  (void)req, (void)dlg, (void)msg, (void)buf, (void)len;
  uac *c = data;
  if (status < 200)
    return;
  c->info_status = status;
  if (status != 200) {
    call_over(c, 0);
    return;
  }
  if (c->do_reinvite) {
    sipkit_req_opts o = {.method = "INVITE"};
    assert_int_equal(sipkit_dlg_request(c->dlg, &o, on_reinvite, c, NULL, NULL), SIPKIT_EOK);
  } else {
    send_bye(c);
  }
}

static void on_invite(void *data, sipkit_req *req, int status, sipkit_dlg *dlg,
                      const sipkit_msg *msg, const char *buf, size_t len) {
  (void)msg, (void)buf, (void)len;
  uac *c = data;
  if (c->n_status < 16)
    c->statuses[c->n_status++] = status;
  if (status == 180 && c->cancel_on_180)
    assert_int_equal(sipkit_req_cancel(req), SIPKIT_EOK);
  if (status < 200)
    return;
  if (status != 200) {
    call_over(c, c->cancel_on_180 && status == 487);
    return;
  }
  assert_non_null(dlg);
  assert_int_equal(sipkit_dlg_state(dlg), SIPKIT_DIALOG_CONFIRMED);
  c->dlg = dlg;
  const char *lines[1] = {"Info-Package: dtmf"};
  sipkit_req_opts o = {.method = "INFO", .headers = lines, .header_count = 0,
                       .content_type = "application/dtmf-relay",
                       .body = "Signal=5\r\nDuration=160\r\n", .body_len = 24};
  (void)lines;
  assert_int_equal(sipkit_dlg_request(dlg, &o, on_info, c, NULL, NULL), SIPKIT_EOK);
}

static void start_call(uac *c) {
  char uri[96];
  snprintf(uri, sizeof uri, "sip:bob@%s", c->target);
  c->n_status = 0;
  sipkit_req_opts o = {.method = "INVITE", .uri = uri, .prack = c->prack};
  assert_int_equal(sipkit_ua_request(c->ua, &o, on_invite, c, &c->invite, NULL), SIPKIT_EOK);
}

/* ------------------------------------------------------------------ */
/* Fixture                                                             */

typedef struct fix {
  sipkit_rt *rt;
  sipkit_ua *a, *b; /* a: UAC, b: UAS */
  uac c;
  uas s;
  int timed_out;
  /* trace: responses the UAC received, "status method" */
  char seen[64][32];
  int n_seen;
} fix;

static void on_trace(void *data, int dir, uint64_t t, const struct sockaddr *l,
                     const struct sockaddr *r, const char *bytes, size_t len) {
  (void)t, (void)l, (void)r;
  fix *f = data;
  if (dir != SIPKIT_RT_RECEIVED || len < 12 || memcmp(bytes, "SIP/2.0 ", 8) || f->n_seen >= 64)
    return;
  const char *cs = strstr(bytes, "\r\nCSeq: ");
  if (!cs || cs > bytes + len)
    return;
  const char *sp = strchr(cs + 8, ' ');
  const char *eol = strstr(cs + 8, "\r\n");
  if (!sp || !eol)
    return;
  snprintf(f->seen[f->n_seen++], 32, "%.3s %.*s", bytes + 8, (int)(eol - sp - 1), sp + 1);
}

static void deadline(void *data) {
  fix *f = data;
  f->timed_out = 1;
  sipkit_rt_stop(f->rt);
}

static void fix_open(fix *f, const sipkit_rt_config *cfg, const char *uas_allow, const char *pw) {
  memset(f, 0, sizeof *f);
  assert_int_equal(sipkit_rt_new(&f->rt, NULL, cfg), SIPKIT_EOK);
  sipkit_ua_config ub = {.bind = "127.0.0.1:0", .user = "bob", .allow = uas_allow};
  sipkit_ua_config ua = {.bind = "127.0.0.1:0", .user = "alice", .password = pw};
  assert_int_equal(sipkit_ua_open(f->rt, &ub, &uas_handlers, &f->s, &f->b, NULL), SIPKIT_EOK);
  assert_int_equal(sipkit_ua_open(f->rt, &ua, &uac_handlers, &f->c, &f->a, NULL), SIPKIT_EOK);
  f->c.rt = f->rt;
  f->c.ua = f->a;
  snprintf(f->c.target, sizeof f->c.target, "%s", sipkit_ua_addr(f->b));
  f->s.password = "secret";
}

/* Run until flag is set, with a deadline. */
static void run_until(fix *f, const int *flag, uint64_t ms) {
  sipkit_timer *t = sipkit_rt_timer(f->rt, ms, deadline, f);
  while (!*flag && !f->timed_out)
    sipkit_rt_run(f->rt, SIPKIT_RT_RUN_ONCE);
  if (!f->timed_out)
    sipkit_timer_cancel(t);
  assert_false(f->timed_out);
}

static void small_timers(sipkit_rt_config *cfg) {
  sipkit_rt_config_default(cfg);
  cfg->txn.t1 = 20;
  cfg->txn.t2 = 80;
  cfg->txn.t4 = 100;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void test_call_info_bye(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  /* default T1 (500 ms): no loss, so nothing may be retransmitted even
   * on a slow (valgrind) run and the datagram counts are exact */
  sipkit_rt_config_default(&cfg);
  fix f;
  fix_open(&f, &cfg, NULL, NULL);
  sipkit_rt_set_trace(f.rt, on_trace, &f);
  f.c.calls_wanted = 1;
  start_call(&f.c);
  run_until(&f, &f.c.finished, 5000);
  assert_int_equal(f.c.calls_failed, 0);
  assert_int_equal(f.c.n_status, 2);
  assert_int_equal(f.c.statuses[0], 180);
  assert_int_equal(f.c.statuses[1], 200);
  assert_int_equal(f.c.info_status, 200);
  assert_int_equal(f.c.bye_status, 200);
  assert_int_equal(f.s.invites, 1);
  assert_int_equal(f.s.infos, 1);
  assert_int_equal(f.s.byes, 1);
  assert_int_equal(f.s.acks, 1);
  assert_int_equal(f.c.ends, 1);
  assert_int_equal(f.c.last_end, SIPKIT_DLG_END_BYE_SENT);
  assert_int_equal(f.s.ends, 1);
  assert_int_equal(f.s.last_end, SIPKIT_DLG_END_BYE_RECEIVED);
  assert_int_equal(f.n_seen, 4);
  assert_string_equal(f.seen[0], "180 INVITE");
  assert_string_equal(f.seen[1], "200 INVITE");
  assert_string_equal(f.seen[2], "200 INFO");
  assert_string_equal(f.seen[3], "200 BYE");
  sipkit_rt_stats st;
  sipkit_rt_get_stats(f.rt, &st);
  assert_int_equal(st.dialogs, 0);
  /* UAC: INVITE ACK INFO BYE; UAS: 180 200 200 200 */
  assert_int_equal(st.datagrams_out, 8);
  assert_int_equal(st.datagrams_in, 8);
  assert_int_equal(st.retransmissions, 0);
  sipkit_rt_free(f.rt);
}

static void test_cancel_after_180(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  small_timers(&cfg);
  fix f;
  fix_open(&f, &cfg, NULL, NULL);
  sipkit_rt_set_trace(f.rt, on_trace, &f);
  f.s.mode = UAS_RING;
  f.c.cancel_on_180 = 1;
  f.c.calls_wanted = 1;
  start_call(&f.c);
  run_until(&f, &f.c.finished, 5000);
  assert_int_equal(f.c.calls_failed, 0);
  assert_int_equal(f.c.n_status, 2);
  assert_int_equal(f.c.statuses[0], 180);
  assert_int_equal(f.c.statuses[1], 487);
  assert_int_equal(f.s.cancels, 1);
  /* the 200 to the CANCEL and the 487 both reached the UAC */
  int ok_cancel = 0, got_487 = 0;
  for (int i = 0; i < f.n_seen; i++) {
    ok_cancel += !strcmp(f.seen[i], "200 CANCEL");
    got_487 += !strcmp(f.seen[i], "487 INVITE");
  }
  assert_int_equal(ok_cancel, 1);
  assert_int_equal(got_487, 1);
  /* the early dialogs of both sides ended */
  assert_int_equal(f.c.ends, 1);
  assert_int_equal(f.c.last_end, SIPKIT_DLG_END_EARLY_ENDED);
  assert_int_equal(f.s.ends, 1);
  assert_int_equal(f.s.last_end, SIPKIT_DLG_END_EARLY_ENDED);
  sipkit_rt_free(f.rt);
}

typedef struct reg_result {
  int status, done;
} reg_result;

static void on_register(void *data, sipkit_req *req, int status, sipkit_dlg *dlg,
                        const sipkit_msg *msg, const char *buf, size_t len) {
  (void)req, (void)dlg, (void)msg, (void)buf, (void)len;
  reg_result *r = data;
  if (status >= 200) {
    r->status = status;
    r->done = 1;
  }
}

static void register_with(const char *password, int want_status) {
  sipkit_rt_config cfg;
  small_timers(&cfg);
  fix f;
  fix_open(&f, &cfg, "REGISTER, OPTIONS", password);
  char uri[96];
  snprintf(uri, sizeof uri, "sip:%s", f.c.target);
  reg_result r = {0, 0};
  sipkit_req_opts o = {.method = "REGISTER", .uri = uri, .to = "sip:alice@test.example",
                       .from = "sip:alice@test.example"};
  assert_int_equal(sipkit_ua_request(f.a, &o, on_register, &r, NULL, NULL), SIPKIT_EOK);
  run_until(&f, &r.done, 5000);
  assert_int_equal(r.status, want_status);
  assert_int_equal(f.s.registers, 2);
  assert_string_equal(f.s.register_call_id[0], f.s.register_call_id[1]);
  assert_int_equal(f.s.register_cseq[0], 1);
  assert_int_equal(f.s.register_cseq[1], 2);
  sipkit_rt_free(f.rt);
}

static void test_register_digest(void **state) {
  (void)state;
  register_with("secret", 200);
}

static void test_register_wrong_password(void **state) {
  (void)state;
  register_with("guess", 403);
}

static void test_prack(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  small_timers(&cfg);
  fix f;
  fix_open(&f, &cfg, NULL, NULL);
  f.s.mode = UAS_PRACK;
  f.c.prack = 1;
  f.c.calls_wanted = 1;
  start_call(&f.c);
  run_until(&f, &f.c.finished, 5000);
  assert_int_equal(f.c.calls_failed, 0);
  assert_int_equal(f.c.n_status, 2);
  assert_int_equal(f.c.statuses[0], 183);
  assert_int_equal(f.c.statuses[1], 200);
  assert_int_equal(f.s.pracks, 1);
  assert_string_equal(f.s.last_rack, "1 1 INVITE");
  sipkit_rt_stats st;
  sipkit_rt_get_stats(f.rt, &st);
  /* No loss: the 183 was never resent (the PRACK stopped it). */
  assert_int_equal(st.retransmissions, 0);
  sipkit_rt_free(f.rt);
}

static void test_reinvite(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  small_timers(&cfg);
  fix f;
  fix_open(&f, &cfg, NULL, NULL);
  f.c.do_reinvite = 1;
  f.c.calls_wanted = 1;
  start_call(&f.c);
  run_until(&f, &f.c.finished, 5000);
  assert_int_equal(f.c.calls_failed, 0);
  assert_int_equal(f.c.reinvite_status, 200);
  assert_int_equal(f.s.reinvites, 1);
  assert_int_equal(f.s.acks, 2);
  assert_int_equal(f.c.bye_status, 200);
  sipkit_rt_free(f.rt);
}

typedef struct sub_result {
  int status, done, notify_status, notify_done;
  sipkit_dlg *dlg;
} sub_result;

static void on_subscribe(void *data, sipkit_req *req, int status, sipkit_dlg *dlg,
                         const sipkit_msg *msg, const char *buf, size_t len) {
  (void)req, (void)msg, (void)buf, (void)len;
  sub_result *r = data;
  if (status >= 200) {
    r->status = status;
    r->dlg = dlg;
    r->done = 1;
  }
}

static void on_notify(void *data, sipkit_req *req, int status, sipkit_dlg *dlg,
                      const sipkit_msg *msg, const char *buf, size_t len) {
  (void)req, (void)dlg, (void)msg, (void)buf, (void)len;
  sub_result *r = data;
  if (status >= 200) {
    r->notify_status = status;
    r->notify_done = 1;
  }
}

static void test_subscribe_notify_message(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  small_timers(&cfg);
  fix f;
  fix_open(&f, &cfg, NULL, NULL);
  char uri[96];
  snprintf(uri, sizeof uri, "sip:bob@%s", f.c.target);
  sub_result r;
  memset(&r, 0, sizeof r);
  const char *lines[2] = {"Event: presence", "Expires: 60"};
  sipkit_req_opts o = {.method = "SUBSCRIBE", .uri = uri, .headers = lines, .header_count = 2};
  assert_int_equal(sipkit_ua_request(f.a, &o, on_subscribe, &r, NULL, NULL), SIPKIT_EOK);
  run_until(&f, &r.done, 5000);
  assert_int_equal(r.status, 200);
  assert_non_null(r.dlg);
  assert_non_null(f.s.sub_dlg);
  assert_string_equal(sipkit_dlg_call_id(r.dlg), sipkit_dlg_call_id(f.s.sub_dlg));
  assert_string_equal(sipkit_dlg_local_tag(r.dlg), sipkit_dlg_remote_tag(f.s.sub_dlg));
  const char *nl[2] = {"Event: presence", "Subscription-State: active;expires=60"};
  sipkit_req_opts n = {.method = "NOTIFY", .headers = nl, .header_count = 2};
  assert_int_equal(sipkit_dlg_request(f.s.sub_dlg, &n, on_notify, &r, NULL, NULL), SIPKIT_EOK);
  run_until(&f, &r.notify_done, 5000);
  assert_int_equal(r.notify_status, 200);
  assert_int_equal(f.c.notify_seen, 1);
  /* MESSAGE outside any dialog, text/plain is in the default Accept */
  reg_result m = {0, 0};
  sipkit_req_opts mo = {.method = "MESSAGE", .uri = uri, .content_type = "text/plain",
                        .body = "hello", .body_len = 5};
  assert_int_equal(sipkit_ua_request(f.a, &mo, on_register, &m, NULL, NULL), SIPKIT_EOK);
  run_until(&f, &m.done, 5000);
  assert_int_equal(m.status, 202);
  sipkit_dlg_close(r.dlg);
  assert_int_equal(f.c.last_end, SIPKIT_DLG_END_CLOSED);
  sipkit_rt_free(f.rt);
}

/* 100 calls in a row, every datagram either way lost with p = 0.2. */
static void test_100_calls_with_loss(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  small_timers(&cfg);
  cfg.seed = 20240601;
  cfg.drop_send = 0.2;
  fix f;
  fix_open(&f, &cfg, NULL, NULL);
  f.c.calls_wanted = 100;
  uint64_t t0 = sipkit_rt_now(f.rt);
  start_call(&f.c);
  run_until(&f, &f.c.finished, 40000);
  sipkit_rt_stats st;
  sipkit_rt_get_stats(f.rt, &st);
  printf("loss test: %d calls, %d failed, %llu ms, %llu datagrams sent, %llu retransmissions, "
         "%llu injected drops, %llu timeouts\n",
         f.c.calls_done, f.c.calls_failed, (unsigned long long)(sipkit_rt_now(f.rt) - t0),
         (unsigned long long)st.datagrams_out, (unsigned long long)st.retransmissions,
         (unsigned long long)st.injected_drops, (unsigned long long)st.txn_timeouts);
  assert_int_equal(f.c.calls_done, 100);
  assert_int_equal(f.c.calls_failed, 0);
  assert_int_equal(f.s.invites, 100);
  assert_int_equal(f.s.infos, 100);
  assert_int_equal(f.c.ends, 100);
  assert_true(st.injected_drops > 0);
  assert_true(st.retransmissions > 0);
  sipkit_rt_free(f.rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_call_info_bye),
      cmocka_unit_test(test_cancel_after_180),
      cmocka_unit_test(test_register_digest),
      cmocka_unit_test(test_register_wrong_password),
      cmocka_unit_test(test_prack),
      cmocka_unit_test(test_reinvite),
      cmocka_unit_test(test_subscribe_notify_message),
      cmocka_unit_test(test_100_calls_with_loss),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
