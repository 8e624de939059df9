/* dialog.c - RFC 3261 dialogs as pure logic (see sipkit_dialog.h). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sipkit_dialog.h"

/* ------------------------------------------------------------------ */
/* Strings                                                             */

/* A dialog's strings are NUL-terminated copies in one block (d->mem_)
 * sized to what they hold: fixed arrays at their bounds made a dialog
 * 3 KiB where a typical one needs 300 bytes.  A change (target refresh,
 * route set of the 2xx) makes a new block from a dstr, so the pointers
 * of a dialog are valid until its next message. */
enum { F_CALL_ID, F_LOCAL_TAG, F_REMOTE_TAG, F_LOCAL_URI, F_REMOTE_URI, F_TARGET, F__COUNT };

static const size_t f_bound[F__COUNT] = {
    SIPKIT_DIALOG_MAX_CALL_ID, SIPKIT_DIALOG_MAX_TAG, SIPKIT_DIALOG_MAX_TAG,
    SIPKIT_DIALOG_MAX_URI,     SIPKIT_DIALOG_MAX_URI, SIPKIT_DIALOG_MAX_URI};

typedef struct dstr {
  sipkit_str f[F__COUNT];
  sipkit_str route[SIPKIT_DIALOG_MAX_ROUTES];
  uint32_t route_count;
  char unfolded[SIPKIT_DIALOG_MAX_ROUTES][SIPKIT_DIALOG_MAX_ROUTE];
} dstr;

static int bounded(sipkit_str v, size_t cap) {
  if (v.len > cap)
    return SIPKIT_EBUFFER_TOO_SMALL;
  return v.len && !v.p ? SIPKIT_EARGUMENT : SIPKIT_EOK;
}

/* The strings d holds now (spans into d->mem_). */
static void dstr_of(dstr *s, const sipkit_dialog *d) {
  const char *p[F__COUNT] = {d->call_id,    d->local_tag,  d->remote_tag,
                             d->local_uri,  d->remote_uri, d->remote_target};
  const uint16_t n[F__COUNT] = {d->call_id_len,    d->local_tag_len,  d->remote_tag_len,
                                d->local_uri_len,  d->remote_uri_len, d->remote_target_len};
  for (int i = 0; i < F__COUNT; i++) {
    s->f[i].p = p[i];
    s->f[i].len = n[i];
  }
  for (uint32_t i = 0; i < d->route_count; i++)
    s->route[i].p = sipkit_dialog_route(d, i, &s->route[i].len);
  s->route_count = d->route_count;
}

/* The routes follow the six strings in the block, each as its length
 * (2 bytes, unaligned), its bytes and a NUL: a dialog need not carry
 * eight pointers and lengths for the one or two routes it may have. */
#define ROUTE_LEN_SIZE 2u

const char *sipkit_dialog_route(const sipkit_dialog *d, uint32_t i, size_t *len) {
  if (len)
    *len = 0;
  if (!d || i >= d->route_count || !d->remote_target)
    return NULL;
  const char *p = d->remote_target + d->remote_target_len + 1;
  for (;;) {
    uint16_t n;
    memcpy(&n, p, ROUTE_LEN_SIZE);
    p += ROUTE_LEN_SIZE;
    if (i-- == 0) {
      if (len)
        *len = n;
      return p;
    }
    p += n + 1;
  }
}

/* Copy s into a new block of d (the old one is freed after: s may point
 * into it).  SIPKIT_ENO_MEMORY leaves d as it was. */
