/* rt_internal.h - sipkit__ names shared by the runtime files (rt.c,
 * rt_udp.c, ua.c, ua_auto.c, ua_msg.c).  Not installed. */
#ifndef SIPKIT_RT_INTERNAL_H
#define SIPKIT_RT_INTERNAL_H

#include <string.h>
#include <uv.h>

#include "sipkit_auth.h"
#include "sipkit_build.h"
#include "sipkit_dialog.h"
#include "sipkit_rt.h"

/* Intrusive doubly linked list: every live handle is on its owner's list
 * so sipkit_rt_free / sipkit_ua_close can close all of them. */
typedef struct sipkit__link {
  struct sipkit__link *prev, *next;
} sipkit__link;

static inline void sipkit__list_init(sipkit__link *h) { h->prev = h->next = h; }
static inline int sipkit__list_empty(const sipkit__link *h) { return h->next == h; }
static inline void sipkit__list_add(sipkit__link *h, sipkit__link *l) {
  l->next = h;
  l->prev = h->prev;
  h->prev->next = l;
  h->prev = l;
}
static inline void sipkit__list_del(sipkit__link *l) {
  l->prev->next = l->next;
  l->next->prev = l->prev;
  l->prev = l->next = l;
}
#define SIPKIT__CONTAINER(ptr, type, field) \
  ((type *)(void *)((char *)(ptr) - offsetof(type, field)))


/* A deadline on the runtime's one libuv timer instead of a uv_timer_t
 * (152 bytes) per transaction, dialog and server transaction: a node of a
 * binary min-heap in rt ordered by deadline, then by arm order, embedded
 * in the object it wakes.  Whatever arms a node during a pass of the
 * heap (from a fire callback) waits for the next pass, even when due at
 * once, so no callback runs inside another.
 *
 * Most nodes of a loaded runtime wait out a fixed time (Timers J, K, L,
 * M: 5 s or 32 s), so nodes of one wait are armed in deadline order: a
 * node is appended to the lane of its wait, a list that stays sorted as
 * it takes only a node due no earlier than its last, and only each
 * lane's first node is in the heap.  Arming and stopping them costs a
 * few pointer writes instead of a sift through a heap of hundreds of
 * thousands; the order in which nodes fire is the heap's order all the
 * same.  A wait with no lane takes an empty one, or goes to the heap. */
typedef struct sipkit__tnode {
  uint64_t due;                          /* sipkit__now's clock, ms */
  void (*fire)(struct sipkit__tnode *n); /* disarmed before it runs */
  uint32_t slot;                         /* 1 + index in rt->heap; 0: not in the heap */
  uint32_t seq;                          /* arm order (wraps; compared by difference) */
  struct sipkit__tnode *lprev, *lnext;   /* its lane's neighbours */
  uint8_t lane;                          /* 1 + its lane; 0: in no lane */
} sipkit__tnode;

#define SIPKIT__LANES 8u
typedef struct sipkit__lane {
  sipkit__tnode *first, *last;
  uint64_t wait;               /* ms from arming to due, of every node in it */
} sipkit__lane;

struct sipkit_rt {
  uv_loop_t *loop;
  uv_loop_t own_loop;
  int own;
  sipkit_rt_config cfg;
  char user_agent[128];
  sipkit_trace_fn trace;
  void *trace_data;
  sipkit_rt_stats st;
  uint64_t rng[2];           /* [0] send, [1] receive: independent streams */
  sipkit__link timers;       /* sipkit_timer */
  sipkit__link uas;          /* sipkit_ua */
  uv_timer_t tick;           /* the one libuv timer: set to the heap's earliest deadline */
  sipkit__tnode **heap;      /* armed nodes, a binary min-heap */
  uint32_t heap_len;
  uint32_t heap_cap;         /* >= nodes, so that arming never allocates */
  sipkit__lane lanes[SIPKIT__LANES];
  uint32_t nodes;            /* nodes that exist, armed or not */
  uint32_t seq;              /* arm counter */
  uint8_t firing;            /* inside a pass: the tick is set once, at its end */
  uint8_t run_once;          /* inside sipkit_rt_run(SIPKIT_RT_RUN_ONCE) */
  sipkit__tnode reaper;      /* frees the graves on the next pass */
  /* Handles released while a callback up the stack may still read them
   * (x->closing, g->ended, ...): freed by the reaper (sipkit__ua_reap),
   * never during the pass that released them. */
  sipkit__link txn_graves, dlg_graves, srv_graves;
  uint64_t cap_second;       /* error-reply cap: current second and count in it */
  uint32_t cap_count;
  uint64_t skew;             /* ms added to the loop's clock (sipkit__ua_fire_timers) */
};

