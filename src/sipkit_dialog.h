/* sipkit_dialog.h - RFC 3261 dialogs (§12, §13.2.2.4, §13.3.1.4, §14, §15)
 * as pure logic.
 *
 * A dialog is a value: bounded copies of what §12.1 says a dialog holds
 * (Call-ID, local and remote tag, local and remote URI, remote target,
 * route set, local and remote CSeq, secure flag) and its state (EARLY,
 * CONFIRMED, TERMINATED).  No sockets, no clock: the caller owns the
 * dialogs (e.g. an array) and feeds them parsed messages; each entry
 * point returns a verdict saying what to do.
 *
 * Memory: the strings are NUL-terminated copies in one block the dialog
 * owns, sized to what they hold (a fixed-size dialog would weigh 3 KiB at
 * the bounds below).  Creation allocates it; release it with
 * sipkit_dialog_free().  A copy of the struct shares the block: free only
 * one of them.  A target refresh or the route set of a 2xx that changes
 * a value makes a new block, so a string pointer of a dialog stays valid
 * only until the next message given to that dialog (copy what you keep
 * longer).  Out of
 * memory, creation fails with SIPKIT_ENO_MEMORY and a refresh does not
 * happen.
 *
 * Bounds: a value longer than its bound makes creation (or a target
 * refresh) fail with SIPKIT_EBUFFER_TOO_SMALL; nothing is ever truncated.
 * Route values are stored unfolded as written ("<sip:p1;lr>" with any
 * header params), URIs as written inside the angle brackets.
 *
 * Choices the RFC leaves open, made here:
 * - Tags and Call-ID are compared byte for byte.
 * - An in-dialog request (other than ACK and CANCEL) whose CSeq is lower
 *   than OR EQUAL to the remote CSeq gets 500 (§12.2.2 names "lower";
 *   an equal one that reaches the dialog is not a retransmission, those
 *   are absorbed by the transaction layer).  ACK is accepted only with
 *   the CSeq of the last INVITE the peer sent (else dropped, never
 *   answered); CANCEL with a CSeq equal to the remote CSeq is accepted.
 * - A target refresh (re-INVITE, UPDATE) replaces the remote target from
 *   its Contact when the request is accepted by these checks.
 * - A UAS-side dialog starts with local CSeq 0 (empty): its first request
 *   uses 1.  The caller may set d->local_cseq to another start.
 */
#ifndef SIPKIT_DIALOG_H
#define SIPKIT_DIALOG_H

#include <stddef.h>
#include <stdint.h>

#include "sipkit.h"
#include "sipkit_build.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds of the stored copies (bytes, no NUL is stored). */
#ifndef SIPKIT_DIALOG_MAX_CALL_ID
#define SIPKIT_DIALOG_MAX_CALL_ID 128u
#endif
#ifndef SIPKIT_DIALOG_MAX_TAG
#define SIPKIT_DIALOG_MAX_TAG 64u
#endif
#ifndef SIPKIT_DIALOG_MAX_URI
#define SIPKIT_DIALOG_MAX_URI 256u
#endif
#ifndef SIPKIT_DIALOG_MAX_ROUTES
#define SIPKIT_DIALOG_MAX_ROUTES 8u
#endif
#ifndef SIPKIT_DIALOG_MAX_ROUTE
#define SIPKIT_DIALOG_MAX_ROUTE 256u /* one Route value, "<uri>;params" */
#endif

enum sipkit_dialog_state {
  SIPKIT_DIALOG_NULL = 0, /* free slot: matches nothing */
  SIPKIT_DIALOG_EARLY,
  SIPKIT_DIALOG_CONFIRMED,
  SIPKIT_DIALOG_TERMINATED /* matches nothing; the caller frees the slot */
};

enum sipkit_dialog_role {
  SIPKIT_DIALOG_UAC = 0, /* we sent the request that created it */
  SIPKIT_DIALOG_UAS
};

/* What the caller must do with a message (returns of find / on_request /
 * on_response).  The REJECT values are the status code to answer with. */