static int dstr_store(sipkit_dialog *d, const dstr *s) {
  size_t total = 0;
  for (int i = 0; i < F__COUNT; i++)
    total += s->f[i].len + 1;
  for (uint32_t i = 0; i < s->route_count; i++)
    total += ROUTE_LEN_SIZE + s->route[i].len + 1;
  char *mem = malloc(total), *p = mem;
  if (!mem)
    return SIPKIT_ENO_MEMORY;
  const char **fp[F__COUNT] = {&d->call_id,   &d->local_tag,  &d->remote_tag,
                               &d->local_uri, &d->remote_uri, &d->remote_target};
  uint16_t *fl[F__COUNT] = {&d->call_id_len,   &d->local_tag_len,  &d->remote_tag_len,
                            &d->local_uri_len, &d->remote_uri_len, &d->remote_target_len};
  for (int i = 0; i < F__COUNT; i++) {
    if (s->f[i].len)
      memcpy(p, s->f[i].p, s->f[i].len);
    p[s->f[i].len] = 0;
    *fp[i] = p;
    *fl[i] = (uint16_t)s->f[i].len;
    p += s->f[i].len + 1;
  }
  for (uint32_t i = 0; i < s->route_count; i++) {
    uint16_t n = (uint16_t)s->route[i].len;
    memcpy(p, &n, ROUTE_LEN_SIZE);
    p += ROUTE_LEN_SIZE;
    memcpy(p, s->route[i].p, n);
    p[n] = 0;
    p += n + 1;
  }
  d->route_count = s->route_count;
  free(d->mem_);
  d->mem_ = mem;
  return SIPKIT_EOK;
}

static int str_eq(const char *a, size_t alen, sipkit_str b) {
  return alen == b.len && (alen == 0 || memcmp(a, b.p, alen) == 0);
}

static int span_eq(const char *a, size_t alen, const char *buf, sipkit_span s) {
  return alen == s.len && (alen == 0 || memcmp(a, buf + s.off, alen) == 0);
}

static sipkit_str span_str(const char *buf, sipkit_span s) {
  sipkit_str r = {buf + s.off, s.len};
  return r;
}

/* Route set from the Record-Route values of msg, reversed or in order,
 * unfolded into s->unfolded. */
static int take_routes(dstr *s, const sipkit_msg *msg, const char *buf, int reverse) {
  uint32_t n = 0;
  const sipkit_header *h;
  for (h = sipkit_msg_header(msg, SIPKIT_HDR_RECORD_ROUTE); h;
       h = sipkit_msg_header_next(msg, h))
    n++;
  if (n > SIPKIT_DIALOG_MAX_ROUTES)
    return SIPKIT_EBUFFER_TOO_SMALL;
  uint32_t i = 0;
  for (h = sipkit_msg_header(msg, SIPKIT_HDR_RECORD_ROUTE); h;
       h = sipkit_msg_header_next(msg, h), i++) {
    uint32_t slot = reverse ? n - 1 - i : i;
    size_t len = sipkit_unfold(buf, h->value, s->unfolded[slot], SIPKIT_DIALOG_MAX_ROUTE);
    if (len > SIPKIT_DIALOG_MAX_ROUTE)
      return SIPKIT_EBUFFER_TOO_SMALL;
    if (len == 0)
      return SIPKIT_EARGUMENT;
    s->route[slot].p = s->unfolded[slot];
    s->route[slot].len = len;
  }
  s->route_count = n;
  return SIPKIT_EOK;
}

/* The remote target from msg's Contact URI. */
static int take_target(dstr *s, const sipkit_msg *msg, const char *buf) {
  if (!msg->contact || msg->contact->star || !msg->contact->uri.all.len)
    return SIPKIT_EMISSING_HEADER;
  s->f[F_TARGET] = span_str(buf, msg->contact->uri.all);
  return bounded(s->f[F_TARGET], SIPKIT_DIALOG_MAX_URI);
}

/* Creation: the five fields in s->f are checked against their bounds in
 * order, then the target and routes of msg, then stored. */
static int create_strings(sipkit_dialog *d, dstr *s, const sipkit_msg *msg,
                          const char *buf, int reverse) {
  int rc;
  for (int i = 0; i < F_TARGET; i++)
    if ((rc = bounded(s->f[i], f_bound[i])) != SIPKIT_EOK)
      return rc;
  if ((rc = take_target(s, msg, buf)) || (rc = take_routes(s, msg, buf, reverse)))
    return rc;
  return dstr_store(d, s);
}

/* A target refresh from msg's Contact, when it has a usable one (0 when
 * refreshed).  The same target keeps the block: most refreshes (every
 * 2xx retransmission, a re-INVITE) repeat the Contact. */
static int refresh_target(sipkit_dialog *d, const sipkit_msg *msg, const char *buf) {
  dstr s;
  dstr_of(&s, d);
  int rc = take_target(&s, msg, buf);
  if (rc || str_eq(d->remote_target, d->remote_target_len, s.f[F_TARGET]))
    return rc;
  return dstr_store(d, &s);
}