/* Where a handle sends: IPv4 or IPv6 in 28 bytes, not the 128 of a
 * sockaddr_storage (a transaction keeps one, a dialog two, for 32 s or a
 * whole call).  Cast &a to struct sockaddr * to use it. */
typedef union sipkit__addr {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
} sipkit__addr;

static inline void sipkit__addr_keep(sipkit__addr *a, const struct sockaddr_storage *ss) {
  memcpy(a, ss, sizeof *a);
}
static inline void sipkit__addr_storage(struct sockaddr_storage *ss, const sipkit__addr *a) {
  memset(ss, 0, sizeof *ss);
  memcpy(ss, a, sizeof *a);
}

struct sipkit_timer {
  sipkit__tnode node;
  sipkit_rt *rt;
  sipkit__link link;
  void (*cb)(void *data);
  void *data;
};

/* A message kept past its datagram: bytes, parse and header array copied,
 * so it is parsed once. */
typedef struct sipkit__stored {
  char *buf;           /* inside the block of hdrs */
  size_t len;
  sipkit_msg msg;
  sipkit_header *hdrs; /* one malloc: the header array, then the bytes */
} sipkit__stored;

int sipkit__stored_copy(sipkit__stored *s, const sipkit_msg *m, const char *buf, size_t len);
void sipkit__stored_free(sipkit__stored *s);

/* What a transaction needs while it may send: the pure machine, the
 * bytes it retransmits and where they go.  An INVITE transaction lets go
 * of it once Accepted (RFC 6026): for its last 32 s it sends nothing and
 * only passes on 2xx retransmissions (client) or ACKs (server), which its
 * key, kind and one timer do; that is most of the transactions a server
 * under load holds.  A non-INVITE client transaction lets go of it in
 * Completed (Timer K: absorbing retransmitted finals). */
typedef struct sipkit__txlive {
  sipkit_txn t;                /* its key is unused: the record keeps one (sipkit__txn) */
  sipkit__addr peer;
  char *bytes;                 /* server: the last response */
  size_t len;
  sipkit__stored sent;         /* client: the request (ACK, CANCEL, auth, dialogs) */
  char *ack_buf;               /* INVITE client: the ACK for a 3xx-6xx, made at the first one */
} sipkit__txlive;

/* A transaction of the table: one timer node set to its earliest
 * deadline, its key (packed) and, until Accepted (INVITE) or Completed
 * (non-INVITE client), the live part.  A non-INVITE server transaction
 * keeps it to the end: it is in the same block (live_own 0). */
typedef struct sipkit__txn {
  sipkit__tnode timer;
  sipkit_ua *ua;
  struct sipkit__txn *hnext;
  sipkit__link link;           /* ua->txns; rt->txn_graves once destroyed */
  sipkit_req *req;             /* client owner (NULL once detached or released) */
  sipkit_srv *srv;             /* server owner */
  sipkit__txlive *live;        /* NULL once Accepted, or Completed (non-INVITE client) */
  sipkit_dlg *sib;             /* INVITE client in Accepted: a dialog of its own (ref held),
                                  for the dialogs of forked 2xx */
  sipkit_txn_pkey key;         /* its strings in kb (key.method: the request's) */
  uint8_t client;
  uint8_t kind;                /* enum sipkit_txn_kind */
  uint8_t closing;
  uint8_t send_failed;         /* a send of this transaction failed: transport error */
  uint8_t live_own;            /* live is a block of its own */
  uint8_t unanswered;          /* client: no response to its request yet (stats.unanswered) */
  uint32_t hash;               /* of its branch (RFC 3261 key) or Call-ID: its bucket */
  char kb[];
} sipkit__txn;

