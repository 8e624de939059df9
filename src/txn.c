/* txn.c - RFC 3261 §17 transaction state machines (+ RFC 6026) and
 * transaction matching.  Pure: (state, event, now) → (state, actions). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sipkit.h"
#include "sipkit_build.h"
#include "sipkit_txn.h"

#define TIMER_BIT(t) ((uint16_t)(1u << (t)))

/* ------------------------------------------------------------------ */
/* Names                                                               */

const char *sipkit_txn_state_name(int state) {
  static const char *const names[] = {"NULL",      "CALLING",  "TRYING",
                                      "PROCEEDING", "COMPLETED", "ACCEPTED",
                                      "CONFIRMED", "TERMINATED"};
  if (state < 0 || state > SIPKIT_TXN_TERMINATED)
    return "";
  return names[state];
}

const char *sipkit_txn_timer_name(int timer) {
  static const char *const names[] = {"A", "B", "D", "E", "F", "G", "H",
                                      "I", "J", "K", "L", "M", "100"};
  if (timer < 0 || timer >= SIPKIT_TXN_TIMER__COUNT)
    return "";
  return names[timer];
}

const char *sipkit_txn_action_name(int type) {
  static const char *const names[] = {
      "",           "SEND_REQUEST", "SEND_RESPONSE", "SEND_100",
      "SEND_ACK",   "PASS_RESPONSE", "PASS_REQUEST", "TIMER_START",
      "TIMER_STOP", "TIMEOUT",       "TRANSPORT_ERROR", "TERMINATED"};
  if (type < 0 || type > SIPKIT_TXN_ACT_TERMINATED)
    return "";
  return names[type];
}

/* ------------------------------------------------------------------ */
/* Configuration and setup                                             */

void sipkit_txn_config_default(sipkit_txn_config *cfg) {
  cfg->t1 = 500;
  cfg->t2 = 4000;
  cfg->t4 = 5000;
  cfg->timer_d = 32000;
  cfg->trying = 200;
}

int sipkit_txn_init(sipkit_txn *t, int kind, const sipkit_txn_config *cfg,
                    int reliable) {
  if (!t || kind < SIPKIT_TXN_INVITE_CLIENT || kind > SIPKIT_TXN_NON_INVITE_SERVER)
    return SIPKIT_EARGUMENT;
  memset(t, 0, sizeof *t);
  if (cfg) {
    if (cfg->t1 == 0 || cfg->t2 < cfg->t1 || cfg->timer_d < 32000)
      return SIPKIT_EARGUMENT;
    t->cfg = *cfg;
  } else {
    sipkit_txn_config_default(&t->cfg);
  }
  t->kind = (uint8_t)kind;
  t->reliable = reliable ? 1 : 0;
  t->state = SIPKIT_TXN_STATE_NULL;
  return SIPKIT_EOK;
}

void sipkit_txn_set_ack_buffer(sipkit_txn *t, const sipkit_msg *invite,
                               const char *ibuf, char *ack_buf,
                               size_t ack_cap) {
  t->req_ = invite;
  t->req_buf_ = ibuf;
  t->ack_buf_ = ack_buf;
  t->ack_cap_ = ack_cap;
}

/* ------------------------------------------------------------------ */
/* Action helpers                                                      */

static sipkit_txn_action *push(sipkit_txn_actions *out, int type) {
  /* At most 6 actions per event; the bound is never reached. */
  if (out->n >= SIPKIT_TXN_MAX_ACTIONS)
    return NULL;
  sipkit_txn_action *a = &out->a[out->n++];
  memset(a, 0, sizeof *a);
  a->type = (uint8_t)type;
  return a;
}

static void act(sipkit_txn_actions *out, int type) { (void)push(out, type); }

static void timer_start(sipkit_txn *t, sipkit_txn_actions *out, int timer,
                        uint64_t at) {
  t->armed |= TIMER_BIT(timer);
  t->at[timer] = at;
  sipkit_txn_action *a = push(out, SIPKIT_TXN_ACT_TIMER_START);
  if (a) {
    a->timer = (uint8_t)timer;
    a->at = at;
  }
}

