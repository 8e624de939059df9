/* test_txn.c - RFC 3261 §17 transactions (src/sipkit_txn.h): one
 * table-driven case per transition of figures 5-8 (+ RFC 6026 Accepted),
 * each checked for its new state and its exact actions with exact timer
 * times under an injected clock; retransmission schedules end to end; the
 * ACK the INVITE client builds; matching (§17.1.3, §17.2.3, §9.2) on the
 * bench corpus, including RFC 2543 requests without the magic cookie.
 * Run from the repository root (the corpus is read at run time). */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sipkit.h"
#include "sipkit_build.h"
#include "sipkit_txn.h"

#define STR(lit) ((sipkit_str){lit, sizeof(lit) - 1})

/* ------------------------------------------------------------------ */
/* Transition tables                                                   */

enum { EV_END = 0, EV_START, EV_RESP, EV_REQ, EV_RESPOND, EV_TIMER, EV_TERR };

typedef struct ev {
  int ev;
  int arg; /* status, method or timer */
  uint64_t now;
} ev;

typedef struct xact {
  int type;
  int timer;
  int status;
  uint64_t at;
} xact;

typedef struct tcase {
  const char *name;
  int kind;
  int reliable;
  ev pre[8];      /* events that lead to the state under test */
  ev event;       /* the transition under test */
  int state;      /* state after it */
  xact acts[8];   /* its exact actions, in order */
} tcase;

#define START(t) {EV_START, 0, t}
#define RESP(s, t) {EV_RESP, s, t}
#define REQ(m, t) {EV_REQ, SIPKIT_METHOD_##m, t}
#define RESPOND(s, t) {EV_RESPOND, s, t}
#define TIMER(x, t) {EV_TIMER, SIPKIT_TXN_TIMER_##x, t}
#define TERR(t) {EV_TERR, 0, t}

#define A_SREQ {SIPKIT_TXN_ACT_SEND_REQUEST, 0, 0, 0}
#define A_SRESP(s) {SIPKIT_TXN_ACT_SEND_RESPONSE, 0, s, 0}
#define A_S100 {SIPKIT_TXN_ACT_SEND_100, 0, 0, 0}
#define A_ACK {SIPKIT_TXN_ACT_SEND_ACK, 0, 0, 0}
#define A_PRESP(s) {SIPKIT_TXN_ACT_PASS_RESPONSE, 0, s, 0}
#define A_PREQ {SIPKIT_TXN_ACT_PASS_REQUEST, 0, 0, 0}
#define A_START(x, t) {SIPKIT_TXN_ACT_TIMER_START, SIPKIT_TXN_TIMER_##x, 0, t}
#define A_STOP(x) {SIPKIT_TXN_ACT_TIMER_STOP, SIPKIT_TXN_TIMER_##x, 0, 0}
#define A_TIMEOUT(x) {SIPKIT_TXN_ACT_TIMEOUT, SIPKIT_TXN_TIMER_##x, 0, 0}
#define A_TERR {SIPKIT_TXN_ACT_TRANSPORT_ERROR, 0, 0, 0}
#define A_TERM {SIPKIT_TXN_ACT_TERMINATED, 0, 0, 0}

#define ICT SIPKIT_TXN_INVITE_CLIENT
#define NICT SIPKIT_TXN_NON_INVITE_CLIENT
#define IST SIPKIT_TXN_INVITE_SERVER
#define NIST SIPKIT_TXN_NON_INVITE_SERVER
#define S_(x) SIPKIT_TXN_##x

static const char REQ_BYTES[] = "request bytes";
static const char RESP_BYTES[] = "response bytes";

