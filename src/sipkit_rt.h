/* sipkit_rt.h - the UDP runtime on libuv and the user-agent core on top of
 * the transaction (sipkit_txn.h) and dialog (sipkit_dialog.h) machines.
 *
 * Layers, each using only the one below:
 *   sipkit_rt   the event loop (libuv), the clock, timers, the transaction
 *               table, limits, statistics, deterministic fault injection
 *               and a trace hook that sees every datagram;
 *   sipkit_ua   one UDP socket with an identity (user, domain, password):
 *               parses each datagram once, matches it to a transaction or
 *               a dialog, answers what the layers above do not handle
 *               (400, 481, 501, 405, 483, 420, 415, 503, OPTIONS), and
 *               hands the rest to the embedder's callbacks;
 *   sipkit_req  a request we sent (client transaction, and for INVITE the
 *               dialogs its 1xx/2xx create, the ACK for each 2xx, 401/407
 *               answered with the UA's credentials, CANCEL, PRACK);
 *   sipkit_srv  a request we received and must answer (server transaction;
 *               a 2xx to INVITE is retransmitted until the ACK);
 *   sipkit_dlg  a dialog (RFC 3261 §12): in-dialog requests both ways.
 *
 * Nothing blocks.  The loop is the embedder's libuv loop or one of ours;
 * sipkit_rt_run(rt, SIPKIT_RT_RUN_NOWAIT) steps it from outside.
 *
 * Lifetimes.  Handles are owned by the runtime.  A message given to a
 * callback (msg, buf, len) is valid during the callback only.  A sipkit_req
 * lives until its final-response callback (or timeout) has returned; a
 * sipkit_srv until a final response was sent or it was cancelled; a
 * sipkit_dlg until on_dialog_end has returned.  sipkit_*_set_data() attach
 * the embedder's pointer; a handle's end is always reported by exactly one
 * callback, so the embedder can release what it attached.
 *
 * Strings are NUL-terminated in this API (it is the embedding API; the
 * parser's spans stay in sipkit.h).  Header lists are "Name: value" lines
 * without CRLF, each checked by the grammatical builder.
 */
#ifndef SIPKIT_RT_H
#define SIPKIT_RT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sipkit.h"
#include "sipkit_txn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Runtime                                                             */

typedef struct sipkit_rt sipkit_rt;
typedef struct sipkit_ua sipkit_ua;
typedef struct sipkit_req sipkit_req;
typedef struct sipkit_srv sipkit_srv;
typedef struct sipkit_dlg sipkit_dlg;
typedef struct sipkit_timer sipkit_timer;

typedef struct sipkit_rt_config {
  sipkit_txn_config txn;          /* T1, T2, T4 ... (sipkit_txn_config_default) */
  uint32_t max_transactions;      /* live transactions; beyond: 503 + Retry-After (default 20000) */
  uint32_t max_dialogs;           /* live dialogs; beyond: 503 + Retry-After (default 20000) */
  uint32_t max_datagram;          /* larger datagrams are dropped and counted (default 65507) */
  uint32_t error_replies_per_sec; /* cap on automatic error answers (default 200) */
  uint32_t retry_after;           /* seconds in a 503's Retry-After (default 5) */
  int recv_buffer;                /* SO_RCVBUF in bytes, 0: system default */
  int send_buffer;                /* SO_SNDBUF in bytes, 0: system default */
  /* Deterministic fault injection: a generator seeded with seed decides,
   * per datagram and direction, to drop it, send/deliver it twice, or
   * delay it by delay_ms.  Probabilities 0..1, all 0 by default. */
  uint64_t seed;
  double drop_send, drop_recv;
  double dup_send, dup_recv;
  double delay_send, delay_recv;
  uint32_t delay_ms;              /* default 100 */
  const char *user_agent;         /* User-Agent / Server value; NULL: "sipkit/" SIPKIT_VERSION */
} sipkit_rt_config;

SIPKIT_API void sipkit_rt_config_default(sipkit_rt_config *cfg);

/* loop: a uv_loop_t * of the embedder, or NULL for a loop of our own.
 * Returns SIPKIT_EOK, SIPKIT_EARGUMENT (bad config) or SIPKIT_ENO_MEMORY. */
