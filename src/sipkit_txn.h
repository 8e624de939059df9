/* sipkit_txn.h - RFC 3261 §17 transactions as pure state machines.
 *
 * A transaction is a value: the four machines of RFC 3261 §17 (figures 5,
 * 6, 7 and 8), with the Accepted states of RFC 6026 for a 2xx to INVITE on
 * both sides (timer M on the client, timer L on the server).  Every entry
 * point takes (txn, event, now_ms) and appends what must happen to a
 * caller-provided action list: send bytes, pass a message up to the TU,
 * start or stop a timer at an absolute time, report a timeout or a
 * transport error, or say the transaction is over.  No sockets, no clock
 * reads, no allocation (but a kept key, see Matching): the caller owns the
 * clock, the timers and the bytes, so tests drive the machines with an
 * injected clock.
 *
 * Bytes: the request a client transaction retransmits and the last
 * response a server transaction retransmits are caller-owned; the
 * transaction keeps the pointer it was given and hands it back in its
 * SEND actions, so the bytes must live until they are replaced or the
 * transaction terminates; a 2xx of an INVITE server transaction is only
 * sent, never resent by it (Accepted, RFC 6026: the TU retransmits), so
 * it need only live until that SEND action is carried out.  The ACK an INVITE client transaction builds
 * for a 3xx-6xx (§17.1.1.3, with sipkit_build_ack_non2xx()) is written
 * into the caller's buffer given to sipkit_txn_set_ack_buffer().
 *
 * Timers: a SIPKIT_TXN_ACT_TIMER_START action gives the timer and the
 * absolute time (ms) at which the caller must call sipkit_txn_on_timer().
 * A timer the transaction stopped (ACT_TIMER_STOP) or never started is
 * ignored if it fires anyway.  Timers that are 0 on reliable transports
 * (D, I, J, K) are never started there: the transition happens at once.
 *
 * Choices the figures leave open: a 1xx in Calling stops timer B as well
 * as A (figure 5 gives B no transition out of Proceeding); a transport
 * error terminates the transaction from any live state (§17.1.4,
 * §17.2.4); the INVITE server's 100 Trying is timer "100" (200 ms), and a
 * retransmitted INVITE after it gets SEND_100 again until the TU answers.
 *
 * Matching (§17.1.3, §17.2.3) works on sipkit_txn_key values: bounded
 * spans taken from a parsed message.  sipkit_txn_key_make() points them
 * into the message's buffer (a key to match one message with, no copy);
 * sipkit_txn_key_keep() copies them into one block the key owns, sized
 * to them, so a kept key outlives the buffer (free it with
 * sipkit_txn_key_free()).  A field longer than its bound makes the key
 * invalid (SIPKIT_EBUFFER_TOO_SMALL); it is never truncated, and an
 * invalid key matches nothing.
 */
#ifndef SIPKIT_TXN_H
#define SIPKIT_TXN_H

#include <stddef.h>
#include <stdint.h>

#include "sipkit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Kinds, states, timers                                               */

enum sipkit_txn_kind {
  SIPKIT_TXN_INVITE_CLIENT = 0,    /* §17.1.1, figure 5 (+ RFC 6026 Accepted) */
  SIPKIT_TXN_NON_INVITE_CLIENT,    /* §17.1.2, figure 6 */
  SIPKIT_TXN_INVITE_SERVER,        /* §17.2.1, figure 7 (+ RFC 6026 Accepted) */
  SIPKIT_TXN_NON_INVITE_SERVER     /* §17.2.2, figure 8 */
};

enum sipkit_txn_state {
  SIPKIT_TXN_STATE_NULL = 0,  /* initialised, not started */
  SIPKIT_TXN_CALLING,         /* INVITE client */
  SIPKIT_TXN_TRYING,          /* non-INVITE client and server */
  SIPKIT_TXN_PROCEEDING,
  SIPKIT_TXN_COMPLETED,
  SIPKIT_TXN_ACCEPTED,        /* RFC 6026, INVITE client and server */
  SIPKIT_TXN_CONFIRMED,       /* INVITE server */
  SIPKIT_TXN_TERMINATED
};