/* Defaults: T1 500, T2 4000, T4 5000 → 64*T1 = 32000, D = 32000. */
static const tcase cases[] = {
    /* ---- INVITE client, figure 5 (+ RFC 6026), UDP ---- */
    {"ict udp: INVITE from TU -> Calling, A=T1, B=64*T1", ICT, 0, {{0}}, START(0),
     S_(CALLING), {A_SREQ, A_START(A, 500), A_START(B, 32000)}},
    {"ict udp: Calling, A fires (1st) -> resend, A doubled", ICT, 0, {START(0)},
     TIMER(A, 500), S_(CALLING), {A_SREQ, A_START(A, 1500)}},
    {"ict udp: Calling, A fires (2nd) -> resend, A doubled", ICT, 0,
     {START(0), TIMER(A, 500)}, TIMER(A, 1500), S_(CALLING),
     {A_SREQ, A_START(A, 3500)}},
    {"ict udp: Calling, B fires -> timeout, Terminated", ICT, 0, {START(0)},
     TIMER(B, 32000), S_(TERMINATED), {A_TIMEOUT(B), A_STOP(A), A_TERM}},
    {"ict udp: Calling, 1xx -> Proceeding, A and B stopped", ICT, 0, {START(0)},
     RESP(180, 100), S_(PROCEEDING), {A_STOP(A), A_STOP(B), A_PRESP(180)}},
    {"ict udp: Proceeding, 1xx -> to TU", ICT, 0, {START(0), RESP(100, 50)},
     RESP(180, 200), S_(PROCEEDING), {A_PRESP(180)}},
    {"ict udp: Proceeding, stale A ignored", ICT, 0, {START(0), RESP(100, 50)},
     TIMER(A, 500), S_(PROCEEDING), {{0}}},
    {"ict udp: Calling, 3xx-6xx -> ACK, to TU, D=32s, Completed", ICT, 0,
     {START(0)}, RESP(486, 300), S_(COMPLETED),
     {A_STOP(A), A_STOP(B), A_ACK, A_PRESP(486), A_START(D, 32300)}},
    {"ict udp: Proceeding, 3xx-6xx -> ACK, to TU, D=32s, Completed", ICT, 0,
     {START(0), RESP(180, 100)}, RESP(603, 1000), S_(COMPLETED),
     {A_ACK, A_PRESP(603), A_START(D, 33000)}},
    {"ict udp: Completed, 3xx-6xx retransmission -> ACK again", ICT, 0,
     {START(0), RESP(486, 300)}, RESP(486, 800), S_(COMPLETED), {A_ACK}},
    {"ict udp: Completed, 1xx/2xx ignored", ICT, 0,
     {START(0), RESP(486, 300)}, RESP(200, 800), S_(COMPLETED), {{0}}},
    {"ict udp: Completed, D fires -> Terminated", ICT, 0,
     {START(0), RESP(486, 300)}, TIMER(D, 32300), S_(TERMINATED), {A_TERM}},
    {"ict udp: Completed, transport error -> Terminated", ICT, 0,
     {START(0), RESP(486, 300)}, TERR(400), S_(TERMINATED),
     {A_TERR, A_STOP(D), A_TERM}},
    {"ict udp: Calling, transport error -> Terminated", ICT, 0, {START(0)},
     TERR(1), S_(TERMINATED), {A_TERR, A_STOP(A), A_STOP(B), A_TERM}},
    {"ict udp: Calling, 2xx -> to TU, M=64*T1, Accepted", ICT, 0, {START(0)},
     RESP(200, 400), S_(ACCEPTED),
     {A_STOP(A), A_STOP(B), A_PRESP(200), A_START(M, 32400)}},
    {"ict udp: Proceeding, 2xx -> to TU, M=64*T1, Accepted", ICT, 0,
     {START(0), RESP(180, 100)}, RESP(200, 5000), S_(ACCEPTED),
     {A_PRESP(200), A_START(M, 37000)}},
    {"ict udp: Accepted, 2xx retransmission -> to TU", ICT, 0,
     {START(0), RESP(200, 400)}, RESP(200, 900), S_(ACCEPTED), {A_PRESP(200)}},
    {"ict udp: Accepted, M fires -> Terminated", ICT, 0,
     {START(0), RESP(200, 400)}, TIMER(M, 32400), S_(TERMINATED), {A_TERM}},
    /* ---- INVITE client, reliable ---- */
    {"ict tcp: INVITE from TU -> Calling, no A", ICT, 1, {{0}}, START(10),
     S_(CALLING), {A_SREQ, A_START(B, 32010)}},
    {"ict tcp: Calling, 3xx-6xx -> ACK, D=0, Terminated", ICT, 1, {START(0)},
     RESP(404, 70), S_(TERMINATED), {A_STOP(B), A_ACK, A_PRESP(404), A_TERM}},
    {"ict tcp: Calling, 2xx -> Accepted, M=64*T1", ICT, 1, {START(0)},
     RESP(200, 70), S_(ACCEPTED), {A_STOP(B), A_PRESP(200), A_START(M, 32070)}},
    {"ict tcp: Calling, B fires -> timeout", ICT, 1, {START(0)}, TIMER(B, 32000),
     S_(TERMINATED), {A_TIMEOUT(B), A_TERM}},

    /* ---- non-INVITE client, figure 6, UDP ---- */
    {"nict udp: Request from TU -> Trying, E=T1, F=64*T1", NICT, 0, {{0}},
     START(0), S_(TRYING), {A_SREQ, A_START(E, 500), A_START(F, 32000)}},
    {"nict udp: Trying, E fires -> resend, E doubled", NICT, 0, {START(0)},
     TIMER(E, 500), S_(TRYING), {A_SREQ, A_START(E, 1500)}},
    {"nict udp: Trying, E fires capped at T2", NICT, 0,
     {START(0), TIMER(E, 500), TIMER(E, 1500), TIMER(E, 3500)}, TIMER(E, 7500),
     S_(TRYING), {A_SREQ, A_START(E, 11500)}},
    {"nict udp: Trying, 1xx -> to TU, Proceeding", NICT, 0, {START(0)},
     RESP(100, 50), S_(PROCEEDING), {A_PRESP(100)}},
    {"nict udp: Proceeding, 1xx -> to TU", NICT, 0, {START(0), RESP(100, 50)},
     RESP(180, 60), S_(PROCEEDING), {A_PRESP(180)}},
    {"nict udp: Proceeding, E fires -> resend, E=T2", NICT, 0,
     {START(0), RESP(100, 50)}, TIMER(E, 500), S_(PROCEEDING),
     {A_SREQ, A_START(E, 4500)}},
    {"nict udp: Trying, 200-699 -> to TU, K=T4, Completed", NICT, 0, {START(0)},
     RESP(200, 60), S_(COMPLETED),
     {A_STOP(E), A_STOP(F), A_PRESP(200), A_START(K, 5060)}},
    {"nict udp: Proceeding, 200-699 -> to TU, K=T4, Completed", NICT, 0,
     {START(0), RESP(100, 50)}, RESP(404, 700), S_(COMPLETED),
     {A_STOP(E), A_STOP(F), A_PRESP(404), A_START(K, 5700)}},
    {"nict udp: Trying, F fires -> timeout, Terminated", NICT, 0, {START(0)},
     TIMER(F, 32000), S_(TERMINATED), {A_TIMEOUT(F), A_STOP(E), A_TERM}},
    {"nict udp: Proceeding, F fires -> timeout, Terminated", NICT, 0,
     {START(0), RESP(100, 50)}, TIMER(F, 32000), S_(TERMINATED),
     {A_TIMEOUT(F), A_STOP(E), A_TERM}},
    {"nict udp: Trying, transport error -> Terminated", NICT, 0, {START(0)},
     TERR(5), S_(TERMINATED), {A_TERR, A_STOP(E), A_STOP(F), A_TERM}},
    {"nict udp: Proceeding, transport error -> Terminated", NICT, 0,
     {START(0), RESP(100, 50)}, TERR(600), S_(TERMINATED),
     {A_TERR, A_STOP(E), A_STOP(F), A_TERM}},
    {"nict udp: Completed, response absorbed", NICT, 0, {START(0), RESP(200, 60)},
     RESP(200, 900), S_(COMPLETED), {{0}}},
    {"nict udp: Completed, K fires -> Terminated", NICT, 0,
     {START(0), RESP(200, 60)}, TIMER(K, 5060), S_(TERMINATED), {A_TERM}},
    /* ---- non-INVITE client, reliable ---- */
    {"nict tcp: Request from TU -> Trying, no E", NICT, 1, {{0}}, START(0),
     S_(TRYING), {A_SREQ, A_START(F, 32000)}},
    {"nict tcp: Trying, 200-699 -> K=0, Terminated", NICT, 1, {START(0)},
     RESP(200, 60), S_(TERMINATED), {A_STOP(F), A_PRESP(200), A_TERM}},

    /* ---- INVITE server, figure 7 (+ RFC 6026), UDP ---- */
    {"ist udp: INVITE -> to TU, 100 timer 200 ms, Proceeding", IST, 0, {{0}},
     START(1000), S_(PROCEEDING), {A_PREQ, A_START(100, 1200)}},
    {"ist udp: Proceeding, TU silent 200 ms -> send 100", IST, 0, {START(0)},
     TIMER(100, 200), S_(PROCEEDING), {A_S100}},
    {"ist udp: Proceeding, INVITE before any response -> nothing", IST, 0,
     {START(0)}, REQ(INVITE, 100), S_(PROCEEDING), {{0}}},
    {"ist udp: Proceeding, INVITE after the 100 -> resend 100", IST, 0,
     {START(0), TIMER(100, 200)}, REQ(INVITE, 500), S_(PROCEEDING), {A_S100}},
    {"ist udp: Proceeding, 1xx from TU within 200 ms -> 100 cancelled", IST, 0,
     {START(0)}, RESPOND(180, 150), S_(PROCEEDING),
     {A_STOP(100), A_SRESP(180)}},
    {"ist udp: Proceeding, 1xx from TU after the 100 -> send", IST, 0,
     {START(0), TIMER(100, 200)}, RESPOND(180, 300), S_(PROCEEDING),
     {A_SRESP(180)}},
    {"ist udp: Proceeding, INVITE -> resend last provisional", IST, 0,
     {START(0), RESPOND(180, 150)}, REQ(INVITE, 500), S_(PROCEEDING),
     {A_SRESP(180)}},
    {"ist udp: Proceeding, 2xx from TU -> send, L=64*T1, Accepted", IST, 0,
     {START(0), RESPOND(180, 150)}, RESPOND(200, 1000), S_(ACCEPTED),
     {A_SRESP(200), A_START(L, 33000)}},
    {"ist udp: Proceeding, 300-699 from TU -> send, G=T1, H=64*T1, Completed",
     IST, 0, {START(0), RESPOND(180, 150)}, RESPOND(486, 1000), S_(COMPLETED),
     {A_SRESP(486), A_START(G, 1500), A_START(H, 33000)}},
    {"ist udp: Proceeding, 300-699 within 200 ms -> 100 cancelled", IST, 0,
     {START(0)}, RESPOND(404, 50), S_(COMPLETED),
     {A_STOP(100), A_SRESP(404), A_START(G, 550), A_START(H, 32050)}},
    {"ist udp: Proceeding, transport error -> Terminated", IST, 0,
     {START(0)}, TERR(20), S_(TERMINATED), {A_TERR, A_STOP(100), A_TERM}},
    {"ist udp: Completed, G fires -> resend, G doubled", IST, 0,
     {START(0), RESPOND(486, 1000)}, TIMER(G, 1500), S_(COMPLETED),
     {A_SRESP(486), A_START(G, 2500)}},
    {"ist udp: Completed, G fires capped at T2", IST, 0,
     {START(0), RESPOND(486, 1000), TIMER(G, 1500), TIMER(G, 2500),
      TIMER(G, 4500)},
     TIMER(G, 8500), S_(COMPLETED), {A_SRESP(486), A_START(G, 12500)}},
    {"ist udp: Completed, INVITE -> resend response", IST, 0,
     {START(0), RESPOND(486, 1000)}, REQ(INVITE, 1200), S_(COMPLETED),
     {A_SRESP(486)}},
    {"ist udp: Completed, ACK -> I=T4, Confirmed", IST, 0,
     {START(0), RESPOND(486, 1000)}, REQ(ACK, 1100), S_(CONFIRMED),
     {A_STOP(G), A_STOP(H), A_START(I, 6100)}},
    {"ist udp: Completed, H fires -> timeout, Terminated", IST, 0,
     {START(0), RESPOND(486, 1000)}, TIMER(H, 33000), S_(TERMINATED),
     {A_TIMEOUT(H), A_STOP(G), A_TERM}},
    {"ist udp: Completed, transport error -> Terminated", IST, 0,
     {START(0), RESPOND(486, 1000)}, TERR(1100), S_(TERMINATED),
     {A_TERR, A_STOP(G), A_STOP(H), A_TERM}},
    {"ist udp: Confirmed, ACK absorbed", IST, 0,
     {START(0), RESPOND(486, 1000), REQ(ACK, 1100)}, REQ(ACK, 1200),
     S_(CONFIRMED), {{0}}},
    {"ist udp: Confirmed, INVITE absorbed", IST, 0,
     {START(0), RESPOND(486, 1000), REQ(ACK, 1100)}, REQ(INVITE, 1200),
     S_(CONFIRMED), {{0}}},
    {"ist udp: Confirmed, I fires -> Terminated", IST, 0,
     {START(0), RESPOND(486, 1000), REQ(ACK, 1100)}, TIMER(I, 6100),
     S_(TERMINATED), {A_TERM}},
    {"ist udp: Accepted, INVITE absorbed", IST, 0,
     {START(0), RESPOND(200, 1000)}, REQ(INVITE, 1200), S_(ACCEPTED), {{0}}},
    {"ist udp: Accepted, ACK -> to TU", IST, 0, {START(0), RESPOND(200, 1000)},
     REQ(ACK, 1200), S_(ACCEPTED), {A_PREQ}},
    {"ist udp: Accepted, 2xx from TU -> send", IST, 0,
     {START(0), RESPOND(200, 1000)}, RESPOND(200, 1500), S_(ACCEPTED),
     {A_SRESP(200)}},
    {"ist udp: Accepted, L fires -> Terminated", IST, 0,
     {START(0), RESPOND(200, 1000)}, TIMER(L, 33000), S_(TERMINATED), {A_TERM}},
    /* ---- INVITE server, reliable ---- */
    {"ist tcp: Proceeding, 300-699 -> no G, H=64*T1", IST, 1, {START(0)},
     RESPOND(486, 300), S_(COMPLETED),
     {A_STOP(100), A_SRESP(486), A_START(H, 32300)}},
    {"ist tcp: Completed, ACK -> I=0, Terminated", IST, 1,
     {START(0), RESPOND(486, 300)}, REQ(ACK, 400), S_(TERMINATED),
     {A_STOP(H), A_TERM}},

    /* ---- non-INVITE server, figure 8, UDP ---- */
    {"nist udp: Request -> to TU, Trying", NIST, 0, {{0}}, START(0), S_(TRYING),
     {A_PREQ}},
    {"nist udp: Trying, retransmission absorbed", NIST, 0, {START(0)},
     REQ(OPTIONS, 500), S_(TRYING), {{0}}},
    {"nist udp: Trying, 1xx from TU -> send, Proceeding", NIST, 0, {START(0)},
     RESPOND(100, 10), S_(PROCEEDING), {A_SRESP(100)}},
    {"nist udp: Trying, 200-699 from TU -> send, J=64*T1, Completed", NIST, 0,
     {START(0)}, RESPOND(200, 10), S_(COMPLETED),
     {A_SRESP(200), A_START(J, 32010)}},
    {"nist udp: Proceeding, 1xx from TU -> send", NIST, 0,
     {START(0), RESPOND(100, 10)}, RESPOND(180, 20), S_(PROCEEDING),
     {A_SRESP(180)}},
    {"nist udp: Proceeding, request -> resend last", NIST, 0,
     {START(0), RESPOND(100, 10)}, REQ(OPTIONS, 500), S_(PROCEEDING),
     {A_SRESP(100)}},
    {"nist udp: Proceeding, 200-699 from TU -> send, J, Completed", NIST, 0,
     {START(0), RESPOND(100, 10)}, RESPOND(404, 700), S_(COMPLETED),
     {A_SRESP(404), A_START(J, 32700)}},
    {"nist udp: Proceeding, transport error -> Terminated", NIST, 0,
     {START(0), RESPOND(100, 10)}, TERR(20), S_(TERMINATED), {A_TERR, A_TERM}},
    {"nist udp: Completed, request -> resend final", NIST, 0,
     {START(0), RESPOND(200, 10)}, REQ(OPTIONS, 500), S_(COMPLETED),
     {A_SRESP(200)}},
    {"nist udp: Completed, transport error -> Terminated", NIST, 0,
     {START(0), RESPOND(200, 10)}, TERR(20), S_(TERMINATED),
     {A_TERR, A_STOP(J), A_TERM}},
    {"nist udp: Completed, J fires -> Terminated", NIST, 0,
     {START(0), RESPOND(200, 10)}, TIMER(J, 32010), S_(TERMINATED), {A_TERM}},
    /* ---- non-INVITE server, reliable ---- */
    {"nist tcp: Trying, 200-699 from TU -> J=0, Terminated", NIST, 1, {START(0)},
     RESPOND(200, 10), S_(TERMINATED), {A_SRESP(200), A_TERM}},
};