SIPKIT_API int sipkit_rt_new(sipkit_rt **rt, void *loop, const sipkit_rt_config *cfg);
/* Closes every UA, transaction and timer (no callbacks fire) and frees rt;
 * an own loop is run until its handles are closed, then freed. */
SIPKIT_API void sipkit_rt_free(sipkit_rt *rt);
SIPKIT_API void *sipkit_rt_loop(sipkit_rt *rt);   /* the uv_loop_t * */

enum { SIPKIT_RT_RUN_DEFAULT = 0, SIPKIT_RT_RUN_ONCE, SIPKIT_RT_RUN_NOWAIT };
/* uv_run() with that mode; returns its value. */
SIPKIT_API int sipkit_rt_run(sipkit_rt *rt, int mode);
SIPKIT_API void sipkit_rt_stop(sipkit_rt *rt);
/* Milliseconds of the loop's clock (uv_now), the clock every timer uses. */
SIPKIT_API uint64_t sipkit_rt_now(sipkit_rt *rt);

/* One-shot timer for the embedder (a Lua sleep, a test's deadline).  The
 * handle is freed after cb returns or by sipkit_timer_cancel(). */
SIPKIT_API sipkit_timer *sipkit_rt_timer(sipkit_rt *rt, uint64_t after_ms,
                                         void (*cb)(void *data), void *data);
SIPKIT_API void sipkit_timer_cancel(sipkit_timer *t);

/* Trace hook: every datagram as it goes to or comes from the socket
 * (after fault injection decided; dropped ones are reported as such). */
enum sipkit_rt_dir {
  SIPKIT_RT_SENT = 0,
  SIPKIT_RT_RECEIVED,
  SIPKIT_RT_DROPPED_SEND,   /* injected loss, never on the wire */
  SIPKIT_RT_DROPPED_RECV    /* received, discarded by injected loss */
};
typedef void (*sipkit_trace_fn)(void *data, int dir, uint64_t time_us,
                                const struct sockaddr *local,
                                const struct sockaddr *remote,
                                const char *bytes, size_t len);
SIPKIT_API void sipkit_rt_set_trace(sipkit_rt *rt, sipkit_trace_fn fn, void *data);

typedef struct sipkit_rt_stats {
  uint64_t datagrams_in, datagrams_out, bytes_in, bytes_out;
  uint64_t retransmissions;      /* requests and responses sent again by a timer */
  uint64_t malformed;            /* datagrams that did not parse */
  uint64_t oversize;             /* datagrams over max_datagram */
  uint64_t injected_drops, injected_dups, injected_delays;
  uint64_t auto_replies;         /* responses the UA core sent by itself */
  uint64_t replies_capped;       /* automatic error answers suppressed by the cap */
  uint64_t txn_timeouts;         /* timer B / F / H fired */
  uint32_t transactions;         /* live now */
  uint32_t dialogs;              /* live now */
  uint64_t transport_errors;     /* sends the kernel refused, ICMP errors read */
  uint32_t unanswered;           /* requests of live client transactions with no response
                                    yet: more than a round trip's worth means the peer, or
                                    this process, is behind (sipkit load holds new calls) */
} sipkit_rt_stats;
SIPKIT_API void sipkit_rt_get_stats(sipkit_rt *rt, sipkit_rt_stats *st);

/* Fault injection decisions.  Each datagram draws once from the stream
 * of its direction (send / receive; two independent splitmix64 streams
 * seeded from cfg->seed) when any probability of that direction is
 * non-zero: u < drop is DROP, u < drop + dup is DUP, u < drop + dup +
 * delay is DELAY.  The same seed and the same datagram order give the
 * same decisions.  sipkit_rt_fault_next() takes the next decision of a
 * stream (receive non-zero: the receive stream) as a datagram would;
 * for tests and tools that want to see the sequence. */
enum { SIPKIT_RT_FAULT_NONE = 0, SIPKIT_RT_FAULT_DROP, SIPKIT_RT_FAULT_DUP,
       SIPKIT_RT_FAULT_DELAY };