static int same_routes(const sipkit_dialog *d, const dstr *s) {
  if (d->route_count != s->route_count)
    return 0;
  for (uint32_t i = 0; i < s->route_count; i++) {
    size_t n;
    const char *r = sipkit_dialog_route(d, i, &n);
    if (!str_eq(r, n, s->route[i]))
      return 0;
  }
  return 1;
}

static int has_basics(const sipkit_msg *m) {
  return m && m->from && m->to && m->cseq && m->call_id.len;
}

/* ------------------------------------------------------------------ */
/* Ids                                                                 */

int sipkit_dialog_id_of_msg(sipkit_dialog_id *id, const sipkit_msg *msg,
                            const char *buf) {
  if (!id || !buf || !msg || !msg->from || !msg->to || !msg->call_id.len)
    return SIPKIT_EARGUMENT;
  id->call_id = span_str(buf, msg->call_id);
  if (msg->status == 0) { /* received request */
    id->local_tag = span_str(buf, msg->to->tag);
    id->remote_tag = span_str(buf, msg->from->tag);
  } else { /* received response to a request we sent */
    id->local_tag = span_str(buf, msg->from->tag);
    id->remote_tag = span_str(buf, msg->to->tag);
  }
  return SIPKIT_EOK;
}

void sipkit_dialog_id_of(sipkit_dialog_id *id, const sipkit_dialog *d) {
  id->call_id.p = d->call_id;
  id->call_id.len = d->call_id_len;
  id->local_tag.p = d->local_tag;
  id->local_tag.len = d->local_tag_len;
  id->remote_tag.p = d->remote_tag;
  id->remote_tag.len = d->remote_tag_len;
}

static int live(const sipkit_dialog *d) {
  return d->state == SIPKIT_DIALOG_EARLY || d->state == SIPKIT_DIALOG_CONFIRMED;
}

int sipkit_dialog_match(const sipkit_dialog *d, const sipkit_dialog_id *id) {
  if (!d || !id || !live(d))
    return 0;
  return str_eq(d->call_id, d->call_id_len, id->call_id) &&
         str_eq(d->local_tag, d->local_tag_len, id->local_tag) &&
         str_eq(d->remote_tag, d->remote_tag_len, id->remote_tag);
}

/* ------------------------------------------------------------------ */
/* Creation                                                            */

int sipkit_dialog_uac_create(sipkit_dialog *d, const sipkit_msg *req,
                             const char *qbuf, const sipkit_msg *resp,
                             const char *rbuf) {
  int rc;
  if (!d)
    return SIPKIT_EARGUMENT;
  memset(d, 0, sizeof *d);
  if (!has_basics(req) || !has_basics(resp) || !qbuf || !rbuf ||
      req->status != 0)
    return SIPKIT_EARGUMENT;
  if (resp->status <= 100 || resp->status >= 300 || !resp->to->tag.len)
    return SIPKIT_EARGUMENT;
  /* the response must answer req */
  if (resp->call_id.len != req->call_id.len ||
      memcmp(rbuf + resp->call_id.off, qbuf + req->call_id.off,
             req->call_id.len) ||
      resp->from->tag.len != req->from->tag.len ||
      memcmp(rbuf + resp->from->tag.off, qbuf + req->from->tag.off,
             req->from->tag.len) ||
      resp->cseq->num != req->cseq->num || resp->cseq->method != req->cseq->method)
    return SIPKIT_EARGUMENT;
  dstr s;
  s.f[F_CALL_ID] = span_str(rbuf, resp->call_id);
  s.f[F_LOCAL_TAG] = span_str(qbuf, req->from->tag);
  s.f[F_REMOTE_TAG] = span_str(rbuf, resp->to->tag);
  s.f[F_LOCAL_URI] = span_str(qbuf, req->from->uri.all);
  s.f[F_REMOTE_URI] = span_str(qbuf, req->to->uri.all);
  if ((rc = create_strings(d, &s, resp, rbuf, 1)) != SIPKIT_EOK) {
    memset(d, 0, sizeof *d);
    return rc;
  }
  d->role = SIPKIT_DIALOG_UAC;
  d->secure = req->ruri.scheme == SIPKIT_SCHEME_SIPS;
  d->local_cseq = req->cseq->num;
  if (req->method == SIPKIT_METHOD_INVITE) {
    d->local_invite_cseq = req->cseq->num;
    d->local_invite_pending = resp->status < 200;
  }
  d->state = resp->status < 200 ? SIPKIT_DIALOG_EARLY : SIPKIT_DIALOG_CONFIRMED;
  return SIPKIT_EOK;
}