static int run_ev(sipkit_txn *t, const ev *e, sipkit_txn_actions *out) {
  switch (e->ev) {
  case EV_START:
    return sipkit_txn_start(t, REQ_BYTES, sizeof REQ_BYTES - 1, e->now, out);
  case EV_RESP:
    return sipkit_txn_on_response(t, e->arg, NULL, NULL, e->now, out);
  case EV_REQ:
    return sipkit_txn_on_request(t, e->arg, e->now, out);
  case EV_RESPOND:
    return sipkit_txn_respond(t, e->arg, RESP_BYTES, sizeof RESP_BYTES - 1,
                              e->now, out);
  case EV_TIMER:
    return sipkit_txn_on_timer(t, e->arg, e->now, out);
  case EV_TERR:
    return sipkit_txn_on_transport_error(t, e->now, out);
  }
  return -1;
}

static void print_actions(const char *what, const sipkit_txn_actions *o) {
  print_error("%s:", what);
  for (unsigned i = 0; i < o->n; i++)
    print_error(" %s(%s,%u,%llu)", sipkit_txn_action_name(o->a[i].type),
                sipkit_txn_timer_name(o->a[i].timer), o->a[i].status,
                (unsigned long long)o->a[i].at);
  print_error("\n");
}

static void check_actions(const sipkit_txn_actions *got, const xact *want) {
  sipkit_txn_actions w = {0};
  while (w.n < 8 && want[w.n].type) {
    w.a[w.n].type = (uint8_t)want[w.n].type;
    w.a[w.n].timer = (uint8_t)want[w.n].timer;
    w.a[w.n].status = (uint16_t)want[w.n].status;
    w.a[w.n].at = want[w.n].at;
    w.n++;
  }
  int same = got->n == w.n;
  for (unsigned i = 0; same && i < w.n; i++) {
    const sipkit_txn_action *g = &got->a[i], *x = &w.a[i];
    int timed = x->type == SIPKIT_TXN_ACT_TIMER_START ||
                x->type == SIPKIT_TXN_ACT_TIMER_STOP ||
                x->type == SIPKIT_TXN_ACT_TIMEOUT;
    if (g->type != x->type || (timed && g->timer != x->timer) ||
        g->status != x->status || g->at != x->at)
      same = 0;
    /* the bytes handed back are the caller's */
    if (g->type == SIPKIT_TXN_ACT_SEND_REQUEST && g->data != REQ_BYTES)
      same = 0;
    if (g->type == SIPKIT_TXN_ACT_SEND_RESPONSE && g->data != RESP_BYTES)
      same = 0;
  }
  if (!same) {
    print_actions("got ", got);
    print_actions("want", &w);
  }
  assert_true(same);
}