static void timer_stop(sipkit_txn *t, sipkit_txn_actions *out, int timer) {
  if (!(t->armed & TIMER_BIT(timer)))
    return;
  t->armed &= (uint16_t)~TIMER_BIT(timer);
  t->at[timer] = 0;
  sipkit_txn_action *a = push(out, SIPKIT_TXN_ACT_TIMER_STOP);
  if (a)
    a->timer = (uint8_t)timer;
}

/* Stop every running timer, in timer order. */
static void timers_stop_all(sipkit_txn *t, sipkit_txn_actions *out) {
  for (int i = 0; i < SIPKIT_TXN_TIMER__COUNT; i++)
    timer_stop(t, out, i);
}

static void terminate(sipkit_txn *t, sipkit_txn_actions *out) {
  timers_stop_all(t, out);
  t->state = SIPKIT_TXN_TERMINATED;
  act(out, SIPKIT_TXN_ACT_TERMINATED);
}

static void send_request(sipkit_txn *t, sipkit_txn_actions *out) {
  sipkit_txn_action *a = push(out, SIPKIT_TXN_ACT_SEND_REQUEST);
  if (a) {
    a->data = t->msg_;
    a->len = t->msg_len_;
  }
}

static void send_response(sipkit_txn *t, sipkit_txn_actions *out) {
  sipkit_txn_action *a = push(out, SIPKIT_TXN_ACT_SEND_RESPONSE);
  if (a) {
    a->data = t->msg_;
    a->len = t->msg_len_;
    a->status = t->last_status;
  }
}

static void pass_response(sipkit_txn_actions *out, int status) {
  sipkit_txn_action *a = push(out, SIPKIT_TXN_ACT_PASS_RESPONSE);
  if (a)
    a->status = (uint16_t)status;
}

static void send_ack(sipkit_txn *t, sipkit_txn_actions *out) {
  sipkit_txn_action *a = push(out, SIPKIT_TXN_ACT_SEND_ACK);
  if (a) {
    a->code = t->ack_code_;
    if (t->ack_code_ == SIPKIT_EOK) {
      a->data = t->ack_buf_;
      a->len = t->ack_len_;
    }
  }
}

/* §17.1.1.3: the ACK is built once, from the INVITE and the first
 * 3xx-6xx, and sent again unchanged for every retransmission. */