enum sipkit_txn_timer {
  SIPKIT_TXN_TIMER_A = 0, /* INVITE request retransmit, T1 doubling */
  SIPKIT_TXN_TIMER_B,     /* INVITE transaction timeout, 64*T1 */
  SIPKIT_TXN_TIMER_D,     /* wait for response retransmits, 32 s (0 reliable) */
  SIPKIT_TXN_TIMER_E,     /* non-INVITE request retransmit, doubling to T2 */
  SIPKIT_TXN_TIMER_F,     /* non-INVITE transaction timeout, 64*T1 */
  SIPKIT_TXN_TIMER_G,     /* INVITE final response retransmit, doubling to T2 */
  SIPKIT_TXN_TIMER_H,     /* wait for ACK, 64*T1 */
  SIPKIT_TXN_TIMER_I,     /* wait for ACK retransmits, T4 (0 reliable) */
  SIPKIT_TXN_TIMER_J,     /* wait for request retransmits, 64*T1 (0 reliable) */
  SIPKIT_TXN_TIMER_K,     /* wait for response retransmits, T4 (0 reliable) */
  SIPKIT_TXN_TIMER_L,     /* RFC 6026 server Accepted, 64*T1 */
  SIPKIT_TXN_TIMER_M,     /* RFC 6026 client Accepted, 64*T1 */
  SIPKIT_TXN_TIMER_100,   /* INVITE server: send 100 Trying if the TU is silent (200 ms) */
  SIPKIT_TXN_TIMER__COUNT
};

SIPKIT_API const char *sipkit_txn_state_name(int state);  /* "CALLING" */
SIPKIT_API const char *sipkit_txn_timer_name(int timer);  /* "A" .. "M", "100" */

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

typedef struct sipkit_txn_config {
  uint32_t t1;       /* RTT estimate, default 500 ms */
  uint32_t t2;       /* max retransmit interval of non-INVITE requests and INVITE responses, 4 s */
  uint32_t t4;       /* max time a message stays in the network, 5 s */
  uint32_t timer_d;  /* timer D on unreliable transports, default 32 s (must be >= 32 s) */
  uint32_t trying;   /* INVITE server: 100 Trying after this many ms, default 200 */
} sipkit_txn_config;

/* Fill cfg with the defaults above. */
SIPKIT_API void sipkit_txn_config_default(sipkit_txn_config *cfg);

/* ------------------------------------------------------------------ */
/* Transaction keys and matching                                       */

#ifndef SIPKIT_TXN_BRANCH_MAX
#define SIPKIT_TXN_BRANCH_MAX 128u  /* Via branch */
#endif
#ifndef SIPKIT_TXN_HOST_MAX
#define SIPKIT_TXN_HOST_MAX 128u    /* Via sent-by host (IPv6 with brackets) */
#endif
#ifndef SIPKIT_TXN_METHOD_MAX
#define SIPKIT_TXN_METHOD_MAX 32u   /* method token (from the request line or CSeq) */
#endif
#ifndef SIPKIT_TXN_TRANSPORT_MAX
#define SIPKIT_TXN_TRANSPORT_MAX 16u /* Via transport token */
#endif
/* RFC 2543 fallback fields (copied only for a branch without z9hG4bK) */
#ifndef SIPKIT_TXN_URI_MAX
#define SIPKIT_TXN_URI_MAX 256u     /* Request-URI, compared byte for byte */
#endif
#ifndef SIPKIT_TXN_TAG_MAX
#define SIPKIT_TXN_TAG_MAX 64u      /* From / To tag */
#endif
#ifndef SIPKIT_TXN_CALL_ID_MAX
#define SIPKIT_TXN_CALL_ID_MAX 128u
#endif

/* A bounded string: bytes (no NUL terminator guaranteed) and length. */
#define SIPKIT_TXN_FIELD(name) \
  const char *name;            \
  uint16_t name##_len