static void test_transition(void **state) {
  const tcase *c = *state;
  sipkit_txn t;
  sipkit_txn_actions out;
  assert_int_equal(sipkit_txn_init(&t, c->kind, NULL, c->reliable), SIPKIT_EOK);
  for (int i = 0; i < 8 && c->pre[i].ev; i++)
    assert_int_equal(run_ev(&t, &c->pre[i], &out), SIPKIT_EOK);
  assert_int_equal(run_ev(&t, &c->event, &out), SIPKIT_EOK);
  if (t.state != c->state)
    print_error("state %s, want %s\n", sipkit_txn_state_name(t.state),
                sipkit_txn_state_name(c->state));
  assert_int_equal(t.state, c->state);
  check_actions(&out, c->acts);
}

/* ------------------------------------------------------------------ */
/* Schedules end to end                                                */

/* Drive a transaction by always firing the earliest running timer;
 * record each time the retransmitting timer fires until the end. */
static unsigned run_schedule(sipkit_txn *t, uint64_t *fired, unsigned max,
                             int *timeout_timer) {
  sipkit_txn_actions out;
  unsigned n = 0;
  *timeout_timer = -1;
  while (t->state != SIPKIT_TXN_TERMINATED && t->armed) {
    int next = -1;
    for (int i = 0; i < SIPKIT_TXN_TIMER__COUNT; i++)
      if ((t->armed & (1u << i)) && (next < 0 || t->at[i] < t->at[next]))
        next = i;
    uint64_t now = t->at[next];
    assert_int_equal(sipkit_txn_on_timer(t, next, now, &out), SIPKIT_EOK);
    for (unsigned i = 0; i < out.n; i++) {
      if ((out.a[i].type == SIPKIT_TXN_ACT_SEND_REQUEST ||
           out.a[i].type == SIPKIT_TXN_ACT_SEND_RESPONSE) && n < max)
        fired[n++] = now;
      if (out.a[i].type == SIPKIT_TXN_ACT_TIMEOUT)
        *timeout_timer = out.a[i].timer;
    }
    if (t->state == SIPKIT_TXN_TERMINATED && n < max)
      fired[n++] = now; /* the end: last entry */
  }
  return n;
}

static void expect_times(const uint64_t *got, unsigned n, const uint64_t *want,
                         unsigned wn) {
  int same = n == wn;
  for (unsigned i = 0; same && i < n; i++)
    same = got[i] == want[i];
  if (!same) {
    print_error("got  ");
    for (unsigned i = 0; i < n; i++)
      print_error(" %llu", (unsigned long long)got[i]);
    print_error("\nwant ");
    for (unsigned i = 0; i < wn; i++)
      print_error(" %llu", (unsigned long long)want[i]);
    print_error("\n");
  }
  assert_true(same);
}

static void test_schedule_a_b(void **state) {
  (void)state;
  sipkit_txn t;
  sipkit_txn_actions out;
  uint64_t got[32];
  int to;
  sipkit_txn_init(&t, ICT, NULL, 0);
  sipkit_txn_start(&t, REQ_BYTES, 3, 0, &out);
  unsigned n = run_schedule(&t, got, 32, &to);
  /* A: 500, 1500, 3500, 7500, 15500, 31500 (interval doubled each time,
   * uncapped); B at 32000 ends it with a timeout (last entry). */
  static const uint64_t want[] = {500, 1500, 3500, 7500, 15500, 31500, 32000};
  expect_times(got, n, want, 7);
  assert_int_equal(to, SIPKIT_TXN_TIMER_B);
}

static void test_schedule_e_f(void **state) {
  (void)state;
  sipkit_txn t;
  sipkit_txn_actions out;
  uint64_t got[32];
  int to;
  sipkit_txn_init(&t, NICT, NULL, 0);
  sipkit_txn_start(&t, REQ_BYTES, 3, 0, &out);
  unsigned n = run_schedule(&t, got, 32, &to);
  /* E intervals 500, 1000, 2000, 4000, 4000, ... (capped at T2) */
  static const uint64_t want[] = {500,   1500,  3500,  7500,  11500, 15500,
                                  19500, 23500, 27500, 31500, 32000};
  expect_times(got, n, want, 11);
  assert_int_equal(to, SIPKIT_TXN_TIMER_F);
}

static void test_schedule_g_h(void **state) {
  (void)state;
  sipkit_txn t;
  sipkit_txn_actions out;
  uint64_t got[32];
  int to;
  sipkit_txn_init(&t, IST, NULL, 0);
  sipkit_txn_start(&t, NULL, 0, 0, &out);
  sipkit_txn_respond(&t, 486, RESP_BYTES, 3, 1000, &out);
  unsigned n = run_schedule(&t, got, 32, &to);
  /* G intervals 500, 1000, 2000, 4000, 4000, ...; H at 1000 + 32000 */
  static const uint64_t want[] = {1500,  2500,  4500,  8500,  12500, 16500,
                                  20500, 24500, 28500, 32500, 33000};
  expect_times(got, n, want, 11);
  assert_int_equal(to, SIPKIT_TXN_TIMER_H);
}

/* RFC 6026: an INVITE server hands its 2xx out once and keeps no pointer
 * to it (the TU retransmits a 2xx), so the caller may free the bytes once
 * sent; a 3xx-6xx it resends (timer G) is kept. */