int sipkit_dialog_uac_fork(sipkit_dialog *d, const sipkit_dialog *sibling,
                           uint32_t invite_cseq, const sipkit_msg *resp, const char *rbuf) {
  int rc;
  if (!d)
    return SIPKIT_EARGUMENT;
  memset(d, 0, sizeof *d);
  if (!sibling || !sibling->call_id || sibling->role != SIPKIT_DIALOG_UAC ||
      !has_basics(resp) || !rbuf)
    return SIPKIT_EARGUMENT;
  if (resp->status <= 100 || resp->status >= 300 || !resp->to->tag.len)
    return SIPKIT_EARGUMENT;
  /* the response must answer the INVITE sibling came from */
  if (!span_eq(sibling->call_id, sibling->call_id_len, rbuf, resp->call_id) ||
      !span_eq(sibling->local_tag, sibling->local_tag_len, rbuf, resp->from->tag) ||
      resp->cseq->num != invite_cseq || resp->cseq->method != SIPKIT_METHOD_INVITE)
    return SIPKIT_EARGUMENT;
  dstr s;
  s.f[F_CALL_ID] = span_str(rbuf, resp->call_id);
  s.f[F_LOCAL_TAG].p = sibling->local_tag;
  s.f[F_LOCAL_TAG].len = sibling->local_tag_len;
  s.f[F_REMOTE_TAG] = span_str(rbuf, resp->to->tag);
  s.f[F_LOCAL_URI].p = sibling->local_uri;
  s.f[F_LOCAL_URI].len = sibling->local_uri_len;
  s.f[F_REMOTE_URI].p = sibling->remote_uri;
  s.f[F_REMOTE_URI].len = sibling->remote_uri_len;
  if ((rc = create_strings(d, &s, resp, rbuf, 1)) != SIPKIT_EOK) {
    memset(d, 0, sizeof *d);
    return rc;
  }
  d->role = SIPKIT_DIALOG_UAC;
  d->secure = sibling->secure;
  d->local_cseq = invite_cseq;
  d->local_invite_cseq = invite_cseq;
  d->local_invite_pending = resp->status < 200;
  d->state = resp->status < 200 ? SIPKIT_DIALOG_EARLY : SIPKIT_DIALOG_CONFIRMED;
  return SIPKIT_EOK;
}

int sipkit_dialog_uas_create(sipkit_dialog *d, const sipkit_msg *req,
                             const char *buf, int status,
                             sipkit_str local_tag) {
  int rc;
  if (!d)
    return SIPKIT_EARGUMENT;
  memset(d, 0, sizeof *d);
  if (!has_basics(req) || !buf || req->status != 0 || status <= 100 ||
      status >= 300 || !local_tag.len || req->to->tag.len)
    return SIPKIT_EARGUMENT;
  dstr s;
  s.f[F_CALL_ID] = span_str(buf, req->call_id);
  s.f[F_LOCAL_TAG] = local_tag;
  s.f[F_REMOTE_TAG] = span_str(buf, req->from->tag);
  s.f[F_LOCAL_URI] = span_str(buf, req->to->uri.all);
  s.f[F_REMOTE_URI] = span_str(buf, req->from->uri.all);
  if ((rc = create_strings(d, &s, req, buf, 0)) != SIPKIT_EOK) {
    memset(d, 0, sizeof *d);
    return rc;
  }
  d->role = SIPKIT_DIALOG_UAS;
  d->secure = req->ruri.scheme == SIPKIT_SCHEME_SIPS;
  d->remote_cseq = req->cseq->num;
  d->remote_cseq_set = 1;
  if (req->method == SIPKIT_METHOD_INVITE) {
    d->remote_invite_cseq = req->cseq->num;
    d->remote_invite_pending = status < 200;
  }
  d->state = status < 200 ? SIPKIT_DIALOG_EARLY : SIPKIT_DIALOG_CONFIRMED;
  return SIPKIT_EOK;
}

