/* test_dialog.c - RFC 3261 dialogs (src/sipkit_dialog.h) with the messages
 * of the bench corpus: 01 INVITE, 03 180 with To tag, 04 200 OK, 05 ACK,
 * 06 BYE, 10 INFO.  Run from the repository root (the corpus is read at
 * run time). */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sipkit.h"
#include "sipkit_build.h"
#include "sipkit_dialog.h"

#define NSLOTS 16

typedef struct fixture {
  char buf[4096];
  size_t len;
  sipkit_msg m;
} fixture;

static fixture g_fx[NSLOTS];
static sipkit_header g_hdrs[NSLOTS][SIPKIT_DEFAULT_HEADERS];

enum { INVITE = 0, R180, R200, ACK, BYE, INFO, S_FREE };

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

/* Replace the first occurrence of from by to in tmp[0..*n). */
static void replace(char *tmp, size_t cap, size_t *n, const char *from,
                    const char *to) {
  char *hit = memmem(tmp, *n, from, strlen(from));
  if (!hit)
    print_error("no \"%s\" to replace\n", from);
  assert_non_null(hit);
  size_t pre = (size_t)(hit - tmp), fl = strlen(from), tl = strlen(to);
  assert_true(*n - fl + tl < cap);
  memmove(hit + tl, hit + fl, *n - pre - fl);
  memcpy(hit, to, tl);
  *n = *n - fl + tl;
}

/* A copy of slot src with the first occurrence of from1 replaced by to1
 * (and of from2 by to2 when from2 is not NULL), parsed into slot dst (dst
 * may equal src). */
static sipkit_msg *edit2(int dst, int src, const char *from1, const char *to1,
                         const char *from2, const char *to2) {
  static char tmp[8192];
  size_t n = g_fx[src].len;
  memcpy(tmp, g_fx[src].buf, n);
  replace(tmp, sizeof tmp, &n, from1, to1);
  if (from2)
    replace(tmp, sizeof tmp, &n, from2, to2);
  return parse_into(dst, tmp, n);
}

static sipkit_msg *edit(int dst, int src, const char *from, const char *to) {
  return edit2(dst, src, from, to, NULL, NULL);
}

/* Like edit2 with a NULL-terminated list of (from, to) pairs. */
static sipkit_msg *editn(int dst, int src, const char *const *pairs) {
  static char tmp[8192];
  size_t n = g_fx[src].len;
  memcpy(tmp, g_fx[src].buf, n);
  for (; pairs[0]; pairs += 2)
    replace(tmp, sizeof tmp, &n, pairs[0], pairs[1]);
  return parse_into(dst, tmp, n);
}

#define M(i) (&g_fx[i].m)
#define B(i) (g_fx[i].buf)

static int setup(void **state) {
  (void)state;
  load(INVITE, "01_invite_sdp.sip");
  load(R180, "03_180_ringing.sip");
  load(R200, "04_200_ok_sdp.sip");
  load(ACK, "05_ack.sip");
  load(BYE, "06_bye.sip");
  load(INFO, "10_info_dtmf.sip");
  return 0;
}

static void assert_bytes(const char *p, size_t len, const char *want) {
  if (len != strlen(want) || memcmp(p, want, len)) {
    print_error("got \"%.*s\", want \"%s\"\n", (int)len, p, want);
    fail();
  }
}
#define ASSERT_FIELD(d, f, want) assert_bytes((d)->f, (d)->f##_len, want)

/* Route i of d is want (and NUL-terminated). */
static void assert_route(const sipkit_dialog *d, uint32_t i, const char *want) {
  size_t n;
  const char *r = sipkit_dialog_route(d, i, &n);
  assert_non_null(r);
  assert_bytes(r, n, want);
  assert_int_equal(r[n], 0);
}
#define ASSERT_SPAN(buf, s, want) assert_bytes((buf) + (s).off, (s).len, want)

static const char *const CALL_ID = "a84b4c76e66710@pc33.atlanta.example.com";
static const char *const RR_ATL = "<sip:proxy.atlanta.example.com;lr>";
static const char *const RR_BIL = "<sip:proxy.biloxi.example.com;lr>";

static void uac_confirmed(sipkit_dialog *d) {
  assert_int_equal(sipkit_dialog_uac_create(d, M(INVITE), B(INVITE), M(R200),
                                            B(R200)), SIPKIT_EOK);
}

/* The INVITE as Bob receives it: two Record-Route added by the proxies. */
static sipkit_msg *invite_with_rr(int slot) {
  return edit(slot, INVITE, "Max-Forwards: 70\r\n",
              "Max-Forwards: 69\r\n"
              "Record-Route: <sip:proxy.biloxi.example.com;lr>\r\n"
              "Record-Route: <sip:proxy.atlanta.example.com;lr>\r\n");
}

static void uas_confirmed(sipkit_dialog *d, int slot) {
  invite_with_rr(slot);
  sipkit_str tag = {"a6c85cf", 7};
  assert_int_equal(sipkit_dialog_uas_create(d, M(slot), B(slot), 200, tag),
                   SIPKIT_EOK);
}

/* ------------------------------------------------------------------ */

static void test_uac_create_from_200(void **state) {
  (void)state;
  sipkit_dialog d;
  uac_confirmed(&d);
  assert_int_equal(d.state, SIPKIT_DIALOG_CONFIRMED);
  assert_int_equal(d.role, SIPKIT_DIALOG_UAC);
  assert_int_equal(d.secure, 0);
  ASSERT_FIELD(&d, call_id, CALL_ID);
  ASSERT_FIELD(&d, local_tag, "1928301774");
  ASSERT_FIELD(&d, remote_tag, "a6c85cf");
  ASSERT_FIELD(&d, local_uri, "sip:alice@atlanta.example.com");
  ASSERT_FIELD(&d, remote_uri, "sip:bob@biloxi.example.com");
  ASSERT_FIELD(&d, remote_target, "sip:bob@192.0.2.4:5060;transport=udp");
  assert_int_equal(d.route_count, 2);
  assert_route(&d, 0, RR_ATL); /* reversed */
  assert_route(&d, 1, RR_BIL);
  assert_int_equal(d.local_cseq, 314159);
  assert_int_equal(sipkit_dialog_ack_cseq(&d), 314159);
  assert_int_equal(d.remote_cseq_set, 0);
  assert_int_equal(d.local_invite_pending, 0);

  /* a 100 or a response without To tag creates nothing */
  sipkit_dialog e;
  edit(S_FREE, R180, ";tag=a6c85cf", "");
  assert_int_equal(sipkit_dialog_uac_create(&e, M(INVITE), B(INVITE),
                                            M(S_FREE), B(S_FREE)),
                   SIPKIT_EARGUMENT);
  assert_int_equal(e.state, SIPKIT_DIALOG_NULL);
  /* a response to another request (CSeq) is refused */
  edit(S_FREE, R200, "CSeq: 314159", "CSeq: 314158");
  assert_int_equal(sipkit_dialog_uac_create(&e, M(INVITE), B(INVITE),
                                            M(S_FREE), B(S_FREE)),
                   SIPKIT_EARGUMENT);
  /* no Contact in the 2xx */
  edit(S_FREE, R200, "Contact: <sip:bob@192.0.2.4:5060;transport=udp>\r\n", "");
  assert_int_equal(sipkit_dialog_uac_create(&e, M(INVITE), B(INVITE),
                                            M(S_FREE), B(S_FREE)),
                   SIPKIT_EMISSING_HEADER);
  sipkit_dialog_free(&d);
}

