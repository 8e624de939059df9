/* fuzz_ua.c - the datagram receive path of the UA core (src/ua.c,
 * ua_auto.c, proxy.c): automatic answers (400 after the re-parse of
 * Via/From/To/Call-ID/CSeq, 481, 501, 405, 483, 420, 415, 503),
 * transaction and dialog matching, CANCEL, PRACK, 100rel, digest retry,
 * and proxy-mode routing and forwarding.
 *
 * One runtime and two UAs bound to 127.0.0.1:0 are opened once: ua[0] a
 * plain UA with a password, ua[1] in proxy mode.  Their sockets are never
 * used: fault injection drops every send (drop_send = 1, reported to the
 * trace hook as DROPPED_SEND, never on the wire, so nothing leaves the
 * process whatever address a message names), and datagrams go in through
 * sipkit__ua_inject (what the socket read callback runs) from
 * 127.0.0.1:9.  The UAs' own ports are pinned to 5060 / 5070 (only Via,
 * Contact and Record-Route use them) so "a Route naming us" is reachable
 * and an input behaves the same on every machine.
 *
 * Deterministic: getrandom(2) is replaced by a splitmix64 stream reset
 * for every input (branches, tags, Call-IDs and cnonces are the same each
 * run, so responses to our requests and requests in our dialogs can be
 * written, and the fuzzer learns them from the comparisons), and
 * getaddrinfo(3) by a stub that "resolves" every name to 127.0.0.1
 * without a resolver.  Timers run on a skipped clock
 * (sipkit__ua_fire_timers), never by waiting.
 *
 * Input: byte 0 is a control byte, the rest datagrams separated by
 * "%%%%" (at most 16):
 *   bit 0     the UA that receives: 0 ua[0] (plain), 1 ua[1] (proxy)
 *   bits 1-2  on_request: 0 not taken (the core answers); 1 taken: an
 *             INVITE gets a reliable 183 (left pending), anything else
 *             the status below; 2 taken: answered with status
 *             100 + CSeq % 600 (a 1xx leaves it pending, a 2xx to INVITE
 *             carries SDP); 3 sipkit_srv_forward (Record-Route; next hop
 *             127.0.0.1:9 for an odd CSeq, else from the request)
 *   bit 3     the receiving UA first sends an INVITE (100rel) to
 *             sip:bob@127.0.0.1:9
 *   bit 4     ... and a SUBSCRIBE and a REGISTER (answers 401 / 407)
 *   bit 5     the INVITE is cancelled at its first provisional; a 2xx
 *             to it gets an INFO in the dialog
 *   bit 6     after the last datagram, up to 64 timers fire
 *   bit 7     after each datagram, up to 4 timers fire
 * Then both UAs are reset (sipkit__ua_reset) and the loop turned until
 * every handle is freed, so memory does not grow across inputs.
 *
 * Checks: every datagram the core sends parses (strict) and passes
 * fz_check_msg; after the reset no transaction, dialog, request or
 * server transaction is left and the live counters are 0.
 *
 * FUZZ_UA_DUMP=1 prints every datagram sent (to write seeds). */
#define _GNU_SOURCE /* memmem */
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/types.h>

#include "fuzz_common.h"
#include "rt_internal.h"

#define SEP "%%%%"
#define MAX_DGRAMS 16

int LLVMFuzzerInitialize(int *argc, char ***argv);

static sipkit_rt *rt;
static sipkit_ua *uas[2];
static struct sockaddr_in peer;
static unsigned ctl;
static int dump;
static sipkit_header out_hdrs[SIPKIT_MAX_HEADERS];

/* ------------------------------------------------------------ determinism */

static uint64_t rng;