SIPKIT_API int sipkit_rt_fault_next(sipkit_rt *rt, int receive);

/* ------------------------------------------------------------------ */
/* User agent                                                          */

typedef struct sipkit_ua_config {
  const char *bind;        /* "127.0.0.1:5080", "[::1]:0", "0.0.0.0:5060"; port 0 picks one */
  const char *user;        /* From / Contact user, default "sipkit" */
  const char *domain;      /* From host, default the bound address */
  const char *display;     /* From display name, may be NULL */
  const char *password;    /* answers 401 / 407 when set (auth user = user) */
  const char *allow;       /* Allow value, default the methods the core handles */
  const char *supported;   /* Supported value, default "100rel" */
  const char *accept;      /* Accept value (bodies we take; others get 415), default
                              "application/sdp, application/dtmf-relay, text/plain,
                              message/sipfrag, multipart/mixed" */
  int reuseport;           /* SO_REUSEPORT (several processes on one port) */
  /* Proxy mode (RFC 3261 §16): an in-dialog request that is in none of
   * our dialogs but whose top Route names us (or whose Request-URI is a
   * Record-Route value of ours, §16.4 strict-route fix-up) is not
   * answered 481: an ACK is forwarded statelessly at once, any other
   * method comes to on_request with dlg NULL and sipkit_srv_routed()
   * true, and is forwarded by the core (sipkit_srv_forward with no
   * options) when the embedder does not take it.  The Allow check is
   * skipped for such requests, and Require / Content-Type are never
   * checked (a proxy passes bodies and extensions on, §16.3).  A 2xx
   * whose top Via is ours and whose transaction has ended (a
   * retransmission after timer M) is passed upstream statelessly. */
  int proxy;
} sipkit_ua_config;

typedef struct sipkit_ua_handlers {
  /* A request that starts a server transaction: outside a dialog (dlg
   * NULL) or within one.  Return 1 when the embedder takes it (it must
   * answer srv with sipkit_srv_respond, now or later), 0 to let the core
   * answer (OPTIONS: 200 with Allow/Accept/Supported; BYE and NOTIFY in a
   * dialog: 200; anything else: 501 / 405 / 481 as fits).  NULL: never
   * taken.  A NOTIFY that arrives before the 2xx to our SUBSCRIBE / REFER
   * creates the dialog (RFC 6665 §4.1.2.4) and comes here with it. */
  int (*on_request)(void *data, sipkit_ua *ua, sipkit_srv *srv, sipkit_dlg *dlg,
                    const sipkit_msg *msg, const char *buf, size_t len);
  /* The ACK for a 2xx we sent (§13.3.1.4); retransmissions stop. */
  void (*on_ack)(void *data, sipkit_ua *ua, sipkit_dlg *dlg,
                 const sipkit_msg *msg, const char *buf, size_t len);
  /* A CANCEL for srv arrived: the core answered it 200 and the INVITE
   * 487; srv ends when this returns. */
  void (*on_cancel)(void *data, sipkit_ua *ua, sipkit_srv *srv);
  /* dlg ended: BYE received or sent and answered, no ACK within 64*T1,
   * 481/408 to an in-dialog request, early dialog ended by a final. */
  void (*on_dialog_end)(void *data, sipkit_ua *ua, sipkit_dlg *dlg, int why);
  /* The core gave up on srv and answered it itself with a final status:
   * 500 when a reliable provisional got no PRACK within 64*T1 (RFC 3262
   * §3).  srv ends when this returns (like on_cancel); an embedder that
   * sends reliable provisionals sets this to drop its srv pointers.
   * May be NULL. */
  void (*on_srv_timeout)(void *data, sipkit_ua *ua, sipkit_srv *srv, int status);
} sipkit_ua_handlers;

enum sipkit_dlg_end {
  SIPKIT_DLG_END_BYE_RECEIVED = 1,
  SIPKIT_DLG_END_BYE_SENT,
  SIPKIT_DLG_END_NO_ACK,
  SIPKIT_DLG_END_REJECTED,     /* 481 / 408 to an in-dialog request */
  SIPKIT_DLG_END_EARLY_ENDED,  /* non-2xx final, or extra 2xx BYE'd */
  SIPKIT_DLG_END_CLOSED,       /* the UA was closed */
  SIPKIT_DLG_END_SUBSCRIPTION_TERMINATED /* a dialog created by SUBSCRIBE or REFER:
                                            a NOTIFY with Subscription-State:
                                            terminated was answered 2xx (either
                                            side, RFC 6665 §4.1.3, §4.2.2) */
};