static void test_ist_2xx_not_kept(void **state) {
  (void)state;
  sipkit_txn t;
  sipkit_txn_actions out;
  char ok[] = "200";
  sipkit_txn_init(&t, IST, NULL, 0);
  sipkit_txn_start(&t, NULL, 0, 0, &out);
  assert_int_equal(sipkit_txn_respond(&t, 200, ok, 3, 1000, &out), SIPKIT_EOK);
  assert_int_equal(out.a[1].type, SIPKIT_TXN_ACT_SEND_RESPONSE);
  assert_ptr_equal(out.a[1].data, ok);
  assert_int_equal(out.a[1].len, 3);
  assert_null(t.msg_);
  assert_int_equal(t.msg_len_, 0);
  /* a 2xx retransmitted by the TU in Accepted: sent, not kept either */
  char again[] = "200";
  assert_int_equal(sipkit_txn_respond(&t, 200, again, 3, 1500, &out), SIPKIT_EOK);
  assert_int_equal(out.n, 1);
  assert_ptr_equal(out.a[0].data, again);
  assert_null(t.msg_);
  /* a 486 stays for timer G */
  sipkit_txn_init(&t, IST, NULL, 0);
  sipkit_txn_start(&t, NULL, 0, 0, &out);
  sipkit_txn_respond(&t, 486, RESP_BYTES, 3, 1000, &out);
  assert_ptr_equal(t.msg_, RESP_BYTES);
  assert_int_equal(sipkit_txn_on_timer(&t, SIPKIT_TXN_TIMER_G, 1500, &out), SIPKIT_EOK);
  assert_int_equal(out.a[0].type, SIPKIT_TXN_ACT_SEND_RESPONSE);
  assert_ptr_equal(out.a[0].data, RESP_BYTES);
}

static void test_config(void **state) {
  (void)state;
  sipkit_txn t;
  sipkit_txn_actions out;
  sipkit_txn_config cfg;
  sipkit_txn_config_default(&cfg);
  assert_int_equal(cfg.t1, 500);
  assert_int_equal(cfg.t2, 4000);
  assert_int_equal(cfg.t4, 5000);
  cfg.t1 = 100;
  cfg.t2 = 400;
  cfg.t4 = 1000;
  assert_int_equal(sipkit_txn_init(&t, NICT, &cfg, 0), SIPKIT_EOK);
  sipkit_txn_start(&t, REQ_BYTES, 3, 0, &out);
  assert_int_equal(t.at[SIPKIT_TXN_TIMER_E], 100);
  assert_int_equal(t.at[SIPKIT_TXN_TIMER_F], 6400);
  sipkit_txn_on_response(&t, 200, NULL, NULL, 10, &out);
  assert_int_equal(t.at[SIPKIT_TXN_TIMER_K], 1010);
  cfg.t2 = 50; /* T2 < T1 */
  assert_int_equal(sipkit_txn_init(&t, NICT, &cfg, 0), SIPKIT_EARGUMENT);
  sipkit_txn_config_default(&cfg);
  cfg.timer_d = 1000; /* D must be at least 32 s */
  assert_int_equal(sipkit_txn_init(&t, ICT, &cfg, 0), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_txn_init(&t, 9, NULL, 0), SIPKIT_EARGUMENT);
}

static void test_misuse(void **state) {
  (void)state;
  sipkit_txn t;
  sipkit_txn_actions out;
  sipkit_txn_init(&t, NIST, NULL, 0);
  /* before start */
  assert_int_equal(sipkit_txn_respond(&t, 200, "x", 1, 0, &out), SIPKIT_EARGUMENT);
  sipkit_txn_start(&t, NULL, 0, 0, &out);
  assert_int_equal(sipkit_txn_start(&t, NULL, 0, 0, &out), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_txn_on_response(&t, 200, NULL, NULL, 0, &out),
                   SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_txn_respond(&t, 99, "x", 1, 0, &out), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_txn_respond(&t, 200, "x", 1, 0, &out), SIPKIT_EOK);
  /* a second final response is refused, state unchanged */
  assert_int_equal(sipkit_txn_respond(&t, 404, "x", 1, 0, &out), SIPKIT_EARGUMENT);
  assert_int_equal(out.n, 0);
  assert_int_equal(t.state, SIPKIT_TXN_COMPLETED);
  assert_int_equal(sipkit_txn_on_timer(&t, 99, 0, &out), SIPKIT_EARGUMENT);
  sipkit_txn_init(&t, ICT, NULL, 0);
  sipkit_txn_start(&t, REQ_BYTES, 3, 0, &out);
  assert_int_equal(sipkit_txn_on_request(&t, SIPKIT_METHOD_ACK, 0, &out),
                   SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_txn_on_response(&t, 700, NULL, NULL, 0, &out),
                   SIPKIT_EARGUMENT);
  /* an IST in Accepted takes only 2xx from the TU */
  sipkit_txn_init(&t, IST, NULL, 0);
  sipkit_txn_start(&t, NULL, 0, 0, &out);
  sipkit_txn_respond(&t, 200, "x", 1, 0, &out);
  assert_int_equal(sipkit_txn_respond(&t, 486, "x", 1, 0, &out), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_txn_respond(&t, 180, "x", 1, 0, &out), SIPKIT_EARGUMENT);
}

/* ------------------------------------------------------------------ */
/* Messages: the INVITE client's ACK, and matching                     */

static sipkit_header g_hdrs[8][SIPKIT_DEFAULT_HEADERS];

typedef struct fixture {
  char buf[4096];
  size_t len;
  sipkit_msg m;
} fixture;

static fixture g_fx[8];

/* Parse bytes into slot i. */
static sipkit_msg *parse_into(int i, const char *bytes, size_t len) {
  fixture *f = &g_fx[i];
  sipkit_error e;
  assert_true(len < sizeof f->buf);
  memcpy(f->buf, bytes, len);
  f->len = len;
  sipkit_msg_init(&f->m, g_hdrs[i], SIPKIT_DEFAULT_HEADERS);
  int rc = sipkit_parse(&f->m, f->buf, f->len, 0, &e);
  if (rc)
    print_error("parse: %s at %u [%s]\n", sipkit_err_name(rc), e.offset, e.rule);
  assert_int_equal(rc, SIPKIT_EOK);
  return &f->m;
}

static sipkit_msg *load(int i, const char *name) {
  char path[256], tmp[4096];
  snprintf(path, sizeof path, "tests/bench/corpus/%s", name);
  FILE *fp = fopen(path, "rb");
  if (!fp)
    print_error("cannot open %s (run from the repository root)\n", path);
  assert_non_null(fp);
  size_t n = fread(tmp, 1, sizeof tmp, fp);
  fclose(fp);
  return parse_into(i, tmp, n);
}

/* A copy of slot src with the first occurrence of from replaced by to,
 * parsed into slot dst. */
static sipkit_msg *edit(int dst, int src, const char *from, const char *to) {
  char tmp[4096];
  const fixture *f = &g_fx[src];
  char *hit = memmem(f->buf, f->len, from, strlen(from));
  assert_non_null(hit);
  size_t pre = (size_t)(hit - f->buf), fl = strlen(from), tl = strlen(to);
  assert_true(f->len - fl + tl < sizeof tmp);
  memcpy(tmp, f->buf, pre);
  memcpy(tmp + pre, to, tl);
  memcpy(tmp + pre + tl, hit + fl, f->len - pre - fl);
  return parse_into(dst, tmp, f->len - fl + tl);
}

