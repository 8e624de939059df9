/* test_rt.c - the runtime and the UA core's automatic answers, driven
 * from a plain UDP socket on 127.0.0.1. */
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
#include <unistd.h>

#include <cmocka.h>

#include "rt_internal.h"
#include "sipkit_rt.h"

/* ------------------------------------------------------------------ */
/* Fault injection                                                     */

static void test_fault_sequence_pinned(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  cfg.seed = 42;
  cfg.drop_send = 0.3;
  cfg.dup_send = 0.1;
  cfg.delay_send = 0.1;
  sipkit_rt *a, *b, *c;
  assert_int_equal(sipkit_rt_new(&a, NULL, &cfg), SIPKIT_EOK);
  assert_int_equal(sipkit_rt_new(&b, NULL, &cfg), SIPKIT_EOK);
  cfg.seed = 43;
  assert_int_equal(sipkit_rt_new(&c, NULL, &cfg), SIPKIT_EOK);
  /* splitmix64 from seed 42, u = top 53 bits: computed independently */
  static const int want[24] = {0, 1, 1, 2, 1, 0, 1, 0, 2, 0, 1, 3,
                               0, 0, 0, 1, 1, 3, 1, 0, 0, 1, 0, 0};
  int differs = 0;
  for (int i = 0; i < 24; i++) {
    int x = sipkit_rt_fault_next(a, 0);
    assert_int_equal(x, want[i]);
    assert_int_equal(sipkit_rt_fault_next(b, 0), x);
    differs += sipkit_rt_fault_next(c, 0) != x;
  }
  assert_true(differs > 0);
  /* no receive-side faults configured: the receive stream never draws */
  for (int i = 0; i < 10; i++)
    assert_int_equal(sipkit_rt_fault_next(a, 1), SIPKIT_RT_FAULT_NONE);
  sipkit_rt_free(a);
  sipkit_rt_free(b);
  sipkit_rt_free(c);
}

static void test_config_rejected(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt *rt = (sipkit_rt *)1;
  sipkit_rt_config_default(&cfg);
  cfg.drop_recv = 0.7;
  cfg.dup_recv = 0.4;
  assert_int_equal(sipkit_rt_new(&rt, NULL, &cfg), SIPKIT_EARGUMENT);
  assert_null(rt);
  sipkit_rt_config_default(&cfg);
  cfg.txn.t1 = 0;
  assert_int_equal(sipkit_rt_new(&rt, NULL, &cfg), SIPKIT_EARGUMENT);
  sipkit_rt_config_default(&cfg);
  assert_int_equal(cfg.max_transactions, 20000);
  assert_int_equal(cfg.max_datagram, 65507);
  assert_int_equal(cfg.error_replies_per_sec, 200);
  assert_int_equal(cfg.retry_after, 5);
  assert_int_equal(cfg.delay_ms, 100);
  assert_int_equal(cfg.txn.t1, 500);
}

/* ------------------------------------------------------------------ */
/* Timers                                                              */

typedef struct tlog {
  sipkit_rt *rt;
  int order[8];
  int n;
  uint64_t at[8];
} tlog;

typedef struct tref {
  tlog *log;
  int id;
} tref;

static void on_timer(void *data) {
  tref *r = data;
  r->log->at[r->log->n] = sipkit_rt_now(r->log->rt);
  r->log->order[r->log->n++] = r->id;
}

static void test_timers(void **state) {
  (void)state;
  sipkit_rt *rt;
  assert_int_equal(sipkit_rt_new(&rt, NULL, NULL), SIPKIT_EOK);
  tlog log;
  memset(&log, 0, sizeof log);
  log.rt = rt;
  tref r1 = {&log, 1}, r2 = {&log, 2}, r3 = {&log, 3}, r4 = {&log, 4};
  uint64_t t0 = sipkit_rt_now(rt);
  sipkit_rt_timer(rt, 30, on_timer, &r3);
  sipkit_rt_timer(rt, 10, on_timer, &r1);
  sipkit_timer *cancelled = sipkit_rt_timer(rt, 15, on_timer, &r4);
  sipkit_rt_timer(rt, 20, on_timer, &r2);
  sipkit_timer_cancel(cancelled);
  /* the loop ends by itself once no timer is left */
  assert_int_equal(sipkit_rt_run(rt, SIPKIT_RT_RUN_DEFAULT), 0);
  assert_int_equal(log.n, 3);
  assert_int_equal(log.order[0], 1);
  assert_int_equal(log.order[1], 2);
  assert_int_equal(log.order[2], 3);
  assert_true(log.at[0] - t0 >= 10);
  assert_true(log.at[2] - t0 >= 30);
  /* NOWAIT with nothing due returns at once */
  sipkit_rt_timer(rt, 1000, on_timer, &r4);
  assert_int_equal(sipkit_rt_run(rt, SIPKIT_RT_RUN_NOWAIT), 1);
  assert_int_equal(log.n, 3);
  sipkit_rt_free(rt); /* frees the pending timer */
}

/* The timer heap through the embedder API: one libuv timer drives every
 * deadline of the runtime. */
typedef struct tcase {
  sipkit_rt *rt;
  int fired[1024];
  int n;
  int depth, max_depth;     /* callbacks running inside one another */
  sipkit_timer *victim;     /* cancelled by the first callback */
  struct tslot *rearm;      /* armed at 0 ms by the first callback */
} tcase;