/* Transactions by hash.  A server under load holds two per call for
 * 32 s (Timers L and J), 500,000 at 8,000 calls/s: the table doubles
 * when it holds more than a transaction per bucket, so a lookup reads
 * one or two of them, and halves when a quarter of that remains. */
typedef struct sipkit__txn_table {
  sipkit__txn **b;
  uint32_t mask;               /* buckets - 1; b NULL: none yet */
  uint32_t count;
} sipkit__txn_table;

#define SIPKIT__ACK_MAX 8192u   /* the ACK for a 3xx-6xx: the INVITE's Via, Route, From, To, Call-ID, CSeq */

#define SIPKIT__TXN_BUCKETS_MIN 1024u
#define SIPKIT__DLG_BUCKETS 1024u

/* The destination of a URI whose host is an IP address (ua.c's
 * ua_uri_dest). */
#define SIPKIT__DEST_MEMO_URI 96u
typedef struct sipkit__dest_memo {
  uint16_t len; /* 0: empty */
  char uri[SIPKIT__DEST_MEMO_URI];
  struct sockaddr_storage ss;
} sipkit__dest_memo;

struct sipkit_ua {
  sipkit_rt *rt;
  uv_udp_t udp;
  sipkit__link link;
  sipkit_ua_handlers h;
  void *data;
  int closing;
  struct sockaddr_storage local;
  char addr[72];               /* "127.0.0.1:5080" */
  char host[64];               /* sent-by host for Via and Contact ("[::1]" for v6) */
  char sent_by[96];            /* "SIP/2.0/UDP host:port" of our Via */
  size_t sent_by_len;
  int port;
  char *user, *domain, *display, *password, *allow, *supported, *accept;
  char *rbuf;                  /* rt_udp.c's receive block (its poll handle, recvmmsg slots) */
  int read_some;               /* a datagram came since the last empty read */
  sipkit_header hdrs[SIPKIT_MAX_HEADERS];  /* parse of the current datagram */
  sipkit_header bhdrs[SIPKIT_MAX_HEADERS]; /* parse-back of what we build */
  sipkit__txn_table ctab;      /* client transactions by branch */
  sipkit__txn_table stab;      /* server transactions by branch (or Call-ID: RFC 2543) */
  sipkit__link txns;
  sipkit__link dbuckets[SIPKIT__DLG_BUCKETS]; /* live dialogs by Call-ID */
  sipkit__link reqs;
  sipkit__link srvs;
  sipkit__link delayed;        /* datagrams held back by injected delay */
  int proxy;                   /* sipkit_ua_config.proxy */
  sipkit__dest_memo dest_memo[2]; /* the last two URIs of ua_uri_dest */
  unsigned dest_next;          /* the memo the next one replaces */
};

struct sipkit_req {
  sipkit_ua *ua;
  sipkit__link link;
  sipkit__txn *txn;            /* current client transaction */
  sipkit_response_fn cb;
  void *data;
  sipkit_dlg *dlg;             /* in-dialog request: the dialog (ref held) */
  int method;
  uint8_t done;                /* final status reported */
  uint8_t no_auth, auth_tried, prack;
  uint8_t got_provisional, cancel_pending, cancelled, internal;
  uint32_t rseq;               /* 100rel: last RSeq PRACKed */
  uint8_t has_rseq;
  sipkit_dlg *early[8];        /* INVITE: dialogs its 1xx / 2xx created (refs held) */
  unsigned n_early;
  struct sipkit__fwd *fwd;     /* a forwarded request (proxy.c): responses go there */
};

struct sipkit_srv {
  sipkit_ua *ua;
  sipkit__link link;
  sipkit__txn *txn;
  sipkit__stored req;
  sipkit_dlg *dlg;             /* ref held */
  void *data;
  sipkit__addr src;            /* where the request came from */
  sipkit__addr dest;           /* where responses go (§18.2.2, RFC 3581) */
  char via_extra[96];          /* ";received=..;rport=.." for the top Via */
  char to_tag[SIPKIT_TAG_SIZE];
  uint8_t final_sent, taken, cancelled, peer_100rel;
  /* reliable provisional (RFC 3262); the node also releases the srv */
  sipkit__tnode rel_timer;
  uint8_t rel_pending;
  uint32_t rseq;
  uint32_t rel_interval;
  uint64_t rel_giveup;
  char *rel_bytes;
  size_t rel_len;
  struct sipkit__fwd *fwd;     /* forwarded (proxy.c): answers come from downstream */
  uint8_t routed;              /* proxy mode: in-dialog request routed through us */
};