static uint64_t splitmix64(void) {
  uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

ssize_t getrandom(void *buf, size_t len, unsigned int flags) {
  (void)flags;
  unsigned char *p = buf;
  for (size_t i = 0; i < len; i++)
    p[i] = (unsigned char)splitmix64();
  return (ssize_t)len;
}

/* Every name is 127.0.0.1: no resolver, no network. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
  (void)service;
  (void)hints;
  *res = NULL;
  if (!node || !*node)
    return EAI_NONAME;
  struct addrinfo *ai = calloc(1, sizeof *ai + sizeof(struct sockaddr_in));
  if (!ai)
    return EAI_MEMORY;
  struct sockaddr_in *sin = (struct sockaddr_in *)(void *)(ai + 1);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(0x7f000001);
  ai->ai_family = AF_INET;
  ai->ai_socktype = SOCK_DGRAM;
  ai->ai_addr = (struct sockaddr *)sin;
  ai->ai_addrlen = sizeof *sin;
  *res = ai;
  return 0;
}

void freeaddrinfo(struct addrinfo *res) { free(res); }

/* ------------------------------------------------------------ hooks */

static void trace(void *data, int dir, uint64_t time_us, const struct sockaddr *local,
                  const struct sockaddr *remote, const char *bytes, size_t len) {
  (void)data;
  (void)time_us;
  (void)local;
  CHECK(dir != SIPKIT_RT_SENT);  /* every send is dropped */
  if (dir != SIPKIT_RT_DROPPED_SEND)
    return;
  CHECK(remote != NULL && bytes != NULL && len > 0);
  if (dump)
    fprintf(stderr, "---- sent %zu bytes\n%.*s\n", len, (int)len, bytes);
  sipkit_msg m;
  sipkit_error err;
  memset(&err, 0, sizeof err);
  sipkit_msg_init(&m, out_hdrs, SIPKIT_MAX_HEADERS);
  int rc = sipkit_parse(&m, bytes, len, 0, &err);
  if (rc != SIPKIT_EOK) {
    char e[160];
    sipkit_error_format(&err, bytes, len, e, sizeof e);
    fprintf(stderr, "sent datagram does not parse: %s\n%.*s\n", e, (int)len, bytes);
    CHECK_FAIL("what the core sends parses");
  }
  fz_check_msg(&m, bytes, len, SIPKIT_MAX_HEADERS);
  CHECK(m.size == len);
}

static int on_request(void *data, sipkit_ua *ua, sipkit_srv *srv, sipkit_dlg *dlg,
                      const sipkit_msg *msg, const char *buf, size_t len) {
  (void)data;
  (void)dlg;
  (void)buf;
  CHECK(ua != NULL && srv != NULL && msg != NULL && msg->size <= len);
  unsigned mode = (ctl >> 1) & 3;
  if (mode == 0)
    return 0;
  uint32_t cseq = msg->cseq ? msg->cseq->num : 0;
  if (mode == 3) {
    sipkit_fwd_opts fo;
    memset(&fo, 0, sizeof fo);
    fo.record_route = 1;
    fo.dest = (cseq & 1) ? "127.0.0.1:9" : NULL;
    return sipkit_srv_forward(srv, &fo, NULL) == SIPKIT_EOK;
  }
  sipkit_resp_opts o;
  memset(&o, 0, sizeof o);
  if (mode == 1 && msg->method == SIPKIT_METHOD_INVITE) {
    o.reliable = 1;
    sipkit_srv_respond(srv, 183, &o, NULL);
    return 1;
  }
  int status = 100 + (int)(cseq % 600);
  if (msg->method == SIPKIT_METHOD_INVITE && status >= 200 && status < 300) {
    static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                              "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    o.content_type = "application/sdp";
    o.body = sdp;
    o.body_len = sizeof sdp - 1;
  }
  sipkit_srv_respond(srv, status, &o, NULL);
  return 1;
}

static void on_ack(void *data, sipkit_ua *ua, sipkit_dlg *dlg, const sipkit_msg *msg,
                   const char *buf, size_t len) {
  (void)data;
  (void)buf;
  CHECK(ua != NULL && dlg != NULL && msg != NULL && msg->size <= len);
  CHECK(msg->method == SIPKIT_METHOD_ACK);
}

static void on_cancel(void *data, sipkit_ua *ua, sipkit_srv *srv) {
  (void)data;
  CHECK(ua != NULL && srv != NULL);
}

static void on_dialog_end(void *data, sipkit_ua *ua, sipkit_dlg *dlg, int why) {
  (void)data;
  CHECK(ua != NULL && dlg != NULL);
  CHECK(why >= SIPKIT_DLG_END_BYE_RECEIVED && why <= SIPKIT_DLG_END_SUBSCRIPTION_TERMINATED);
}

static void on_srv_timeout(void *data, sipkit_ua *ua, sipkit_srv *srv, int status) {
  (void)data;
  CHECK(ua != NULL && srv != NULL && status >= 500 && status <= 599);
}

static void on_response(void *data, sipkit_req *req, int status, sipkit_dlg *dlg,
                        const sipkit_msg *msg, const char *buf, size_t len) {
  (void)buf;
  CHECK(req != NULL && status >= 100 && status <= 699);
  CHECK(msg ? msg->size == len && msg->status == status : (status == 408 || status == 503));
  if (!data || !(ctl & 0x20))
    return; /* only the INVITE has data */
  if (status < 200) {
    sipkit_req_cancel(req);
  } else if (status < 300 && dlg) {
    sipkit_req_opts o;
    memset(&o, 0, sizeof o);
    o.method = "INFO";
    o.content_type = "application/dtmf-relay";
    o.body = "Signal=5\r\nDuration=160\r\n";
    o.body_len = strlen(o.body);
    sipkit_dlg_request(dlg, &o, NULL, NULL, NULL, NULL);
  }
}

/* ------------------------------------------------------------ setup */

static void pin_port(sipkit_ua *ua, int port) {
  ua->port = port;
  snprintf(ua->addr, sizeof ua->addr, "127.0.0.1:%d", port);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  dump = getenv("FUZZ_UA_DUMP") != NULL;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  cfg.drop_send = 1.0;              /* nothing reaches a socket */
  cfg.error_replies_per_sec = ~0u;  /* the cap would depend on the clock */
  cfg.max_transactions = 12;        /* 503 paths within 16 datagrams */
  cfg.max_dialogs = 3;
  cfg.user_agent = "fuzz";
  if (sipkit_rt_new(&rt, NULL, &cfg) != SIPKIT_EOK)
    abort();
  sipkit_rt_set_trace(rt, trace, NULL);
  sipkit_ua_handlers h;
  memset(&h, 0, sizeof h);
  h.on_request = on_request;
  h.on_ack = on_ack;
  h.on_cancel = on_cancel;
  h.on_dialog_end = on_dialog_end;
  h.on_srv_timeout = on_srv_timeout;
  for (int i = 0; i < 2; i++) {
    sipkit_ua_config uc;
    memset(&uc, 0, sizeof uc);
    uc.bind = "127.0.0.1:0";
    uc.user = i ? "proxy" : "alice";
    uc.password = i ? NULL : "secret";
    uc.proxy = i;
    int sys = 0;
    if (sipkit_ua_open(rt, &uc, &h, NULL, &uas[i], &sys) != SIPKIT_EOK) {
      fprintf(stderr, "fuzz_ua: sipkit_ua_open: %d\n", sys);
      abort();
    }
    pin_port(uas[i], i ? 5070 : 5060);
  }
  peer.sin_family = AF_INET;
  peer.sin_port = htons(9);
  peer.sin_addr.s_addr = htonl(0x7f000001);
  return 0;
}

static void start_requests(sipkit_ua *ua) {
  sipkit_req_opts o;
  if (ctl & 0x08) {
    memset(&o, 0, sizeof o);
    o.method = "INVITE";
    o.uri = "sip:bob@127.0.0.1:9";
    o.prack = 1;
    o.content_type = "application/sdp";
    o.body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=audio 5004 RTP/AVP 0\r\n";
    o.body_len = strlen(o.body);
    sipkit_ua_request(ua, &o, on_response, &peer, NULL, NULL);
  }
  if (ctl & 0x10) {
    static const char *const ev[] = {"Event: presence", "Expires: 600"};
    memset(&o, 0, sizeof o);
    o.method = "SUBSCRIBE";
    o.uri = "sip:carol@127.0.0.1:9";
    o.headers = ev;
    o.header_count = 2;
    sipkit_ua_request(ua, &o, on_response, NULL, NULL, NULL);
    memset(&o, 0, sizeof o);
    o.method = "REGISTER";
    o.uri = "sip:127.0.0.1:9";
    o.to = "sip:alice@127.0.0.1";
    sipkit_ua_request(ua, &o, on_response, NULL, NULL, NULL);
  }
}

static void check_empty(sipkit_ua *ua) {
  CHECK(sipkit__list_empty(&ua->txns));
  CHECK(sipkit__list_empty(&ua->reqs));
  CHECK(sipkit__list_empty(&ua->srvs));
  CHECK(sipkit__list_empty(&ua->delayed));
  CHECK(ua->ctab.count == 0 && ua->stab.count == 0);
  for (uint32_t i = 0; ua->ctab.b && i <= ua->ctab.mask; i++)
    CHECK(ua->ctab.b[i] == NULL);
  for (uint32_t i = 0; ua->stab.b && i <= ua->stab.mask; i++)
    CHECK(ua->stab.b[i] == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  ctl = data[0];
  rng = 0x5eed;
  sipkit_ua *ua = uas[ctl & 1];
  start_requests(ua);
  const char *p = (const char *)data + 1, *end = (const char *)data + size;
  for (int n = 0; n < MAX_DGRAMS && p <= end; n++) {
    const char *sep = memmem(p, (size_t)(end - p), SEP, 4);
    const char *e = sep ? sep : end;
    if (e > p) {
      /* an exact-size copy: the datagram ends where the socket's would */
      size_t len = (size_t)(e - p);
      char *d = malloc(len);
      if (!d)
        break;
      memcpy(d, p, len);
      sipkit__ua_inject(ua, d, len, (const struct sockaddr *)&peer);
      free(d);
    }
    if (ctl & 0x80)
      sipkit__ua_fire_timers(ua, 4);
    if (!sep)
      break;
    p = sep + 4;
  }
  if (ctl & 0x40)
    sipkit__ua_fire_timers(ua, 64);
  for (int i = 0; i < 2; i++)
    sipkit__ua_reset(uas[i]);
  sipkit_rt_run(rt, SIPKIT_RT_RUN_NOWAIT); /* close callbacks free the handles */
  sipkit_rt_stats st;
  sipkit_rt_get_stats(rt, &st);
  CHECK(st.transactions == 0 && st.dialogs == 0);
  for (int i = 0; i < 2; i++)
    check_empty(uas[i]);
  return 0;
}