typedef struct tslot {
  tcase *c;
  int id;
} tslot;

static void tcase_open(tcase *c) {
  memset(c, 0, sizeof *c);
  assert_int_equal(sipkit_rt_new(&c->rt, NULL, NULL), SIPKIT_EOK);
}

/* exactly the timers want[0..n-1] fired, in that order */
static void assert_fired(const tcase *c, const int *want, int n) {
  assert_int_equal(c->n, n);
  for (int i = 0; i < n; i++)
    assert_int_equal(c->fired[i], want[i]);
}

static void on_case_timer(void *data) {
  tslot *s = data;
  tcase *c = s->c;
  if (++c->depth > c->max_depth)
    c->max_depth = c->depth;
  c->fired[c->n++] = s->id;
  if (c->victim) {
    sipkit_timer_cancel(c->victim);
    c->victim = NULL;
  }
  if (c->rearm) {
    struct tslot *again = c->rearm;
    c->rearm = NULL;
    assert_non_null(sipkit_rt_timer(c->rt, 0, on_case_timer, again));
  }
  c->depth--;
}

static void test_timer_equal_deadlines_in_arm_order(void **state) {
  (void)state;
  tcase c;
  tcase_open(&c);
  tslot s[6];
  for (int i = 0; i < 6; i++) {
    s[i] = (tslot){&c, i};
    /* same deadline, armed in the order 0..5 */
    assert_non_null(sipkit_rt_timer(c.rt, 5, on_case_timer, &s[i]));
  }
  assert_int_equal(sipkit_rt_run(c.rt, SIPKIT_RT_RUN_DEFAULT), 0);
  assert_fired(&c, (const int[]){0, 1, 2, 3, 4, 5}, 6);
  sipkit_rt_free(c.rt);
}

static void test_timer_cancel_during_fire(void **state) {
  (void)state;
  tcase c;
  tcase_open(&c);
  tslot a = {&c, 1}, b = {&c, 2}, d = {&c, 3};
  assert_non_null(sipkit_rt_timer(c.rt, 5, on_case_timer, &a));
  c.victim = sipkit_rt_timer(c.rt, 5, on_case_timer, &b); /* due with a, cancelled by a */
  assert_non_null(c.victim);
  assert_non_null(sipkit_rt_timer(c.rt, 5, on_case_timer, &d));
  assert_int_equal(sipkit_rt_run(c.rt, SIPKIT_RT_RUN_DEFAULT), 0);
  assert_fired(&c, (const int[]){1, 3}, 2);
  sipkit_rt_free(c.rt);
}

static void test_timer_rearm_from_callback(void **state) {
  (void)state;
  tcase c;
  tcase_open(&c);
  tslot a = {&c, 1}, b = {&c, 2}, again = {&c, 9};
  c.rearm = &again;
  assert_non_null(sipkit_rt_timer(c.rt, 5, on_case_timer, &a));
  assert_non_null(sipkit_rt_timer(c.rt, 5, on_case_timer, &b));
  assert_int_equal(sipkit_rt_run(c.rt, SIPKIT_RT_RUN_DEFAULT), 0);
  /* armed at 0 ms inside a's callback: after b, which was due already,
   * and never inside another callback */
  assert_fired(&c, (const int[]){1, 2, 9}, 3);
  assert_int_equal(c.max_depth, 1);
  sipkit_rt_free(c.rt);
}

static void test_timer_free_while_armed(void **state) {
  (void)state;
  tcase c;
  tcase_open(&c);
  tslot s[200];
  for (int i = 0; i < 200; i++) {
    s[i] = (tslot){&c, i};
    assert_non_null(sipkit_rt_timer(c.rt, 60000 + (uint64_t)i, on_case_timer, &s[i]));
  }
  /* nothing due: the loop does not wait, nothing fires */
  assert_int_equal(sipkit_rt_run(c.rt, SIPKIT_RT_RUN_NOWAIT), 1);
  sipkit_rt_free(c.rt); /* frees the 200 armed timers (leak checks) without calling them */
  assert_int_equal(c.n, 0);
}

/* A timer that fired may have woken work libuv cannot see (a Lua task):
 * SIPKIT_RT_RUN_ONCE returns after that turn instead of waiting in the
 * poll for the next event (here b, which would then fire too). */
static void test_run_once_returns_after_a_timer(void **state) {
  (void)state;
  tcase c;
  tcase_open(&c);
  tslot a = {&c, 1}, b = {&c, 2};
  assert_non_null(sipkit_rt_timer(c.rt, 5, on_case_timer, &a));
  assert_non_null(sipkit_rt_timer(c.rt, 2000, on_case_timer, &b));
  while (c.n == 0)
    assert_int_equal(sipkit_rt_run(c.rt, SIPKIT_RT_RUN_ONCE), 1);
  assert_fired(&c, (const int[]){1}, 1);
  sipkit_rt_free(c.rt);
}