static void build_ack(sipkit_txn *t, const sipkit_msg *resp, const char *rbuf) {
  sipkit_builder b;
  if (!t->req_ || !t->req_buf_ || !t->ack_buf_ || !resp || !rbuf) {
    t->ack_code_ = SIPKIT_EARGUMENT;
    t->ack_len_ = 0;
    return;
  }
  sipkit_builder_init(&b, t->ack_buf_, t->ack_cap_);
  int rc = sipkit_build_ack_non2xx(&b, t->req_, t->req_buf_, resp, rbuf);
  if (rc == SIPKIT_EOK)
    rc = sipkit_builder_finish(&b, NULL, 0, NULL);
  t->ack_code_ = rc;
  t->ack_len_ = rc == SIPKIT_EOK ? b.len : 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* 64*T1 in 64 bits: any T1 the config accepts gives the right time. */
static uint64_t t64(const sipkit_txn *t) { return 64u * (uint64_t)t->cfg.t1; }

static int is_client(const sipkit_txn *t) {
  return t->kind == SIPKIT_TXN_INVITE_CLIENT ||
         t->kind == SIPKIT_TXN_NON_INVITE_CLIENT;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

int sipkit_txn_start(sipkit_txn *t, const char *bytes, size_t len,
                     uint64_t now, sipkit_txn_actions *out) {
  if (!t || !out)
    return SIPKIT_EARGUMENT;
  out->n = 0;
  if (t->state != SIPKIT_TXN_STATE_NULL)
    return SIPKIT_EARGUMENT;
  switch (t->kind) {
  case SIPKIT_TXN_INVITE_CLIENT: /* figure 5: INVITE from TU / INVITE sent */
    t->msg_ = bytes;
    t->msg_len_ = len;
    t->state = SIPKIT_TXN_CALLING;
    send_request(t, out);
    if (!t->reliable) {
      t->interval_ = t->cfg.t1;
      timer_start(t, out, SIPKIT_TXN_TIMER_A, now + t->cfg.t1);
    }
    timer_start(t, out, SIPKIT_TXN_TIMER_B, now + t64(t));
    break;
  case SIPKIT_TXN_NON_INVITE_CLIENT: /* figure 6: Request from TU / send request */
    t->msg_ = bytes;
    t->msg_len_ = len;
    t->state = SIPKIT_TXN_TRYING;
    send_request(t, out);
    if (!t->reliable) {
      t->interval_ = t->cfg.t1;
      timer_start(t, out, SIPKIT_TXN_TIMER_E, now + t->cfg.t1);
    }
    timer_start(t, out, SIPKIT_TXN_TIMER_F, now + t64(t));
    break;
  case SIPKIT_TXN_INVITE_SERVER: /* figure 7: INVITE / pass INV to TU */
    t->state = SIPKIT_TXN_PROCEEDING;
    act(out, SIPKIT_TXN_ACT_PASS_REQUEST);
    timer_start(t, out, SIPKIT_TXN_TIMER_100, now + t->cfg.trying);
    break;
  default: /* figure 8: Request received / pass to TU */
    t->state = SIPKIT_TXN_TRYING;
    act(out, SIPKIT_TXN_ACT_PASS_REQUEST);
    break;
  }
  return SIPKIT_EOK;
}

static void ict_response(sipkit_txn *t, int status, const sipkit_msg *resp,
                         const char *rbuf, uint64_t now,
                         sipkit_txn_actions *out) {
  switch (t->state) {
  case SIPKIT_TXN_CALLING:
  case SIPKIT_TXN_PROCEEDING:
    if (status < 200) { /* 1xx / 1xx to TU */
      if (t->state == SIPKIT_TXN_CALLING) {
        timer_stop(t, out, SIPKIT_TXN_TIMER_A);
        timer_stop(t, out, SIPKIT_TXN_TIMER_B);
        t->state = SIPKIT_TXN_PROCEEDING;
      }
      pass_response(out, status);
    } else if (status < 300) { /* RFC 6026: 2xx / 2xx to TU → Accepted */
      timer_stop(t, out, SIPKIT_TXN_TIMER_A);
      timer_stop(t, out, SIPKIT_TXN_TIMER_B);
      pass_response(out, status);
      t->state = SIPKIT_TXN_ACCEPTED;
      timer_start(t, out, SIPKIT_TXN_TIMER_M, now + t64(t));
    } else { /* 300-699 / ACK sent, resp. to TU → Completed */
      timer_stop(t, out, SIPKIT_TXN_TIMER_A);
      timer_stop(t, out, SIPKIT_TXN_TIMER_B);
      build_ack(t, resp, rbuf);
      send_ack(t, out);
      pass_response(out, status);
      t->state = SIPKIT_TXN_COMPLETED;
      if (t->reliable)
        terminate(t, out); /* Timer D = 0 */
      else
        timer_start(t, out, SIPKIT_TXN_TIMER_D, now + t->cfg.timer_d);
    }
    break;
  case SIPKIT_TXN_COMPLETED: /* 300-699 from TL / ACK sent */
    if (status >= 300)
      send_ack(t, out);
    break;
  case SIPKIT_TXN_ACCEPTED: /* RFC 6026: 2xx / 2xx to TU */
    if (status >= 200 && status < 300)
      pass_response(out, status);
    break;
  default:
    break;
  }
}

static void nict_response(sipkit_txn *t, int status, uint64_t now,
                          sipkit_txn_actions *out) {
  switch (t->state) {
  case SIPKIT_TXN_TRYING:
  case SIPKIT_TXN_PROCEEDING:
    if (status < 200) { /* 1xx / 1xx to TU */
      t->state = SIPKIT_TXN_PROCEEDING;
      pass_response(out, status);
    } else { /* 200-699 / resp. to TU → Completed */
      timer_stop(t, out, SIPKIT_TXN_TIMER_E);
      timer_stop(t, out, SIPKIT_TXN_TIMER_F);
      pass_response(out, status);
      t->state = SIPKIT_TXN_COMPLETED;
      if (t->reliable)
        terminate(t, out); /* Timer K = 0 */
      else
        timer_start(t, out, SIPKIT_TXN_TIMER_K, now + t->cfg.t4);
    }
    break;
  default: /* Completed absorbs retransmissions */
    break;
  }
}

int sipkit_txn_on_response(sipkit_txn *t, int status, const sipkit_msg *resp,
                           const char *rbuf, uint64_t now,
                           sipkit_txn_actions *out) {
  if (!t || !out)
    return SIPKIT_EARGUMENT;
  out->n = 0;
  if (!is_client(t) || status < 100 || status > 699)
    return SIPKIT_EARGUMENT;
  if (t->state == SIPKIT_TXN_STATE_NULL)
    return SIPKIT_EARGUMENT;
  if (t->state == SIPKIT_TXN_TERMINATED)
    return SIPKIT_EOK;
  t->last_status = (uint16_t)status;
  if (t->kind == SIPKIT_TXN_INVITE_CLIENT)
    ict_response(t, status, resp, rbuf, now, out);
  else
    nict_response(t, status, now, out);
  return SIPKIT_EOK;
}

int sipkit_txn_on_request(sipkit_txn *t, int method, uint64_t now,
                          sipkit_txn_actions *out) {
  if (!t || !out)
    return SIPKIT_EARGUMENT;
  out->n = 0;
  if (is_client(t) || t->state == SIPKIT_TXN_STATE_NULL)
    return SIPKIT_EARGUMENT;
  int ack = method == SIPKIT_METHOD_ACK;
  if (t->kind == SIPKIT_TXN_INVITE_SERVER) {
    switch (t->state) {
    case SIPKIT_TXN_PROCEEDING: /* INVITE / send last provisional */
      if (ack)
        break;
      if (t->msg_ || t->last_status)
        send_response(t, out);
      else if (t->sent_100)
        act(out, SIPKIT_TXN_ACT_SEND_100);
      break;
    case SIPKIT_TXN_COMPLETED:
      if (!ack) { /* INVITE / send response */
        send_response(t, out);
      } else { /* ACK / - → Confirmed */
        timer_stop(t, out, SIPKIT_TXN_TIMER_G);
        timer_stop(t, out, SIPKIT_TXN_TIMER_H);
        t->state = SIPKIT_TXN_CONFIRMED;
        if (t->reliable)
          terminate(t, out); /* Timer I = 0 */
        else
          timer_start(t, out, SIPKIT_TXN_TIMER_I, now + t->cfg.t4);
      }
      break;
    case SIPKIT_TXN_ACCEPTED: /* RFC 6026: ACK / to TU; INVITE absorbed */
      if (ack)
        act(out, SIPKIT_TXN_ACT_PASS_REQUEST);
      break;
    default: /* Confirmed absorbs ACK and INVITE */
      break;
    }
    return SIPKIT_EOK;
  }
  /* figure 8 */
  if (ack)
    return SIPKIT_EOK;
  if (t->state == SIPKIT_TXN_PROCEEDING || t->state == SIPKIT_TXN_COMPLETED)
    send_response(t, out); /* Request / send response */
  return SIPKIT_EOK;          /* Trying: absorbed */
}

/* RFC 6026: in Accepted the TU retransmits its 2xx, the transaction never
 * does, so it lets go of the bytes once the SEND action has them. */
static void forget_2xx(sipkit_txn *t) {
  t->msg_ = NULL;
  t->msg_len_ = 0;
}

int sipkit_txn_respond(sipkit_txn *t, int status, const char *bytes,
                       size_t len, uint64_t now, sipkit_txn_actions *out) {
  if (!t || !out)
    return SIPKIT_EARGUMENT;
  out->n = 0;
  if (is_client(t) || status < 100 || status > 699)
    return SIPKIT_EARGUMENT;
  int ok_state;
  if (t->kind == SIPKIT_TXN_INVITE_SERVER)
    ok_state = t->state == SIPKIT_TXN_PROCEEDING ||
               (t->state == SIPKIT_TXN_ACCEPTED && status >= 200 && status < 300);
  else
    ok_state = t->state == SIPKIT_TXN_TRYING || t->state == SIPKIT_TXN_PROCEEDING;
  if (!ok_state)
    return SIPKIT_EARGUMENT;
  t->msg_ = bytes;
  t->msg_len_ = len;
  t->last_status = (uint16_t)status;
  if (t->kind == SIPKIT_TXN_INVITE_SERVER) {
    timer_stop(t, out, SIPKIT_TXN_TIMER_100);
    send_response(t, out);
    if (t->state == SIPKIT_TXN_ACCEPTED) { /* RFC 6026: 2xx from TU / send response */
      forget_2xx(t);
      return SIPKIT_EOK;
    }
    if (status < 200) /* 1xx from TU / send response */
      return SIPKIT_EOK;
    if (status < 300) { /* RFC 6026: 2xx from TU / send response → Accepted */
      t->state = SIPKIT_TXN_ACCEPTED;
      forget_2xx(t);
      timer_start(t, out, SIPKIT_TXN_TIMER_L, now + t64(t));
    } else { /* 300-699 from TU / send response → Completed */
      t->state = SIPKIT_TXN_COMPLETED;
      if (!t->reliable) {
        t->interval_ = t->cfg.t1;
        timer_start(t, out, SIPKIT_TXN_TIMER_G, now + t->cfg.t1);
      }
      timer_start(t, out, SIPKIT_TXN_TIMER_H, now + t64(t));
    }
    return SIPKIT_EOK;
  }
  /* figure 8 */
  send_response(t, out);
  if (status < 200) {
    t->state = SIPKIT_TXN_PROCEEDING;
  } else {
    t->state = SIPKIT_TXN_COMPLETED;
    if (t->reliable)
      terminate(t, out); /* Timer J = 0 */
    else
      timer_start(t, out, SIPKIT_TXN_TIMER_J, now + t64(t));
  }
  return SIPKIT_EOK;
}

int sipkit_txn_on_timer(sipkit_txn *t, int timer, uint64_t now,
                        sipkit_txn_actions *out) {
  if (!t || !out)
    return SIPKIT_EARGUMENT;
  out->n = 0;
  if (timer < 0 || timer >= SIPKIT_TXN_TIMER__COUNT)
    return SIPKIT_EARGUMENT;
  if (!(t->armed & TIMER_BIT(timer)))
    return SIPKIT_EOK; /* stopped or never started: stale */
  t->armed &= (uint16_t)~TIMER_BIT(timer);
  t->at[timer] = 0;
  switch (timer) {
  case SIPKIT_TXN_TIMER_A: /* Calling: Timer A fires / reset A, INVITE sent */
    send_request(t, out);
    t->interval_ *= 2;
    timer_start(t, out, SIPKIT_TXN_TIMER_A, now + t->interval_);
    break;
  case SIPKIT_TXN_TIMER_E: /* Trying/Proceeding: Timer E fires / send request */
    send_request(t, out);
    t->interval_ = t->state == SIPKIT_TXN_TRYING
                       ? min_u64(2 * t->interval_, t->cfg.t2)
                       : t->cfg.t2;
    timer_start(t, out, SIPKIT_TXN_TIMER_E, now + t->interval_);
    break;
  case SIPKIT_TXN_TIMER_G: /* Completed: Timer G fires / send response */
    send_response(t, out);
    t->interval_ = min_u64(2 * t->interval_, t->cfg.t2);
    timer_start(t, out, SIPKIT_TXN_TIMER_G, now + t->interval_);
    break;
  case SIPKIT_TXN_TIMER_B: /* Timer B fires / inform TU */
  case SIPKIT_TXN_TIMER_F: /* Timer F fires / inform TU */
  case SIPKIT_TXN_TIMER_H: /* Timer H fires / inform TU (§17.2.1) */
  {
    sipkit_txn_action *a = push(out, SIPKIT_TXN_ACT_TIMEOUT);
    if (a)
      a->timer = (uint8_t)timer;
    terminate(t, out);
    break;
  }
  case SIPKIT_TXN_TIMER_100: /* §17.2.1: the TU was silent for 200 ms */
    t->sent_100 = 1;
    act(out, SIPKIT_TXN_ACT_SEND_100);
    break;
  default: /* D, I, J, K, L, M: → Terminated */
    terminate(t, out);
    break;
  }
  return SIPKIT_EOK;
}

int sipkit_txn_on_transport_error(sipkit_txn *t, uint64_t now,
                                  sipkit_txn_actions *out) {
  (void)now;
  if (!t || !out)
    return SIPKIT_EARGUMENT;
  out->n = 0;
  if (t->state == SIPKIT_TXN_STATE_NULL || t->state == SIPKIT_TXN_TERMINATED)
    return SIPKIT_EOK;
  /* Figures 5-8: Transport Err. / Inform TU → Terminated (§17.1.4, §17.2.4) */
  act(out, SIPKIT_TXN_ACT_TRANSPORT_ERROR);
  terminate(t, out);
  return SIPKIT_EOK;
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */

#define COOKIE "z9hG4bK"
#define COOKIE_LEN 7u

/* Point field at span of buf, within its bound. */
#define TAKE(key, field, max, buf, span) take(&(key)->field, &(key)->field##_len, (max), (buf), (span))

static int take(const char **p, uint16_t *len, size_t max, const char *buf, sipkit_span s) {
  if (s.len > max)
    return SIPKIT_EBUFFER_TOO_SMALL;
  *p = buf + s.off;
  *len = (uint16_t)s.len;
  return SIPKIT_EOK;
}

int sipkit_txn_key_make(sipkit_txn_key *key, const sipkit_msg *msg,
                        const char *buf) {
  if (!key)
    return SIPKIT_EARGUMENT;
  memset(key, 0, sizeof *key);
  if (!msg || !buf)
    return SIPKIT_EARGUMENT;
  if (!msg->via || !msg->cseq)
    return SIPKIT_EMISSING_HEADER;
  const sipkit_via *v = msg->via;
  int rc;
  key->is_response = msg->status != 0;
  key->cseq = msg->cseq->num;
  if (key->is_response) {
    key->method = msg->cseq->method;
    rc = TAKE(key, method_name, SIPKIT_TXN_METHOD_MAX, buf, msg->cseq->method_name);
  } else {
    key->method = msg->method;
    rc = TAKE(key, method_name, SIPKIT_TXN_METHOD_MAX, buf, msg->method_name);
  }
  if (rc == SIPKIT_EOK)
    rc = TAKE(key, branch, SIPKIT_TXN_BRANCH_MAX, buf, v->branch);
  if (rc == SIPKIT_EOK)
    rc = TAKE(key, host, SIPKIT_TXN_HOST_MAX, buf, v->host);
  if (rc == SIPKIT_EOK)
    rc = TAKE(key, transport, SIPKIT_TXN_TRANSPORT_MAX, buf, v->transport);
  key->port = v->has_port ? v->port : 0;
  key->rfc3261 = v->branch.len >= COOKIE_LEN &&
                 memcmp(buf + v->branch.off, COOKIE, COOKIE_LEN) == 0;
  if (rc == SIPKIT_EOK && !key->rfc3261 && !key->is_response) {
    rc = TAKE(key, ruri, SIPKIT_TXN_URI_MAX, buf, msg->request_uri);
    if (rc == SIPKIT_EOK && msg->from)
      rc = TAKE(key, from_tag, SIPKIT_TXN_TAG_MAX, buf, msg->from->tag);
    if (rc == SIPKIT_EOK && msg->to)
      rc = TAKE(key, to_tag, SIPKIT_TXN_TAG_MAX, buf, msg->to->tag);
    if (rc == SIPKIT_EOK)
      rc = TAKE(key, call_id, SIPKIT_TXN_CALL_ID_MAX, buf, msg->call_id);
  }
  if (rc != SIPKIT_EOK) {
    memset(key, 0, sizeof *key);
    return rc;
  }
  key->valid = 1;
  return SIPKIT_EOK;
}

/* The strings of a key, for keep. */
#define KEY_FIELDS(k)                                                          \
  {&(k)->method_name, &(k)->branch, &(k)->host, &(k)->transport, &(k)->ruri,   \
   &(k)->from_tag, &(k)->to_tag, &(k)->resp_to_tag, &(k)->call_id}
#define KEY_LENS(k)                                                            \
  {&(k)->method_name_len, &(k)->branch_len, &(k)->host_len,                    \
   &(k)->transport_len, &(k)->ruri_len, &(k)->from_tag_len, &(k)->to_tag_len,  \
   &(k)->resp_to_tag_len, &(k)->call_id_len}
#define KEY_NFIELDS 9

int sipkit_txn_key_keep(sipkit_txn_key *key) {
  if (!key)
    return SIPKIT_EARGUMENT;
  const char **f[KEY_NFIELDS] = KEY_FIELDS(key);
  uint16_t *n[KEY_NFIELDS] = KEY_LENS(key);
  size_t total = 1;
  for (int i = 0; i < KEY_NFIELDS; i++)
    total += *n[i];
  char *mem = malloc(total), *p = mem;
  if (!mem)
    return SIPKIT_ENO_MEMORY;
  for (int i = 0; i < KEY_NFIELDS; i++) {
    if (*n[i])
      memcpy(p, *f[i], *n[i]);
    *f[i] = p;
    p += *n[i];
  }
  free(key->mem_); /* after the copy: the fields may have pointed into it */
  key->mem_ = mem;
  return SIPKIT_EOK;
}

size_t sipkit_txn_key_pack_len(const sipkit_txn_key *key) {
  const uint16_t *n[KEY_NFIELDS] = KEY_LENS(key);
  size_t total = 0;
  for (int i = 0; i < KEY_NFIELDS; i++)
    total += *n[i];
  return total;
}

void sipkit_txn_key_pack(sipkit_txn_pkey *pk, char *bytes, const sipkit_txn_key *key) {
  const char *const *f[KEY_NFIELDS] = KEY_FIELDS(key);
  const uint16_t *n[KEY_NFIELDS] = KEY_LENS(key);
  for (int i = 0; i < KEY_NFIELDS; i++) {
    pk->len[i] = *n[i];
    if (*n[i])
      memcpy(bytes, *f[i], *n[i]);
    bytes += *n[i];
  }
  pk->valid = key->valid;
  pk->rfc3261 = key->rfc3261;
  pk->is_response = key->is_response;
  pk->has_resp_to_tag = key->has_resp_to_tag;
  pk->method = (uint8_t)key->method;
  pk->port = key->port;
  pk->cseq = key->cseq;
}

void sipkit_txn_key_unpack(sipkit_txn_key *key, const sipkit_txn_pkey *pk,
                           const char *bytes) {
  const char **f[KEY_NFIELDS] = KEY_FIELDS(key);
  uint16_t *n[KEY_NFIELDS] = KEY_LENS(key);
  for (int i = 0; i < KEY_NFIELDS; i++) {
    *f[i] = bytes;
    *n[i] = pk->len[i];
    bytes += pk->len[i];
  }
  key->valid = pk->valid;
  key->rfc3261 = pk->rfc3261;
  key->is_response = pk->is_response;
  key->has_resp_to_tag = pk->has_resp_to_tag;
  key->method = pk->method;
  key->port = pk->port;
  key->cseq = pk->cseq;
  key->mem_ = NULL;
}

void sipkit_txn_key_free(sipkit_txn_key *key) {
  if (!key)
    return;
  free(key->mem_);
  memset(key, 0, sizeof *key);
}

int sipkit_txn_key_set_resp_to_tag(sipkit_txn_key *key, const char *tag,
                                   size_t len) {
  if (!key || (len && !tag))
    return SIPKIT_EARGUMENT;
  if (len > SIPKIT_TXN_TAG_MAX)
    return SIPKIT_EBUFFER_TOO_SMALL;
  const char *was = key->resp_to_tag;
  uint16_t was_len = key->resp_to_tag_len;
  key->resp_to_tag = tag;
  key->resp_to_tag_len = (uint16_t)len;
  if (key->mem_ && sipkit_txn_key_keep(key) != SIPKIT_EOK) {
    key->resp_to_tag = was;
    key->resp_to_tag_len = was_len;
    return SIPKIT_ENO_MEMORY;
  }
  key->has_resp_to_tag = 1;
  return SIPKIT_EOK;
}

static int eq(const char *a, size_t alen, const char *b, size_t blen) {
  return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static int eq_nocase(const char *a, size_t alen, const char *b, size_t blen) {
  if (alen != blen)
    return 0;
  for (size_t i = 0; i < alen; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x >= 'A' && x <= 'Z')
      x = (unsigned char)(x + 32);
    if (y >= 'A' && y <= 'Z')
      y = (unsigned char)(y + 32);
    if (x != y)
      return 0;
  }
  return 1;
}

#define FEQ(a, b, f) eq((a)->f, (a)->f##_len, (b)->f, (b)->f##_len)

/* Same method: known methods by id, extension methods by token (methods
 * are case-sensitive, RFC 3261 §7.1). */
static int same_method(const sipkit_txn_key *a, const sipkit_txn_key *b) {
  if (a->method != b->method)
    return 0;
  return a->method != SIPKIT_METHOD_OTHER || FEQ(a, b, method_name);
}

/* Default port of a sent-by without one (§18.2.2, §19.1.2). */
static uint32_t eff_port(const sipkit_txn_key *k) {
  if (k->port)
    return k->port;
  return eq_nocase(k->transport, k->transport_len, "TLS", 3) ? 5061u : 5060u;
}

static int same_sent_by(const sipkit_txn_key *a, const sipkit_txn_key *b) {
  return eq_nocase(a->host, a->host_len, b->host, b->host_len) &&
         eff_port(a) == eff_port(b);
}

int sipkit_txn_key_match_response(const sipkit_txn_key *ckey,
                                  const sipkit_txn_key *resp) {
  if (!ckey || !resp || !ckey->valid || !resp->valid || ckey->is_response ||
      !resp->is_response || ckey->branch_len == 0)
    return 0;
  return FEQ(ckey, resp, branch) && same_method(ckey, resp);
}

/* RFC 2543 (§17.2.3): every field but the method; to_tag_of is the To
 * tag the incoming request must carry. */
static int match_2543(const sipkit_txn_key *s, const sipkit_txn_key *r,
                      const char *to_tag, size_t to_tag_len) {
  return FEQ(s, r, ruri) && FEQ(s, r, from_tag) && FEQ(s, r, call_id) &&
         s->cseq == r->cseq && same_sent_by(s, r) && FEQ(s, r, branch) &&
         eq(to_tag, to_tag_len, r->to_tag, r->to_tag_len);
}

static int usable(const sipkit_txn_key *s, const sipkit_txn_key *r) {
  return s && r && s->valid && r->valid && !s->is_response && !r->is_response;
}

int sipkit_txn_key_match_request(const sipkit_txn_key *skey,
                                 const sipkit_txn_key *req) {
  if (!usable(skey, req))
    return 0;
  int ack_to_invite = req->method == SIPKIT_METHOD_ACK &&
                      skey->method == SIPKIT_METHOD_INVITE;
  if (!ack_to_invite && !same_method(skey, req))
    return 0;
  if (req->rfc3261) /* magic cookie: branch + sent-by + method */
    return skey->rfc3261 && FEQ(skey, req, branch) && same_sent_by(skey, req);
  if (skey->rfc3261)
    return 0;
  if (ack_to_invite) {
    if (!skey->has_resp_to_tag)
      return 0;
    return match_2543(skey, req, skey->resp_to_tag, skey->resp_to_tag_len);
  }
  return match_2543(skey, req, skey->to_tag, skey->to_tag_len);
}

int sipkit_txn_key_match_cancel_target(const sipkit_txn_key *ikey,
                                       const sipkit_txn_key *cancel) {
  if (!usable(ikey, cancel) || ikey->method != SIPKIT_METHOD_INVITE ||
      cancel->method != SIPKIT_METHOD_CANCEL)
    return 0;
  if (cancel->rfc3261)
    return ikey->rfc3261 && FEQ(ikey, cancel, branch) &&
           same_sent_by(ikey, cancel);
  if (ikey->rfc3261)
    return 0;
  /* §9.2: the CANCEL copies the INVITE's To, so the request To tag counts */
  return match_2543(ikey, cancel, ikey->to_tag, ikey->to_tag_len);
}

int sipkit_txn_match_response(const sipkit_txn_key *ckey,
                              const sipkit_msg *resp, const char *buf) {
  sipkit_txn_key k;
  if (sipkit_txn_key_make(&k, resp, buf) != SIPKIT_EOK)
    return 0;
  return sipkit_txn_key_match_response(ckey, &k);
}

int sipkit_txn_match_request(const sipkit_txn_key *skey, const sipkit_msg *req,
                             const char *buf) {
  sipkit_txn_key k;
  if (sipkit_txn_key_make(&k, req, buf) != SIPKIT_EOK)
    return 0;
  return sipkit_txn_key_match_request(skey, &k);
}

int sipkit_txn_match_cancel_target(const sipkit_txn_key *ikey,
                                   const sipkit_msg *cancel, const char *buf) {
  sipkit_txn_key k;
  if (sipkit_txn_key_make(&k, cancel, buf) != SIPKIT_EOK)
    return 0;
  return sipkit_txn_key_match_cancel_target(ikey, &k);
}