struct sipkit_dlg {
  sipkit_dialog d;
  sipkit_ua *ua;
  sipkit__link link;
  void *data;
  int refs;
  uint8_t ended, reported, seen, acked;
  uint32_t acked_cseq;           /* CSeq of the INVITE whose ACK was reported */
  int end_why;
  int method;                  /* the request that created it (INVITE, SUBSCRIBE, REFER) */
  struct sipkit__rtx *rtx;     /* UAS: our 2xx to INVITE, resent until the ACK */
};

/* A 2xx to INVITE we resend until its ACK (§13.3.1.4): for a few hundred
 * ms of a call, so a block of its own, not fields of every dialog. */
typedef struct sipkit__rtx {
  sipkit__tnode timer;
  sipkit_dlg *g;
  sipkit__addr peer;
  size_t len;
  char bytes[];
} sipkit__rtx;

/* rt.c */
uint64_t sipkit__now(sipkit_rt *rt);
/* A node must be registered before it is armed (room in the heap is
 * reserved: SIPKIT_ENO_MEMORY) and dropped (disarmed) before its memory
 * goes. */
int sipkit__timer_register(sipkit_rt *rt, sipkit__tnode *n);
void sipkit__timer_drop(sipkit_rt *rt, sipkit__tnode *n);
/* Arm n for due (ms, sipkit__now's clock; a past due means now),
 * replacing its earlier deadline. */
void sipkit__timer_arm(sipkit_rt *rt, sipkit__tnode *n, uint64_t due,
                       void (*fire)(sipkit__tnode *n));
void sipkit__timer_stop(sipkit_rt *rt, sipkit__tnode *n);
/* Heap order: deadline, then arm order. */
static inline int sipkit__timer_before(const sipkit__tnode *a, const sipkit__tnode *b) {
  return a->due != b->due ? a->due < b->due : (int32_t)(a->seq - b->seq) < 0;
}
/* Put l (the link of a released object) on grave, for the reaper. */
void sipkit__bury(sipkit_rt *rt, sipkit__link *grave, sipkit__link *l);
int sipkit__fault(sipkit_rt *rt, int receive);
void sipkit__trace(sipkit_rt *rt, int dir, const struct sockaddr *local,
                   const struct sockaddr *remote, const char *bytes, size_t len);
int sipkit__cap_allows(sipkit_rt *rt);
void sipkit__close_free(uv_handle_t *h);

/* rt_udp.c */
int sipkit__udp_open(sipkit_ua *ua, const char *bind, int reuseport, int *sys_err);
/* Send through fault injection; retransmission counts into the stats.
 * SIPKIT_EIO when the kernel refused the datagram (a transport error of
 * whoever sent it); a datagram held back by an injected delay reports
 * nothing. */
int sipkit__send(sipkit_ua *ua, const struct sockaddr *to, const char *bytes,
                 size_t len, int retransmission);
void sipkit__udp_close(sipkit_ua *ua);
int sipkit__addr_parse(const char *hostport, int default_port, struct sockaddr_storage *ss);
int sipkit__addr_format(const struct sockaddr *sa, char *out, size_t cap, int with_port);
socklen_t sipkit__addr_len(const struct sockaddr *sa);
int sipkit__addr_equal(const struct sockaddr *a, const struct sockaddr *b);

void sipkit__ua_free_cb(uv_handle_t *h);
/* ua.c: free every released transaction, dialog and server transaction */
void sipkit__ua_reap(sipkit_rt *rt);
/* Tests and fuzzing (fuzz/fuzz_ua.c), never exported: */
/* rt_udp.c: what the socket read callback does with a datagram of len
 * bytes (1..) from `from`: size limit, statistics, receive fault
 * injection, trace, then sipkit__ua_datagram.  No socket involved. */
void sipkit__ua_inject(sipkit_ua *ua, const char *bytes, size_t len, const struct sockaddr *from);
/* ua.c: run up to max of ua's pending timers (transactions, 2xx
 * retransmission of dialogs, reliable provisionals) in deadline order
 * without waiting: the runtime's clock (sipkit__now) skips ahead to each
 * deadline.  Returns how many ran. */