/* What identifies a transaction (the spans: see above).  */
typedef struct sipkit_txn_key {
  uint8_t valid;          /* 0: built from nothing usable, or a field too long */
  uint8_t rfc3261;        /* branch starts with the magic cookie "z9hG4bK" */
  uint8_t is_response;    /* built from a response (method = CSeq method) */
  uint8_t has_resp_to_tag;
  int method;             /* sipkit_method of the request (responses: of the CSeq) */
  uint32_t port;          /* sent-by port as written, 0 when absent */
  uint32_t cseq;          /* CSeq number */
  SIPKIT_TXN_FIELD(method_name); /* request method, or the CSeq method */
  SIPKIT_TXN_FIELD(branch);      /* case-sensitive */
  SIPKIT_TXN_FIELD(host);        /* case-insensitive */
  SIPKIT_TXN_FIELD(transport);   /* case-insensitive */
  /* RFC 2543 fallback (empty when rfc3261) */
  SIPKIT_TXN_FIELD(ruri);
  SIPKIT_TXN_FIELD(from_tag);
  SIPKIT_TXN_FIELD(to_tag);
  SIPKIT_TXN_FIELD(resp_to_tag); /* see sipkit_txn_key_set_resp_to_tag() */
  SIPKIT_TXN_FIELD(call_id);
  char *mem_;             /* private: the block of sipkit_txn_key_keep() */
} sipkit_txn_key;

/* Key of a request or a response parsed from buf.  For a request: method,
 * top Via branch, sent-by and transport, and for a branch without the
 * magic cookie the RFC 2543 fields (Request-URI, From tag, To tag,
 * Call-ID, CSeq number).  For a response: top Via branch and sent-by, and
 * the CSeq method.  Returns SIPKIT_EOK, SIPKIT_EMISSING_HEADER (no Via or
 * CSeq), SIPKIT_EBUFFER_TOO_SMALL (a field longer than its bound) or
 * SIPKIT_EARGUMENT; on error key->valid is 0.  The key points into buf
 * and owns nothing (key is overwritten: free a kept key first). */
SIPKIT_API int sipkit_txn_key_make(sipkit_txn_key *key, const sipkit_msg *msg,
                                   const char *buf);

/* Copy the strings of key into one block it owns, so that it outlives the
 * buffers they came from (a block it had is replaced).  SIPKIT_ENO_MEMORY
 * leaves key as it was. */
SIPKIT_API int sipkit_txn_key_keep(sipkit_txn_key *key);

/* Release the block of a kept key and zero it (valid 0).  NULL and keys
 * that own nothing are accepted. */
SIPKIT_API void sipkit_txn_key_free(sipkit_txn_key *key);

/* A kept key in little room, for a table of many transactions: the
 * scalars and span lengths of a key in a sipkit_txn_pkey (32 bytes
 * instead of 168), its strings in sipkit_txn_key_pack_len() bytes of the
 * caller's, one after the other in the order of the fields of
 * sipkit_txn_key (method name, branch, host, transport, Request-URI,
 * From tag, To tag, response To tag, Call-ID).  Unpacking gives a key
 * that points into those bytes (it owns nothing), for the match
 * functions below. */
typedef struct sipkit_txn_pkey {
  uint32_t port, cseq;
  uint16_t len[9];     /* of each string, in the order above */
  uint8_t valid, rfc3261, is_response, has_resp_to_tag;
  uint8_t method;      /* enum sipkit_method */
} sipkit_txn_pkey;

SIPKIT_API size_t sipkit_txn_key_pack_len(const sipkit_txn_key *key);
/* Fill pk and bytes (sipkit_txn_key_pack_len(key) of them) from key. */
SIPKIT_API void sipkit_txn_key_pack(sipkit_txn_pkey *pk, char *bytes,
                                    const sipkit_txn_key *key);
SIPKIT_API void sipkit_txn_key_unpack(sipkit_txn_key *key, const sipkit_txn_pkey *pk,
                                      const char *bytes);

/* RFC 2543 fallback: an ACK matches an INVITE server transaction only if
 * its To tag equals the one of the response the transaction sent
 * (§17.2.3).  Record that tag here when the TU answers (empty is a valid
 * tag value: "the response had no tag").  A kept key copies the tag into
 * its block, another one points at it.  Returns SIPKIT_EBUFFER_TOO_SMALL
 * (and leaves key unchanged) when the tag exceeds SIPKIT_TXN_TAG_MAX, or
 * SIPKIT_ENO_MEMORY. */
SIPKIT_API int sipkit_txn_key_set_resp_to_tag(sipkit_txn_key *key,
                                              const char *tag, size_t len);