/* Build a response / CANCEL / ACK into slot dst. */
static sipkit_msg *respond_into(int dst, int req, int status, const char *tag) {
  char out[4096];
  sipkit_builder b;
  sipkit_builder_init(&b, out, sizeof out);
  sipkit_str t = {tag, strlen(tag)};
  assert_int_equal(sipkit_build_response(&b, &g_fx[req].m, g_fx[req].buf,
                                         status, NULL, 0, t), SIPKIT_EOK);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
  return parse_into(dst, out, b.len);
}

static sipkit_msg *cancel_into(int dst, int req) {
  char out[4096];
  sipkit_builder b;
  sipkit_builder_init(&b, out, sizeof out);
  assert_int_equal(sipkit_build_cancel(&b, &g_fx[req].m, g_fx[req].buf),
                   SIPKIT_EOK);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
  return parse_into(dst, out, b.len);
}

static sipkit_msg *ack_into(int dst, int inv, int resp) {
  char out[4096];
  sipkit_builder b;
  sipkit_builder_init(&b, out, sizeof out);
  assert_int_equal(sipkit_build_ack_non2xx(&b, &g_fx[inv].m, g_fx[inv].buf,
                                           &g_fx[resp].m, g_fx[resp].buf),
                   SIPKIT_EOK);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
  return parse_into(dst, out, b.len);
}

static sipkit_txn_key key_of(int slot) {
  sipkit_txn_key k;
  assert_int_equal(sipkit_txn_key_make(&k, &g_fx[slot].m, g_fx[slot].buf),
                   SIPKIT_EOK);
  assert_int_equal(k.valid, 1);
  return k;
}

static int span_eq(const char *buf, sipkit_span s, const char *lit) {
  return s.len == strlen(lit) && memcmp(buf + s.off, lit, s.len) == 0;
}

static void test_ict_builds_ack(void **state) {
  (void)state;
  sipkit_txn t;
  sipkit_txn_actions out;
  char ack[1024];
  load(0, "01_invite_sdp.sip");
  respond_into(1, 0, 486, "busy1");
  sipkit_txn_init(&t, ICT, NULL, 0);
  sipkit_txn_set_ack_buffer(&t, &g_fx[0].m, g_fx[0].buf, ack, sizeof ack);
  sipkit_txn_start(&t, g_fx[0].buf, g_fx[0].len, 0, &out);
  assert_ptr_equal(out.a[0].data, g_fx[0].buf);
  assert_int_equal(out.a[0].len, g_fx[0].len);
  sipkit_txn_on_response(&t, 486, &g_fx[1].m, g_fx[1].buf, 300, &out);
  assert_int_equal(out.a[2].type, SIPKIT_TXN_ACT_SEND_ACK);
  assert_int_equal(out.a[2].code, SIPKIT_EOK);
  assert_ptr_equal(out.a[2].data, ack);
  size_t len = out.a[2].len;
  sipkit_msg *a = parse_into(2, ack, len);
  /* §17.1.1.3: same Request-URI, top Via branch and CSeq number, method
   * ACK, To of the response */
  assert_int_equal(a->method, SIPKIT_METHOD_ACK);
  assert_true(span_eq(g_fx[2].buf, a->request_uri, "sip:bob@biloxi.example.com"));
  assert_true(span_eq(g_fx[2].buf, a->via->branch, "z9hG4bK776asdhds"));
  assert_int_equal(a->cseq->num, 314159);
  assert_int_equal(a->cseq->method, SIPKIT_METHOD_ACK);
  assert_true(span_eq(g_fx[2].buf, a->to->tag, "busy1"));
  /* the retransmitted 486 gets the same ACK bytes again */
  sipkit_txn_on_response(&t, 486, &g_fx[1].m, g_fx[1].buf, 800, &out);
  assert_int_equal(out.n, 1);
  assert_int_equal(out.a[0].type, SIPKIT_TXN_ACT_SEND_ACK);
  assert_ptr_equal(out.a[0].data, ack);
  assert_int_equal(out.a[0].len, len);

  /* an ACK buffer too small: the action says why */
  char small[16];
  sipkit_txn_init(&t, ICT, NULL, 1);
  sipkit_txn_set_ack_buffer(&t, &g_fx[0].m, g_fx[0].buf, small, sizeof small);
  sipkit_txn_start(&t, g_fx[0].buf, g_fx[0].len, 0, &out);
  sipkit_txn_on_response(&t, 486, &g_fx[1].m, g_fx[1].buf, 300, &out);
  assert_int_equal(out.a[1].type, SIPKIT_TXN_ACT_SEND_ACK);
  assert_int_equal(out.a[1].code, SIPKIT_EBUFFER_TOO_SMALL);
  assert_null(out.a[1].data);
  assert_int_equal(t.state, SIPKIT_TXN_TERMINATED);
}

static void test_match_response(void **state) {
  (void)state;
  load(0, "01_invite_sdp.sip");
  sipkit_txn_key ck = key_of(0);
  assert_int_equal(ck.rfc3261, 1);
  assert_int_equal(ck.method, SIPKIT_METHOD_INVITE);
  load(1, "02_100_trying.sip");
  assert_int_equal(sipkit_txn_match_response(&ck, &g_fx[1].m, g_fx[1].buf), 1);
  load(1, "03_180_ringing.sip");
  assert_int_equal(sipkit_txn_match_response(&ck, &g_fx[1].m, g_fx[1].buf), 1);
  load(1, "04_200_ok_sdp.sip");
  assert_int_equal(sipkit_txn_match_response(&ck, &g_fx[1].m, g_fx[1].buf), 1);
  /* another transaction's response */
  load(1, "08_401_unauthorized.sip");
  assert_int_equal(sipkit_txn_match_response(&ck, &g_fx[1].m, g_fx[1].buf), 0);
  /* same branch, CSeq method CANCEL: the CANCEL's 200, not the INVITE's */
  cancel_into(2, 0);
  respond_into(3, 2, 200, "t1");
  assert_int_equal(sipkit_txn_match_response(&ck, &g_fx[3].m, g_fx[3].buf), 0);
  sipkit_txn_key cck = key_of(2);
  assert_int_equal(sipkit_txn_match_response(&cck, &g_fx[3].m, g_fx[3].buf), 1);
  /* a branch differing in case only is another branch */
  edit(4, 3, "z9hG4bK776asdhds", "z9hG4bK776ASDHDS");
  assert_int_equal(sipkit_txn_match_response(&cck, &g_fx[4].m, g_fx[4].buf), 0);
  /* a request key never matches as a response and vice versa */
  assert_int_equal(sipkit_txn_match_response(&ck, &g_fx[0].m, g_fx[0].buf), 0);
}