unsigned sipkit__ua_fire_timers(sipkit_ua *ua, unsigned max);
/* ua.c: drop every dialog (on_dialog_end with SIPKIT_DLG_END_CLOSED),
 * transaction, request and server transaction of ua and every delayed
 * datagram, as sipkit_ua_close does, but keep the UA open.  The handles
 * are freed by their close callbacks on the next loop turn. */
void sipkit__ua_reset(sipkit_ua *ua);
/* ua.c: one datagram that passed fault injection */
void sipkit__ua_datagram(sipkit_ua *ua, const char *buf, size_t len,
                         const struct sockaddr *src);
/* ua.c: the kernel reported an error (ICMP) for a datagram we sent to
 * dest; payload is the start of that datagram as the error quoted it. */
void sipkit__ua_send_error(sipkit_ua *ua, const struct sockaddr *dest, const char *payload,
                           size_t len);

/* ua_auto.c: answers the core sends by itself (stateless) */
void sipkit__auto_malformed(sipkit_ua *ua, const char *buf, size_t len,
                            const struct sockaddr *src, const sipkit_error *err);
int sipkit__auto_reply(sipkit_ua *ua, const sipkit_msg *req, const char *buf,
                       const struct sockaddr *src, int status, const char *reason,
                       const char *const *headers, size_t n);
void sipkit__response_dest(const sipkit_msg *req, const char *buf,
                           const struct sockaddr *src, struct sockaddr_storage *dest,
                           char *via_extra, size_t cap);
int sipkit__patch_via(sipkit_builder *b, const char *via_extra);
int sipkit__method_allowed(const sipkit_ua *ua, const sipkit_msg *m, const char *buf);
int sipkit__list_has(const char *list, const char *tok, size_t len);
int sipkit__add_lines(sipkit_builder *b, const char *const *lines, size_t n);
int sipkit__check_require(sipkit_ua *ua, const sipkit_msg *m, const char *buf, char *unsupported,
                          size_t cap);
int sipkit__check_content_type(sipkit_ua *ua, const sipkit_msg *m, const char *buf);

/* ua.c, for proxy.c */
sipkit_req *sipkit__req_new(sipkit_ua *ua, int method, sipkit_response_fn cb, void *data);
void sipkit__req_free(sipkit_req *req);
/* Finish b (freed in every case), start a client transaction for req. */
int sipkit__client_start(sipkit_ua *ua, sipkit_req *req, sipkit_builder *b, const char *body,
                         size_t body_len, const struct sockaddr_storage *dest, sipkit_error *err);
/* host:port (maddr first, 5060 by default) of a URI or "<uri>;params" */
int sipkit__uri_host_port(const char *uri, size_t len, struct sockaddr_storage *ss);
/* Send a response we did not build (a relayed one) through srv's
 * transaction: bytes are taken over (freed by the core). */
int sipkit__srv_relay(sipkit_srv *s, int status, char *bytes, size_t len);

/* proxy.c */
typedef struct sipkit__fwd sipkit__fwd;
/* A response (status 100..699 with msg) or failure (408 / 503, msg NULL)
 * of the client transaction of a forwarded request. */
void sipkit__fwd_response(sipkit_req *req, int status, const sipkit_msg *m, const char *buf);
void sipkit__fwd_req_gone(sipkit_req *req);
void sipkit__fwd_srv_gone(sipkit_srv *s);
/* The CANCEL c (answered 200 already) for s, a forwarded INVITE. */
void sipkit__fwd_cancel(sipkit_srv *s, const sipkit_msg *c, const char *buf);
/* Proxy mode: is m an in-dialog request routed through us? */
int sipkit__proxy_routed(sipkit_ua *ua, const sipkit_msg *m, const char *buf);
/* Proxy mode: an ACK routed through us (stateless, §16.11). */
void sipkit__proxy_ack(sipkit_ua *ua, const sipkit_msg *m, const char *buf,
                       const struct sockaddr *src);
/* Proxy mode: a response with no transaction; 1 when it was passed on. */
int sipkit__proxy_stray_response(sipkit_ua *ua, const sipkit_msg *m, const char *buf);

#endif