/* Open a UA bound to cfg->bind.  Errors: SIPKIT_EARGUMENT (bad address),
 * SIPKIT_EIO (socket / bind failed; errno-style detail in *sys_err when
 * non-NULL). */
SIPKIT_API int sipkit_ua_open(sipkit_rt *rt, const sipkit_ua_config *cfg,
                              const sipkit_ua_handlers *h, void *data,
                              sipkit_ua **ua, int *sys_err);
SIPKIT_API void sipkit_ua_close(sipkit_ua *ua);
SIPKIT_API int sipkit_ua_port(const sipkit_ua *ua);
/* "127.0.0.1:5080" / "[::1]:5080" of the bound socket. */
SIPKIT_API const char *sipkit_ua_addr(const sipkit_ua *ua);
SIPKIT_API sipkit_rt *sipkit_ua_rt(sipkit_ua *ua);
/* The socket's descriptor, for getsockopt / setsockopt (DSCP, buffer
 * sizes); libuv owns it: never close or read it. */
SIPKIT_API int sipkit_ua_fd(const sipkit_ua *ua);
/* Add method to the UA's Allow list (a no-op when it is there): requests
 * of a method outside the list are answered 405 (501 for an unknown
 * one) before on_request sees them.  SIPKIT_EARGUMENT when method is not
 * a token, SIPKIT_ENO_MEMORY. */
SIPKIT_API int sipkit_ua_allow_method(sipkit_ua *ua, const char *method);

/* ------------------------------------------------------------------ */
/* Requests we send                                                    */

typedef struct sipkit_req_opts {
  const char *method;          /* "INVITE", "REGISTER", ... */
  const char *uri;             /* Request-URI */
  const char *to;              /* To URI, NULL: the Request-URI */
  const char *from;            /* From URI, NULL: sip:user@domain of the UA */
  const char *dest;            /* next hop "host:port", NULL: from the Request-URI */
  const char *const *headers;  /* extra "Name: value" lines */
  size_t header_count;
  const char *content_type;    /* with a body, e.g. "application/sdp" */
  const char *body;
  size_t body_len;
  int no_auth;                 /* do not answer 401 / 407 with the credentials */
  int prack;                   /* INVITE: Supported 100rel, PRACK each reliable 1xx */
  /* Outside a dialog: the Call-ID and CSeq number to use (NULL / 0: a new
   * Call-ID, CSeq 1).  A registration refresh keeps its Call-ID and
   * counts CSeq up (RFC 3261 §10.2.4). */
  const char *call_id;
  uint32_t cseq;
} sipkit_req_opts;

/* Every response to the request: status 100..699 with the message, or on
 * timeout (timer B / F) status 408 and on a transport error 503, with msg
 * NULL.  Transport errors are a send the kernel refused, or on Linux an
 * ICMP error (port / host unreachable) for a datagram of the request,
 * read from the socket's error queue (IP_RECVERR / IPV6_RECVERR).  For INVITE: a 2xx (first and retransmissions) is ACKed by the
 * core before the callback sees the first one; *dlg (may be NULL) is the
 * dialog a 1xx with a To tag or the 2xx created.  The callback with a
 * final status is the last one for req. */
typedef void (*sipkit_response_fn)(void *data, sipkit_req *req, int status,
                                   sipkit_dlg *dlg, const sipkit_msg *msg,
                                   const char *buf, size_t len);

/* A request outside any dialog.  Returns SIPKIT_EOK with *req (may be
 * NULL), or the builder's error (SIPKIT_EINVALID_VALUE naming the rule in
 * *err when err is non-NULL), SIPKIT_ELIMIT beyond max_transactions, or
 * for INVITE / SUBSCRIBE / REFER when max_dialogs dialogs are live (the
 * limit is checked when the request is sent: the dialogs its responses
 * create are then always made, so a forked INVITE may go past it; extra
 * 2xx are ACKed and BYE'd anyway, §13.2.2.4). */