/* §17.1.3: does response resp (parsed from buf) belong to the client
 * transaction whose request has key ckey?  Top Via branch equal and CSeq
 * method equal to the request's method (a CANCEL's 200 does not match the
 * INVITE).  Returns 1 or 0. */
SIPKIT_API int sipkit_txn_match_response(const sipkit_txn_key *ckey,
                                         const sipkit_msg *resp,
                                         const char *buf);

/* §17.2.3: does request req belong to the server transaction created by
 * the request with key skey?  Magic cookie: branch, sent-by (host
 * case-insensitive, port) and method equal, where an ACK matches an
 * INVITE transaction and a CANCEL only a CANCEL transaction.  Without the
 * magic cookie (RFC 2543): Request-URI, From tag, Call-ID, CSeq number,
 * top Via (sent-by and branch) equal, and To tag equal to the request's
 * (to the response's for an ACK, see above), with CSeq method equal (ACK
 * matching INVITE).  Returns 1 or 0. */
SIPKIT_API int sipkit_txn_match_request(const sipkit_txn_key *skey,
                                        const sipkit_msg *req,
                                        const char *buf);

/* §9.2: is CANCEL request cancel aimed at the INVITE server transaction
 * with key ikey?  As sipkit_txn_match_request() with the method not
 * compared (the CANCEL carries the INVITE's branch and CSeq number).
 * Returns 1 or 0 (0 also when ikey is not an INVITE or cancel not a
 * CANCEL). */
SIPKIT_API int sipkit_txn_match_cancel_target(const sipkit_txn_key *ikey,
                                              const sipkit_msg *cancel,
                                              const char *buf);

/* The same comparisons on two keys (req built by sipkit_txn_key_make()). */
SIPKIT_API int sipkit_txn_key_match_request(const sipkit_txn_key *skey,
                                            const sipkit_txn_key *req);
SIPKIT_API int sipkit_txn_key_match_response(const sipkit_txn_key *ckey,
                                             const sipkit_txn_key *resp);
SIPKIT_API int sipkit_txn_key_match_cancel_target(const sipkit_txn_key *ikey,
                                                  const sipkit_txn_key *cancel);

/* ------------------------------------------------------------------ */
/* Actions                                                             */

enum sipkit_txn_action_type {
  SIPKIT_TXN_ACT_SEND_REQUEST = 1, /* client: (re)send the request: data/len */
  SIPKIT_TXN_ACT_SEND_RESPONSE,    /* server: (re)send the last response: data/len, status */
  SIPKIT_TXN_ACT_SEND_100,         /* INVITE server: build and send 100 Trying (sipkit_build_response) */
  SIPKIT_TXN_ACT_SEND_ACK,         /* INVITE client: send the ACK in data/len (code != 0: it could not be built) */
  SIPKIT_TXN_ACT_PASS_RESPONSE,    /* client: pass the response (status) to the TU */
  SIPKIT_TXN_ACT_PASS_REQUEST,     /* server: pass the request (or an ACK in Accepted) to the TU */
  SIPKIT_TXN_ACT_TIMER_START,      /* start timer at absolute time at (ms) */
  SIPKIT_TXN_ACT_TIMER_STOP,       /* stop timer */
  SIPKIT_TXN_ACT_TIMEOUT,          /* tell the TU: timer (B, F or H) fired */
  SIPKIT_TXN_ACT_TRANSPORT_ERROR,  /* tell the TU: the transport failed */
  SIPKIT_TXN_ACT_TERMINATED        /* the transaction is over; destroy it */
};

SIPKIT_API const char *sipkit_txn_action_name(int type); /* "SEND_REQUEST" */

typedef struct sipkit_txn_action {
  uint8_t type;          /* enum sipkit_txn_action_type */
  uint8_t timer;         /* TIMER_START/STOP, TIMEOUT: enum sipkit_txn_timer */
  uint16_t status;       /* SEND_RESPONSE, PASS_RESPONSE: status code */
  int code;              /* SEND_ACK: SIPKIT_EOK or why the ACK could not be built */
  uint64_t at;           /* TIMER_START: absolute time, ms */
  const char *data;      /* SEND_*: the bytes (caller-owned), NULL for SEND_100 */
  size_t len;
} sipkit_txn_action;

#define SIPKIT_TXN_MAX_ACTIONS 8u