static void test_match_request_3261(void **state) {
  (void)state;
  load(0, "01_invite_sdp.sip");
  sipkit_txn_key sk = key_of(0);
  /* a retransmission */
  load(1, "01_invite_sdp.sip");
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[1].m, g_fx[1].buf), 1);
  /* sent-by host case-insensitive; a different port or host is another */
  edit(2, 0, "192.0.2.101:5060;branch", "192.0.2.101:5062;branch");
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[2].m, g_fx[2].buf), 0);
  edit(2, 0, "192.0.2.101:5060;branch", "192.0.2.102:5060;branch");
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[2].m, g_fx[2].buf), 0);
  /* the port written out or left to its default is the same sent-by */
  edit(2, 0, "192.0.2.101:5060;branch", "192.0.2.101;branch");
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[2].m, g_fx[2].buf), 1);
  /* ACK for a non-2xx: same branch → the INVITE transaction */
  respond_into(3, 0, 486, "busy1");
  ack_into(4, 0, 3);
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[4].m, g_fx[4].buf), 1);
  /* ACK for a 2xx: a new branch → no transaction (goes to the dialog) */
  load(5, "05_ack.sip");
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[5].m, g_fx[5].buf), 0);
  /* CANCEL: same branch, its own transaction; it finds the INVITE */
  cancel_into(6, 0);
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[6].m, g_fx[6].buf), 0);
  assert_int_equal(sipkit_txn_match_cancel_target(&sk, &g_fx[6].m, g_fx[6].buf), 1);
  sipkit_txn_key cank = key_of(6);
  assert_int_equal(sipkit_txn_match_request(&cank, &g_fx[6].m, g_fx[6].buf), 1);
  assert_int_equal(sipkit_txn_match_request(&cank, &g_fx[1].m, g_fx[1].buf), 0);
  assert_int_equal(sipkit_txn_match_cancel_target(&cank, &g_fx[6].m, g_fx[6].buf), 0);
  /* a CANCEL of another INVITE does not find this one */
  load(7, "12_invite_3via.sip");
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[7].m, g_fx[7].buf), 0);
  cancel_into(5, 7);
  assert_int_equal(sipkit_txn_match_cancel_target(&sk, &g_fx[5].m, g_fx[5].buf), 0);
  /* a non-INVITE with the same branch and another method */
  load(5, "06_bye.sip");
  sipkit_txn_key bk = key_of(5);
  assert_int_equal(sipkit_txn_match_request(&bk, &g_fx[5].m, g_fx[5].buf), 1);
  assert_int_equal(sipkit_txn_match_request(&bk, &g_fx[1].m, g_fx[1].buf), 0);
}

static void test_match_request_2543(void **state) {
  (void)state;
  load(0, "01_invite_sdp.sip");
  edit(1, 0, "branch=z9hG4bK776asdhds", "branch=776asdhds");
  sipkit_txn_key sk = key_of(1);
  assert_int_equal(sk.rfc3261, 0);
  assert_int_equal(sk.cseq, 314159);
  /* retransmission: every field equal */
  edit(2, 0, "branch=z9hG4bK776asdhds", "branch=776asdhds");
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[2].m, g_fx[2].buf), 1);
  /* the cookie-less request never matches the z9hG4bK one and back */
  sipkit_txn_key k3261 = key_of(0);
  assert_int_equal(sipkit_txn_match_request(&k3261, &g_fx[2].m, g_fx[2].buf), 0);
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[0].m, g_fx[0].buf), 0);
  /* each fallback field takes part */
  edit(3, 1, "Call-ID: a84b", "Call-ID: b84b");
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[3].m, g_fx[3].buf), 0);
  edit(3, 1, "tag=1928301774", "tag=1928301775");
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[3].m, g_fx[3].buf), 0);
  edit(3, 1, "CSeq: 314159", "CSeq: 314160");
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[3].m, g_fx[3].buf), 0);
  edit(3, 1, "INVITE sip:bob@biloxi", "INVITE sip:rob@biloxi");
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[3].m, g_fx[3].buf), 0);
  edit(3, 1, "\"Bob\" <sip:bob@biloxi.example.com>\r", "\"Bob\" <sip:bob@biloxi.example.com>;tag=x\r");
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[3].m, g_fx[3].buf), 0);
  /* no branch at all */
  edit(4, 0, ";branch=z9hG4bK776asdhds", "");
  sipkit_txn_key nb = key_of(4);
  assert_int_equal(nb.branch_len, 0);
  assert_int_equal(sipkit_txn_match_request(&nb, &g_fx[4].m, g_fx[4].buf), 1);
  /* ACK: matches only once the response's To tag is recorded */
  respond_into(5, 1, 486, "busy7");
  ack_into(6, 1, 5);
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[6].m, g_fx[6].buf), 0);
  assert_int_equal(sipkit_txn_key_set_resp_to_tag(&sk, "busy7", 5), SIPKIT_EOK);
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[6].m, g_fx[6].buf), 1);
  assert_int_equal(sipkit_txn_key_set_resp_to_tag(&sk, "other", 5), SIPKIT_EOK);
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[6].m, g_fx[6].buf), 0);
  /* CANCEL: not the INVITE transaction, but its target */
  cancel_into(7, 1);
  assert_int_equal(sipkit_txn_match_request(&sk, &g_fx[7].m, g_fx[7].buf), 0);
  assert_int_equal(sipkit_txn_match_cancel_target(&sk, &g_fx[7].m, g_fx[7].buf), 1);
  sipkit_txn_key ck = key_of(7);
  assert_int_equal(sipkit_txn_match_request(&ck, &g_fx[7].m, g_fx[7].buf), 1);
}