SIPKIT_API int sipkit_ua_request(sipkit_ua *ua, const sipkit_req_opts *o,
                                 sipkit_response_fn cb, void *data,
                                 sipkit_req **req, sipkit_error *err);
/* A request within dlg (BYE, INFO, re-INVITE, UPDATE, REFER, NOTIFY,
 * MESSAGE, PRACK): o->method, headers and body are used, the rest comes
 * from the dialog. */
SIPKIT_API int sipkit_dlg_request(sipkit_dlg *dlg, const sipkit_req_opts *o,
                                  sipkit_response_fn cb, void *data,
                                  sipkit_req **req, sipkit_error *err);
/* CANCEL a pending INVITE (§9.1): sent once a provisional arrived (or at
 * once when one already has).  The INVITE's callback then gets the 487. */
SIPKIT_API int sipkit_req_cancel(sipkit_req *req);
SIPKIT_API void sipkit_req_set_data(sipkit_req *req, void *data);
SIPKIT_API void *sipkit_req_data(sipkit_req *req);

/* ------------------------------------------------------------------ */
/* Requests we answer                                                  */

typedef struct sipkit_resp_opts {
  const char *reason;          /* NULL: the default phrase */
  const char *const *headers;
  size_t header_count;
  const char *content_type;
  const char *body;
  size_t body_len;
  int reliable;                /* 101..199 to an INVITE with 100rel: Require 100rel + RSeq, resent until PRACK */
} sipkit_resp_opts;

/* Answer srv (opts may be NULL).  A 101..299 to INVITE / SUBSCRIBE /
 * REFER creates the dialog (To tag and Contact added by the core); a 2xx
 * to INVITE is retransmitted until the ACK.  SIPKIT_EARGUMENT after a
 * final response. */
SIPKIT_API int sipkit_srv_respond(sipkit_srv *srv, int status,
                                  const sipkit_resp_opts *opts, sipkit_error *err);
/* The dialog srv created or came in (NULL when none, or once it ended).
 * After srv's final response the srv pointer stays usable until control
 * returns to the loop, so sipkit_srv_dialog() may be called right after
 * the sipkit_srv_respond() that sent the final (the Lua binding does);
 * a dialog a 2xx created lives on until on_dialog_end, one that a
 * 300-699 to INVITE ended is already gone (NULL).  Keep the dialog
 * pointer, not srv. */
SIPKIT_API sipkit_dlg *sipkit_srv_dialog(sipkit_srv *srv);
SIPKIT_API void sipkit_srv_set_data(sipkit_srv *srv, void *data);
SIPKIT_API void *sipkit_srv_data(sipkit_srv *srv);

/* ------------------------------------------------------------------ */
/* Proxying (RFC 3261 §16, one target per request, no forking)         */

/* Each response relayed upstream for a forwarded srv: status 101..699
 * with the downstream response (msg, buf, len: as received, before our
 * Via was removed), or a final the proxy made itself with msg NULL: 408
 * (timer B / F fired downstream), 503 (transport error).  Status 0 with
 * msg the CANCEL: upstream cancelled and the CANCEL was passed
 * downstream (§16.10); the downstream's 487 follows.  The first final
 * status is the last call; srv is valid during the call only. */
typedef void (*sipkit_fwd_fn)(void *data, sipkit_srv *srv, int status, const sipkit_msg *msg,
                              const char *buf, size_t len);

typedef struct sipkit_fwd_opts {
  const char *uri;             /* target: the new Request-URI, NULL: the request's (after §16.4) */
  const char *dest;            /* next hop "host:port", NULL: the first Route left, else the target */
  int record_route;            /* add Record-Route: <sip:HOST:PORT;lr> (our Via host and port) */
  const char *const *headers;  /* extra "Name: value" lines */
  size_t header_count;
  sipkit_fwd_fn cb;            /* may be NULL */
  void *data;
} sipkit_fwd_opts;