enum sipkit_dialog_verdict {
  SIPKIT_DIALOG_ACCEPT = 0,   /* process it within the dialog */
  SIPKIT_DIALOG_DROP,         /* drop silently (an ACK: never answered) */
  SIPKIT_DIALOG_OUTSIDE,      /* request without To tag: not in a dialog */
  SIPKIT_DIALOG_NO_MATCH,     /* response that belongs to no dialog */
  SIPKIT_DIALOG_NEW_FORK,     /* 1xx/2xx with a new To tag to the INVITE of an
                                 existing dialog: create another dialog */
  SIPKIT_DIALOG_EXTRA_2XX,    /* a 2xx with a new To tag while a sibling of the
                                 same INVITE is confirmed: create the dialog,
                                 ACK it and BYE it (§13.2.2.4) */
  SIPKIT_DIALOG_SEND_ACK,     /* 2xx to our INVITE (first or retransmitted):
                                 send the ACK (sipkit_dialog_ack_cseq) */
  SIPKIT_DIALOG_ENDED,        /* the dialog is now TERMINATED (a received BYE:
                                 answer it 200) */
  SIPKIT_DIALOG_RESEND_2XX,   /* timer: retransmit our 2xx to INVITE */
  SIPKIT_DIALOG_NO_ACK,       /* timer: no ACK for our 2xx within 64*T1:
                                 end the dialog with a BYE (§13.3.1.4) */
  SIPKIT_DIALOG_REJECT_481 = 481, /* no such dialog (§12.2.2) */
  SIPKIT_DIALOG_REJECT_491 = 491, /* re-INVITE glare (§14.2) */
  SIPKIT_DIALOG_REJECT_500 = 500  /* CSeq out of order, or INVITE while an
                                     earlier one is unanswered (§14.2) */
};

typedef struct sipkit_dialog {
  int state;               /* enum sipkit_dialog_state */
  uint8_t role;            /* enum sipkit_dialog_role */
  uint8_t secure;          /* Request-URI of the creating request was sips: */
  uint8_t local_invite_pending;  /* our (re-)INVITE awaits a final response */
  uint8_t remote_invite_pending; /* the peer's INVITE awaits our final response */
  uint8_t remote_cseq_set; /* remote CSeq is not empty */
  uint8_t pad_[3];
  uint32_t local_cseq;     /* last CSeq number we used (0 = empty) */
  uint32_t remote_cseq;    /* last CSeq number the peer used */
  uint32_t local_invite_cseq;  /* CSeq of our last INVITE (ACK for 2xx uses it) */
  uint32_t remote_invite_cseq; /* CSeq of the peer's last INVITE */
  /* §13.3.1.4 retransmission of our 2xx to INVITE until the ACK */
  uint8_t rtx_active;
  uint8_t rtx_pad_[3];
  uint32_t rtx_interval;   /* ms until the retransmission after next_ */
  uint32_t rtx_t2;
  uint64_t rtx_next;       /* absolute ms of the next retransmission */
  uint64_t rtx_giveup;     /* absolute ms: 64*T1 after the first send */
  uint16_t call_id_len, local_tag_len, remote_tag_len;
  uint16_t local_uri_len, remote_uri_len, remote_target_len;
  uint32_t route_count;    /* the routes are in mem_: sipkit_dialog_route() */
  /* NUL-terminated, in mem_; NULL in a dialog never created */
  const char *call_id;
  const char *local_tag;
  const char *remote_tag;
  const char *local_uri;
  const char *remote_uri;
  const char *remote_target;
  char *mem_;              /* private: the block holding the strings */
} sipkit_dialog;

/* Route i (0 .. route_count - 1) of d's route set, NUL-terminated, its
 * length in *len (may be NULL); NULL (and 0) past the end.  Valid as the
 * other strings of d (see Memory). */
SIPKIT_API const char *sipkit_dialog_route(const sipkit_dialog *d, uint32_t i, size_t *len);

/* Release the strings of d (from a create) and zero it: state NULL.
 * NULL and a zeroed dialog are accepted. */
SIPKIT_API void sipkit_dialog_free(sipkit_dialog *d);

/* Dialog id (§12): spans of a message or of a dialog, nothing owned. */
typedef struct sipkit_dialog_id {
  sipkit_str call_id, local_tag, remote_tag;
} sipkit_dialog_id;

/* Id of a received message: a request gives local tag = To tag, remote
 * tag = From tag; a response (to a request we sent) local = From tag,
 * remote = To tag.  A missing tag gives an empty span.  Returns SIPKIT_EOK
 * or SIPKIT_EARGUMENT (no Call-ID / From / To). */