static void test_many_timers_in_deadline_order(void **state) {
  (void)state;
  tcase c;
  tcase_open(&c);
  enum { N = 1000 };
  static tslot s[N];
  static sipkit_timer *t[N];
  uint64_t after[N];
  for (int i = 0; i < N; i++) {
    s[i] = (tslot){&c, i};
    after[i] = (uint64_t)(i * 7919) % 40; /* scattered, many equal */
    t[i] = sipkit_rt_timer(c.rt, after[i], on_case_timer, &s[i]);
    assert_non_null(t[i]);
  }
  for (int i = 0; i < N; i += 3)
    sipkit_timer_cancel(t[i]);
  assert_int_equal(sipkit_rt_run(c.rt, SIPKIT_RT_RUN_DEFAULT), 0);
  assert_int_equal(c.n, N - (N + 2) / 3);
  for (int k = 0; k < c.n; k++) {
    assert_int_not_equal(c.fired[k] % 3, 0);
    if (k > 0) {
      int p = c.fired[k - 1], q = c.fired[k];
      /* by deadline, then in arm order */
      assert_true(after[p] < after[q] || (after[p] == after[q] && p < q));
    }
  }
  sipkit_rt_free(c.rt);
}

/* The heap and its lanes against a model: nodes armed with waits of
 * every lane (fixed ones, as Timers K, L, M, and scattered ones, some
 * due before the lane's last), re-armed and stopped at random while the
 * clock moves, come out of the heap's top in (deadline, arm order). */
typedef struct lane_item {
  sipkit__tnode n;
  int armed;
  uint64_t due;
  uint64_t order;
} lane_item;

static void lane_item_fire(sipkit__tnode *n) { (void)n; }

static uint64_t lane_rand(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static void test_timer_lanes_keep_heap_order(void **state) {
  (void)state;
  sipkit_rt *rt;
  assert_int_equal(sipkit_rt_new(&rt, NULL, NULL), SIPKIT_EOK);
  enum { N = 3000 };
  static lane_item it[N];
  static const uint64_t fixed[] = {500, 1000, 4000, 5000, 32000};
  uint64_t x = 0x9e3779b97f4a7c15u, order = 0;
  memset(it, 0, sizeof it);
  for (int i = 0; i < N; i++)
    assert_int_equal(sipkit__timer_register(rt, &it[i].n), SIPKIT_EOK);
  for (int step = 0; step < 4 * N; step++) {
    lane_item *a = &it[lane_rand(&x) % N];
    uint64_t r = lane_rand(&x);
    if (r % 16 == 0)
      rt->skew += r % 37; /* the clock moves on */
    if (a->armed && r % 5 == 0) {
      sipkit__timer_stop(rt, &a->n);
      a->armed = 0;
      continue;
    }
    uint64_t wait = r % 8 ? fixed[(r >> 8) % 5] : (r >> 8) % 40000;
    if (r % 16 == 3)
      wait -= wait > 40 ? (r >> 20) % 40 : 0; /* due before the lane's last */
    uint64_t now = sipkit__now(rt);
    sipkit__timer_arm(rt, &a->n, now + wait, lane_item_fire);
    a->armed = 1;
    a->due = now + wait;
    a->order = order++;
  }
  unsigned armed = 0;
  for (int i = 0; i < N; i++)
    armed += (unsigned)it[i].armed;
  assert_true(armed > N / 2);
  assert_true(rt->heap_len < armed / 4); /* most wait in lanes, off the heap */
  for (unsigned k = 0; k < armed; k++) {
    lane_item *want = NULL;
    for (int i = 0; i < N; i++)
      if (it[i].armed && (!want || it[i].due < want->due ||
                          (it[i].due == want->due && it[i].order < want->order)))
        want = &it[i];
    assert_non_null(want);
    assert_true(rt->heap_len > 0);
    assert_ptr_equal(rt->heap[0], &want->n);
    assert_int_equal(rt->heap[0]->due, want->due);
    sipkit__timer_stop(rt, rt->heap[0]);
    want->armed = 0;
  }
  assert_int_equal(rt->heap_len, 0);
  for (unsigned l = 0; l < SIPKIT__LANES; l++)
    assert_null(rt->lanes[l].first);
  for (int i = 0; i < N; i++)
    sipkit__timer_drop(rt, &it[i].n);
  sipkit_rt_free(rt);
}

/* ------------------------------------------------------------------ */
/* Automatic answers, from a plain socket                              */

typedef struct peer {
  sipkit_rt *rt;
  sipkit_ua *ua;
  int fd, fd2;
  int port, port2;
  struct sockaddr_in ua_addr;
} peer;

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

static void peer_open(peer *p, sipkit_rt_config *cfg) {
  memset(p, 0, sizeof *p);
  assert_int_equal(sipkit_rt_new(&p->rt, NULL, cfg), SIPKIT_EOK);
  sipkit_ua_config uc = {.bind = "127.0.0.1:0", .user = "uas"};
  assert_int_equal(sipkit_ua_open(p->rt, &uc, NULL, NULL, &p->ua, NULL), SIPKIT_EOK);
  p->fd = udp_socket(&p->port);
  p->fd2 = udp_socket(&p->port2);
  p->ua_addr.sin_family = AF_INET;
  p->ua_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  p->ua_addr.sin_port = htons((uint16_t)sipkit_ua_port(p->ua));
}

static void peer_close(peer *p) {
  sipkit_rt_free(p->rt);
  close(p->fd);
  close(p->fd2);
}

/* Send text from fd, run the loop, return what arrives on rfd within
 * wait_ms (0 bytes: nothing). */
static size_t exchange(peer *p, const char *text, int rfd, char *out, size_t cap, int wait_ms) {
  assert_int_equal(sendto(p->fd, text, strlen(text), 0, (struct sockaddr *)&p->ua_addr,
                          sizeof p->ua_addr),
                   (ssize_t)strlen(text));
  for (int i = 0; i < wait_ms; i++) {
    sipkit_rt_run(p->rt, SIPKIT_RT_RUN_NOWAIT);
    struct pollfd pfd = {rfd, POLLIN, 0};
    if (poll(&pfd, 1, 1) == 1) {
      ssize_t n = recv(rfd, out, cap - 1, 0);
      assert_true(n > 0);
      out[n] = 0;
      return (size_t)n;
    }
  }
  out[0] = 0;
  return 0;
}

/* The value of header name in a response text ("" when absent). */
static const char *hdr(const char *msg, const char *name, char *out, size_t cap) {
  char key[64];
  snprintf(key, sizeof key, "\r\n%s: ", name);
  const char *p = strstr(msg, key);
  out[0] = 0;
  if (p) {
    p += strlen(key);
    const char *e = strstr(p, "\r\n");
    snprintf(out, cap, "%.*s", (int)(e - p), p);
  }
  return out;
}

static const char *status_line(const char *msg, char *out, size_t cap) {
  const char *e = strstr(msg, "\r\n");
  snprintf(out, cap, "%.*s", e ? (int)(e - msg) : 0, msg);
  return out;
}

#define REQ(method, branch, port, extra)                                                  \
  method " sip:uas@127.0.0.1 SIP/2.0\r\n"                                                 \
         "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK" branch "\r\n"                     \
         "Max-Forwards: 70\r\n"                                                           \
         "From: <sip:t@127.0.0.1>;tag=ft1\r\n"                                            \
         "To: <sip:uas@127.0.0.1>" extra "Call-ID: c-" branch "\r\n"                      \
         "CSeq: 1 " method "\r\n"

static size_t ask(peer *p, const char *fmt, char *out, size_t cap) {
  char text[2048];
  snprintf(text, sizeof text, fmt, p->port);
  return exchange(p, text, p->fd, out, cap, 500);
}

/* The server transaction table grows past its first 1,024 buckets while
 * it holds its transactions (Timer J: 32 s): 3,000 OPTIONS are answered,
 * then each one's retransmission is absorbed by its own transaction,
 * which resends the same 200 (its To tag was made once). */
static void test_server_txns_past_table_growth(void **state) {
  (void)state;
  peer p;
  peer_open(&p, NULL);
  enum { N = 3000 };
  static char tags[N][64];
  char text[1024], r[4096], v[512];
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < N; i++) {
      snprintf(text, sizeof text,
               "OPTIONS sip:uas@127.0.0.1 SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKgrow%d\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:t@127.0.0.1>;tag=ft1\r\n"
               "To: <sip:uas@127.0.0.1>\r\n"
               "Call-ID: grow-%d\r\n"
               "CSeq: 1 OPTIONS\r\n"
               "Content-Length: 0\r\n\r\n",
               p.port, i, i);
      assert_true(exchange(&p, text, p.fd, r, sizeof r, 500) > 0);
      assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 200 OK");
      const char *tag = strstr(hdr(r, "To", v, sizeof v), ";tag=");
      assert_non_null(tag);
      if (pass == 0)
        snprintf(tags[i], sizeof tags[i], "%s", tag);
      else
        assert_string_equal(tag, tags[i]);
    }
    sipkit_rt_stats st;
    sipkit_rt_get_stats(p.rt, &st);
    assert_int_equal(st.transactions, N);
  }
  assert_int_equal(p.ua->stab.count, N);
  assert_int_equal(p.ua->stab.mask + 1, 4096); /* 1,024 doubled twice */
  peer_close(&p);
}