static void test_key_bounds(void **state) {
  (void)state;
  char big[SIPKIT_TXN_BRANCH_MAX + 16];
  load(0, "01_invite_sdp.sip");
  /* branch exactly at the bound: valid */
  memset(big, 'a', sizeof big);
  memcpy(big, "branch=z9hG4bK", 14);
  big[7 + SIPKIT_TXN_BRANCH_MAX] = 0;
  edit(1, 0, "branch=z9hG4bK776asdhds", big);
  sipkit_txn_key k = key_of(1);
  assert_int_equal(k.branch_len, SIPKIT_TXN_BRANCH_MAX);
  assert_int_equal(sipkit_txn_match_request(&k, &g_fx[1].m, g_fx[1].buf), 1);
  /* one byte over: the key is invalid, never truncated, matches nothing */
  memset(big, 'a', sizeof big);
  memcpy(big, "branch=z9hG4bK", 14);
  big[7 + SIPKIT_TXN_BRANCH_MAX + 1] = 0;
  edit(2, 0, "branch=z9hG4bK776asdhds", big);
  assert_int_equal(sipkit_txn_key_make(&k, &g_fx[2].m, g_fx[2].buf),
                   SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(k.valid, 0);
  assert_int_equal(sipkit_txn_key_match_request(&k, &k), 0);
  sipkit_txn_key ok = key_of(1);
  assert_int_equal(sipkit_txn_match_request(&ok, &g_fx[2].m, g_fx[2].buf), 0);
  /* RFC 2543 keys copy the Call-ID: a long one invalidates only them */
  char cid[SIPKIT_TXN_CALL_ID_MAX + 16];
  memset(cid, 'c', sizeof cid);
  memcpy(cid, "Call-ID: ", 9);
  cid[sizeof cid - 1] = 0;
  edit(3, 0, "Call-ID: a84b4c76e66710@pc33.atlanta.example.com", cid);
  key_of(3); /* magic cookie: Call-ID not needed */
  edit(4, 3, "branch=z9hG4bK776asdhds", "branch=776asdhds");
  assert_int_equal(sipkit_txn_key_make(&k, &g_fx[4].m, g_fx[4].buf),
                   SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(sipkit_txn_key_set_resp_to_tag(&ok, cid, sizeof cid),
                   SIPKIT_EBUFFER_TOO_SMALL);
}

/* A made key points into its message's buffer; a kept one owns a copy of
 * its strings and outlives that buffer, resp_to_tag included. */
static void test_key_keep(void **state) {
  (void)state;
  load(0, "01_invite_sdp.sip");
  edit(1, 0, "Max-Forwards: 70", "Max-Forwards: 70"); /* a copy */
  sipkit_txn_key k = key_of(1);
  assert_true(k.branch >= g_fx[1].buf && k.branch < g_fx[1].buf + g_fx[1].len);
  assert_null(k.mem_);
  assert_int_equal(sipkit_txn_key_keep(&k), SIPKIT_EOK);
  assert_non_null(k.mem_);
  assert_false(k.branch >= g_fx[1].buf && k.branch < g_fx[1].buf + g_fx[1].len);
  assert_memory_equal(k.branch, "z9hG4bK776asdhds", k.branch_len);
  assert_memory_equal(k.method_name, "INVITE", k.method_name_len);
  /* the buffer it came from changes: the kept key still names the INVITE */
  edit(1, 0, "branch=z9hG4bK776asdhds", "branch=z9hG4bKother123");
  assert_int_equal(sipkit_txn_match_request(&k, &g_fx[0].m, g_fx[0].buf), 1);
  assert_int_equal(sipkit_txn_match_request(&k, &g_fx[1].m, g_fx[1].buf), 0);
  /* a kept key copies the response To tag too; keeping again is allowed */
  char tag[] = "busy7";
  assert_int_equal(sipkit_txn_key_set_resp_to_tag(&k, tag, 5), SIPKIT_EOK);
  tag[0] = 'X';
  assert_memory_equal(k.resp_to_tag, "busy7", 5);
  assert_int_equal(sipkit_txn_key_keep(&k), SIPKIT_EOK);
  assert_memory_equal(k.resp_to_tag, "busy7", 5);
  assert_memory_equal(k.host, "192.0.2.101", k.host_len);
  sipkit_txn_key_free(&k);
  assert_null(k.mem_);
  assert_int_equal(k.valid, 0);
  assert_int_equal(sipkit_txn_match_request(&k, &g_fx[0].m, g_fx[0].buf), 0);
  sipkit_txn_key_free(&k);
  sipkit_txn_key_free(NULL);
  assert_int_equal(sipkit_txn_key_keep(NULL), SIPKIT_EARGUMENT);
}

/* A packed key holds what a kept one does in its caller's bytes: the
 * unpacked key points there, equals the made one field by field and
 * matches as it does (magic cookie and RFC 2543, response To tag too). */
static void test_key_pack(void **state) {
  (void)state;
  load(0, "01_invite_sdp.sip");
  edit(1, 0, "branch=z9hG4bK776asdhds", "branch=776asdhds"); /* RFC 2543 */
  edit(2, 0, "branch=z9hG4bK776asdhds", "branch=z9hG4bKother123");
  for (int slot = 0; slot < 2; slot++) {
    sipkit_txn_key k = key_of(slot), u;
    if (slot == 1)
      assert_int_equal(sipkit_txn_key_set_resp_to_tag(&k, "busy7", 5), SIPKIT_EOK);
    size_t n = sipkit_txn_key_pack_len(&k);
    assert_int_equal(n, (size_t)k.method_name_len + k.branch_len + k.host_len +
                            k.transport_len + k.ruri_len + k.from_tag_len + k.to_tag_len +
                            k.resp_to_tag_len + k.call_id_len);
    char bytes[512];
    sipkit_txn_pkey pk;
    memset(bytes, '#', sizeof bytes);
    sipkit_txn_key_pack(&pk, bytes, &k);
    assert_int_equal(bytes[n], '#'); /* exactly n bytes */
    memset(&u, 0xff, sizeof u);
    sipkit_txn_key_unpack(&u, &pk, bytes);
    assert_null(u.mem_);
    assert_true(u.branch >= bytes && u.branch < bytes + n);
    assert_int_equal(u.valid, 1);
    assert_int_equal(u.rfc3261, slot == 0);
    assert_int_equal(u.is_response, 0);
    assert_int_equal(u.has_resp_to_tag, slot == 1);
    assert_int_equal(u.method, SIPKIT_METHOD_INVITE);
    assert_int_equal(u.port, k.port);
    assert_int_equal(u.cseq, 314159);
#define SAME(f) assert_int_equal(u.f##_len, k.f##_len), assert_memory_equal(u.f, k.f, k.f##_len)
    SAME(method_name);
    SAME(branch);
    SAME(host);
    SAME(transport);
    SAME(ruri);
    SAME(from_tag);
    SAME(to_tag);
    SAME(resp_to_tag);
    SAME(call_id);
#undef SAME
    assert_int_equal(slot ? u.call_id_len : u.ruri_len, slot ? 39 : 0); /* 2543 fields only there */
    assert_int_equal(sipkit_txn_match_request(&u, &g_fx[slot].m, g_fx[slot].buf), 1);
    assert_int_equal(sipkit_txn_match_request(&u, &g_fx[2].m, g_fx[2].buf), 0);
    assert_int_equal(sipkit_txn_match_cancel_target(&u, &g_fx[slot].m, g_fx[slot].buf), 0);
  }
  /* an invalid key stays invalid: it matches nothing */
  sipkit_txn_key z, u;
  memset(&z, 0, sizeof z);
  sipkit_txn_pkey pk;
  char none[1];
  assert_int_equal(sipkit_txn_key_pack_len(&z), 0);
  sipkit_txn_key_pack(&pk, none, &z);
  sipkit_txn_key_unpack(&u, &pk, none);
  assert_int_equal(u.valid, 0);
  assert_int_equal(sipkit_txn_match_request(&u, &g_fx[0].m, g_fx[0].buf), 0);
}

static void test_names(void **state) {
  (void)state;
  assert_string_equal(sipkit_txn_state_name(SIPKIT_TXN_ACCEPTED), "ACCEPTED");
  assert_string_equal(sipkit_txn_timer_name(SIPKIT_TXN_TIMER_M), "M");
  assert_string_equal(sipkit_txn_timer_name(SIPKIT_TXN_TIMER_100), "100");
  assert_string_equal(sipkit_txn_action_name(SIPKIT_TXN_ACT_TERMINATED),
                      "TERMINATED");
  assert_string_equal(sipkit_txn_state_name(99), "");
}

#define NCASES (sizeof cases / sizeof cases[0])

int main(void) {
  static struct CMUnitTest tests[NCASES + 16];
  size_t n = 0;
  for (size_t i = 0; i < NCASES; i++) {
    tests[n].name = cases[i].name;
    tests[n].test_func = test_transition;
    tests[n].initial_state = (void *)&cases[i];
    n++;
  }
  const struct CMUnitTest more[] = {
      cmocka_unit_test(test_schedule_a_b),
      cmocka_unit_test(test_schedule_e_f),
      cmocka_unit_test(test_schedule_g_h),
      cmocka_unit_test(test_ist_2xx_not_kept),
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_misuse),
      cmocka_unit_test(test_ict_builds_ack),
      cmocka_unit_test(test_match_response),
      cmocka_unit_test(test_match_request_3261),
      cmocka_unit_test(test_match_request_2543),
      cmocka_unit_test(test_key_bounds),
      cmocka_unit_test(test_key_keep),
      cmocka_unit_test(test_key_pack),
      cmocka_unit_test(test_names),
  };
  for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
    tests[n++] = more[i];
  return _cmocka_run_group_tests("txn", tests, n, NULL, NULL);
}