SIPKIT_API int sipkit_dialog_id_of_msg(sipkit_dialog_id *id,
                                       const sipkit_msg *msg, const char *buf);
/* Id of a dialog (spans into d). */
SIPKIT_API void sipkit_dialog_id_of(sipkit_dialog_id *id, const sipkit_dialog *d);
/* 1 when d is EARLY or CONFIRMED and its id equals id, else 0. */
SIPKIT_API int sipkit_dialog_match(const sipkit_dialog *d,
                                   const sipkit_dialog_id *id);

/* UAC side (§12.1.2): from resp (101..199 with a To tag, or 2xx) to the
 * request req we sent (same Call-ID, From tag and CSeq).  Route set =
 * Record-Route of resp reversed, remote target = its Contact URI, remote
 * tag = To tag, local CSeq = the request's; state EARLY for 1xx,
 * CONFIRMED for 2xx.  Errors: SIPKIT_EARGUMENT (response that creates no
 * dialog, or belongs to another request), SIPKIT_EMISSING_HEADER (no
 * Contact), SIPKIT_EBUFFER_TOO_SMALL (over a bound), SIPKIT_ENO_MEMORY.
 * d is overwritten (free a dialog it held first) and left NULL (zeroed)
 * on error; on success free it with sipkit_dialog_free(). */
SIPKIT_API int sipkit_dialog_uac_create(sipkit_dialog *d,
                                        const sipkit_msg *req, const char *qbuf,
                                        const sipkit_msg *resp, const char *rbuf);

/* UAC side, another dialog of the same INVITE (a fork's 1xx or 2xx,
 * §13.2.2.4), without the INVITE: as sipkit_dialog_uac_create, with what
 * the request gave (Call-ID, local tag and URI, remote URI, secure flag)
 * taken from sibling, a dialog that INVITE created (it may have ended
 * since: only its strings are read), and invite_cseq the INVITE's CSeq
 * (sibling's may have moved on).  The result equals what
 * sipkit_dialog_uac_create makes from the INVITE.  Errors as there
 * (SIPKIT_EARGUMENT also when resp does not answer that INVITE or
 * sibling is no UAC dialog). */
SIPKIT_API int sipkit_dialog_uac_fork(sipkit_dialog *d, const sipkit_dialog *sibling,
                                      uint32_t invite_cseq, const sipkit_msg *resp,
                                      const char *rbuf);

/* UAS side (§12.1.1): from the request req we answer with status (101..199
 * gives EARLY, 2xx CONFIRMED) carrying local_tag in its To.  Route set =
 * Record-Route of req in order, remote target = its Contact URI, remote
 * tag = From tag, remote CSeq = the request's.  Errors as above. */
SIPKIT_API int sipkit_dialog_uas_create(sipkit_dialog *d,
                                        const sipkit_msg *req, const char *buf,
                                        int status, sipkit_str local_tag);

/* Find the dialog a received message belongs to among dialogs[0..n)
 * (free or terminated slots are skipped).  *index gets the matching
 * dialog, or for NEW_FORK / EXTRA_2XX the sibling; -1 otherwise.
 *   request:  ACCEPT (found: go on with sipkit_dialog_on_request),
 *             OUTSIDE (no To tag), REJECT_481 (To tag, no dialog),
 *             DROP (an ACK with a To tag that matches no dialog).
 *   response: ACCEPT (found: go on with sipkit_dialog_on_response),
 *             NEW_FORK / EXTRA_2XX (1xx/2xx with a new To tag to the
 *             INVITE of a UAC dialog: create with sipkit_dialog_uac_create;
 *             a retransmission of an extra 2xx whose dialog the caller has
 *             already ended and freed is EXTRA_2XX again: ACK and BYE it),
 *             NO_MATCH (anything else; a non-2xx final to an INVITE with
 *             early dialogs is ACCEPTed by each of them, see on_response). */
SIPKIT_API int sipkit_dialog_find(const sipkit_dialog *dialogs, size_t n,
                                  const sipkit_msg *msg, const char *buf,
                                  long *index);

/* A request received within d (§12.2.2, §14.2).  Returns ACCEPT (remote
 * CSeq updated; target refresh applied), ENDED (a BYE: answer 200, d is
 * TERMINATED), DROP (ACK that does not match the peer's INVITE),
 * REJECT_500 (CSeq out of order, INVITE while the peer's previous one is
 * unanswered, or a target refresh Contact over its bound), REJECT_491 (a
 * re-INVITE while ours is pending).  A rejected request changes nothing. */