/* ------------------------------------------------------------------ */
/* Matching                                                            */

int sipkit_dialog_find(const sipkit_dialog *dialogs, size_t n,
                       const sipkit_msg *msg, const char *buf, long *index) {
  sipkit_dialog_id id;
  long sibling = -1;
  int sibling_confirmed = 0;
  if (index)
    *index = -1;
  if (!msg || sipkit_dialog_id_of_msg(&id, msg, buf) != SIPKIT_EOK ||
      (n && !dialogs))
    return msg && msg->status == 0 ? SIPKIT_DIALOG_OUTSIDE
                                   : SIPKIT_DIALOG_NO_MATCH;
  if (msg->status == 0 && !id.local_tag.len)
    return SIPKIT_DIALOG_OUTSIDE;
  for (size_t i = 0; i < n; i++) {
    const sipkit_dialog *d = &dialogs[i];
    if (sipkit_dialog_match(d, &id)) {
      if (index)
        *index = (long)i;
      return SIPKIT_DIALOG_ACCEPT;
    }
    /* forking: same call and local tag, a UAC dialog of the same INVITE */
    if (msg->status && live(d) && d->role == SIPKIT_DIALOG_UAC &&
        msg->cseq && msg->cseq->method == SIPKIT_METHOD_INVITE &&
        d->local_invite_cseq == msg->cseq->num &&
        str_eq(d->call_id, d->call_id_len, id.call_id) &&
        str_eq(d->local_tag, d->local_tag_len, id.local_tag)) {
      if (sibling < 0 || (!sibling_confirmed &&
                          d->state == SIPKIT_DIALOG_CONFIRMED))
        sibling = (long)i;
      if (d->state == SIPKIT_DIALOG_CONFIRMED)
        sibling_confirmed = 1;
    }
  }
  if (msg->status == 0)
    return msg->method == SIPKIT_METHOD_ACK ? SIPKIT_DIALOG_DROP
                                            : SIPKIT_DIALOG_REJECT_481;
  if (sibling >= 0 && id.remote_tag.len && msg->status > 100 &&
      msg->status < 300) {
    if (index)
      *index = sibling;
    return msg->status >= 200 && sibling_confirmed ? SIPKIT_DIALOG_EXTRA_2XX
                                                   : SIPKIT_DIALOG_NEW_FORK;
  }
  return SIPKIT_DIALOG_NO_MATCH;
}

/* ------------------------------------------------------------------ */
/* In-dialog requests and responses                                    */

int sipkit_dialog_on_request(sipkit_dialog *d, const sipkit_msg *req,
                             const char *buf) {
  if (!d || !live(d) || !has_basics(req) || !buf || req->status)
    return SIPKIT_DIALOG_REJECT_481;
  uint32_t num = req->cseq->num;
  int m = req->method;
  if (m == SIPKIT_METHOD_ACK) {
    if (!d->remote_invite_cseq || num != d->remote_invite_cseq)
      return SIPKIT_DIALOG_DROP;
    d->rtx_active = 0; /* §13.3.1.4: the ACK stops the 2xx retransmission */
    return SIPKIT_DIALOG_ACCEPT;
  }
  if (m == SIPKIT_METHOD_CANCEL) {
    if (d->remote_cseq_set && num < d->remote_cseq)
      return SIPKIT_DIALOG_REJECT_500;
    return SIPKIT_DIALOG_ACCEPT;
  }
  if (d->remote_cseq_set && num <= d->remote_cseq)
    return SIPKIT_DIALOG_REJECT_500;
  if (m == SIPKIT_METHOD_INVITE) {
    if (d->remote_invite_pending)
      return SIPKIT_DIALOG_REJECT_500; /* §14.2: earlier INVITE unanswered */
    if (d->local_invite_pending)
      return SIPKIT_DIALOG_REJECT_491; /* §14.2 glare */
  }
  if ((m == SIPKIT_METHOD_INVITE || m == SIPKIT_METHOD_UPDATE) && req->contact &&
      refresh_target(d, req, buf) != SIPKIT_EOK)
    return SIPKIT_DIALOG_REJECT_500;
  d->remote_cseq = num;
  d->remote_cseq_set = 1;
  if (m == SIPKIT_METHOD_INVITE) {
    d->remote_invite_cseq = num;
    d->remote_invite_pending = 1;
  }
  if (m == SIPKIT_METHOD_BYE) {
    d->state = SIPKIT_DIALOG_TERMINATED;
    return SIPKIT_DIALOG_ENDED;
  }
  return SIPKIT_DIALOG_ACCEPT;
}