/* Forward srv's request statefully (§16.6): Request-URI = o->uri; a top
 * Route naming us removed (§16.4; a Request-URI that is our Record-Route
 * value is first replaced by the last Route, the strict-route fix-up);
 * a next hop without ;lr gets the strict-router treatment (§16.6 step
 * 6); Max-Forwards decremented (70 when absent); our Via on top with a
 * new branch, the upstream's Via given received / rport (§18.2.1,
 * RFC 3581); Record-Route when asked; every other header and the body
 * as received.  The copy goes out over a client transaction; each
 * response comes back through srv (§16.7: 100 is not relayed, our Via is
 * removed; 1xx, 2xx (retransmissions too) and the final are passed as
 * they came).  A CANCEL of a forwarded INVITE is answered 200 and passed
 * downstream instead of answered 487 by the core.  An ACK for a non-2xx
 * is hop by hop (the transactions send and absorb it).
 *
 * On SIPKIT_EOK srv belongs to the proxy: sipkit_srv_respond() on it
 * fails with SIPKIT_ESTATE.  Errors leave srv to the caller: SIPKIT_EARGUMENT
 * (final sent, forwarded already, next hop not an address),
 * SIPKIT_ELIMIT (max_transactions; or Max-Forwards was 0: then srv was
 * answered 483 here, which the core's own check makes unreachable from
 * on_request), the builder's error with *err naming the rule (a bad
 * target URI or header line). */
SIPKIT_API int sipkit_srv_forward(sipkit_srv *srv, const sipkit_fwd_opts *o, sipkit_error *err);
/* 1 when srv is an in-dialog request that a proxy-mode UA routes (see
 * sipkit_ua_config.proxy), else 0. */
SIPKIT_API int sipkit_srv_routed(const sipkit_srv *srv);

/* ------------------------------------------------------------------ */
/* Dialogs                                                             */

SIPKIT_API int sipkit_dlg_state(const sipkit_dlg *dlg);         /* enum sipkit_dialog_state */
/* The strings below are valid until the dialog's next message (a target
 * refresh makes them again) or its end; copy what you keep longer. */
SIPKIT_API const char *sipkit_dlg_call_id(const sipkit_dlg *dlg);
SIPKIT_API const char *sipkit_dlg_local_tag(const sipkit_dlg *dlg);
SIPKIT_API const char *sipkit_dlg_remote_tag(const sipkit_dlg *dlg);
SIPKIT_API const char *sipkit_dlg_remote_target(const sipkit_dlg *dlg);
SIPKIT_API void sipkit_dlg_set_data(sipkit_dlg *dlg, void *data);
SIPKIT_API void *sipkit_dlg_data(sipkit_dlg *dlg);
SIPKIT_API sipkit_ua *sipkit_dlg_ua(sipkit_dlg *dlg);
/* End dlg here without sending anything (a SUBSCRIBE dialog whose
 * subscription is over, a dialog the embedder gives up): on_dialog_end
 * is called with SIPKIT_DLG_END_CLOSED. */
SIPKIT_API void sipkit_dlg_close(sipkit_dlg *dlg);

/* RFC 3515 §2.4.4-2.4.5: a NOTIFY in the implicit subscription of a
 * REFER we accepted (dlg: the dialog the REFER came in, or the one our
 * 2xx to it created), reporting the progress of the referenced request:
 *   Event: refer;id=<refer_cseq>    (id left out when refer_cseq is 0)
 *   Subscription-State: active, or terminated;reason=noresource when final
 *   Content-Type: message/sipfrag;version=2.0
 *   body "SIP/2.0 <frag_status> <frag_reason>\r\n" (reason NULL: the
 *   default phrase).
 * frag_status 100..699.  A final NOTIFY answered 2xx ends a dialog that
 * the REFER created (SIPKIT_DLG_END_SUBSCRIPTION_TERMINATED), not an
 * INVITE dialog the REFER came in.  Returns as sipkit_dlg_request. */
SIPKIT_API int sipkit_dlg_notify_refer(sipkit_dlg *dlg, uint32_t refer_cseq, int frag_status,
                                       const char *frag_reason, int final,
                                       sipkit_response_fn cb, void *data, sipkit_req **req,
                                       sipkit_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SIPKIT_RT_H */