/* Filled by each event (cleared first). */
typedef struct sipkit_txn_actions {
  unsigned n;
  sipkit_txn_action a[SIPKIT_TXN_MAX_ACTIONS];
} sipkit_txn_actions;

/* ------------------------------------------------------------------ */
/* Transactions                                                        */

typedef struct sipkit_txn {
  /* public */
  void *data;              /* the embedder's */
  sipkit_txn_key key;      /* fill with sipkit_txn_key_make() (and _keep()) for matching; the machine never reads it */
  /* read-only */
  uint8_t kind;            /* enum sipkit_txn_kind */
  uint8_t state;           /* enum sipkit_txn_state */
  uint8_t reliable;        /* reliable transport (TCP, TLS, SCTP) */
  uint8_t sent_100;        /* INVITE server: a 100 Trying went out */
  uint16_t last_status;    /* last response received (client) or sent (server) */
  uint16_t armed;          /* bit per running timer */
  uint64_t at[SIPKIT_TXN_TIMER__COUNT]; /* deadline of each running timer */
  sipkit_txn_config cfg;
  /* private */
  uint64_t interval_;      /* current A / E / G interval (64-bit: doubling a large T1 never wraps) */
  const char *msg_;        /* client: request bytes; server: last response bytes */
  size_t msg_len_;
  const sipkit_msg *req_;  /* INVITE client: the parsed INVITE (for the ACK) */
  const char *req_buf_;
  char *ack_buf_;          /* INVITE client: caller's ACK buffer */
  size_t ack_cap_;
  size_t ack_len_;
  int ack_code_;
} sipkit_txn;

/* Prepare t (state NULL).  cfg NULL means the defaults; reliable is
 * non-zero for TCP/TLS/SCTP.  Returns SIPKIT_EARGUMENT for a bad kind or
 * a config with T1 = 0, T2 < T1 or timer_d < 32000. */
SIPKIT_API int sipkit_txn_init(sipkit_txn *t, int kind,
                               const sipkit_txn_config *cfg, int reliable);

/* INVITE client: where the ACK for a 3xx-6xx is built, and the INVITE it
 * is built from (parsed from ibuf; both must outlive the transaction). */
SIPKIT_API void sipkit_txn_set_ack_buffer(sipkit_txn *t,
                                          const sipkit_msg *invite,
                                          const char *ibuf, char *ack_buf,
                                          size_t ack_cap);

/* Client: the TU sends the request bytes (kept by pointer for the
 * retransmissions).  Server: the request that creates the transaction
 * arrived (bytes may be NULL).  NULL → Calling / Trying / Proceeding. */
SIPKIT_API int sipkit_txn_start(sipkit_txn *t, const char *bytes, size_t len,
                                uint64_t now, sipkit_txn_actions *out);

/* Client: a response with this status matched the transaction.  resp and
 * rbuf (may be NULL) are the parsed response, needed by the INVITE client
 * to build the ACK for a 3xx-6xx. */
SIPKIT_API int sipkit_txn_on_response(sipkit_txn *t, int status,
                                      const sipkit_msg *resp, const char *rbuf,
                                      uint64_t now, sipkit_txn_actions *out);

/* Server: a request matched the transaction: a retransmission of the
 * original request, or (INVITE server) an ACK. */
SIPKIT_API int sipkit_txn_on_request(sipkit_txn *t, int method, uint64_t now,
                                     sipkit_txn_actions *out);

/* Server: the TU sends a response (bytes kept by pointer for the
 * retransmissions).  SIPKIT_EARGUMENT when the state allows no response
 * (e.g. after a final one) or status is not 100..699. */
SIPKIT_API int sipkit_txn_respond(sipkit_txn *t, int status, const char *bytes,
                                  size_t len, uint64_t now,
                                  sipkit_txn_actions *out);

/* Timer fired at now.  A timer that is not running is ignored. */
SIPKIT_API int sipkit_txn_on_timer(sipkit_txn *t, int timer, uint64_t now,
                                   sipkit_txn_actions *out);

/* The transport reported a failure sending for this transaction. */
SIPKIT_API int sipkit_txn_on_transport_error(sipkit_txn *t, uint64_t now,
                                             sipkit_txn_actions *out);

#ifdef __cplusplus
}
#endif
#endif /* SIPKIT_TXN_H */