int sipkit_dialog_on_response(sipkit_dialog *d, const sipkit_msg *resp,
                              const char *buf) {
  if (!d || !live(d) || !has_basics(resp) || !buf || !resp->status)
    return SIPKIT_DIALOG_NO_MATCH;
  int st = resp->status, m = resp->cseq->method;
  if (!span_eq(d->call_id, d->call_id_len, buf, resp->call_id) ||
      !span_eq(d->local_tag, d->local_tag_len, buf, resp->from->tag))
    return SIPKIT_DIALOG_NO_MATCH;
  int same_remote = span_eq(d->remote_tag, d->remote_tag_len, buf, resp->to->tag);
  if (m == SIPKIT_METHOD_INVITE && resp->cseq->num == d->local_invite_cseq &&
      d->local_invite_cseq) {
    if (st >= 300) {
      d->local_invite_pending = 0;
      if (d->state == SIPKIT_DIALOG_EARLY) {
        d->state = SIPKIT_DIALOG_TERMINATED; /* §12.3, §13.2.2.3 */
        return SIPKIT_DIALOG_ENDED;
      }
      if (st == 481 || st == 408) {
        d->state = SIPKIT_DIALOG_TERMINATED;
        return SIPKIT_DIALOG_ENDED;
      }
      return SIPKIT_DIALOG_ACCEPT; /* failed re-INVITE: dialog stays */
    }
    if (!same_remote)
      return SIPKIT_DIALOG_NO_MATCH;
    if (st >= 200) {
      d->local_invite_pending = 0;
      if (d->state == SIPKIT_DIALOG_EARLY) {
        dstr s; /* recompute the route set (§13.2.2.4) */
        dstr_of(&s, d);
        if (take_routes(&s, resp, buf, 1) == SIPKIT_EOK && !same_routes(d, &s))
          (void)dstr_store(d, &s);
      }
      (void)refresh_target(d, resp, buf);
      d->state = SIPKIT_DIALOG_CONFIRMED;
      return SIPKIT_DIALOG_SEND_ACK;
    }
    return SIPKIT_DIALOG_ACCEPT;
  }
  if (!same_remote)
    return SIPKIT_DIALOG_NO_MATCH;
  if (st >= 200 && (m == SIPKIT_METHOD_BYE || st == 481 || st == 408)) {
    d->state = SIPKIT_DIALOG_TERMINATED;
    return SIPKIT_DIALOG_ENDED;
  }
  if (st >= 200 && st < 300 && m == SIPKIT_METHOD_UPDATE)
    (void)refresh_target(d, resp, buf);
  return SIPKIT_DIALOG_ACCEPT;
}

size_t sipkit_dialog_end_early(sipkit_dialog *dialogs, size_t n,
                               const sipkit_msg *resp, const char *buf) {
  size_t ended = 0;
  if (!dialogs || !has_basics(resp) || !buf || resp->status < 300 ||
      resp->cseq->method != SIPKIT_METHOD_INVITE)
    return 0;
  for (size_t i = 0; i < n; i++) {
    sipkit_dialog *d = &dialogs[i];
    if (d->state == SIPKIT_DIALOG_EARLY && d->role == SIPKIT_DIALOG_UAC &&
        d->local_invite_cseq == resp->cseq->num &&
        span_eq(d->call_id, d->call_id_len, buf, resp->call_id) &&
        span_eq(d->local_tag, d->local_tag_len, buf, resp->from->tag)) {
      d->state = SIPKIT_DIALOG_TERMINATED;
      d->local_invite_pending = 0;
      ended++;
    }
  }
  return ended;
}

