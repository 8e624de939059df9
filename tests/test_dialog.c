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
  assert_bytes(d.route[0], d.route_len[0], RR_ATL); /* reversed */
  assert_bytes(d.route[1], d.route_len[1], RR_BIL);
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
  assert_bytes(d.route[0], d.route_len[0], RR_ATL);
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
  assert_bytes(d.route[1], d.route_len[1], RR_BIL);
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
  assert_bytes(d.route[0], d.route_len[0], RR_BIL); /* in order */
  assert_bytes(d.route[1], d.route_len[1], RR_ATL);
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
  assert_int_equal(sipkit_dialog_uas_create(&e, M(INVITE), B(INVITE), 200, tag),
                   SIPKIT_EOK);
  assert_int_equal(e.route_count, 0);
  /* a request that already has a To tag creates nothing */
  assert_int_equal(sipkit_dialog_uas_create(&e, M(INFO), B(INFO), 200, tag),
                   SIPKIT_EARGUMENT);
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
  memset(ds, 0, sizeof ds);
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
  assert_int_equal(sipkit_dialog_uac_create(&d, M(S_FREE), B(S_FREE), M(R200),
                                            B(R200)), SIPKIT_EOK);
  assert_int_equal(d.secure, 1);
}

/* Target refresh (§12.2): a re-INVITE's Contact replaces the remote
 * target; a 2xx to our INVITE recomputes an early dialog's route set. */
static void test_target_refresh_and_route_recompute(void **state) {
  (void)state;
  sipkit_dialog d;
  uas_confirmed(&d, 6);
  static const char *const reinvite[] = {
      "INFO sip:", "INVITE sip:",
      "CSeq: 314160 INFO", "CSeq: 314160 INVITE",
      "Contact: <sip:alice@192.0.2.101:5060", "Contact: <sip:alice@198.51.100.7:5070",
      NULL};
  editn(S_FREE, INFO, reinvite);
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
  assert_int_equal(sipkit_dialog_uac_create(&d, M(INVITE), B(INVITE), M(R180),
                                            B(R180)), SIPKIT_EOK);
  assert_int_equal(d.route_count, 2);
  edit(S_FREE, R200, "Record-Route: <sip:proxy.biloxi.example.com;lr>\r\n", "");
  assert_int_equal(sipkit_dialog_on_response(&d, M(S_FREE), B(S_FREE)),
                   SIPKIT_DIALOG_SEND_ACK);
  assert_int_equal(d.route_count, 1);
  assert_bytes(d.route[0], d.route_len[0], RR_ATL);
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
  assert_bytes(d.route[0], d.route_len[0], "<sip:proxy.atlanta.example.com>");
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
      cmocka_unit_test(test_build_bye_ack_in_dialog),
      cmocka_unit_test(test_uas_2xx_retransmission),
      cmocka_unit_test(test_secure_flag),
      cmocka_unit_test(test_target_refresh_and_route_recompute),
      cmocka_unit_test(test_strict_route_bye),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