SIPKIT_API int sipkit_dialog_on_request(sipkit_dialog *d,
                                        const sipkit_msg *req, const char *buf);

/* A response received within d to a request we sent (matched by find, or
 * for a non-2xx final to the creating INVITE any early dialog with the
 * same Call-ID and local tag).  Returns
 *   SEND_ACK: 2xx to our INVITE; EARLY becomes CONFIRMED with the route
 *             set recomputed (§13.2.2.4; a 2xx whose Record-Route is over
 *             the bounds keeps the early route set); the remote target is
 *             refreshed from Contact; a retransmitted 2xx gives SEND_ACK
 *             again (ACK every retransmission, same CSeq, §13.2.2.4).
 *   ENDED:    non-2xx final to the INVITE of an EARLY dialog, 481 or 408
 *             to any in-dialog request (§12.2.1.2), final to our BYE.
 *   ACCEPT:   anything else (1xx, final to other requests, non-2xx final
 *             to a re-INVITE: the dialog stays). */
SIPKIT_API int sipkit_dialog_on_response(sipkit_dialog *d,
                                         const sipkit_msg *resp,
                                         const char *buf);

/* A non-2xx final response to our INVITE ends every early dialog it
 * created, whatever their To tags (§13.2.2.3, §12.3): each EARLY UAC
 * dialog among dialogs[0..n) with resp's Call-ID, From tag and INVITE
 * CSeq becomes TERMINATED.  Returns how many were ended. */
SIPKIT_API size_t sipkit_dialog_end_early(sipkit_dialog *dialogs, size_t n,
                                          const sipkit_msg *resp,
                                          const char *buf);

/* The peer's INVITE (creating or re-INVITE) has been answered with a
 * final response: a new one is no longer refused with 500. */
SIPKIT_API void sipkit_dialog_invite_answered(sipkit_dialog *d);

/* §13.3.1.4: we sent a 2xx to the peer's INVITE at now (ms).  Marks the
 * INVITE answered and starts the retransmissions: at now + T1, then
 * intervals doubling up to T2, until the ACK (on_request) or until
 * now + 64*T1.  t1_ms / t2_ms 0 mean 500 / 4000. */
SIPKIT_API void sipkit_dialog_uas_2xx_sent(sipkit_dialog *d, uint64_t now,
                                           uint32_t t1_ms, uint32_t t2_ms);
/* Drive the 2xx retransmission at now: RESEND_2XX (send the same 2xx
 * again), NO_ACK (given up: send BYE; retransmissions stop), or ACCEPT
 * (nothing due).  *next (may be NULL) gets the next deadline, 0 when
 * none runs. */
SIPKIT_API int sipkit_dialog_on_timer(sipkit_dialog *d, uint64_t now,
                                      uint64_t *next);

/* Take the CSeq for a new request we send in d (§12.2.1.1): local CSeq + 1
 * (SIPKIT_ENUMBER_RANGE past 2^31 - 1), stored as the local CSeq; an
 * INVITE marks our re-INVITE pending (glare, §14.1) and records its CSeq.
 * ACK and CANCEL are refused (SIPKIT_EARGUMENT): ACK for a 2xx uses
 * sipkit_dialog_ack_cseq(), CANCEL copies its request. */
SIPKIT_API int sipkit_dialog_next_cseq(sipkit_dialog *d, int method,
                                       uint32_t *cseq);
/* CSeq of the ACK for a 2xx to our last INVITE (§13.2.2.4). */
SIPKIT_API uint32_t sipkit_dialog_ack_cseq(const sipkit_dialog *d);

/* Fill v for sipkit_build_in_dialog(): spans into d, and the route set in
 * routes[0..SIPKIT_DIALOG_MAX_ROUTES) (caller's array).  v->local_cseq is
 * d->local_cseq (after sipkit_dialog_next_cseq, pass the CSeq it gave). */
SIPKIT_API void sipkit_dialog_view_fill(const sipkit_dialog *d,
                                        sipkit_dialog_view *v,
                                        sipkit_str *routes);

SIPKIT_API const char *sipkit_dialog_state_name(int state);

#ifdef __cplusplus
}
#endif
#endif /* SIPKIT_DIALOG_H */