static void test_auto_answers(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  peer p;
  peer_open(&p, &cfg);
  char r[4096], v[512];

  /* OPTIONS: 200 with Allow, Accept, Supported */
  assert_true(ask(&p, REQ("OPTIONS", "o1", %d, "\r\n") "Content-Length: 0\r\n\r\n", r, sizeof r));
  assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 200 OK");
  assert_string_equal(hdr(r, "Allow", v, sizeof v),
                      "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, MESSAGE, REFER, "
                      "SUBSCRIBE, NOTIFY");
  assert_string_equal(hdr(r, "Accept", v, sizeof v),
                      "application/sdp, application/dtmf-relay, text/plain, message/sipfrag, "
                      "multipart/mixed");
  assert_string_equal(hdr(r, "Supported", v, sizeof v), "100rel");
  assert_string_equal(hdr(r, "CSeq", v, sizeof v), "1 OPTIONS");
  assert_string_equal(hdr(r, "Server", v, sizeof v), "sipkit/" SIPKIT_VERSION);

  /* unknown method: 501 with Allow */
  assert_true(ask(&p, REQ("FOO", "f1", %d, "\r\n") "Content-Length: 0\r\n\r\n", r, sizeof r));
  assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 501 Not Implemented");
  assert_true(strlen(hdr(r, "Allow", v, sizeof v)) > 0);

  /* known method not in Allow: 405 */
  assert_true(ask(&p, REQ("PUBLISH", "p1", %d, "\r\n") "Content-Length: 0\r\n\r\n", r, sizeof r));
  assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 405 Method Not Allowed");
  assert_true(strlen(hdr(r, "Allow", v, sizeof v)) > 0);

  /* Max-Forwards 0: 483 */
  assert_true(ask(&p,
                  "OPTIONS sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKm0\r\n"
                  "Max-Forwards: 0\r\nFrom: <sip:t@127.0.0.1>;tag=a\r\nTo: <sip:uas@127.0.0.1>\r\n"
                  "Call-ID: m0\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                  r, sizeof r));
  assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 483 Too Many Hops");

  /* Require with unknown option tags: 420 + Unsupported */
  assert_true(ask(&p, REQ("OPTIONS", "r1", %d, "\r\n") "Require: foo, 100rel, bar\r\nContent-Length: 0\r\n\r\n",
                  r, sizeof r));
  assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 420 Bad Extension");
  assert_string_equal(hdr(r, "Unsupported", v, sizeof v), "foo, bar");

  /* body of a type not accepted: 415 + Accept */
  assert_true(ask(&p, REQ("MESSAGE", "c1", %d, "\r\n") "Content-Type: application/x-foo\r\n"
                                                        "Content-Length: 3\r\n\r\nabc",
                  r, sizeof r));
  assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 415 Unsupported Media Type");
  assert_string_equal(hdr(r, "Accept", v, sizeof v),
                      "application/sdp, application/dtmf-relay, text/plain, message/sipfrag, "
                      "multipart/mixed");

  /* in-dialog request without a dialog: 481; CANCEL without a transaction: 481 */
  assert_true(ask(&p, REQ("BYE", "b1", %d, ";tag=nosuch\r\n") "Content-Length: 0\r\n\r\n", r, sizeof r));
  assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 481 Call/Transaction Does Not Exist");
  assert_true(ask(&p, REQ("CANCEL", "x1", %d, "\r\n") "Content-Length: 0\r\n\r\n", r, sizeof r));
  assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 481 Call/Transaction Does Not Exist");

  /* no answer to an ACK, to a malformed ACK, or to a malformed response */
  assert_int_equal(ask(&p, REQ("ACK", "a1", %d, ";tag=nosuch\r\n") "Content-Length: 0\r\n\r\n", r, sizeof r), 0);
  assert_int_equal(ask(&p, REQ("ACK", "a2", %d, "\r\n") "Max-Forwards: x\r\nContent-Length: 0\r\n\r\n", r,
                       sizeof r),
                   0);
  assert_int_equal(ask(&p,
                       "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKr\r\n"
                       "From: <sip:t@127.0.0.1>;tag=a\r\nTo: <sip:uas@127.0.0.1>\r\nCall-ID: r\r\n"
                       "CSeq: x OPTIONS\r\nContent-Length: 0\r\n\r\n",
                       r, sizeof r),
                   0);

  /* malformed request whose Via/From/To/Call-ID/CSeq parse: 400 with a
   * reason naming what failed */
  assert_true(ask(&p,
                  "OPTIONS sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKe1\r\n"
                  "Max-Forwards: abc\r\nFrom: <sip:t@127.0.0.1>;tag=a\r\nTo: <sip:uas@127.0.0.1>\r\n"
                  "Call-ID: c-e1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                  r, sizeof r));
  assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 400 Bad Max-Forwards");
  assert_string_equal(hdr(r, "Call-ID", v, sizeof v), "c-e1");
  assert_true(ask(&p, REQ("OPTIONS", "e4", %d, "\r\n") "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", r,
                  sizeof r));
  assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 400 Duplicate Max-Forwards");
  assert_true(ask(&p,
                  "OPTIONS sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKe2\r\n"
                  "Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=a\r\nTo: <sip:uas@127.0.0.1>\r\n"
                  "Call-ID: e2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
                  r, sizeof r));
  assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 400 CSeq Method Mismatch");
  assert_string_equal(hdr(r, "CSeq", v, sizeof v), "1 INVITE");
  /* ... and silence when the Call-ID is what is broken */
  assert_int_equal(ask(&p,
                       "OPTIONS sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKe3\r\n"
                       "Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=a\r\nTo: <sip:uas@127.0.0.1>\r\n"
                       "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                       r, sizeof r),
                   0);

  sipkit_rt_stats st;
  sipkit_rt_get_stats(p.rt, &st);
  assert_int_equal(st.malformed, 6);
  assert_int_equal(st.auto_replies, 11);
  assert_int_equal(st.replies_capped, 0);
  peer_close(&p);
}

static void test_limit_503_and_cap(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  cfg.max_transactions = 1;
  cfg.error_replies_per_sec = 3;
  peer p;
  peer_open(&p, &cfg);
  char r[4096], v[256];
  /* the first OPTIONS leaves a transaction (Completed, timer J) behind */
  assert_true(ask(&p, REQ("OPTIONS", "l1", %d, "\r\n") "Content-Length: 0\r\n\r\n", r, sizeof r));
  assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 200 OK");
  assert_true(ask(&p, REQ("OPTIONS", "l2", %d, "\r\n") "Content-Length: 0\r\n\r\n", r, sizeof r));
  assert_string_equal(status_line(r, v, sizeof v), "SIP/2.0 503 Service Unavailable");
  assert_string_equal(hdr(r, "Retry-After", v, sizeof v), "5");
  sipkit_rt_stats st;
  sipkit_rt_get_stats(p.rt, &st);
  assert_int_equal(st.transactions, 1);
  /* the cap: 5 errors at once, 3 per second allowed, 1 already used */
  char text[5][512];
  for (int i = 0; i < 5; i++) {
    snprintf(text[i], sizeof text[i],
             "FOO sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKcap%d\r\n"
             "Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=a\r\nTo: <sip:uas@127.0.0.1>\r\n"
             "Call-ID: cap%d\r\nCSeq: 1 FOO\r\nContent-Length: 0\r\n\r\n",
             p.port, i, i);
    sendto(p.fd, text[i], strlen(text[i]), 0, (struct sockaddr *)&p.ua_addr, sizeof p.ua_addr);
  }
  int answers = 0;
  for (int i = 0; i < 300; i++) {
    sipkit_rt_run(p.rt, SIPKIT_RT_RUN_NOWAIT);
    struct pollfd pfd = {p.fd, POLLIN, 0};
    if (poll(&pfd, 1, 1) == 1 && recv(p.fd, r, sizeof r, 0) > 0)
      answers++;
  }
  sipkit_rt_get_stats(p.rt, &st);
  assert_int_equal(answers + (int)st.replies_capped, 5);
  assert_true(st.replies_capped >= 1); /* 3 / s with one used: at most 2 or (new second) 3 */
  peer_close(&p);
}

static void test_response_routing(void **state) {
  (void)state;
  peer p;
  peer_open(&p, NULL);
  char text[1024], r[4096], v[512], want[256];
  /* sent-by is the source host: its port (fd2), Via unchanged */
  snprintf(text, sizeof text, REQ("OPTIONS", "v1", %d, "\r\n") "Content-Length: 0\r\n\r\n", p.port2);
  assert_true(exchange(&p, text, p.fd2, r, sizeof r, 500));
  snprintf(want, sizeof want, "SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKv1", p.port2);
  assert_string_equal(hdr(r, "Via", v, sizeof v), want);
  /* sent-by another host: received=, to the source address, sent-by port */
  snprintf(text, sizeof text,
           "OPTIONS sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:%d;branch=z9hG4bKv2\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=a\r\nTo: <sip:uas@127.0.0.1>\r\n"
           "Call-ID: v2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
           p.port2);
  assert_true(exchange(&p, text, p.fd2, r, sizeof r, 500));
  snprintf(want, sizeof want, "SIP/2.0/UDP 192.0.2.1:%d;branch=z9hG4bKv2;received=127.0.0.1",
           p.port2);
  assert_string_equal(hdr(r, "Via", v, sizeof v), want);
  /* rport asked: source address and port, both filled */
  snprintf(text, sizeof text,
           "OPTIONS sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:9;rport;branch=z9hG4bKv3\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=a\r\nTo: <sip:uas@127.0.0.1>\r\n"
           "Call-ID: v3\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
  assert_true(exchange(&p, text, p.fd, r, sizeof r, 500));
  snprintf(want, sizeof want, "SIP/2.0/UDP 192.0.2.1:9;branch=z9hG4bKv3;received=127.0.0.1;rport=%d",
           p.port);
  assert_string_equal(hdr(r, "Via", v, sizeof v), want);
  peer_close(&p);
}

/* What the UA sends: Via with branch and rport, Max-Forwards, tags. */
typedef struct got {
  int status, done, finals;
} got;

static void on_resp(void *data, sipkit_req *req, int status, sipkit_dlg *dlg, const sipkit_msg *msg,
                    const char *buf, size_t len) {
  (void)req, (void)dlg, (void)msg, (void)buf, (void)len;
  got *g = data;
  g->status = status;
  g->done = status >= 200;
  g->finals += status >= 200;
}

/* Runs p's loop until the raw socket reads a datagram (the UA's request):
 * its length, the bytes NUL-terminated in r. */
static ssize_t peer_read_request(peer *p, char *r, size_t cap) {
  ssize_t n = 0;
  for (int i = 0; i < 500 && n <= 0; i++) {
    sipkit_rt_run(p->rt, SIPKIT_RT_RUN_NOWAIT);
    struct pollfd pfd = {p->fd, POLLIN, 0};
    if (poll(&pfd, 1, 1) == 1)
      n = recv(p->fd, r, cap - 1, 0);
  }
  assert_true(n > 0);
  r[n] = 0;
  return n;
}

/* A response to request r (Via, From, To, Call-ID echoed; CSeq 1 OPTIONS)
 * with status line `status` and `to_tag` added to To. */
static void echo_response(char *out, size_t cap, const char *r, const char *status,
                          const char *to_tag) {
  char via[256], from[256], to[256], cid[128];
  hdr(r, "Via", via, sizeof via);
  hdr(r, "From", from, sizeof from);
  hdr(r, "To", to, sizeof to);
  hdr(r, "Call-ID", cid, sizeof cid);
  snprintf(out, cap,
           "SIP/2.0 %s\r\nVia: %s\r\nFrom: %s\r\nTo: %s%s\r\nCall-ID: %s\r\n"
           "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
           status, via, from, to, to_tag, cid);
}

static void test_request_shape_and_stats(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  cfg.txn.t4 = 300; /* Timer K, so the Completed record's end is seen */
  peer p;
  peer_open(&p, &cfg);
  char uri[64], r[4096], v[512];
  snprintf(uri, sizeof uri, "sip:x@127.0.0.1:%d", p.port);
  got g = {0, 0, 0};
  sipkit_req_opts o = {.method = "OPTIONS", .uri = uri};
  assert_int_equal(sipkit_ua_request(p.ua, &o, on_resp, &g, NULL, NULL), SIPKIT_EOK);
  sipkit_rt_stats st;
  sipkit_rt_get_stats(p.rt, &st);
  assert_int_equal(st.unanswered, 1);
  ssize_t n = peer_read_request(&p, r, sizeof r);
  char want[128];
  snprintf(want, sizeof want, "OPTIONS %s SIP/2.0", uri);
  assert_string_equal(status_line(r, v, sizeof v), want);
  hdr(r, "Via", v, sizeof v);
  snprintf(want, sizeof want, "SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK", sipkit_ua_port(p.ua));
  assert_memory_equal(v, want, strlen(want));
  assert_non_null(strstr(v, ";rport"));
  assert_string_equal(hdr(r, "Max-Forwards", v, sizeof v), "70");
  assert_string_equal(hdr(r, "User-Agent", v, sizeof v), "sipkit/" SIPKIT_VERSION);
  assert_string_equal(hdr(r, "CSeq", v, sizeof v), "1 OPTIONS");
  assert_non_null(strstr(hdr(r, "From", v, sizeof v), ";tag="));
  char resp[2048];
  echo_response(resp, sizeof resp, r, "200 OK", ";tag=z");
  sendto(p.fd, resp, strlen(resp), 0, (struct sockaddr *)&p.ua_addr, sizeof p.ua_addr);
  for (int i = 0; i < 500 && !g.done; i++) {
    sipkit_rt_run(p.rt, SIPKIT_RT_RUN_NOWAIT);
    usleep(1000);
  }
  assert_int_equal(g.status, 200);
  sipkit_rt_get_stats(p.rt, &st);
  assert_int_equal(st.unanswered, 0);
  assert_int_equal(st.datagrams_out, 1);
  assert_int_equal(st.datagrams_in, 1);
  assert_int_equal(st.bytes_out, (uint64_t)n);
  assert_int_equal(st.bytes_in, (uint64_t)strlen(resp));
  assert_int_equal(st.transactions, 1); /* Completed, waiting for timer K */
  /* Completed sends nothing: the live part (machine, request copy) is
   * gone, the record stays and absorbs the retransmitted 200 (the TU saw
   * one final), and Timer K ends it */
  sipkit__txn *x = NULL;
  for (uint32_t i = 0; i <= p.ua->ctab.mask && !x; i++)
    x = p.ua->ctab.b[i];
  assert_non_null(x);
  assert_int_equal(p.ua->ctab.count, 1);
  assert_null(x->live);
  assert_int_equal(x->kind, SIPKIT_TXN_NON_INVITE_CLIENT);
  sendto(p.fd, resp, strlen(resp), 0, (struct sockaddr *)&p.ua_addr, sizeof p.ua_addr);
  for (int i = 0; i < 500 && st.datagrams_in < 2; i++) {
    sipkit_rt_run(p.rt, SIPKIT_RT_RUN_NOWAIT);
    sipkit_rt_get_stats(p.rt, &st);
    usleep(1000);
  }
  assert_int_equal(st.datagrams_in, 2);
  assert_int_equal(g.finals, 1);
  assert_int_equal(st.transactions, 1);
  assert_int_equal(st.unanswered, 0);
  for (int i = 0; i < 2000 && st.transactions; i++) {
    sipkit_rt_run(p.rt, SIPKIT_RT_RUN_NOWAIT);
    sipkit_rt_get_stats(p.rt, &st);
    usleep(1000);
  }
  assert_int_equal(st.transactions, 0);
  assert_int_equal(p.ua->ctab.count, 0);
  assert_int_equal(st.datagrams_out, 1);
  peer_close(&p);
}

/* stats.unanswered counts the requests with no response yet: a 100
 * answers one (it is Proceeding), Timer F ends the other unanswered. */
static void test_unanswered_until_response_or_timeout(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  cfg.txn.t1 = 10; /* Timer F: 640 ms */
  peer p;
  peer_open(&p, &cfg);
  char uri[64], r[4096];
  snprintf(uri, sizeof uri, "sip:x@127.0.0.1:%d", p.port);
  got g1 = {0, 0, 0}, g2 = {0, 0, 0};
  sipkit_req_opts o = {.method = "OPTIONS", .uri = uri};
  assert_int_equal(sipkit_ua_request(p.ua, &o, on_resp, &g1, NULL, NULL), SIPKIT_EOK);
  assert_int_equal(sipkit_ua_request(p.ua, &o, on_resp, &g2, NULL, NULL), SIPKIT_EOK);
  sipkit_rt_stats st;
  sipkit_rt_get_stats(p.rt, &st);
  assert_int_equal(st.unanswered, 2);
  peer_read_request(&p, r, sizeof r);
  char resp[2048];
  echo_response(resp, sizeof resp, r, "100 Trying", "");
  sendto(p.fd, resp, strlen(resp), 0, (struct sockaddr *)&p.ua_addr, sizeof p.ua_addr);
  for (int i = 0; i < 500 && g1.status + g2.status == 0; i++) {
    sipkit_rt_run(p.rt, SIPKIT_RT_RUN_NOWAIT);
    usleep(1000);
  }
  assert_int_equal(g1.status + g2.status, 100);
  sipkit_rt_get_stats(p.rt, &st);
  assert_int_equal(st.unanswered, 1);
  assert_int_equal(st.transactions, 2);
  for (int i = 0; i < 3000 && !(g1.done && g2.done); i++) {
    sipkit_rt_run(p.rt, SIPKIT_RT_RUN_NOWAIT);
    usleep(1000);
  }
  assert_int_equal(g1.status, 408);
  assert_int_equal(g2.status, 408);
  sipkit_rt_get_stats(p.rt, &st);
  assert_int_equal(st.unanswered, 0);
  assert_int_equal(st.transactions, 0);
  peer_close(&p);
}

/* Injected drops are traced and counted, and nothing reaches the wire. */
typedef struct trace_count {
  int sent, dropped_send, received, dropped_recv;
} trace_count;

static void count_trace(void *data, int dir, uint64_t t, const struct sockaddr *l,
                        const struct sockaddr *r, const char *b, size_t len) {
  (void)t, (void)l, (void)r, (void)b, (void)len;
  trace_count *c = data;
  c->sent += dir == SIPKIT_RT_SENT;
  c->dropped_send += dir == SIPKIT_RT_DROPPED_SEND;
  c->received += dir == SIPKIT_RT_RECEIVED;
  c->dropped_recv += dir == SIPKIT_RT_DROPPED_RECV;
}

static void test_drop_recv_traced(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  cfg.drop_recv = 1.0;
  peer p;
  peer_open(&p, &cfg);
  trace_count c = {0, 0, 0, 0};
  sipkit_rt_set_trace(p.rt, count_trace, &c);
  char r[1024];
  assert_int_equal(ask(&p, REQ("OPTIONS", "d1", %d, "\r\n") "Content-Length: 0\r\n\r\n", r, sizeof r), 0);
  assert_int_equal(c.dropped_recv, 1);
  assert_int_equal(c.received, 0);
  assert_int_equal(c.sent, 0);
  sipkit_rt_stats st;
  sipkit_rt_get_stats(p.rt, &st);
  assert_int_equal(st.injected_drops, 1);
  assert_int_equal(st.datagrams_in, 1);
  assert_int_equal(st.auto_replies, 0);
  peer_close(&p);
}

/* rt_udp.c reads the socket in batches of 8, 4 batches a wake-up: a
 * queue of 42 datagrams is read as 32 in the first turn (a full batch
 * reads on) and the rest in the next; an empty datagram is no datagram. */
static void test_receive_batches(void **state) {
  (void)state;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  cfg.drop_recv = 1.0; /* counted, traced, never answered */
  peer p;
  peer_open(&p, &cfg);
  trace_count c = {0, 0, 0, 0};
  sipkit_rt_set_trace(p.rt, count_trace, &c);
  for (int i = 0; i < 42; i++) {
    char d[64];
    int n = i == 0 ? 0 : snprintf(d, sizeof d, "datagram %d", i);
    assert_int_equal(sendto(p.fd, d, (size_t)n, 0, (struct sockaddr *)&p.ua_addr,
                            sizeof p.ua_addr),
                     n);
  }
  sipkit_rt_stats st;
  sipkit_rt_run(p.rt, SIPKIT_RT_RUN_NOWAIT);
  sipkit_rt_get_stats(p.rt, &st);
  assert_int_equal(st.datagrams_in, 31);
  sipkit_rt_run(p.rt, SIPKIT_RT_RUN_NOWAIT);
  sipkit_rt_get_stats(p.rt, &st);
  assert_int_equal(st.datagrams_in, 41);
  assert_int_equal(c.dropped_recv, 41);
  sipkit_rt_run(p.rt, SIPKIT_RT_RUN_NOWAIT); /* nothing more */
  sipkit_rt_get_stats(p.rt, &st);
  assert_int_equal(st.datagrams_in, 41);
  assert_int_equal(st.oversize, 0);
  peer_close(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fault_sequence_pinned),
      cmocka_unit_test(test_config_rejected),
      cmocka_unit_test(test_timers),
      cmocka_unit_test(test_timer_equal_deadlines_in_arm_order),
      cmocka_unit_test(test_timer_cancel_during_fire),
      cmocka_unit_test(test_timer_rearm_from_callback),
      cmocka_unit_test(test_timer_free_while_armed),
      cmocka_unit_test(test_many_timers_in_deadline_order),
      cmocka_unit_test(test_timer_lanes_keep_heap_order),
      cmocka_unit_test(test_run_once_returns_after_a_timer),
      cmocka_unit_test(test_auto_answers),
      cmocka_unit_test(test_server_txns_past_table_growth),
      cmocka_unit_test(test_limit_503_and_cap),
      cmocka_unit_test(test_response_routing),
      cmocka_unit_test(test_request_shape_and_stats),
      cmocka_unit_test(test_unanswered_until_response_or_timeout),
      cmocka_unit_test(test_drop_recv_traced),
      cmocka_unit_test(test_receive_batches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