static void test_uac_early_then_confirmed(void **state) {
  (void)state;
  sipkit_dialog d;
  long idx;
  assert_int_equal(sipkit_dialog_uac_create(&d, M(INVITE), B(INVITE), M(R180),
                                            B(R180)), SIPKIT_EOK);
  assert_int_equal(d.state, SIPKIT_DIALOG_EARLY);
  ASSERT_FIELD(&d, remote_tag, "a6c85cf");
  ASSERT_FIELD(&d, remote_target, "sip:bob@192.0.2.4:5060;transport=udp");
  assert_int_equal(d.route_count, 2);
  assert_route(&d, 0, RR_ATL);
  assert_int_equal(d.local_invite_pending, 1);

  /* the 200 matches the early dialog and confirms it */
  assert_int_equal(sipkit_dialog_find(&d, 1, M(R200), B(R200), &idx),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(idx, 0);
  assert_int_equal(sipkit_dialog_on_response(&d, M(R200), B(R200)),
                   SIPKIT_DIALOG_SEND_ACK);
  assert_int_equal(d.state, SIPKIT_DIALOG_CONFIRMED);
  assert_int_equal(d.local_invite_pending, 0);
  assert_int_equal(d.route_count, 2);
  assert_route(&d, 1, RR_BIL);
  /* a retransmitted 200 is ACKed again */
  assert_int_equal(sipkit_dialog_on_response(&d, M(R200), B(R200)),
                   SIPKIT_DIALOG_SEND_ACK);
  assert_int_equal(d.state, SIPKIT_DIALOG_CONFIRMED);

  /* early dialog, then a non-2xx final: terminated */
  sipkit_dialog e;
  assert_int_equal(sipkit_dialog_uac_create(&e, M(INVITE), B(INVITE), M(R180),
                                            B(R180)), SIPKIT_EOK);
  edit(S_FREE, R200, "SIP/2.0 200 OK", "SIP/2.0 486 Busy Here");
  assert_int_equal(sipkit_dialog_on_response(&e, M(S_FREE), B(S_FREE)),
                   SIPKIT_DIALOG_ENDED);
  assert_int_equal(e.state, SIPKIT_DIALOG_TERMINATED);
  /* a terminated dialog matches nothing */
  assert_int_equal(sipkit_dialog_find(&e, 1, M(R200), B(R200), &idx),
                   SIPKIT_DIALOG_NO_MATCH);
  assert_int_equal(idx, -1);
  sipkit_dialog_free(&d);
  sipkit_dialog_free(&e);
}

static void test_uas_create(void **state) {
  (void)state;
  sipkit_dialog d;
  uas_confirmed(&d, 6);
  assert_int_equal(d.state, SIPKIT_DIALOG_CONFIRMED);
  assert_int_equal(d.role, SIPKIT_DIALOG_UAS);
  ASSERT_FIELD(&d, call_id, CALL_ID);
  ASSERT_FIELD(&d, local_tag, "a6c85cf");
  ASSERT_FIELD(&d, remote_tag, "1928301774");
  ASSERT_FIELD(&d, local_uri, "sip:bob@biloxi.example.com");
  ASSERT_FIELD(&d, remote_uri, "sip:alice@atlanta.example.com");
  ASSERT_FIELD(&d, remote_target, "sip:alice@192.0.2.101:5060;transport=udp");
  assert_int_equal(d.route_count, 2);
  assert_route(&d, 0, RR_BIL); /* in order */
  assert_route(&d, 1, RR_ATL);
  assert_int_equal(d.remote_cseq_set, 1);
  assert_int_equal(d.remote_cseq, 314159);
  assert_int_equal(d.local_cseq, 0);
  assert_int_equal(d.remote_invite_pending, 0);

  /* 180 gives an early dialog; the INVITE stays unanswered */
  sipkit_dialog e;
  sipkit_str tag = {"a6c85cf", 7};
  assert_int_equal(sipkit_dialog_uas_create(&e, M(6), B(6), 180, tag),
                   SIPKIT_EOK);
  assert_int_equal(e.state, SIPKIT_DIALOG_EARLY);
  assert_int_equal(e.remote_invite_pending, 1);
  /* corpus INVITE without Record-Route: empty route set */
  sipkit_dialog_free(&e);
  assert_int_equal(sipkit_dialog_uas_create(&e, M(INVITE), B(INVITE), 200, tag),
                   SIPKIT_EOK);
  assert_int_equal(e.route_count, 0);
  sipkit_dialog_free(&e);
  /* a request that already has a To tag creates nothing */
  assert_int_equal(sipkit_dialog_uas_create(&e, M(INFO), B(INFO), 200, tag),
                   SIPKIT_EARGUMENT);
  sipkit_dialog_free(&d);
}

static void test_bounds_never_truncate(void **state) {
  (void)state;
  sipkit_dialog d;
  sipkit_str tag = {"a6c85cf", 7};
  char longid[300];
  memset(longid, 'x', sizeof longid - 1);
  longid[sizeof longid - 1] = 0;
  char line[400];
  snprintf(line, sizeof line, "Call-ID: %s@h\r\n", longid);
  edit(S_FREE, INVITE, "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n",
       line);
  assert_int_equal(sipkit_dialog_uas_create(&d, M(S_FREE), B(S_FREE), 200, tag),
                   SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(d.state, SIPKIT_DIALOG_NULL);
  /* one Record-Route more than SIPKIT_DIALOG_MAX_ROUTES */
  char rr[2048] = "Max-Forwards: 70\r\n";
  for (unsigned i = 0; i <= SIPKIT_DIALOG_MAX_ROUTES; i++) {
    char one[80];
    snprintf(one, sizeof one, "Record-Route: <sip:p%u.example.com;lr>\r\n", i);
    strcat(rr, one);
  }
  edit(S_FREE, INVITE, "Max-Forwards: 70\r\n", rr);
  assert_int_equal(sipkit_dialog_uas_create(&d, M(S_FREE), B(S_FREE), 200, tag),
                   SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(d.state, SIPKIT_DIALOG_NULL);
  /* a local tag over its bound */
  char bigtag[SIPKIT_DIALOG_MAX_TAG + 1];
  memset(bigtag, 'a', sizeof bigtag);
  sipkit_str bt = {bigtag, sizeof bigtag};
  assert_int_equal(sipkit_dialog_uas_create(&d, M(INVITE), B(INVITE), 200, bt),
                   SIPKIT_EBUFFER_TOO_SMALL);
}

static void test_request_matching_and_481(void **state) {
  (void)state;
  sipkit_dialog ds[3];
  long idx;
  memset(&ds[0], 0, sizeof ds[0]); /* free slot */
  uac_confirmed(&ds[1]);           /* Alice's side */
  uas_confirmed(&ds[2], 6);        /* Bob's side */

  sipkit_dialog_id id;
  assert_int_equal(sipkit_dialog_id_of_msg(&id, M(INFO), B(INFO)), SIPKIT_EOK);
  assert_bytes(id.call_id.p, id.call_id.len, CALL_ID);
  assert_bytes(id.local_tag.p, id.local_tag.len, "a6c85cf");
  assert_bytes(id.remote_tag.p, id.remote_tag.len, "1928301774");
  assert_true(sipkit_dialog_match(&ds[2], &id));
  assert_false(sipkit_dialog_match(&ds[1], &id));

  /* Alice's INFO and ACK reach Bob's dialog */
  assert_int_equal(sipkit_dialog_find(ds, 3, M(INFO), B(INFO), &idx),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(idx, 2);
  assert_int_equal(sipkit_dialog_find(ds, 3, M(ACK), B(ACK), &idx),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(idx, 2);
  assert_int_equal(sipkit_dialog_on_request(&ds[2], M(ACK), B(ACK)),
                   SIPKIT_DIALOG_ACCEPT);
  /* Bob's BYE reaches Alice's dialog and ends it */
  assert_int_equal(sipkit_dialog_find(ds, 3, M(BYE), B(BYE), &idx),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(idx, 1);
  assert_int_equal(sipkit_dialog_on_request(&ds[1], M(BYE), B(BYE)),
                   SIPKIT_DIALOG_ENDED);
  assert_int_equal(ds[1].state, SIPKIT_DIALOG_TERMINATED);
  assert_int_equal(ds[1].remote_cseq, 231);
  /* ... after which the same BYE matches nothing: 481 */
  assert_int_equal(sipkit_dialog_find(ds, 3, M(BYE), B(BYE), &idx),
                   SIPKIT_DIALOG_REJECT_481);
  assert_int_equal(idx, -1);
  /* an unknown To tag: 481; for an ACK: drop, never answered */
  edit(S_FREE, INFO, "tag=a6c85cf", "tag=zz99");
  assert_int_equal(sipkit_dialog_find(ds, 3, M(S_FREE), B(S_FREE), &idx),
                   SIPKIT_DIALOG_REJECT_481);
  edit(S_FREE, ACK, "tag=a6c85cf", "tag=zz99");
  assert_int_equal(sipkit_dialog_find(ds, 3, M(S_FREE), B(S_FREE), &idx),
                   SIPKIT_DIALOG_DROP);
  /* another Call-ID: 481 too */
  edit(S_FREE, INFO, "Call-ID: a84b", "Call-ID: b84b");
  assert_int_equal(sipkit_dialog_find(ds, 3, M(S_FREE), B(S_FREE), &idx),
                   SIPKIT_DIALOG_REJECT_481);
  /* no To tag: outside any dialog */
  assert_int_equal(sipkit_dialog_find(ds, 3, M(INVITE), B(INVITE), &idx),
                   SIPKIT_DIALOG_OUTSIDE);
  /* a response for no dialog */
  sipkit_dialog none;
  memset(&none, 0, sizeof none);
  assert_int_equal(sipkit_dialog_find(&none, 1, M(R200), B(R200), &idx),
                   SIPKIT_DIALOG_NO_MATCH);
  sipkit_dialog_free(&ds[1]);
  sipkit_dialog_free(&ds[2]);
}

static void test_cseq_ordering(void **state) {
  (void)state;
  sipkit_dialog d;
  uas_confirmed(&d, 6); /* remote CSeq 314159 */
  /* INFO 314160: accepted */
  assert_int_equal(sipkit_dialog_on_request(&d, M(INFO), B(INFO)),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(d.remote_cseq, 314160);
  /* the same number again (new transaction): 500 */
  assert_int_equal(sipkit_dialog_on_request(&d, M(INFO), B(INFO)),
                   SIPKIT_DIALOG_REJECT_500);
  /* lower: 500, nothing changes */
  edit(S_FREE, INFO, "CSeq: 314160", "CSeq: 314158");
  assert_int_equal(sipkit_dialog_on_request(&d, M(S_FREE), B(S_FREE)),
                   SIPKIT_DIALOG_REJECT_500);
  assert_int_equal(d.remote_cseq, 314160);
  /* ACK of the INVITE (314159, below the remote CSeq): accepted */
  assert_int_equal(sipkit_dialog_on_request(&d, M(ACK), B(ACK)),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(d.remote_cseq, 314160);
  /* an ACK with another number: dropped */
  edit(S_FREE, ACK, "CSeq: 314159", "CSeq: 314150");
  assert_int_equal(sipkit_dialog_on_request(&d, M(S_FREE), B(S_FREE)),
                   SIPKIT_DIALOG_DROP);
  /* CANCEL with the current number: handled, not a reordering */
  edit2(7, INFO, "INFO sip:", "CANCEL sip:", "CSeq: 314160 INFO",
        "CSeq: 314160 CANCEL");
  assert_int_equal(sipkit_dialog_on_request(&d, M(7), B(7)),
                   SIPKIT_DIALOG_ACCEPT);
  /* higher: accepted */
  edit(S_FREE, INFO, "CSeq: 314160", "CSeq: 314170");
  assert_int_equal(sipkit_dialog_on_request(&d, M(S_FREE), B(S_FREE)),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(d.remote_cseq, 314170);

  /* local CSeq: +1 per new request, ACK/CANCEL refused */
  uint32_t c = 0;
  assert_int_equal(sipkit_dialog_next_cseq(&d, SIPKIT_METHOD_INFO, &c),
                   SIPKIT_EOK);
  assert_int_equal(c, 1);
  assert_int_equal(sipkit_dialog_next_cseq(&d, SIPKIT_METHOD_BYE, &c),
                   SIPKIT_EOK);
  assert_int_equal(c, 2);
  assert_int_equal(d.local_cseq, 2);
  assert_int_equal(sipkit_dialog_next_cseq(&d, SIPKIT_METHOD_ACK, &c),
                   SIPKIT_EARGUMENT);
  d.local_cseq = 0x7fffffffu;
  assert_int_equal(sipkit_dialog_next_cseq(&d, SIPKIT_METHOD_INFO, &c),
                   SIPKIT_ENUMBER_RANGE);
  sipkit_dialog_free(&d);
}

static void test_reinvite_glare_491(void **state) {
  (void)state;
  sipkit_dialog d;
  uint32_t c;
  uac_confirmed(&d); /* Alice */
  /* Alice sends a re-INVITE */
  assert_int_equal(sipkit_dialog_next_cseq(&d, SIPKIT_METHOD_INVITE, &c),
                   SIPKIT_EOK);
  assert_int_equal(c, 314160);
  assert_int_equal(d.local_invite_pending, 1);
  /* a second one before the answer is refused locally */
  assert_int_equal(sipkit_dialog_next_cseq(&d, SIPKIT_METHOD_INVITE, &c),
                   SIPKIT_EARGUMENT);
  /* Bob's re-INVITE crosses it: 491, nothing changes */
  edit2(8, BYE, "BYE sip:", "INVITE sip:", "CSeq: 231 BYE",
        "CSeq: 232 INVITE");
  assert_int_equal(sipkit_dialog_on_request(&d, M(8), B(8)),
                   SIPKIT_DIALOG_REJECT_491);
  assert_int_equal(d.remote_cseq_set, 0);
  /* the 200 to Alice's re-INVITE: ACK with its CSeq, no longer pending */
  edit(9, R200, "CSeq: 314159", "CSeq: 314160");
  assert_int_equal(sipkit_dialog_on_response(&d, M(9), B(9)),
                   SIPKIT_DIALOG_SEND_ACK);
  assert_int_equal(d.local_invite_pending, 0);
  assert_int_equal(sipkit_dialog_ack_cseq(&d), 314160);
  /* Bob's retried re-INVITE is accepted now */
  assert_int_equal(sipkit_dialog_on_request(&d, M(8), B(8)),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(d.remote_cseq, 232);
  assert_int_equal(d.remote_invite_pending, 1);
  /* another INVITE before Alice answers the first: 500 (§14.2) */
  edit(10, 8, "CSeq: 232", "CSeq: 233");
  assert_int_equal(sipkit_dialog_on_request(&d, M(10), B(10)),
                   SIPKIT_DIALOG_REJECT_500);
  sipkit_dialog_invite_answered(&d);
  assert_int_equal(sipkit_dialog_on_request(&d, M(10), B(10)),
                   SIPKIT_DIALOG_ACCEPT);
  /* a failed re-INVITE keeps the dialog */
  assert_int_equal(sipkit_dialog_next_cseq(&d, SIPKIT_METHOD_INVITE, &c),
                   SIPKIT_EOK);
  assert_int_equal(c, 314161);
  edit(9, R200, "CSeq: 314159", "CSeq: 314161");
  edit(9, 9, "SIP/2.0 200 OK", "SIP/2.0 491 Request Pending");
  assert_int_equal(sipkit_dialog_on_response(&d, M(9), B(9)),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(d.state, SIPKIT_DIALOG_CONFIRMED);
  assert_int_equal(d.local_invite_pending, 0);
  sipkit_dialog_free(&d);
}

static void test_forking(void **state) {
  (void)state;
  sipkit_dialog ds[3];
  long idx;
  memset(ds, 0, sizeof ds);
  uac_confirmed(&ds[0]);
  /* a second 200 from another branch of the fork */
  edit(11, R200, "tag=a6c85cf", "tag=b7d96e0");
  edit(11, 11, "Contact: <sip:bob@192.0.2.4:5060", "Contact: <sip:bob@192.0.2.5:5060");
  assert_int_equal(sipkit_dialog_find(ds, 3, M(11), B(11), &idx),
                   SIPKIT_DIALOG_EXTRA_2XX);
  assert_int_equal(idx, 0); /* its confirmed sibling */
  assert_int_equal(sipkit_dialog_uac_create(&ds[1], M(INVITE), B(INVITE),
                                            M(11), B(11)), SIPKIT_EOK);
  /* two dialogs with different ids */
  assert_int_equal(ds[1].state, SIPKIT_DIALOG_CONFIRMED);
  ASSERT_FIELD(&ds[0], remote_tag, "a6c85cf");
  ASSERT_FIELD(&ds[1], remote_tag, "b7d96e0");
  ASSERT_FIELD(&ds[1], remote_target, "sip:bob@192.0.2.5:5060;transport=udp");
  ASSERT_FIELD(&ds[1], local_tag, "1928301774");
  assert_int_equal(sipkit_dialog_find(ds, 3, M(R200), B(R200), &idx),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(idx, 0);
  assert_int_equal(sipkit_dialog_find(ds, 3, M(11), B(11), &idx),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(idx, 1);
  /* the extra one gets its ACK and a BYE; its final response ends it */
  sipkit_builder b;
  char out[2048];
  sipkit_dialog_view v;
  sipkit_str routes[SIPKIT_DIALOG_MAX_ROUTES];
  sipkit_str via = {"SIP/2.0/UDP 192.0.2.101:5060", 28}, br = {NULL, 0};
  sipkit_str bye = {"BYE", 3};
  uint32_t c;
  assert_int_equal(sipkit_dialog_next_cseq(&ds[1], SIPKIT_METHOD_BYE, &c),
                   SIPKIT_EOK);
  assert_int_equal(c, 314160);
  sipkit_dialog_view_fill(&ds[1], &v, routes);
  sipkit_builder_init(&b, out, sizeof out);
  assert_int_equal(sipkit_build_in_dialog(&b, &v, bye, c, via, br), SIPKIT_EOK);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
  assert_non_null(strstr(out, "To: <sip:bob@biloxi.example.com>;tag=b7d96e0\r\n"));
  edit(12, 11, "CSeq: 314159 INVITE", "CSeq: 314160 BYE");
  assert_int_equal(sipkit_dialog_on_response(&ds[1], M(12), B(12)),
                   SIPKIT_DIALOG_ENDED);
  assert_int_equal(ds[1].state, SIPKIT_DIALOG_TERMINATED);
  assert_int_equal(ds[0].state, SIPKIT_DIALOG_CONFIRMED);

  /* two 180 with different tags: two early dialogs (NEW_FORK) */
  sipkit_dialog_free(&ds[0]);
  sipkit_dialog_free(&ds[1]);
  assert_int_equal(sipkit_dialog_uac_create(&ds[0], M(INVITE), B(INVITE),
                                            M(R180), B(R180)), SIPKIT_EOK);
  edit(13, R180, "tag=a6c85cf", "tag=c8e07f1");
  assert_int_equal(sipkit_dialog_find(ds, 3, M(13), B(13), &idx),
                   SIPKIT_DIALOG_NEW_FORK);
  assert_int_equal(idx, 0);
  assert_int_equal(sipkit_dialog_uac_create(&ds[1], M(INVITE), B(INVITE),
                                            M(13), B(13)), SIPKIT_EOK);
  assert_int_equal(ds[1].state, SIPKIT_DIALOG_EARLY);
  /* a 486 (with either tag or another) ends both early dialogs */
  edit(14, 13, "SIP/2.0 180 Ringing", "SIP/2.0 486 Busy Here");
  sipkit_dialog copy[3];
  memcpy(copy, ds, sizeof ds);
  assert_int_equal(sipkit_dialog_on_response(&ds[0], M(14), B(14)),
                   SIPKIT_DIALOG_ENDED);
  assert_int_equal(sipkit_dialog_on_response(&ds[1], M(14), B(14)),
                   SIPKIT_DIALOG_ENDED);
  assert_int_equal(sipkit_dialog_end_early(copy, 3, M(14), B(14)), 2);
  assert_int_equal(copy[0].state, SIPKIT_DIALOG_TERMINATED);
  assert_int_equal(copy[1].state, SIPKIT_DIALOG_TERMINATED);
  assert_int_equal(copy[2].state, SIPKIT_DIALOG_NULL);
  assert_int_equal(sipkit_dialog_end_early(copy, 3, M(14), B(14)), 0);
  /* a 2xx ends nothing */
  assert_int_equal(sipkit_dialog_end_early(ds, 3, M(R200), B(R200)), 0);
  sipkit_dialog_free(&ds[0]); /* copy[] shares their strings */
  sipkit_dialog_free(&ds[1]);
}

/* Two dialogs hold the same values (their blocks differ). */
static void assert_same_dialog(const sipkit_dialog *a, const sipkit_dialog *b) {
  assert_int_equal(a->state, b->state);
  assert_int_equal(a->role, b->role);
  assert_int_equal(a->secure, b->secure);
  assert_int_equal(a->local_invite_pending, b->local_invite_pending);
  assert_int_equal(a->remote_invite_pending, b->remote_invite_pending);
  assert_int_equal(a->remote_cseq_set, b->remote_cseq_set);
  assert_int_equal(a->local_cseq, b->local_cseq);
  assert_int_equal(a->remote_cseq, b->remote_cseq);
  assert_int_equal(a->local_invite_cseq, b->local_invite_cseq);
  assert_int_equal(a->remote_invite_cseq, b->remote_invite_cseq);
  const char *as[6] = {a->call_id, a->local_tag, a->remote_tag,
                       a->local_uri, a->remote_uri, a->remote_target};
  const char *bs[6] = {b->call_id, b->local_tag, b->remote_tag,
                       b->local_uri, b->remote_uri, b->remote_target};
  for (int i = 0; i < 6; i++)
    assert_string_equal(as[i], bs[i]);
  assert_int_equal(a->route_count, b->route_count);
  for (uint32_t i = 0; i < a->route_count; i++)
    assert_route(a, i, sipkit_dialog_route(b, i, NULL));
}

/* §13.2.2.4 without the INVITE: a fork's dialog made from a sibling
 * equals the one made from the request, whatever became of the sibling. */
static void test_uac_fork(void **state) {
  (void)state;
  sipkit_dialog sib, want, got;
  edit(S_FREE, INVITE, "INVITE sip:bob@", "INVITE sips:bob@");
  assert_int_equal(sipkit_dialog_uac_create(&sib, M(S_FREE), B(S_FREE), M(R180),
                                            B(R180)), SIPKIT_EOK);
  /* another branch's 200 with its own tag, target and one Record-Route */
  static const char *const fork200[] = {
      "tag=a6c85cf", "tag=b7d96e0",
      "Contact: <sip:bob@192.0.2.4:5060", "Contact: <sip:bob@192.0.2.5:5060",
      "Record-Route: <sip:proxy.biloxi.example.com;lr>\r\n", "", NULL};
  editn(11, R200, fork200);
  assert_int_equal(sipkit_dialog_uac_create(&want, M(S_FREE), B(S_FREE), M(11), B(11)),
                   SIPKIT_EOK);
  /* the sibling went on: a BYE took the next CSeq and ended it */
  uint32_t c;
  assert_int_equal(sipkit_dialog_next_cseq(&sib, SIPKIT_METHOD_BYE, &c), SIPKIT_EOK);
  sib.state = SIPKIT_DIALOG_TERMINATED;
  assert_int_equal(sipkit_dialog_uac_fork(&got, &sib, 314159, M(11), B(11)), SIPKIT_EOK);
  assert_same_dialog(&got, &want);
  assert_int_equal(got.state, SIPKIT_DIALOG_CONFIRMED);
  assert_int_equal(got.secure, 1);
  assert_int_equal(got.local_cseq, 314159);
  assert_int_equal(got.route_count, 1);
  ASSERT_FIELD(&got, remote_target, "sip:bob@192.0.2.5:5060;transport=udp");
  sipkit_dialog_free(&got);
  sipkit_dialog_free(&want);
  /* a fork's 180: early, our INVITE still pending */
  edit(12, R180, "tag=a6c85cf", "tag=c8e07f1");
  assert_int_equal(sipkit_dialog_uac_create(&want, M(S_FREE), B(S_FREE), M(12), B(12)),
                   SIPKIT_EOK);
  assert_int_equal(sipkit_dialog_uac_fork(&got, &sib, 314159, M(12), B(12)), SIPKIT_EOK);
  assert_same_dialog(&got, &want);
  assert_int_equal(got.state, SIPKIT_DIALOG_EARLY);
  assert_int_equal(got.local_invite_pending, 1);
  sipkit_dialog_free(&got);
  sipkit_dialog_free(&want);
  /* refused, as sipkit_dialog_uac_create refuses, and d left NULL */
  struct {
    int slot;
    const char *from, *to;
    int want;
  } bad[] = {
      {13, "CSeq: 314159 INVITE", "CSeq: 314158 INVITE", SIPKIT_EARGUMENT}, /* other INVITE */
      {13, "Call-ID: a84b4c76e66710", "Call-ID: b84b4c76e66710", SIPKIT_EARGUMENT},
      {13, "tag=1928301774", "tag=1928301775", SIPKIT_EARGUMENT}, /* other From tag */
      {13, "SIP/2.0 200 OK", "SIP/2.0 486 Busy Here", SIPKIT_EARGUMENT},
      {13, "SIP/2.0 200 OK", "SIP/2.0 100 Trying", SIPKIT_EARGUMENT},
      {13, ";tag=b7d96e0", "", SIPKIT_EARGUMENT}, /* no To tag */
      {13, "Contact: <sip:bob@192.0.2.5:5060;transport=udp>\r\n", "", SIPKIT_EMISSING_HEADER},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    edit(bad[i].slot, 11, bad[i].from, bad[i].to);
    memset(&got, 0xff, sizeof got);
    assert_int_equal(sipkit_dialog_uac_fork(&got, &sib, 314159, M(bad[i].slot), B(bad[i].slot)),
                     bad[i].want);
    assert_int_equal(got.state, SIPKIT_DIALOG_NULL);
    assert_null(got.mem_);
  }
  assert_int_equal(sipkit_dialog_uac_fork(&got, &sib, 314160, M(11), B(11)), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_dialog_uac_fork(&got, NULL, 314159, M(11), B(11)), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_dialog_uac_fork(NULL, &sib, 314159, M(11), B(11)), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_dialog_uac_fork(&got, &sib, 314159, M(11), NULL), SIPKIT_EARGUMENT);
  /* a UAS dialog is no sibling of a fork */
  sipkit_dialog uas;
  uas_confirmed(&uas, 14);
  assert_int_equal(sipkit_dialog_uac_fork(&got, &uas, 314159, M(11), B(11)), SIPKIT_EARGUMENT);
  sipkit_dialog_free(&uas);
  sipkit_dialog_free(&sib);
}

/* §12.1.1: a sips: Request-URI sets the secure flag. */
static void test_secure_flag(void **state) {
  (void)state;
  sipkit_dialog d;
  sipkit_str tag = {"a6c85cf", 7};
  edit(S_FREE, INVITE, "INVITE sip:bob@", "INVITE sips:bob@");
  assert_int_equal(sipkit_dialog_uas_create(&d, M(S_FREE), B(S_FREE), 200, tag),
                   SIPKIT_EOK);
  assert_int_equal(d.secure, 1);
  sipkit_dialog_free(&d);
  assert_int_equal(sipkit_dialog_uac_create(&d, M(S_FREE), B(S_FREE), M(R200),
                                            B(R200)), SIPKIT_EOK);
  assert_int_equal(d.secure, 1);
  sipkit_dialog_free(&d);
}

/* Edits of INFO into a re-INVITE from another Contact. */
static const char *const REINVITE[] = {
    "INFO sip:", "INVITE sip:",
    "CSeq: 314160 INFO", "CSeq: 314160 INVITE",
    "Contact: <sip:alice@192.0.2.101:5060", "Contact: <sip:alice@198.51.100.7:5070",
    NULL};

/* Target refresh (§12.2): a re-INVITE's Contact replaces the remote
 * target; a 2xx to our INVITE recomputes an early dialog's route set. */
static void test_target_refresh_and_route_recompute(void **state) {
  (void)state;
  sipkit_dialog d;
  uas_confirmed(&d, 6);
  editn(S_FREE, INFO, REINVITE);
  assert_int_equal(sipkit_dialog_on_request(&d, M(S_FREE), B(S_FREE)),
                   SIPKIT_DIALOG_ACCEPT);
  ASSERT_FIELD(&d, remote_target, "sip:alice@198.51.100.7:5070;transport=udp");
  assert_int_equal(d.remote_invite_cseq, 314160);
  /* INFO is no target refresh: its Contact changes nothing */
  static const char *const info[] = {
      "CSeq: 314160", "CSeq: 314161",
      "Contact: <sip:alice@192.0.2.101:5060", "Contact: <sip:alice@192.0.2.99:5060",
      NULL};
  editn(S_FREE, INFO, info);
  assert_int_equal(sipkit_dialog_on_request(&d, M(S_FREE), B(S_FREE)),
                   SIPKIT_DIALOG_ACCEPT);
  ASSERT_FIELD(&d, remote_target, "sip:alice@198.51.100.7:5070;transport=udp");

  /* early dialog with two routes; the 2xx carries one Record-Route */
  sipkit_dialog_free(&d);
  assert_int_equal(sipkit_dialog_uac_create(&d, M(INVITE), B(INVITE), M(R180),
                                            B(R180)), SIPKIT_EOK);
  assert_int_equal(d.route_count, 2);
  edit(S_FREE, R200, "Record-Route: <sip:proxy.biloxi.example.com;lr>\r\n", "");
  assert_int_equal(sipkit_dialog_on_response(&d, M(S_FREE), B(S_FREE)),
                   SIPKIT_DIALOG_SEND_ACK);
  assert_int_equal(d.route_count, 1);
  assert_route(&d, 0, RR_ATL);
  sipkit_dialog_free(&d);

  /* the 2xx repeats the early dialog's routes and target: the block
   * stays, as for its retransmission */
  assert_int_equal(sipkit_dialog_uac_create(&d, M(INVITE), B(INVITE), M(R180),
                                            B(R180)), SIPKIT_EOK);
  const char *mem = d.mem_;
  for (int i = 0; i < 2; i++) {
    assert_int_equal(sipkit_dialog_on_response(&d, M(R200), B(R200)),
                     SIPKIT_DIALOG_SEND_ACK);
    assert_ptr_equal(d.mem_, mem);
    assert_int_equal(d.state, SIPKIT_DIALOG_CONFIRMED);
    assert_int_equal(d.route_count, 2);
    assert_route(&d, 0, RR_ATL);
    ASSERT_FIELD(&d, remote_target, "sip:bob@192.0.2.4:5060;transport=udp");
  }
  sipkit_dialog_free(&d);
}

/* The strings live in one block the dialog owns: NUL-terminated, moved
 * to a new block by a target refresh (hence valid until the dialog's
 * next message), released with the dialog zeroed by sipkit_dialog_free. */
static void test_strings_block(void **state) {
  (void)state;
  sipkit_dialog d;
  uas_confirmed(&d, 6);
  assert_int_equal(d.call_id[d.call_id_len], 0);
  assert_string_equal(d.call_id, CALL_ID);
  assert_string_equal(d.local_tag, "a6c85cf");
  assert_string_equal(d.remote_target, "sip:alice@192.0.2.101:5060;transport=udp");
  assert_route(&d, 0, RR_BIL);
  assert_route(&d, 1, RR_ATL);
  assert_null(sipkit_dialog_route(&d, 2, NULL));
  size_t n = 1;
  assert_null(sipkit_dialog_route(&d, 2, &n));
  assert_int_equal(n, 0);
  assert_null(sipkit_dialog_route(NULL, 0, NULL));
  assert_non_null(d.mem_);
  const char *target = d.remote_target, *mem = d.mem_;
  /* a re-INVITE with another Contact: a new block, the rest copied over */
  editn(S_FREE, INFO, REINVITE);
  assert_int_equal(sipkit_dialog_on_request(&d, M(S_FREE), B(S_FREE)),
                   SIPKIT_DIALOG_ACCEPT);
  assert_ptr_not_equal(d.remote_target, target);
  assert_ptr_not_equal(d.mem_, mem);
  /* a rejected request (INFO with the same CSeq: 500) keeps the block */
  mem = d.mem_;
  assert_int_equal(sipkit_dialog_on_request(&d, M(INFO), B(INFO)),
                   SIPKIT_DIALOG_REJECT_500);
  assert_ptr_equal(d.mem_, mem);
  assert_string_equal(d.remote_target, "sip:alice@198.51.100.7:5070;transport=udp");
  assert_string_equal(d.call_id, CALL_ID);
  assert_string_equal(d.remote_tag, "1928301774");
  assert_string_equal(d.local_uri, "sip:bob@biloxi.example.com");
  assert_string_equal(d.remote_uri, "sip:alice@atlanta.example.com");
  assert_int_equal(d.route_count, 2);
  assert_route(&d, 1, RR_ATL);
  /* a re-INVITE with the same Contact: nothing to refresh, same block */
  static const char *const again[] = {
      "INFO sip:", "INVITE sip:",
      "CSeq: 314160 INFO", "CSeq: 314161 INVITE",
      "Contact: <sip:alice@192.0.2.101:5060", "Contact: <sip:alice@198.51.100.7:5070",
      NULL};
  editn(S_FREE, INFO, again);
  sipkit_dialog_invite_answered(&d);
  assert_int_equal(sipkit_dialog_on_request(&d, M(S_FREE), B(S_FREE)),
                   SIPKIT_DIALOG_ACCEPT);
  assert_ptr_equal(d.mem_, mem);
  assert_int_equal(d.remote_invite_cseq, 314161);
  sipkit_dialog_free(&d);
  assert_int_equal(d.state, SIPKIT_DIALOG_NULL);
  assert_null(d.call_id);
  assert_null(d.remote_target);
  assert_null(d.mem_);
  assert_int_equal(d.route_count, 0);
  assert_int_equal(d.call_id_len, 0);
  sipkit_dialog_free(&d); /* a zeroed dialog is accepted */
  assert_null(d.mem_);
}

/* A strict router in the route set (no ;lr): the BYE goes to it as the
 * Request-URI and the remote target is the last Route (§12.2.1.1). */
static void test_strict_route_bye(void **state) {
  (void)state;
  sipkit_dialog d;
  edit(S_FREE, R200, "<sip:proxy.atlanta.example.com;lr>",
       "<sip:proxy.atlanta.example.com>");
  assert_int_equal(sipkit_dialog_uac_create(&d, M(INVITE), B(INVITE), M(S_FREE),
                                            B(S_FREE)), SIPKIT_EOK);
  assert_route(&d, 0, "<sip:proxy.atlanta.example.com>");
  sipkit_dialog_view v;
  sipkit_str routes[SIPKIT_DIALOG_MAX_ROUTES];
  uint32_t c;
  assert_int_equal(sipkit_dialog_next_cseq(&d, SIPKIT_METHOD_BYE, &c), SIPKIT_EOK);
  sipkit_dialog_view_fill(&d, &v, routes);
  sipkit_builder b;
  char out[2048];
  sipkit_header hs[64];
  sipkit_msg m;
  sipkit_str bye = {"BYE", 3}, via = {"SIP/2.0/UDP 192.0.2.101:5060", 28},
             br = {"z9hG4bKs1", 9};
  sipkit_builder_init(&b, out, sizeof out);
  assert_int_equal(sipkit_build_in_dialog(&b, &v, bye, c, via, br), SIPKIT_EOK);
  sipkit_msg_init(&m, hs, 64);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, &m), SIPKIT_EOK);
  ASSERT_SPAN(out, m.request_uri, "sip:proxy.atlanta.example.com");
  const sipkit_header *h = sipkit_msg_header(&m, SIPKIT_HDR_ROUTE);
  assert_non_null(h);
  ASSERT_SPAN(out, h->value, RR_BIL);
  h = sipkit_msg_header_next(&m, h);
  assert_non_null(h);
  ASSERT_SPAN(out, h->value, "<sip:bob@192.0.2.4:5060;transport=udp>");
  assert_null(sipkit_msg_header_next(&m, h));
  sipkit_dialog_free(&d);
}

/* The headers with id of msg, in order, must be exactly want[0..n). */
static void assert_headers(const sipkit_msg *m, const char *buf, int id,
                           const char *const *want, size_t n) {
  size_t i = 0;
  for (const sipkit_header *h = sipkit_msg_header(m, id); h;
       h = sipkit_msg_header_next(m, h), i++) {
    assert_true(i < n);
    ASSERT_SPAN(buf, h->value, want[i]);
  }
  assert_int_equal(i, n);
}

static void test_build_bye_ack_in_dialog(void **state) {
  (void)state;
  sipkit_dialog alice, bob;
  uac_confirmed(&alice);
  uas_confirmed(&bob, 6);
  sipkit_dialog_view v;
  sipkit_str routes[SIPKIT_DIALOG_MAX_ROUTES];
  sipkit_builder b;
  char out[2048];
  sipkit_header hs[64];
  sipkit_msg m;
  sipkit_str via = {"SIP/2.0/UDP 192.0.2.101:5060", 28};
  sipkit_str br = {"z9hG4bKdlg1", 11};

  /* ACK for the 2xx (§13.2.2.4): as corpus 05 */
  sipkit_dialog_view_fill(&alice, &v, routes);
  sipkit_builder_init(&b, out, sizeof out);
  sipkit_str ack = {"ACK", 3};
  assert_int_equal(sipkit_build_in_dialog(&b, &v, ack,
                                          sipkit_dialog_ack_cseq(&alice), via, br),
                   SIPKIT_EOK);
  sipkit_msg_init(&m, hs, 64);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, &m), SIPKIT_EOK);
  ASSERT_SPAN(out, m.request_uri, "sip:bob@192.0.2.4:5060;transport=udp");
  const char *const uac_routes[] = {RR_ATL, RR_BIL};
  assert_headers(&m, out, SIPKIT_HDR_ROUTE, uac_routes, 2);
  assert_int_equal(m.cseq->num, 314159);
  assert_int_equal(m.cseq->method, SIPKIT_METHOD_ACK);
  /* Bob's dialog accepts it */
  assert_int_equal(sipkit_dialog_on_request(&bob, &m, out), SIPKIT_DIALOG_ACCEPT);

  /* Alice's BYE */
  uint32_t c;
  assert_int_equal(sipkit_dialog_next_cseq(&alice, SIPKIT_METHOD_BYE, &c),
                   SIPKIT_EOK);
  sipkit_dialog_view_fill(&alice, &v, routes);
  assert_int_equal(v.local_cseq, 314160);
  sipkit_builder_init(&b, out, sizeof out);
  sipkit_str bye = {"BYE", 3};
  assert_int_equal(sipkit_build_in_dialog(&b, &v, bye, c, via, br), SIPKIT_EOK);
  sipkit_msg_init(&m, hs, 64);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, &m), SIPKIT_EOK);
  assert_int_equal(m.method, SIPKIT_METHOD_BYE);
  ASSERT_SPAN(out, m.request_uri, "sip:bob@192.0.2.4:5060;transport=udp");
  assert_headers(&m, out, SIPKIT_HDR_ROUTE, uac_routes, 2);
  assert_int_equal(m.cseq->num, 314160);
  assert_int_equal(m.cseq->method, SIPKIT_METHOD_BYE);
  ASSERT_SPAN(out, m.from->tag, "1928301774");
  ASSERT_SPAN(out, m.to->tag, "a6c85cf");
  ASSERT_SPAN(out, m.from->uri.all, "sip:alice@atlanta.example.com");
  ASSERT_SPAN(out, m.to->uri.all, "sip:bob@biloxi.example.com");
  ASSERT_SPAN(out, m.call_id, CALL_ID);
  ASSERT_SPAN(out, m.via->branch, "z9hG4bKdlg1");
  /* it reaches Bob's dialog and ends it */
  long idx;
  assert_int_equal(sipkit_dialog_find(&bob, 1, &m, out, &idx),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(sipkit_dialog_on_request(&bob, &m, out), SIPKIT_DIALOG_ENDED);
  assert_int_equal(bob.state, SIPKIT_DIALOG_TERMINATED);

  /* Bob's BYE from his (UAS) dialog: as corpus 06 */
  sipkit_dialog_free(&bob);
  uas_confirmed(&bob, 6);
  bob.local_cseq = 230;
  assert_int_equal(sipkit_dialog_next_cseq(&bob, SIPKIT_METHOD_BYE, &c),
                   SIPKIT_EOK);
  assert_int_equal(c, 231);
  sipkit_dialog_view_fill(&bob, &v, routes);
  sipkit_builder_init(&b, out, sizeof out);
  sipkit_str bvia = {"SIP/2.0/UDP 192.0.2.4:5060", 26};
  assert_int_equal(sipkit_build_in_dialog(&b, &v, bye, c, bvia, br), SIPKIT_EOK);
  sipkit_msg_init(&m, hs, 64);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, &m), SIPKIT_EOK);
  ASSERT_SPAN(out, m.request_uri, "sip:alice@192.0.2.101:5060;transport=udp");
  const char *const uas_routes[] = {RR_BIL, RR_ATL};
  assert_headers(&m, out, SIPKIT_HDR_ROUTE, uas_routes, 2);
  assert_int_equal(m.cseq->num, 231);
  ASSERT_SPAN(out, m.from->tag, "a6c85cf");
  ASSERT_SPAN(out, m.to->tag, "1928301774");
  /* Alice's dialog takes it like corpus 06 */
  assert_int_equal(sipkit_dialog_on_request(&alice, &m, out), SIPKIT_DIALOG_ENDED);
  sipkit_dialog_free(&alice);
  sipkit_dialog_free(&bob);
}

/* §13.3.1.4 with T1 500, T2 4000: 2xx again at 500, 1500, 3500, 7500,
 * 11500, ... 31500; no ACK by 32000: BYE. */
static void test_uas_2xx_retransmission(void **state) {
  (void)state;
  sipkit_dialog d;
  uint64_t next;
  sipkit_str tag = {"a6c85cf", 7};
  invite_with_rr(6);
  assert_int_equal(sipkit_dialog_uas_create(&d, M(6), B(6), 180, tag),
                   SIPKIT_EOK);
  assert_int_equal(d.remote_invite_pending, 1);
  assert_int_equal(sipkit_dialog_on_timer(&d, 0, &next), SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(next, 0);
  sipkit_dialog_uas_2xx_sent(&d, 1000, 0, 0);
  assert_int_equal(d.remote_invite_pending, 0);
  const uint64_t want[] = {500, 1500, 3500, 7500, 11500, 15500, 19500,
                           23500, 27500, 31500};
  uint64_t now = 1000;
  assert_int_equal(sipkit_dialog_on_timer(&d, now, &next), SIPKIT_DIALOG_ACCEPT);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    assert_int_equal(next, 1000 + want[i]);
    assert_int_equal(sipkit_dialog_on_timer(&d, next - 1, NULL),
                     SIPKIT_DIALOG_ACCEPT);
    assert_int_equal(sipkit_dialog_on_timer(&d, next, &next),
                     SIPKIT_DIALOG_RESEND_2XX);
  }
  assert_int_equal(next, 1000 + 32000); /* the give-up deadline */
  assert_int_equal(sipkit_dialog_on_timer(&d, next, &next), SIPKIT_DIALOG_NO_ACK);
  assert_int_equal(next, 0);
  assert_int_equal(sipkit_dialog_on_timer(&d, 99999, &next), SIPKIT_DIALOG_ACCEPT);

  /* the ACK stops it */
  sipkit_dialog_uas_2xx_sent(&d, 0, 0, 0);
  assert_int_equal(sipkit_dialog_on_timer(&d, 500, &next),
                   SIPKIT_DIALOG_RESEND_2XX);
  assert_int_equal(sipkit_dialog_on_request(&d, M(ACK), B(ACK)),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(sipkit_dialog_on_timer(&d, 1500, &next), SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(next, 0);
  sipkit_dialog_free(&d);
}

/* ------------------------------------------------------------------ */
/* Coverage of the remaining paths: names, ids, arguments, bounds        */

static void test_state_names_and_id_of(void **state) {
  (void)state;
  static const struct { int st; const char *name; } t[] = {
      {SIPKIT_DIALOG_NULL, "NULL"},       {SIPKIT_DIALOG_EARLY, "EARLY"},
      {SIPKIT_DIALOG_CONFIRMED, "CONFIRMED"},
      {SIPKIT_DIALOG_TERMINATED, "TERMINATED"},
      {-1, ""}, {4, ""}, {1000, ""},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    assert_string_equal(sipkit_dialog_state_name(t[i].st), t[i].name);

  sipkit_dialog d;
  sipkit_dialog_id id;
  uac_confirmed(&d);
  sipkit_dialog_id_of(&id, &d);
  assert_ptr_equal(id.call_id.p, d.call_id);
  assert_ptr_equal(id.local_tag.p, d.local_tag);
  assert_ptr_equal(id.remote_tag.p, d.remote_tag);
  assert_bytes(id.call_id.p, id.call_id.len, CALL_ID);
  assert_bytes(id.local_tag.p, id.local_tag.len, "1928301774");
  assert_bytes(id.remote_tag.p, id.remote_tag.len, "a6c85cf");
  assert_true(sipkit_dialog_match(&d, &id));
  /* the id of the 200 (a response: local = From tag) is the same */
  sipkit_dialog_id rid;
  assert_int_equal(sipkit_dialog_id_of_msg(&rid, M(R200), B(R200)), SIPKIT_EOK);
  assert_bytes(rid.local_tag.p, rid.local_tag.len, "1928301774");
  assert_bytes(rid.remote_tag.p, rid.remote_tag.len, "a6c85cf");
  assert_true(sipkit_dialog_match(&d, &rid));
  /* each field differing on its own: no match */
  static const struct { int field; const char *v; } mism[] = {
      {0, "a84b4c76e66710@pc33.atlanta.example.coX"},
      {0, "a84b"},
      {1, "1928301775"},
      {1, ""},
      {2, "a6c85cX"},
      {2, ""},
  };
  for (size_t i = 0; i < sizeof mism / sizeof mism[0]; i++) {
    sipkit_dialog_id x = id;
    sipkit_str s = {mism[i].v, strlen(mism[i].v)};
    if (mism[i].field == 0)
      x.call_id = s;
    else if (mism[i].field == 1)
      x.local_tag = s;
    else
      x.remote_tag = s;
    assert_false(sipkit_dialog_match(&d, &x));
  }
  /* NULL arguments and dead dialogs match nothing */
  assert_false(sipkit_dialog_match(NULL, &id));
  assert_false(sipkit_dialog_match(&d, NULL));
  static const int dead[] = {SIPKIT_DIALOG_NULL, SIPKIT_DIALOG_TERMINATED, 7};
  for (size_t i = 0; i < sizeof dead / sizeof dead[0]; i++) {
    sipkit_dialog e = d;
    e.state = dead[i];
    assert_false(sipkit_dialog_match(&e, &id));
  }
  sipkit_dialog e = d;
  e.state = SIPKIT_DIALOG_EARLY;
  assert_true(sipkit_dialog_match(&e, &id));
  sipkit_dialog_free(&d); /* e shares its strings */
}

static void test_id_of_msg_arguments(void **state) {
  (void)state;
  sipkit_dialog_id id;
  assert_int_equal(sipkit_dialog_id_of_msg(NULL, M(INFO), B(INFO)), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_dialog_id_of_msg(&id, NULL, B(INFO)), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_dialog_id_of_msg(&id, M(INFO), NULL), SIPKIT_EARGUMENT);
  for (int k = 0; k < 3; k++) {
    sipkit_msg m = *M(INFO);
    if (k == 0)
      m.from = NULL;
    else if (k == 1)
      m.to = NULL;
    else
      m.call_id.len = 0;
    assert_int_equal(sipkit_dialog_id_of_msg(&id, &m, B(INFO)), SIPKIT_EARGUMENT);
  }
  /* a request without To tag gives an empty local tag */
  assert_int_equal(sipkit_dialog_id_of_msg(&id, M(INVITE), B(INVITE)), SIPKIT_EOK);
  assert_int_equal(id.local_tag.len, 0);
  assert_bytes(id.remote_tag.p, id.remote_tag.len, "1928301774");
}

/* Every entry point with NULL or unusable arguments. */
static void test_invalid_arguments(void **state) {
  (void)state;
  sipkit_dialog d, live_d;
  sipkit_str tag = {"a6c85cf", 7}, notag = {"", 0};
  long idx = 99;
  uac_confirmed(&live_d);

  /* uac_create: refused, d left NULL */
  assert_int_equal(sipkit_dialog_uac_create(NULL, M(INVITE), B(INVITE), M(R200),
                                            B(R200)), SIPKIT_EARGUMENT);
  edit(S_FREE, R200, "SIP/2.0 200 OK", "SIP/2.0 100 Trying");
  edit(7, R200, "SIP/2.0 200 OK", "SIP/2.0 486 Busy Here");
  edit(8, R200, "Call-ID: a84b", "Call-ID: b84b");
  edit(9, R200, ";tag=1928301774", ";tag=1928301775");
  edit(10, R200, "CSeq: 314159 INVITE", "CSeq: 314159 OPTIONS");
  edit(11, R200, "Call-ID: a84b4c76e66710@", "Call-ID: a84b4c76e66710x@");
  edit(12, R200, ";tag=1928301774", ";tag=19283017745");
  static const struct {
    int req, resp;   /* slots; -1 = NULL */
    int null_qbuf, null_rbuf;
  } uac[] = {
      {-1, R200, 0, 0},    {INVITE, -1, 0, 0},  {INVITE, R200, 1, 0},
      {INVITE, R200, 0, 1}, {R200, R200, 0, 0}, /* req is a response */
      {INVITE, INFO, 0, 0}, /* resp is a request (status 0 <= 100) */
      {INVITE, S_FREE, 0, 0}, {INVITE, 7, 0, 0}, {INVITE, 8, 0, 0},
      {INVITE, 9, 0, 0},   {INVITE, 10, 0, 0}, {INVITE, 11, 0, 0},
      {INVITE, 12, 0, 0},
  };
  for (size_t i = 0; i < sizeof uac / sizeof uac[0]; i++) {
    memset(&d, 0x5a, sizeof d);
    const sipkit_msg *q = uac[i].req < 0 ? NULL : M(uac[i].req);
    const sipkit_msg *r = uac[i].resp < 0 ? NULL : M(uac[i].resp);
    const char *qb = uac[i].null_qbuf || uac[i].req < 0 ? NULL : B(uac[i].req);
    const char *rb = uac[i].null_rbuf || uac[i].resp < 0 ? NULL : B(uac[i].resp);
    int rc = sipkit_dialog_uac_create(&d, q, qb, r, rb);
    if (rc != SIPKIT_EARGUMENT)
      print_error("uac case %zu: %d\n", i, rc);
    assert_int_equal(rc, SIPKIT_EARGUMENT);
    assert_int_equal(d.state, SIPKIT_DIALOG_NULL);
    assert_int_equal(d.call_id_len, 0);
  }
  /* a response missing From / To / CSeq / Call-ID */
  for (int k = 0; k < 4; k++) {
    sipkit_msg m = *M(R200);
    if (k == 0) m.from = NULL;
    if (k == 1) m.to = NULL;
    if (k == 2) m.cseq = NULL;
    if (k == 3) m.call_id.len = 0;
    assert_int_equal(sipkit_dialog_uac_create(&d, M(INVITE), B(INVITE), &m, B(R200)),
                     SIPKIT_EARGUMENT);
    assert_int_equal(sipkit_dialog_uas_create(&d, &m, B(R200), 200, tag),
                     SIPKIT_EARGUMENT);
    assert_int_equal(sipkit_dialog_on_response(&live_d, &m, B(R200)),
                     SIPKIT_DIALOG_NO_MATCH);
    assert_int_equal(sipkit_dialog_end_early(&live_d, 1, &m, B(R200)), 0);
  }

  /* uas_create */
  static const struct {
    int req; int null_buf; int status; int use_tag;
  } uas[] = {
      {-1, 0, 200, 1},     {INVITE, 1, 200, 1},  {R200, 0, 200, 1},
      {INVITE, 0, 100, 1}, {INVITE, 0, 300, 1},  {INVITE, 0, 0, 1},
      {INVITE, 0, 200, 0}, {INFO, 0, 200, 1},
  };
  for (size_t i = 0; i < sizeof uas / sizeof uas[0]; i++) {
    memset(&d, 0x5a, sizeof d);
    const sipkit_msg *q = uas[i].req < 0 ? NULL : M(uas[i].req);
    const char *qb = uas[i].null_buf || uas[i].req < 0 ? NULL : B(uas[i].req);
    int rc = sipkit_dialog_uas_create(&d, q, qb, uas[i].status,
                                      uas[i].use_tag ? tag : notag);
    if (rc != SIPKIT_EARGUMENT)
      print_error("uas case %zu: %d\n", i, rc);
    assert_int_equal(rc, SIPKIT_EARGUMENT);
    assert_int_equal(d.state, SIPKIT_DIALOG_NULL);
  }
  assert_int_equal(sipkit_dialog_uas_create(NULL, M(INVITE), B(INVITE), 200, tag),
                   SIPKIT_EARGUMENT);
  /* a local tag with a length but no bytes */
  sipkit_str badtag = {NULL, 3};
  assert_int_equal(sipkit_dialog_uas_create(&d, M(INVITE), B(INVITE), 200, badtag),
                   SIPKIT_EARGUMENT);
  assert_int_equal(d.state, SIPKIT_DIALOG_NULL);
  /* 101 is the lowest status that creates (early), 299 the highest */
  assert_int_equal(sipkit_dialog_uas_create(&d, M(INVITE), B(INVITE), 101, tag),
                   SIPKIT_EOK);
  assert_int_equal(d.state, SIPKIT_DIALOG_EARLY);
  sipkit_dialog_free(&d);
  assert_int_equal(sipkit_dialog_uas_create(&d, M(INVITE), B(INVITE), 299, tag),
                   SIPKIT_EOK);
  assert_int_equal(d.state, SIPKIT_DIALOG_CONFIRMED);
  sipkit_dialog_free(&d);
  /* a non-INVITE creating request (SUBSCRIBE): no INVITE bookkeeping */
  static const char *const sub[] = {"INVITE sip:", "SUBSCRIBE sip:",
                                    "CSeq: 314159 INVITE", "CSeq: 314159 SUBSCRIBE",
                                    NULL};
  editn(S_FREE, INVITE, sub);
  assert_int_equal(sipkit_dialog_uas_create(&d, M(S_FREE), B(S_FREE), 180, tag),
                   SIPKIT_EOK);
  assert_int_equal(d.remote_invite_cseq, 0);
  assert_int_equal(d.remote_invite_pending, 0);
  assert_int_equal(d.remote_cseq, 314159);
  assert_int_equal(d.state, SIPKIT_DIALOG_EARLY);

  /* find */
  assert_int_equal(sipkit_dialog_find(&live_d, 1, NULL, B(R200), &idx),
                   SIPKIT_DIALOG_NO_MATCH);
  assert_int_equal(idx, -1);
  idx = 99;
  assert_int_equal(sipkit_dialog_find(&live_d, 1, M(INFO), NULL, &idx),
                   SIPKIT_DIALOG_OUTSIDE);
  assert_int_equal(idx, -1);
  assert_int_equal(sipkit_dialog_find(&live_d, 1, M(R200), NULL, &idx),
                   SIPKIT_DIALOG_NO_MATCH);
  assert_int_equal(sipkit_dialog_find(NULL, 1, M(INFO), B(INFO), &idx),
                   SIPKIT_DIALOG_OUTSIDE);
  assert_int_equal(sipkit_dialog_find(NULL, 1, M(R200), B(R200), &idx),
                   SIPKIT_DIALOG_NO_MATCH);
  /* no dialogs at all (n 0, NULL array): 481 for a tagged request */
  assert_int_equal(sipkit_dialog_find(NULL, 0, M(INFO), B(INFO), &idx),
                   SIPKIT_DIALOG_REJECT_481);
  /* index may be NULL */
  assert_int_equal(sipkit_dialog_find(&live_d, 1, M(R200), B(R200), NULL),
                   SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(sipkit_dialog_find(&live_d, 1, M(INFO), B(INFO), NULL),
                   SIPKIT_DIALOG_REJECT_481);
  assert_int_equal(sipkit_dialog_find(&live_d, 1, M(INVITE), B(INVITE), NULL),
                   SIPKIT_DIALOG_OUTSIDE);

  /* on_request: 481 for no usable dialog or request */
  sipkit_dialog dead = live_d;
  dead.state = SIPKIT_DIALOG_TERMINATED;
  assert_int_equal(sipkit_dialog_on_request(NULL, M(BYE), B(BYE)),
                   SIPKIT_DIALOG_REJECT_481);
  assert_int_equal(sipkit_dialog_on_request(&dead, M(BYE), B(BYE)),
                   SIPKIT_DIALOG_REJECT_481);
  assert_int_equal(sipkit_dialog_on_request(&live_d, NULL, B(BYE)),
                   SIPKIT_DIALOG_REJECT_481);
  assert_int_equal(sipkit_dialog_on_request(&live_d, M(BYE), NULL),
                   SIPKIT_DIALOG_REJECT_481);
  assert_int_equal(sipkit_dialog_on_request(&live_d, M(R200), B(R200)),
                   SIPKIT_DIALOG_REJECT_481);
  assert_int_equal(live_d.state, SIPKIT_DIALOG_CONFIRMED);

  /* on_response: NO_MATCH */
  assert_int_equal(sipkit_dialog_on_response(NULL, M(R200), B(R200)),
                   SIPKIT_DIALOG_NO_MATCH);
  assert_int_equal(sipkit_dialog_on_response(&dead, M(R200), B(R200)),
                   SIPKIT_DIALOG_NO_MATCH);
  assert_int_equal(sipkit_dialog_on_response(&live_d, NULL, B(R200)),
                   SIPKIT_DIALOG_NO_MATCH);
  assert_int_equal(sipkit_dialog_on_response(&live_d, M(R200), NULL),
                   SIPKIT_DIALOG_NO_MATCH);
  assert_int_equal(sipkit_dialog_on_response(&live_d, M(INFO), B(INFO)),
                   SIPKIT_DIALOG_NO_MATCH);
  assert_int_equal(sipkit_dialog_on_response(&live_d, M(8), B(8)), /* Call-ID */
                   SIPKIT_DIALOG_NO_MATCH);
  assert_int_equal(sipkit_dialog_on_response(&live_d, M(9), B(9)), /* From tag */
                   SIPKIT_DIALOG_NO_MATCH);
  assert_int_equal(sipkit_dialog_on_response(&live_d, M(11), B(11)),
                   SIPKIT_DIALOG_NO_MATCH);
  assert_int_equal(live_d.state, SIPKIT_DIALOG_CONFIRMED);

  /* end_early */
  edit(S_FREE, R180, "SIP/2.0 180 Ringing", "SIP/2.0 486 Busy Here");
  sipkit_dialog early;
  assert_int_equal(sipkit_dialog_uac_create(&early, M(INVITE), B(INVITE), M(R180),
                                            B(R180)), SIPKIT_EOK);
  assert_int_equal(sipkit_dialog_end_early(NULL, 1, M(S_FREE), B(S_FREE)), 0);
  assert_int_equal(sipkit_dialog_end_early(&early, 1, NULL, B(S_FREE)), 0);
  assert_int_equal(sipkit_dialog_end_early(&early, 1, M(S_FREE), NULL), 0);
  assert_int_equal(sipkit_dialog_end_early(&early, 0, M(S_FREE), B(S_FREE)), 0);
  /* a 486 to another method, another INVITE, Call-ID or From tag: none */
  static const char *const other[][2] = {
      {"CSeq: 314159 INVITE", "CSeq: 314159 OPTIONS"},
      {"CSeq: 314159 INVITE", "CSeq: 314158 INVITE"},
      {"Call-ID: a84b", "Call-ID: b84b"},
      {";tag=1928301774", ";tag=1928301775"},
  };
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
    edit(7, S_FREE, other[i][0], other[i][1]);
    assert_int_equal(sipkit_dialog_end_early(&early, 1, M(7), B(7)), 0);
    assert_int_equal(early.state, SIPKIT_DIALOG_EARLY);
  }
  /* UAS early dialogs and confirmed ones are not ended */
  sipkit_dialog two[2];
  two[0] = early;
  two[0].role = SIPKIT_DIALOG_UAS;
  two[1] = early;
  two[1].state = SIPKIT_DIALOG_CONFIRMED;
  assert_int_equal(sipkit_dialog_end_early(two, 2, M(S_FREE), B(S_FREE)), 0);
  assert_int_equal(sipkit_dialog_end_early(&early, 1, M(S_FREE), B(S_FREE)), 1);
  assert_int_equal(early.state, SIPKIT_DIALOG_TERMINATED);
  assert_int_equal(early.local_invite_pending, 0);

  /* the rest tolerate NULL */
  sipkit_dialog_free(NULL);
  sipkit_dialog_invite_answered(NULL);
  sipkit_dialog_uas_2xx_sent(NULL, 0, 0, 0);
  uint64_t next = 77;
  assert_int_equal(sipkit_dialog_on_timer(NULL, 0, &next), SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(next, 0);
  assert_int_equal(sipkit_dialog_on_timer(NULL, 0, NULL), SIPKIT_DIALOG_ACCEPT);
  assert_int_equal(sipkit_dialog_ack_cseq(NULL), 0);
  uint32_t c = 5;
  assert_int_equal(sipkit_dialog_next_cseq(NULL, SIPKIT_METHOD_INFO, &c),
                   SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_dialog_next_cseq(&live_d, SIPKIT_METHOD_INFO, NULL),
                   SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_dialog_next_cseq(&dead, SIPKIT_METHOD_INFO, &c),
                   SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_dialog_next_cseq(&live_d, SIPKIT_METHOD_CANCEL, &c),
                   SIPKIT_EARGUMENT);
  assert_int_equal(c, 5);
  assert_int_equal(live_d.local_cseq, 314159);

  /* view_fill without a routes array: no route set */
  sipkit_dialog_view v;
  sipkit_dialog_view_fill(&live_d, &v, NULL);
  assert_null(v.route_set);
  assert_int_equal(v.route_count, 0);
  assert_bytes(v.remote_target.p, v.remote_target.len,
               "sip:bob@192.0.2.4:5060;transport=udp");
  assert_int_equal(v.local_cseq, 314159);
  sipkit_dialog_free(&d);
  sipkit_dialog_free(&live_d); /* dead shares its strings */
  sipkit_dialog_free(&early);  /* two[] too */
}

/* Responses within a confirmed UAC dialog (Alice, local CSeq 314159,
 * remote tag a6c85cf). */
static void test_responses_in_dialog(void **state) {
  (void)state;
  static const struct {
    const char *status_line; /* replaces "SIP/2.0 200 OK" */
    const char *cseq;        /* replaces "CSeq: 314159 INVITE" */
    const char *to_tag;      /* replaces "tag=a6c85cf" */
    int verdict;
    int state_after;
  } t[] = {
      /* a different remote tag on a non-INVITE response or a 2xx */
      {"SIP/2.0 200 OK", "CSeq: 314160 INFO", "tag=zzz", SIPKIT_DIALOG_NO_MATCH,
       SIPKIT_DIALOG_CONFIRMED},
      {"SIP/2.0 481 Call/Transaction Does Not Exist", "CSeq: 314160 INFO",
       "tag=zzz", SIPKIT_DIALOG_NO_MATCH, SIPKIT_DIALOG_CONFIRMED},
      {"SIP/2.0 200 OK", "CSeq: 314160 BYE", "tag=zzz", SIPKIT_DIALOG_NO_MATCH,
       SIPKIT_DIALOG_CONFIRMED},
      {"SIP/2.0 200 OK", "CSeq: 314159 INVITE", "tag=zzz", SIPKIT_DIALOG_NO_MATCH,
       SIPKIT_DIALOG_CONFIRMED},
      {"SIP/2.0 180 Ringing", "CSeq: 314159 INVITE", "tag=zzz",
       SIPKIT_DIALOG_NO_MATCH, SIPKIT_DIALOG_CONFIRMED},
      /* 481 / 408 to any in-dialog request end it */
      {"SIP/2.0 481 Call/Transaction Does Not Exist", "CSeq: 314160 INFO",
       "tag=a6c85cf", SIPKIT_DIALOG_ENDED, SIPKIT_DIALOG_TERMINATED},
      {"SIP/2.0 408 Request Timeout", "CSeq: 314160 INFO", "tag=a6c85cf",
       SIPKIT_DIALOG_ENDED, SIPKIT_DIALOG_TERMINATED},
      {"SIP/2.0 481 Call/Transaction Does Not Exist", "CSeq: 314160 UPDATE",
       "tag=a6c85cf", SIPKIT_DIALOG_ENDED, SIPKIT_DIALOG_TERMINATED},
      {"SIP/2.0 408 Request Timeout", "CSeq: 314160 OPTIONS", "tag=a6c85cf",
       SIPKIT_DIALOG_ENDED, SIPKIT_DIALOG_TERMINATED},
      /* to the INVITE of the confirmed dialog: 481 / 408 end it, others not */
      {"SIP/2.0 481 Call/Transaction Does Not Exist", "CSeq: 314159 INVITE",
       "tag=a6c85cf", SIPKIT_DIALOG_ENDED, SIPKIT_DIALOG_TERMINATED},
      {"SIP/2.0 408 Request Timeout", "CSeq: 314159 INVITE", "tag=zzz",
       SIPKIT_DIALOG_ENDED, SIPKIT_DIALOG_TERMINATED},
      {"SIP/2.0 486 Busy Here", "CSeq: 314159 INVITE", "tag=a6c85cf",
       SIPKIT_DIALOG_ACCEPT, SIPKIT_DIALOG_CONFIRMED},
      {"SIP/2.0 180 Ringing", "CSeq: 314159 INVITE", "tag=a6c85cf",
       SIPKIT_DIALOG_ACCEPT, SIPKIT_DIALOG_CONFIRMED},
      /* an INVITE response with another CSeq: the non-INVITE path */
      {"SIP/2.0 200 OK", "CSeq: 314158 INVITE", "tag=a6c85cf",
       SIPKIT_DIALOG_ACCEPT, SIPKIT_DIALOG_CONFIRMED},
      {"SIP/2.0 408 Request Timeout", "CSeq: 314158 INVITE", "tag=a6c85cf",
       SIPKIT_DIALOG_ENDED, SIPKIT_DIALOG_TERMINATED},
      /* other finals keep it; BYE's final (any) ends it; a 1xx to BYE not */
      {"SIP/2.0 404 Not Found", "CSeq: 314160 INFO", "tag=a6c85cf",
       SIPKIT_DIALOG_ACCEPT, SIPKIT_DIALOG_CONFIRMED},
      {"SIP/2.0 200 OK", "CSeq: 314160 INFO", "tag=a6c85cf",
       SIPKIT_DIALOG_ACCEPT, SIPKIT_DIALOG_CONFIRMED},
      {"SIP/2.0 183 Session Progress", "CSeq: 314160 INFO", "tag=a6c85cf",
       SIPKIT_DIALOG_ACCEPT, SIPKIT_DIALOG_CONFIRMED},
      {"SIP/2.0 500 Server Internal Error", "CSeq: 314160 BYE", "tag=a6c85cf",
       SIPKIT_DIALOG_ENDED, SIPKIT_DIALOG_TERMINATED},
      {"SIP/2.0 183 Session Progress", "CSeq: 314160 BYE", "tag=a6c85cf",
       SIPKIT_DIALOG_ACCEPT, SIPKIT_DIALOG_CONFIRMED},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    sipkit_dialog d;
    uac_confirmed(&d);
    const char *const pairs[] = {"SIP/2.0 200 OK", t[i].status_line,
                                 "CSeq: 314159 INVITE", t[i].cseq,
                                 "tag=a6c85cf", t[i].to_tag, NULL};
    editn(S_FREE, R200, pairs);
    int v = sipkit_dialog_on_response(&d, M(S_FREE), B(S_FREE));
    if (v != t[i].verdict || d.state != t[i].state_after)
      print_error("case %zu: verdict %d state %d\n", i, v, d.state);
    assert_int_equal(v, t[i].verdict);
    assert_int_equal(d.state, t[i].state_after);
    ASSERT_FIELD(&d, remote_target, "sip:bob@192.0.2.4:5060;transport=udp");
    sipkit_dialog_free(&d);
  }
}

/* A 2xx to UPDATE or to our re-INVITE refreshes the remote target from its
 * Contact; other responses and unusable Contacts leave it. */
static void test_2xx_target_refresh(void **state) {
  (void)state;
  char big[400];
  char bigcontact[460];
  memset(big, 'h', sizeof big - 1);
  big[sizeof big - 1] = 0;
  snprintf(bigcontact, sizeof bigcontact, "Contact: <sip:bob@%s>\r\n", big);
  static const char *const OLD = "sip:bob@192.0.2.4:5060;transport=udp";
  const struct {
    const char *status_line;
    const char *cseq;
    const char *contact; /* replaces the whole Contact line; NULL keeps it */
    int reinvite;        /* take an INVITE CSeq first (314160) */
    int verdict;
    const char *target;
  } t[] = {
      {"SIP/2.0 200 OK", "CSeq: 314160 UPDATE",
       "Contact: <sip:bob@198.51.100.9:5062>\r\n", 0, SIPKIT_DIALOG_ACCEPT,
       "sip:bob@198.51.100.9:5062"},
      {"SIP/2.0 204 No Notification", "CSeq: 314160 UPDATE",
       "Contact: <sip:bob@198.51.100.9:5062>\r\n", 0, SIPKIT_DIALOG_ACCEPT,
       "sip:bob@198.51.100.9:5062"},
      {"SIP/2.0 200 OK", "CSeq: 314160 UPDATE", "", 0, SIPKIT_DIALOG_ACCEPT, OLD},
      {"SIP/2.0 200 OK", "CSeq: 314160 UPDATE", "Contact: *\r\n", 0,
       SIPKIT_DIALOG_ACCEPT, OLD},
      {"SIP/2.0 200 OK", "CSeq: 314160 INVITE", "Contact: *\r\n", 1,
       SIPKIT_DIALOG_SEND_ACK, OLD},
      {"SIP/2.0 200 OK", "CSeq: 314160 UPDATE", bigcontact, 0,
       SIPKIT_DIALOG_ACCEPT, OLD},
      {"SIP/2.0 488 Not Acceptable Here", "CSeq: 314160 UPDATE",
       "Contact: <sip:bob@198.51.100.9:5062>\r\n", 0, SIPKIT_DIALOG_ACCEPT, OLD},
      {"SIP/2.0 183 Session Progress", "CSeq: 314160 UPDATE",
       "Contact: <sip:bob@198.51.100.9:5062>\r\n", 0, SIPKIT_DIALOG_ACCEPT, OLD},
      {"SIP/2.0 200 OK", "CSeq: 314160 INFO",
       "Contact: <sip:bob@198.51.100.9:5062>\r\n", 0, SIPKIT_DIALOG_ACCEPT, OLD},
      /* re-INVITE */
      {"SIP/2.0 200 OK", "CSeq: 314160 INVITE",
       "Contact: <sip:bob@203.0.113.5;transport=tcp>\r\n", 1,
       SIPKIT_DIALOG_SEND_ACK, "sip:bob@203.0.113.5;transport=tcp"},
      {"SIP/2.0 200 OK", "CSeq: 314160 INVITE", "", 1, SIPKIT_DIALOG_SEND_ACK,
       OLD},
      {"SIP/2.0 200 OK", "CSeq: 314160 INVITE", bigcontact, 1,
       SIPKIT_DIALOG_SEND_ACK, OLD},
      {"SIP/2.0 180 Ringing", "CSeq: 314160 INVITE",
       "Contact: <sip:bob@203.0.113.5>\r\n", 1, SIPKIT_DIALOG_ACCEPT, OLD},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    sipkit_dialog d;
    uint32_t c;
    uac_confirmed(&d);
    if (t[i].reinvite) {
      assert_int_equal(sipkit_dialog_next_cseq(&d, SIPKIT_METHOD_INVITE, &c),
                       SIPKIT_EOK);
      assert_int_equal(c, 314160);
    }
    const char *const pairs[] = {
        "SIP/2.0 200 OK", t[i].status_line, "CSeq: 314159 INVITE", t[i].cseq,
        "Contact: <sip:bob@192.0.2.4:5060;transport=udp>\r\n",
        t[i].contact, NULL};
    editn(S_FREE, R200, pairs);
    int v = sipkit_dialog_on_response(&d, M(S_FREE), B(S_FREE));
    if (v != t[i].verdict)
      print_error("case %zu: verdict %d\n", i, v);
    assert_int_equal(v, t[i].verdict);
    assert_int_equal(d.state, SIPKIT_DIALOG_CONFIRMED);
    ASSERT_FIELD(&d, remote_target, t[i].target);
    assert_int_equal(d.local_invite_pending,
                     t[i].reinvite && v == SIPKIT_DIALOG_ACCEPT);
    sipkit_dialog_free(&d);
  }
}

/* A request that refreshes the target: UPDATE too; a Contact over its
 * bound is refused with 500 and changes nothing. */
static void test_request_target_refresh_bounds(void **state) {
  (void)state;
  char big[400], line[460];
  memset(big, 'h', sizeof big - 1);
  big[sizeof big - 1] = 0;
  snprintf(line, sizeof line, "Contact: <sip:alice@%s>\r\n", big);
  static const char *const OLD = "sip:alice@192.0.2.101:5060;transport=udp";
  const struct {
    const char *method; /* "X sip:" */
    const char *cseq;
    const char *contact;
    int verdict;
    const char *target;
    uint32_t remote_cseq;
  } t[] = {
      {"UPDATE sip:", "CSeq: 314160 UPDATE",
       "Contact: <sip:alice@198.51.100.7>\r\n", SIPKIT_DIALOG_ACCEPT,
       "sip:alice@198.51.100.7", 314160},
      {"UPDATE sip:", "CSeq: 314160 UPDATE", line, SIPKIT_DIALOG_REJECT_500,
       OLD, 314159},
      {"INVITE sip:", "CSeq: 314160 INVITE", line, SIPKIT_DIALOG_REJECT_500,
       OLD, 314159},
      {"UPDATE sip:", "CSeq: 314160 UPDATE", "", SIPKIT_DIALOG_ACCEPT, OLD,
       314160},
      {"INVITE sip:", "CSeq: 314160 INVITE", "", SIPKIT_DIALOG_ACCEPT, OLD,
       314160},
      {"UPDATE sip:", "CSeq: 314160 UPDATE", "Contact: *\r\n",
       SIPKIT_DIALOG_REJECT_500, OLD, 314159},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    sipkit_dialog d;
    uas_confirmed(&d, 6);
    const char *const pairs[] = {
        "INFO sip:", t[i].method, "CSeq: 314160 INFO", t[i].cseq,
        "Contact: <sip:alice@192.0.2.101:5060;transport=udp>\r\n", t[i].contact,
        NULL};
    editn(S_FREE, INFO, pairs);
    int v = sipkit_dialog_on_request(&d, M(S_FREE), B(S_FREE));
    if (v != t[i].verdict)
      print_error("case %zu: verdict %d\n", i, v);
    assert_int_equal(v, t[i].verdict);
    ASSERT_FIELD(&d, remote_target, t[i].target);
    assert_int_equal(d.remote_cseq, t[i].remote_cseq);
    sipkit_dialog_free(&d);
  }
  /* a UAC dialog never saw the peer's INVITE: any ACK is dropped */
  sipkit_dialog d;
  uac_confirmed(&d);
  edit2(S_FREE, BYE, "CSeq: 231 BYE", "CSeq: 231 ACK", "BYE sip:", "ACK sip:");
  assert_int_equal(sipkit_dialog_on_request(&d, M(S_FREE), B(S_FREE)),
                   SIPKIT_DIALOG_DROP);
  /* ... and its first request (no remote CSeq yet) is accepted, even a
   * CANCEL */
  edit2(S_FREE, BYE, "CSeq: 231 BYE", "CSeq: 1 CANCEL", "BYE sip:",
        "CANCEL sip:");
  assert_int_equal(sipkit_dialog_on_request(&d, M(S_FREE), B(S_FREE)),
                   SIPKIT_DIALOG_ACCEPT);
  /* a CANCEL below the remote CSeq: 500 */
  sipkit_dialog_free(&d);
  uas_confirmed(&d, 6);
  edit2(S_FREE, INFO, "CSeq: 314160 INFO", "CSeq: 314158 CANCEL", "INFO sip:",
        "CANCEL sip:");
  assert_int_equal(sipkit_dialog_on_request(&d, M(S_FREE), B(S_FREE)),
                   SIPKIT_DIALOG_REJECT_500);
  sipkit_dialog_free(&d);
}

static void fill(char *p, size_t n, char ch) {
  memset(p, ch, n);
  p[n] = 0;
}

/* Every stored value at its bound is taken, one byte over is refused with
 * BUFFER_TOO_SMALL and the dialog left NULL (cleared). */
static void test_bounds_table(void **state) {
  (void)state;
  static char v[8][2100];
  /* Call-ID: "<n x>" */
  fill(v[0], SIPKIT_DIALOG_MAX_CALL_ID, 'c');
  fill(v[1], SIPKIT_DIALOG_MAX_CALL_ID + 1, 'c');
  /* tag */
  fill(v[2], SIPKIT_DIALOG_MAX_TAG, 't');
  fill(v[3], SIPKIT_DIALOG_MAX_TAG + 1, 't');
  /* URI "sip:" + host: 4 + n */
  char h0[300], h1[300];
  fill(h0, SIPKIT_DIALOG_MAX_URI - 4, 'u');
  fill(h1, SIPKIT_DIALOG_MAX_URI - 3, 'u');
  snprintf(v[4], sizeof v[4], "sip:%s", h0);
  snprintf(v[5], sizeof v[5], "sip:%s", h1);
  /* one Record-Route value "<sip:" + host + ">" */
  char r0[300], r1[300];
  fill(r0, SIPKIT_DIALOG_MAX_ROUTE - 6, 'r');
  fill(r1, SIPKIT_DIALOG_MAX_ROUTE - 5, 'r');
  snprintf(v[6], sizeof v[6], "Record-Route: <sip:%s>\r\n", r0);
  snprintf(v[7], sizeof v[7], "Record-Route: <sip:%s>\r\n", r1);
  char rr_max[2048] = "", rr_over[2048] = "";
  for (unsigned i = 0; i <= SIPKIT_DIALOG_MAX_ROUTES; i++) {
    char one[80];
    snprintf(one, sizeof one, "Record-Route: <sip:p%u.example.com;lr>\r\n", i);
    if (i < SIPKIT_DIALOG_MAX_ROUTES)
      strcat(rr_max, one);
    strcat(rr_over, one);
  }
  char l[24][2200];
  int k = 0;
  /* UAS side: edits of the INVITE */
  snprintf(l[k++], sizeof l[0], "Call-ID: %s\r\n", v[0]);
  snprintf(l[k++], sizeof l[0], "Call-ID: %s\r\n", v[1]);
  snprintf(l[k++], sizeof l[0], ";tag=%s\r\n", v[2]); /* From tag */
  snprintf(l[k++], sizeof l[0], ";tag=%s\r\n", v[3]);
  snprintf(l[k++], sizeof l[0], "From: <%s>;tag=1928301774\r\n", v[4]);
  snprintf(l[k++], sizeof l[0], "From: <%s>;tag=1928301774\r\n", v[5]);
  snprintf(l[k++], sizeof l[0], "To: <%s>\r\n", v[4]);
  snprintf(l[k++], sizeof l[0], "To: <%s>\r\n", v[5]);
  snprintf(l[k++], sizeof l[0], "Contact: <%s>\r\n", v[4]);
  snprintf(l[k++], sizeof l[0], "Contact: <%s>\r\n", v[5]);
  snprintf(l[k++], sizeof l[0], "Max-Forwards: 70\r\n%s", v[6]);
  snprintf(l[k++], sizeof l[0], "Max-Forwards: 70\r\n%s", v[7]);
  snprintf(l[k++], sizeof l[0], "Max-Forwards: 70\r\n%s", rr_max);
  snprintf(l[k++], sizeof l[0], "Max-Forwards: 70\r\n%s", rr_over);
  const struct {
    const char *from;
    int line;
    int rc;
    int routes;
  } uas[] = {
      {"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n", 0, SIPKIT_EOK, 0},
      {"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n", 1,
       SIPKIT_EBUFFER_TOO_SMALL, 0},
      {";tag=1928301774\r\n", 2, SIPKIT_EOK, 0},
      {";tag=1928301774\r\n", 3, SIPKIT_EBUFFER_TOO_SMALL, 0},
      {"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n", 4,
       SIPKIT_EOK, 0},
      {"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n", 5,
       SIPKIT_EBUFFER_TOO_SMALL, 0},
      {"To: \"Bob\" <sip:bob@biloxi.example.com>\r\n", 6, SIPKIT_EOK, 0},
      {"To: \"Bob\" <sip:bob@biloxi.example.com>\r\n", 7,
       SIPKIT_EBUFFER_TOO_SMALL, 0},
      {"Contact: <sip:alice@192.0.2.101:5060;transport=udp>\r\n", 8, SIPKIT_EOK,
       0},
      {"Contact: <sip:alice@192.0.2.101:5060;transport=udp>\r\n", 9,
       SIPKIT_EBUFFER_TOO_SMALL, 0},
      {"Max-Forwards: 70\r\n", 10, SIPKIT_EOK, 1},
      {"Max-Forwards: 70\r\n", 11, SIPKIT_EBUFFER_TOO_SMALL, 0},
      {"Max-Forwards: 70\r\n", 12, SIPKIT_EOK, (int)SIPKIT_DIALOG_MAX_ROUTES},
      {"Max-Forwards: 70\r\n", 13, SIPKIT_EBUFFER_TOO_SMALL, 0},
  };
  sipkit_str tag = {"a6c85cf", 7};
  for (size_t i = 0; i < sizeof uas / sizeof uas[0]; i++) {
    sipkit_dialog d;
    edit(S_FREE, INVITE, uas[i].from, l[uas[i].line]);
    memset(&d, 0x5a, sizeof d);
    int rc = sipkit_dialog_uas_create(&d, M(S_FREE), B(S_FREE), 200, tag);
    if (rc != uas[i].rc)
      print_error("uas case %zu: %d\n", i, rc);
    assert_int_equal(rc, uas[i].rc);
    if (rc) {
      assert_int_equal(d.state, SIPKIT_DIALOG_NULL);
      assert_int_equal(d.call_id_len, 0);
      assert_int_equal(d.route_count, 0);
    } else {
      assert_int_equal(d.state, SIPKIT_DIALOG_CONFIRMED);
      assert_int_equal(d.route_count, uas[i].routes);
      sipkit_dialog_free(&d);
    }
  }
  /* UAC side: edits of the 200 (Call-ID and From tag in both messages) */
  const struct {
    const char *from;
    int line;
    int both; /* edit the INVITE the same way */
    int rc;
  } uac[] = {
      {"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n", 0, 1, SIPKIT_EOK},
      {"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n", 1, 1,
       SIPKIT_EBUFFER_TOO_SMALL},
      {";tag=1928301774\r\n", 2, 1, SIPKIT_EOK},
      {";tag=1928301774\r\n", 3, 1, SIPKIT_EBUFFER_TOO_SMALL},
      {"Contact: <sip:bob@192.0.2.4:5060;transport=udp>\r\n", 8, 0, SIPKIT_EOK},
      {"Contact: <sip:bob@192.0.2.4:5060;transport=udp>\r\n", 9, 0,
       SIPKIT_EBUFFER_TOO_SMALL},
      {"Record-Route: <sip:proxy.biloxi.example.com;lr>\r\n"
       "Record-Route: <sip:proxy.atlanta.example.com;lr>\r\n", 13, 0,
       SIPKIT_EBUFFER_TOO_SMALL},
      {"Record-Route: <sip:proxy.biloxi.example.com;lr>\r\n"
       "Record-Route: <sip:proxy.atlanta.example.com;lr>\r\n", 11, 0,
       SIPKIT_EBUFFER_TOO_SMALL},
  };
  for (size_t i = 0; i < sizeof uac / sizeof uac[0]; i++) {
    sipkit_dialog d;
    edit(7, R200, uac[i].from, l[uac[i].line]);
    if (uac[i].both)
      edit(8, INVITE, uac[i].from, l[uac[i].line]);
    else
      edit(8, INVITE, "Max-Forwards: 70", "Max-Forwards: 70");
    memset(&d, 0x5a, sizeof d);
    int rc = sipkit_dialog_uac_create(&d, M(8), B(8), M(7), B(7));
    if (rc != uac[i].rc)
      print_error("uac case %zu: %d\n", i, rc);
    assert_int_equal(rc, uac[i].rc);
    if (rc) {
      assert_int_equal(d.state, SIPKIT_DIALOG_NULL);
      assert_int_equal(d.remote_tag_len, 0);
    } else {
      assert_int_equal(d.state, SIPKIT_DIALOG_CONFIRMED);
      sipkit_dialog_free(&d);
    }
  }
  /* a To tag over its bound in the 2xx */
  {
    sipkit_dialog d;
    char to[2200];
    snprintf(to, sizeof to, "tag=%s", v[3]);
    edit(7, R200, "tag=a6c85cf", to);
    assert_int_equal(sipkit_dialog_uac_create(&d, M(INVITE), B(INVITE), M(7), B(7)),
                     SIPKIT_EBUFFER_TOO_SMALL);
    assert_int_equal(d.state, SIPKIT_DIALOG_NULL);
    snprintf(to, sizeof to, "tag=%s", v[2]);
    edit(7, R200, "tag=a6c85cf", to);
    assert_int_equal(sipkit_dialog_uac_create(&d, M(INVITE), B(INVITE), M(7), B(7)),
                     SIPKIT_EOK);
    assert_int_equal(d.remote_tag_len, SIPKIT_DIALOG_MAX_TAG);
    sipkit_dialog_free(&d);
  }
  /* an early dialog whose 2xx has too many Record-Route keeps its route set */
  {
    sipkit_dialog d;
    assert_int_equal(sipkit_dialog_uac_create(&d, M(INVITE), B(INVITE), M(R180),
                                              B(R180)), SIPKIT_EOK);
    edit(7, R200, "Record-Route: <sip:proxy.biloxi.example.com;lr>\r\n"
                  "Record-Route: <sip:proxy.atlanta.example.com;lr>\r\n", rr_over);
    assert_int_equal(sipkit_dialog_on_response(&d, M(7), B(7)),
                     SIPKIT_DIALOG_SEND_ACK);
    assert_int_equal(d.state, SIPKIT_DIALOG_CONFIRMED);
    assert_int_equal(d.route_count, 2);
    assert_route(&d, 0, RR_ATL);
    assert_route(&d, 1, RR_BIL);
    sipkit_dialog_free(&d);
  }
}

/* find() on responses: which ones create forks, which match nothing. */
static void test_find_responses(void **state) {
  (void)state;
  sipkit_dialog ds[3];
  long idx;
  memset(ds, 0, sizeof ds);
  assert_int_equal(sipkit_dialog_uac_create(&ds[0], M(INVITE), B(INVITE),
                                            M(R180), B(R180)), SIPKIT_EOK);
  edit(7, R200, "tag=a6c85cf", "tag=b7d96e0");
  assert_int_equal(sipkit_dialog_uac_create(&ds[1], M(INVITE), B(INVITE), M(7),
                                            B(7)), SIPKIT_EOK);
  uas_confirmed(&ds[2], 6); /* a UAS dialog: never a fork sibling */
  static const struct {
    const char *status_line, *cseq, *to_tag;
    int verdict;
    long index;
  } t[] = {
      /* a new tag: the confirmed sibling is preferred */
      {"SIP/2.0 200 OK", "CSeq: 314159 INVITE", "tag=c1", SIPKIT_DIALOG_EXTRA_2XX, 1},
      {"SIP/2.0 180 Ringing", "CSeq: 314159 INVITE", "tag=c1",
       SIPKIT_DIALOG_NEW_FORK, 1},
      {"SIP/2.0 101 Dialog Establishment", "CSeq: 314159 INVITE", "tag=c1",
       SIPKIT_DIALOG_NEW_FORK, 1},
      {"SIP/2.0 100 Trying", "CSeq: 314159 INVITE", "tag=c1",
       SIPKIT_DIALOG_NO_MATCH, -1},
      {"SIP/2.0 486 Busy Here", "CSeq: 314159 INVITE", "tag=c1",
       SIPKIT_DIALOG_NO_MATCH, -1},
      {"SIP/2.0 200 OK", "CSeq: 314158 INVITE", "tag=c1", SIPKIT_DIALOG_NO_MATCH, -1},
      {"SIP/2.0 200 OK", "CSeq: 314159 UPDATE", "tag=c1", SIPKIT_DIALOG_NO_MATCH, -1},
      {"SIP/2.0 200 OK", "CSeq: 314159 INVITE", "tag=b7d96e0",
       SIPKIT_DIALOG_ACCEPT, 1},
      {"SIP/2.0 200 OK", "CSeq: 314159 INVITE", "tag=a6c85cf",
       SIPKIT_DIALOG_ACCEPT, 0},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    const char *const pairs[] = {"SIP/2.0 200 OK", t[i].status_line,
                                 "CSeq: 314159 INVITE", t[i].cseq,
                                 "tag=a6c85cf", t[i].to_tag, NULL};
    editn(S_FREE, R200, pairs);
    idx = 42;
    int v = sipkit_dialog_find(ds, 3, M(S_FREE), B(S_FREE), &idx);
    if (v != t[i].verdict || idx != t[i].index)
      print_error("case %zu: verdict %d index %ld\n", i, v, idx);
    assert_int_equal(v, t[i].verdict);
    assert_int_equal(idx, t[i].index);
  }
  /* a response without To tag: no fork */
  edit(S_FREE, R180, ";tag=a6c85cf", "");
  assert_int_equal(sipkit_dialog_find(ds, 3, M(S_FREE), B(S_FREE), &idx),
                   SIPKIT_DIALOG_NO_MATCH);
  /* a response of another call or local tag: no fork */
  edit2(S_FREE, R200, "tag=a6c85cf", "tag=c1", "Call-ID: a84b", "Call-ID: b84b");
  assert_int_equal(sipkit_dialog_find(ds, 3, M(S_FREE), B(S_FREE), &idx),
                   SIPKIT_DIALOG_NO_MATCH);
  edit2(S_FREE, R200, "tag=a6c85cf", "tag=c1", "tag=1928301774", "tag=1928301775");
  assert_int_equal(sipkit_dialog_find(ds, 3, M(S_FREE), B(S_FREE), &idx),
                   SIPKIT_DIALOG_NO_MATCH);
  /* only early siblings: a 2xx with a new tag is a NEW_FORK (first one) */
  ds[1].state = SIPKIT_DIALOG_EARLY;
  edit(S_FREE, R200, "tag=a6c85cf", "tag=c1");
  assert_int_equal(sipkit_dialog_find(ds, 3, M(S_FREE), B(S_FREE), &idx),
                   SIPKIT_DIALOG_NEW_FORK);
  assert_int_equal(idx, 0);
  /* a confirmed sibling after an early one still wins */
  ds[0].state = SIPKIT_DIALOG_EARLY;
  ds[1].state = SIPKIT_DIALOG_CONFIRMED;
  assert_int_equal(sipkit_dialog_find(ds, 3, M(S_FREE), B(S_FREE), &idx),
                   SIPKIT_DIALOG_EXTRA_2XX);
  assert_int_equal(idx, 1);
  /* a terminated sibling is skipped */
  ds[1].state = SIPKIT_DIALOG_TERMINATED;
  ds[0].state = SIPKIT_DIALOG_TERMINATED;
  assert_int_equal(sipkit_dialog_find(ds, 3, M(S_FREE), B(S_FREE), &idx),
                   SIPKIT_DIALOG_NO_MATCH);
  assert_int_equal(idx, -1);
  for (int i = 0; i < 3; i++)
    sipkit_dialog_free(&ds[i]);
}

/* 2xx retransmission with explicit T1 / T2. */
static void test_2xx_retransmission_custom_timers(void **state) {
  (void)state;
  sipkit_dialog d;
  uint64_t next;
  uas_confirmed(&d, 6);
  sipkit_dialog_uas_2xx_sent(&d, 0, 100, 300);
  assert_int_equal(d.rtx_giveup, 6400);
  static const uint64_t want[] = {100, 300, 600, 900, 1200};
  assert_int_equal(sipkit_dialog_on_timer(&d, 0, &next), SIPKIT_DIALOG_ACCEPT);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    assert_int_equal(next, want[i]);
    assert_int_equal(sipkit_dialog_on_timer(&d, next, &next),
                     SIPKIT_DIALOG_RESEND_2XX);
  }
  assert_int_equal(next, 1500);
  /* far past every deadline: given up at once */
  assert_int_equal(sipkit_dialog_on_timer(&d, 100000, &next), SIPKIT_DIALOG_NO_ACK);
  assert_int_equal(next, 0);
  assert_int_equal(d.rtx_active, 0);
  sipkit_dialog_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uac_create_from_200),
      cmocka_unit_test(test_uac_early_then_confirmed),
      cmocka_unit_test(test_uas_create),
      cmocka_unit_test(test_bounds_never_truncate),
      cmocka_unit_test(test_request_matching_and_481),
      cmocka_unit_test(test_cseq_ordering),
      cmocka_unit_test(test_reinvite_glare_491),
      cmocka_unit_test(test_forking),
      cmocka_unit_test(test_uac_fork),
      cmocka_unit_test(test_build_bye_ack_in_dialog),
      cmocka_unit_test(test_uas_2xx_retransmission),
      cmocka_unit_test(test_secure_flag),
      cmocka_unit_test(test_target_refresh_and_route_recompute),
      cmocka_unit_test(test_strings_block),
      cmocka_unit_test(test_strict_route_bye),
      cmocka_unit_test(test_state_names_and_id_of),
      cmocka_unit_test(test_id_of_msg_arguments),
      cmocka_unit_test(test_invalid_arguments),
      cmocka_unit_test(test_responses_in_dialog),
      cmocka_unit_test(test_2xx_target_refresh),
      cmocka_unit_test(test_request_target_refresh_bounds),
      cmocka_unit_test(test_bounds_table),
      cmocka_unit_test(test_find_responses),
      cmocka_unit_test(test_2xx_retransmission_custom_timers),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