void sipkit_dialog_invite_answered(sipkit_dialog *d) {
  if (d)
    d->remote_invite_pending = 0;
}

void sipkit_dialog_uas_2xx_sent(sipkit_dialog *d, uint64_t now, uint32_t t1_ms,
                                uint32_t t2_ms) {
  if (!d)
    return;
  if (!t1_ms)
    t1_ms = 500;
  if (!t2_ms)
    t2_ms = 4000;
  d->remote_invite_pending = 0;
  d->rtx_active = 1;
  d->rtx_interval = t1_ms;
  d->rtx_t2 = t2_ms;
  d->rtx_next = now + t1_ms;
  d->rtx_giveup = now + 64ull * t1_ms;
}

int sipkit_dialog_on_timer(sipkit_dialog *d, uint64_t now, uint64_t *next) {
  int v = SIPKIT_DIALOG_ACCEPT;
  if (d && d->rtx_active) {
    if (now >= d->rtx_giveup) {
      d->rtx_active = 0;
      v = SIPKIT_DIALOG_NO_ACK;
    } else if (now >= d->rtx_next) {
      uint32_t iv = d->rtx_interval * 2u;
      d->rtx_interval = iv < d->rtx_t2 ? iv : d->rtx_t2;
      d->rtx_next += d->rtx_interval;
      v = SIPKIT_DIALOG_RESEND_2XX;
    }
  }
  if (next)
    *next = d && d->rtx_active
                ? (d->rtx_next < d->rtx_giveup ? d->rtx_next : d->rtx_giveup)
                : 0;
  return v;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */

int sipkit_dialog_next_cseq(sipkit_dialog *d, int method, uint32_t *cseq) {
  if (!d || !cseq || !live(d) || method == SIPKIT_METHOD_ACK ||
      method == SIPKIT_METHOD_CANCEL)
    return SIPKIT_EARGUMENT;
  if (d->local_cseq >= 0x7fffffffu)
    return SIPKIT_ENUMBER_RANGE;
  if (method == SIPKIT_METHOD_INVITE && d->local_invite_pending)
    return SIPKIT_EARGUMENT; /* §14.1: one INVITE at a time */
  d->local_cseq++;
  *cseq = d->local_cseq;
  if (method == SIPKIT_METHOD_INVITE) {
    d->local_invite_cseq = d->local_cseq;
    d->local_invite_pending = 1;
  }
  return SIPKIT_EOK;
}

uint32_t sipkit_dialog_ack_cseq(const sipkit_dialog *d) {
  return d ? d->local_invite_cseq : 0;
}

void sipkit_dialog_view_fill(const sipkit_dialog *d, sipkit_dialog_view *v,
                             sipkit_str *routes) {
  memset(v, 0, sizeof *v);
  v->call_id.p = d->call_id;
  v->call_id.len = d->call_id_len;
  v->local_uri.p = d->local_uri;
  v->local_uri.len = d->local_uri_len;
  v->local_tag.p = d->local_tag;
  v->local_tag.len = d->local_tag_len;
  v->remote_uri.p = d->remote_uri;
  v->remote_uri.len = d->remote_uri_len;
  v->remote_tag.p = d->remote_tag;
  v->remote_tag.len = d->remote_tag_len;
  v->remote_target.p = d->remote_target;
  v->remote_target.len = d->remote_target_len;
  for (uint32_t i = 0; i < d->route_count && routes; i++)
    routes[i].p = sipkit_dialog_route(d, i, &routes[i].len);
  v->route_set = routes;
  v->route_count = routes ? d->route_count : 0;
  v->local_cseq = d->local_cseq;
}

void sipkit_dialog_free(sipkit_dialog *d) {
  if (!d)
    return;
  free(d->mem_);
  memset(d, 0, sizeof *d);
}

const char *sipkit_dialog_state_name(int state) {
  switch (state) {
  case SIPKIT_DIALOG_NULL: return "NULL";
  case SIPKIT_DIALOG_EARLY: return "EARLY";
  case SIPKIT_DIALOG_CONFIRMED: return "CONFIRMED";
  case SIPKIT_DIALOG_TERMINATED: return "TERMINATED";
  default: return "";
  }
}
