/* test_build.c - the message builder (src/sipkit_build.h): exact bytes for
 * every helper against the RFC 3261 section it implements, header
 * injection refused with the rule named, "buffer too small, need N", and
 * parse → build → parse round trips over the RFC 4475 and bench corpora.
 * Run from the repository root (the corpora are read at run time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glob.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h" /* the grammar machine, to compare the fast paths with */
#include "sipkit.h"
#include "sipkit_build.h"
#include "strcat.h"

#define S(lit) lit, sizeof(lit) - 1
#define STR(lit) ((sipkit_str){lit, sizeof(lit) - 1})
#define NOSTR ((sipkit_str){NULL, 0})

static sipkit_header g_hdrs[SIPKIT_MAX_HEADERS];
static sipkit_header g_hdrs2[SIPKIT_MAX_HEADERS];

static void parse_ok(sipkit_msg *m, sipkit_header *hdrs, const char *buf,
                     size_t len) {
  sipkit_error e;
  sipkit_msg_init(m, hdrs, SIPKIT_MAX_HEADERS);
  int rc = sipkit_parse(m, buf, len, 0, &e);
  if (rc)
    print_error("parse: %s at %u [%s]\n", sipkit_err_name(rc), e.offset, e.rule);
  assert_int_equal(rc, SIPKIT_EOK);
}

/* The builder's output must equal want exactly. */
static void expect_bytes(const sipkit_builder *b, const char *want) {
  size_t n = strlen(want);
  if (b->len != n || memcmp(b->buf, want, n) != 0)
    print_error("got:\n%.*s\nwant:\n%s\n", (int)b->len, b->buf, want);
  assert_int_equal(b->len, n);
  assert_memory_equal(b->buf, want, n);
}

/* ------------------------------------------------------------------ */
/* Basics                                                              */

#define OPTIONS_MSG                                                            \
  "OPTIONS sip:carol@chicago.com SIP/2.0\r\n"                                  \
  "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877\r\n"            \
  "Max-Forwards: 70\r\n"                                                       \
  "To: <sip:carol@chicago.com>\r\n"                                            \
  "From: \"Alice\" <sip:alice@atlanta.com>;tag=1928301774\r\n"                 \
  "Call-ID: a84b4c76e66710\r\n"                                                \
  "CSeq: 63104 OPTIONS\r\n"                                                    \
  "X-Extra: yes\r\n"                                                           \
  "Content-Type: text/plain\r\n"                                               \
  "Content-Length: 5\r\n"                                                      \
  "\r\n"                                                                       \
  "hello"

static int build_options(sipkit_builder *b) {
  sipkit_builder_request(b, S("OPTIONS"), S("sip:carol@chicago.com"));
  sipkit_builder_header(b, SIPKIT_HDR_VIA,
                        S("SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877"));
  sipkit_builder_header(b, SIPKIT_HDR_MAX_FORWARDS, S("70"));
  sipkit_builder_addr(b, SIPKIT_HDR_TO, NULL, 0, S("sip:carol@chicago.com"), NULL, 0);
  sipkit_builder_addr(b, SIPKIT_HDR_FROM, S("Alice"), S("sip:alice@atlanta.com"),
                      S(";tag=1928301774"));
  sipkit_builder_header(b, SIPKIT_HDR_CALL_ID, S("a84b4c76e66710"));
  sipkit_builder_header(b, SIPKIT_HDR_CSEQ, S("63104 OPTIONS"));
  sipkit_builder_header_raw(b, S("X-Extra"), S("yes"));
  sipkit_builder_header(b, SIPKIT_HDR_CONTENT_TYPE, S("text/plain"));
  return sipkit_builder_finish(b, S("hello"), NULL);
}

static void test_request_fixed(void **state) {
  (void)state;
  char buf[1024];
  sipkit_builder b;
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(build_options(&b), SIPKIT_EOK);
  expect_bytes(&b, OPTIONS_MSG);
  assert_int_equal(b.need, b.len);
}

static void test_request_dynamic(void **state) {
  (void)state;
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  assert_int_equal(build_options(&b), SIPKIT_EOK);
  expect_bytes(&b, OPTIONS_MSG);
  sipkit_builder_free(&b);
}

/* Every cap below the size: BUFFER_TOO_SMALL, need = exact size, nothing
 * written past cap; the exact size works. */
static void test_buffer_too_small(void **state) {
  (void)state;
  const size_t want = sizeof(OPTIONS_MSG) - 1;
  char buf[sizeof(OPTIONS_MSG) + 64];
  for (size_t cap = 0; cap <= want; cap++) {
    sipkit_builder b;
    memset(buf, 0xA5, sizeof buf);
    sipkit_builder_init(&b, buf, cap);
    int rc = build_options(&b);
    assert_int_equal(b.need, want);
    for (size_t i = cap; i < sizeof buf; i++)
      assert_int_equal((unsigned char)buf[i], 0xA5);
    if (cap < want) {
      assert_int_equal(rc, SIPKIT_EBUFFER_TOO_SMALL);
      assert_true(b.len <= cap);
    } else {
      assert_int_equal(rc, SIPKIT_EOK);
      expect_bytes(&b, OPTIONS_MSG);
    }
  }
}

static void test_response_default_reason(void **state) {
  (void)state;
  char buf[512];
  sipkit_builder b;
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_response(&b, 182, NULL, 0), SIPKIT_EOK);
  assert_int_equal(b.len, 20);
  assert_memory_equal(buf, "SIP/2.0 182 Queued\r\n", 20);
  /* no phrase known: empty Reason-Phrase after the SP */
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_response(&b, 299, NULL, 0), SIPKIT_EOK);
  assert_memory_equal(buf, "SIP/2.0 299 \r\n", 14);
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_response(&b, 700, NULL, 0), SIPKIT_EINVALID_VALUE);
  assert_string_equal(b.err.rule, "Status-Code");
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_response(&b, 99, NULL, 0), SIPKIT_EINVALID_VALUE);
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_response(&b, 200, S("OK\r\nX: y")), SIPKIT_EINVALID_VALUE);
  assert_string_equal(b.err.rule, "Reason-Phrase");
  assert_int_equal(b.err.offset, 14);
  assert_int_equal(b.len, 0);
}

static void test_reason_phrases(void **state) {
  (void)state;
  static const struct { int code; const char *p; } t[] = {
      {100, "Trying"}, {180, "Ringing"}, {181, "Call Is Being Forwarded"},
      {182, "Queued"}, {183, "Session Progress"},
      {199, "Early Dialog Terminated"}, {200, "OK"}, {202, "Accepted"},
      {204, "No Notification"}, {300, "Multiple Choices"},
      {301, "Moved Permanently"}, {302, "Moved Temporarily"},
      {305, "Use Proxy"}, {380, "Alternative Service"},
      {400, "Bad Request"}, {401, "Unauthorized"}, {402, "Payment Required"},
      {403, "Forbidden"}, {404, "Not Found"}, {405, "Method Not Allowed"},
      {406, "Not Acceptable"}, {407, "Proxy Authentication Required"},
      {408, "Request Timeout"}, {410, "Gone"},
      {412, "Conditional Request Failed"}, {413, "Request Entity Too Large"},
      {414, "Request-URI Too Long"}, {415, "Unsupported Media Type"},
      {416, "Unsupported URI Scheme"}, {417, "Unknown Resource-Priority"},
      {420, "Bad Extension"}, {421, "Extension Required"},
      {422, "Session Interval Too Small"}, {423, "Interval Too Brief"},
      {424, "Bad Location Information"}, {425, "Bad Alert Message"},
      {428, "Use Identity Header"}, {429, "Provide Referrer Identity"},
      {430, "Flow Failed"}, {433, "Anonymity Disallowed"},
      {436, "Bad Identity Info"}, {437, "Unsupported Credential"},
      {438, "Invalid Identity Header"}, {439, "First Hop Lacks Outbound Support"},
      {440, "Max-Breadth Exceeded"}, {469, "Bad Info Package"},
      {470, "Consent Needed"}, {480, "Temporarily Unavailable"},
      {481, "Call/Transaction Does Not Exist"}, {482, "Loop Detected"},
      {483, "Too Many Hops"}, {484, "Address Incomplete"}, {485, "Ambiguous"},
      {486, "Busy Here"}, {487, "Request Terminated"},
      {488, "Not Acceptable Here"}, {489, "Bad Event"},
      {491, "Request Pending"}, {493, "Undecipherable"},
      {494, "Security Agreement Required"}, {500, "Server Internal Error"},
      {501, "Not Implemented"}, {502, "Bad Gateway"},
      {503, "Service Unavailable"}, {504, "Server Time-out"},
      {505, "Version Not Supported"}, {513, "Message Too Large"},
      {555, "Push Notification Service Not Supported"},
      {580, "Precondition Failure"}, {600, "Busy Everywhere"},
      {603, "Decline"}, {604, "Does Not Exist Anywhere"},
      {606, "Not Acceptable"}, {607, "Unwanted"}, {608, "Rejected"},
      {0, ""}, {99, ""}, {101, ""}, {299, ""}, {409, ""}, {699, ""}, {700, ""},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    assert_string_equal(sipkit_reason_phrase(t[i].code), t[i].p);
  /* every phrase is a valid Reason-Phrase: build each status line */
  for (int code = 100; code <= 699; code++) {
    char buf[128];
    sipkit_builder b;
    sipkit_builder_init(&b, buf, sizeof buf);
    assert_int_equal(sipkit_builder_response(&b, code, NULL, 0), SIPKIT_EOK);
  }
}

/* ------------------------------------------------------------------ */
/* Refusals                                                            */

static void start(sipkit_builder *b, char *buf, size_t cap) {
  sipkit_builder_init(b, buf, cap);
  assert_int_equal(sipkit_builder_request(b, S("INVITE"), S("sip:bob@biloxi.com")),
                   SIPKIT_EOK);
}

static void expect_refused(sipkit_builder *b, size_t len_before, int code,
                           const char *rule) {
  assert_int_equal(b->code, code);
  assert_int_equal(b->err.code, code);
  assert_string_equal(b->err.rule, rule);
  assert_int_equal(b->len, len_before); /* nothing of the line was kept */
  /* sticky: later calls do nothing and return the same code */
  assert_int_equal(sipkit_builder_header(b, SIPKIT_HDR_MAX_FORWARDS, S("70")), code);
  assert_int_equal(sipkit_builder_finish(b, NULL, 0, NULL), code);
  assert_int_equal(b->len, len_before);
}

/* src/strcat.h, which replaced snprintf in the builder and the UA: the
 * digits and the cut-to-fit of snprintf. */
static void test_strcat(void **state) {
  (void)state;
  char d[20];
  assert_int_equal(sipkit__utoa(d, 0), 1);
  assert_memory_equal(d, "0", 1);
  assert_int_equal(sipkit__utoa(d, 4294967295ul), 10);
  assert_memory_equal(d, "4294967295", 10);
  assert_int_equal(sipkit__utoa(d, 18446744073709551615ul), 20);
  assert_memory_equal(d, "18446744073709551615", 20);
  char out[12];
  sipkit__str_out o = sipkit__str_start(out, sizeof out);
  sipkit__str_cat(&o, "sip:");
  sipkit__str_uint(&o, 5060);
  assert_string_equal(out, "sip:5060");
  sipkit__str_cat(&o, ";rport");
  assert_int_equal(o.len, 14); /* what was asked for, as snprintf */
  assert_string_equal(out, "sip:5060;rp"); /* cut to 11 and terminated */
  sipkit__str_uint(&o, 7);
  assert_string_equal(out, "sip:5060;rp");
  assert_int_equal(o.len, 15);
}

/* build.c remembers lines that passed the grammar: a repeated valid line
 * is written the same, a refused one is refused every time. */
static void test_validated_line_cache(void **state) {
  (void)state;
  char buf[512], first[512];
  sipkit_builder b;
  size_t n = 0;
  for (int round = 0; round < 3; round++) {
    start(&b, buf, sizeof buf);
    size_t before = b.len;
    assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_CSEQ, S("4711 INVITE")), SIPKIT_EOK);
    if (round == 0) {
      n = b.len - before;
      memcpy(first, buf + before, n);
    }
    assert_int_equal(b.len - before, sizeof "CSeq: 4711 INVITE\r\n" - 1);
    assert_memory_equal(buf + before, first, n);
    start(&b, buf, sizeof buf);
    before = b.len;
    assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_VIA, S("garbage")),
                     SIPKIT_EINVALID_VALUE);
    assert_int_equal(b.err.offset, 12);
    expect_refused(&b, before, SIPKIT_EINVALID_VALUE, "Via");
    /* the same bytes under another header's rule are checked against it */
    start(&b, buf, sizeof buf);
    assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_CALL_ID, S("4711 INVITE")),
                     SIPKIT_EINVALID_VALUE);
    /* URIs: a URI with headers, accepted as an addr-spec, is still no
     * Request-URI; a bad one is refused each time */
    start(&b, buf, sizeof buf);
    assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_TO, NULL, 0, S("sip:bob@biloxi.com?x=y"),
                                         NULL, 0),
                     SIPKIT_EOK);
    static const char *const bad_ruri[] = {"sip:bob@biloxi.com?x=y", "sip:bob@bi loxi.com",
                                           "sip:bob@[::1"};
    for (size_t i = 0; i < sizeof bad_ruri / sizeof bad_ruri[0]; i++) {
      sipkit_builder_init(&b, buf, sizeof buf);
      assert_int_equal(sipkit_builder_request(&b, S("INVITE"), bad_ruri[i], strlen(bad_ruri[i])),
                       SIPKIT_EINVALID_VALUE);
    }
    start(&b, buf, sizeof buf); /* sip:bob@biloxi.com, every round */
    assert_int_equal(b.len, sizeof "INVITE sip:bob@biloxi.com SIP/2.0\r\n" - 1);
  }
}

/* The grammar machine over the line "Name: value": 0, or 1 with *off the
 * offset of the error it reports. */
static int vm_refuses(int id, const char *line, size_t n, uint32_t *off) {
  struct sipkit__ctx c = {0};
  c.base = (sipkit__ptr)line;
  c.end = c.base + n;
  int rc = sipkit__vm_validate(&c, id, c.base, c.end);
  if (off)
    *off = c.err_off;
  return rc;
}

/* A line changed in the buffer after it was written (ua_auto.c's Via
 * patch) is checked again as written lines are: the machine's verdict at
 * the machine's offset, counted from the start of the buffer. */
static void test_recheck_changed_line(void **state) {
  (void)state;
  static const char *const vias[] = {
      "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKa;received=192.0.2.1;rport=5070",
      "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKa;received=::1",
      "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKa;received=1.2.3.4 x",
      "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKa;received=<1>",
  };
  for (size_t i = 0; i < sizeof vias / sizeof vias[0]; i++) {
    size_t n = strlen(vias[i]);
    uint32_t off = 0;
    int refused = vm_refuses(SIPKIT_HDR_VIA, vias[i], n, &off);
    assert_int_equal(refused, i >= 2);
    for (int round = 0; round < 2; round++) { /* the second from the line cache */
      sipkit_builder b;
      sipkit_builder_init_dynamic(&b);
      assert_int_equal(sipkit_builder_response(&b, 200, NULL, 0), SIPKIT_EOK);
      size_t at = b.len;
      assert_int_equal(sipkit_builder_header_raw(&b, S("X-Room"), vias[i], n - 8), SIPKIT_EOK);
      memcpy(b.buf + at, vias[i], n);
      int rc = sipkit__builder_recheck(&b, SIPKIT_HDR_VIA, at, n);
      assert_int_equal(rc, refused ? SIPKIT_EINVALID_VALUE : SIPKIT_EOK);
      if (refused)
        assert_int_equal(b.err.offset, at + off);
      sipkit_builder_free(&b);
    }
  }
}

/* line = "Name: " value for the canonical name of id */
static size_t make_line(char *line, size_t cap, int id, const char *v, size_t vn) {
  static const char *const names[] = {[SIPKIT_HDR_FROM] = "From", [SIPKIT_HDR_TO] = "To",
                                      [SIPKIT_HDR_VIA] = "Via", [SIPKIT_HDR_CALL_ID] = "Call-ID",
                                      [SIPKIT_HDR_CSEQ] = "CSeq"};
  size_t k = (size_t)snprintf(line, cap, "%s: ", names[id]);
  assert_true(k + vn <= cap);
  memcpy(line + k, v, vn);
  return k + vn;
}

/* The builder must refuse exactly what the grammar machine refuses, at the
 * same offset, whether the line is new, repeated or reaches the machine
 * only through a scan; the cache makes every round after the first differ. */
static void expect_as_machine(int id, const char *v, size_t vn) {
  char line[600], buf[1024];
  size_t n = make_line(line, sizeof line, id, v, vn);
  uint32_t off = 0;
  int refused = vm_refuses(id, line, n, &off);
  for (int round = 0; round < 2; round++) {
    sipkit_builder b;
    start(&b, buf, sizeof buf);
    int rc = sipkit_builder_header(&b, id, v, vn);
    if ((rc != SIPKIT_EOK) != (refused != 0) || (refused && b.err.offset != off))
      print_error("%.*s: builder %s at %u, machine %s at %u\n", (int)n, line,
                  sipkit_err_name(rc), b.err.offset, refused ? "refuses" : "accepts", off);
    assert_int_equal(rc != SIPKIT_EOK, refused != 0);
    if (refused)
      assert_int_equal(b.err.offset, off);
  }
}

/* The tail scan: a line whose part before the tail the machine accepts is
 * accepted whole by the machine, over heads of every shape the three
 * headers take (valid and not) and tails valid and not; and the builder
 * agrees with the machine on each. */
static void test_param_tail_scan(void **state) {
  (void)state;
  static const char *const from_heads[] = {
      "<sip:a@b>", "\"Al\" <sip:alice@atlanta.com>", "Al <sip:a@b.com:5060>", "sip:a@b",
      "sip:a@b;x", "sip:a@b;x=y", "sip:a@b?h=v", "sip:a@b:5060", "<sip:a@b>;tag=1",
      "<sip:a@b>;x=\"q;r\"", "<sip:a@b> ", "<tel:+1-555>", "tel:+1555", "sip:a@[::1]",
      "<sip:a@b>;p=[::1]", "<sip:a@b;lr>", "*", "", "<sip:a@b", "sip:", "<sip:a@b>;",
      "<sip:a@b>;=x", "<sip:a@b>;x=", "\"a;b\"<sip:x@y>", "<sip:a@b>;x=y=z", "sip:a@b c",
      "<sip:a@b>,<sip:c@d>", "<sip:a@b>;x=\"q", "http://x/y", "sip:%61@b", "sip:a@b;tag",
      "<sips:a@b>;tag=x;tag=y", "<sip:a@b> ;x", "sip:a@b.", "sip:a@1.2.3.4",
  };
  static const char *const via_heads[] = {
      "SIP/2.0/UDP host", "SIP/2.0/UDP 1.2.3.4:5060", "SIP/2.0/UDP [::1]:5060",
      "SIP/2.0/UDP h;branch=z9hG4bK1", "SIP/2.0/UDP h;received=1.2.3.4", "SIP/2.0/UDP h;ttl=1",
      "SIP/2.0/UDP h;maddr=1.2.3.4", "SIP/2.0/UDP h, SIP/2.0/TCP g", "SIP/2.0/UDP h ",
      "SIP/2.0/UDP h;rport", "SIP/2.0/UDP h;rport=5060", "SIP/2.0/UDP h:", "SIP/2.0/UDP",
      "SIP/2.0/UDP h;received=1.2.3", "SIP/2.0/UDP h.", "SIP/2.0/UDP h;x=\"y\"", "garbage",
      "SIP/2.0/UDP h;", "SIP/2.0/UDP h;ttl=1234", "SIP/2.0/UDP 127.0.0.1:58658",
      "SIP/2.0/UDP h:99999", "SIP/2.0/UDP h;x=[::1]", "SIP/2.0/UDP h:5060;", "",
  };
  static const char *const tails[] = {
      ";tag=x", ";branch=z9hG4bK-1-2", ";rport", ";received=abc", ";received=1.2.3.4",
      ";ttl=abcd", ";ttl=1", ";ttl=", ";maddr=x", ";lr", ";tag=a;tag=b", ";a=b;c", ";x=%",
      ";~", ";rport;branch=z9hG4bK4041", ";branch=z9hG4bK9f13;rport", ";=", ";a=", ";=a",
      ";a==b", ";;a", ";a;", ";a=b=c", ";rport=x", ";rport=12", ";expires=3600", ";q=0.5",
      ";q=x", ";tag=2844SIPpTag0010", "a;b", "x", ";x=y;", ";'`!%*_+-.~",
  };
  const struct {
    int id;
    const char *const *heads;
    size_t count;
  } sets[] = {
      {SIPKIT_HDR_FROM, from_heads, sizeof from_heads / sizeof *from_heads},
      {SIPKIT_HDR_TO, from_heads, sizeof from_heads / sizeof *from_heads},
      {SIPKIT_HDR_VIA, via_heads, sizeof via_heads / sizeof *via_heads},
  };
  char v[300], line[600];
  size_t scanned = 0;
  for (size_t s = 0; s < sizeof sets / sizeof *sets; s++)
    for (size_t h = 0; h < sets[s].count; h++)
      for (size_t t = 0; t <= sizeof tails / sizeof *tails; t++) {
        const char *tail = t < sizeof tails / sizeof *tails ? tails[t] : "";
        size_t vn = (size_t)snprintf(v, sizeof v, "%s%s", sets[s].heads[h], tail);
        size_t n = make_line(line, sizeof line, sets[s].id, v, vn);
        size_t k = sipkit__build_param_tail(sets[s].id, line, n);
        assert_true(k <= n);
        if (k < n && !vm_refuses(sets[s].id, line, k, NULL)) {
          scanned++;
          if (vm_refuses(sets[s].id, line, n, NULL))
            print_error("head %.*s accepted, %s refused\n", (int)k, line, line);
          assert_int_equal(vm_refuses(sets[s].id, line, n, NULL), 0);
        }
        expect_as_machine(sets[s].id, v, vn);
      }
  assert_true(scanned > 500); /* the scan does stand in for the machine */
  /* the lines a UA writes in every call take the scan */
  static const char *const typical[] = {
      "Via: SIP/2.0/UDP 127.0.0.1:58658;rport;branch=z9hG4bK40413449f54c39e98b46e2bb11ab24a9",
      "Via: SIP/2.0/UDP 127.0.0.1:27610;branch=z9hG4bK-2844-10-7",
      "From: <sip:alice@127.0.0.1>;tag=8a17ab10b0419a65",
      "To: service <sip:service@127.0.0.1:27600>;tag=8b23a10885ec10f9",
  };
  static const char *const typical_head[] = {
      "Via: SIP/2.0/UDP 127.0.0.1:58658", "Via: SIP/2.0/UDP 127.0.0.1:27610",
      "From: <sip:alice@127.0.0.1>", "To: service <sip:service@127.0.0.1:27600>"};
  static const int typical_id[] = {SIPKIT_HDR_VIA, SIPKIT_HDR_VIA, SIPKIT_HDR_FROM, SIPKIT_HDR_TO};
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(sipkit__build_param_tail(typical_id[i], typical[i], strlen(typical[i])),
                     strlen(typical_head[i]));
  /* other headers have no such tail (Contact: * takes no params) */
  assert_int_equal(sipkit__build_param_tail(SIPKIT_HDR_CONTACT, S("Contact: *;x=y")), 14);

  /* random lines: edits of the heads and tails above, any byte */
  unsigned seed = 7;
  for (int i = 0; i < 20000; i++) {
    size_t s = (size_t)rand_r(&seed) % 3;
    size_t h = (size_t)rand_r(&seed) % sets[s].count;
    size_t t = (size_t)rand_r(&seed) % (sizeof tails / sizeof *tails);
    size_t vn = (size_t)snprintf(v, sizeof v, "%s%s", sets[s].heads[h], tails[t]);
    for (int e = rand_r(&seed) % 3; e >= 0 && vn; e--) {
      size_t at = (size_t)rand_r(&seed) % vn;
      static const char pick[] = ";=;=a.-:@<>\" \t,/[]?%";
      v[at] = rand_r(&seed) % 4 ? pick[rand_r(&seed) % (sizeof pick - 1)]
                                : (char)(1 + rand_r(&seed) % 255);
    }
    size_t n = make_line(line, sizeof line, sets[s].id, v, vn);
    size_t k = sipkit__build_param_tail(sets[s].id, line, n);
    if (k < n && !vm_refuses(sets[s].id, line, k, NULL)) {
      if (vm_refuses(sets[s].id, line, n, NULL))
        print_error("head %.*s accepted, %.*s refused\n", (int)k, line, (int)n, line);
      assert_int_equal(vm_refuses(sets[s].id, line, n, NULL), 0);
    }
    if (i % 16 == 0 && !memchr(v, '\r', vn) && !memchr(v, '\n', vn))
      expect_as_machine(sets[s].id, v, vn);
  }
}

/* The Call-ID scan accepts only what the machine accepts, every byte in
 * every place, and it takes the Call-IDs UAs write. */
static void test_call_id_scan(void **state) {
  (void)state;
  char v[8], line[64];
  for (int ch = 0; ch < 256; ch++)
    for (int at = 0; at < 4; at++) {
      memcpy(v, at == 3 ? "a@b" : "abc", 3);
      if (at < 3)
        v[at] = (char)ch;
      else
        v[1] = (char)ch, v[0] = '@';
      size_t n = make_line(line, sizeof line, SIPKIT_HDR_CALL_ID, v, 3);
      if (sipkit__build_call_id_ok(v, 3))
        assert_int_equal(vm_refuses(SIPKIT_HDR_CALL_ID, line, n, NULL), 0);
      if (ch != '\r' && ch != '\n')
        expect_as_machine(SIPKIT_HDR_CALL_ID, v, 3);
    }
  static const char *const ok[] = {"a84b4c76e66710", "10-2844@127.0.0.1", "a@b",
                                   "06743f222d22bfcd577109af4741c121", "x'`!%*_+-.~y"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
    assert_int_equal(sipkit__build_call_id_ok(ok[i], strlen(ok[i])), 1);
  static const char *const no[] = {"", "@", "@a", "a@", "a@b@c", "a b", "a(b)"};
  for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
    assert_int_equal(sipkit__build_call_id_ok(no[i], strlen(no[i])), 0);
    expect_as_machine(SIPKIT_HDR_CALL_ID, no[i], strlen(no[i]));
  }
}

/* The CSeq scan accepts only what the machine accepts, every byte in
 * every place, and it takes the CSeq lines UAs write. */
static void test_cseq_scan(void **state) {
  (void)state;
  char v[8], line[64];
  for (int ch = 0; ch < 256; ch++)
    for (int at = 0; at < 5; at++) {
      memcpy(v, "12 BYE", 6);
      v[at < 2 ? at : at + 1] = (char)ch;
      size_t n = make_line(line, sizeof line, SIPKIT_HDR_CSEQ, v, 6);
      if (sipkit__build_cseq_ok(line, n))
        assert_int_equal(vm_refuses(SIPKIT_HDR_CSEQ, line, n, NULL), 0);
      if (ch != '\r' && ch != '\n')
        expect_as_machine(SIPKIT_HDR_CSEQ, v, 6);
    }
  static const char *const ok[] = {"CSeq: 1 INVITE", "CSeq: 2147483647 ACK", "CSeq: 7 invite",
                                   "CSeq: 01 X-Y.z!"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
    assert_int_equal(sipkit__build_cseq_ok(ok[i], strlen(ok[i])), 1);
  static const char *const no[] = {"", "1", "1 ", " 1 BYE", "1  BYE", "1 BYE ", "BYE", "1\tBYE",
                                   "1 B(E", "a BYE"};
  for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
    size_t n = make_line(line, sizeof line, SIPKIT_HDR_CSEQ, no[i], strlen(no[i]));
    assert_int_equal(sipkit__build_cseq_ok(line, n), 0);
    expect_as_machine(SIPKIT_HDR_CSEQ, no[i], strlen(no[i]));
  }
  assert_int_equal(sipkit__build_cseq_ok(S("Cseq: 1 BYE")), 0);
}

/* sipkit_builder_addr checks the URI's bytes, then the URI machine (its
 * verdicts cached), then the line (cached, or a scan for the tail): the
 * same code at the same offset as running both machines every time, for
 * URIs both machines accept, only the line's accepts (a port above 65535),
 * or the bytes check refuses; in any header, on a cold and a warm cache. */
static void test_addr_uri_skip(void **state) {
  (void)state;
  static const struct {
    int id;
    const char *name;
  } hs[] = {{SIPKIT_HDR_FROM, "From"}, {SIPKIT_HDR_TO, "To"}, {SIPKIT_HDR_CONTACT, "Contact"},
            {SIPKIT_HDR_ROUTE, "Route"}, {SIPKIT_HDR_RECORD_ROUTE, "Record-Route"},
            {SIPKIT_HDR_SUBJECT, "Subject"}};
  static const char *const uris[] = {
      "sip:a@b", "sip:alice@127.0.0.1", "sip:a@b;lr", "sip:a@b?x=y", "tel:+1-555", "http://x/y",
      "sip:", "sip:@b", "sip:a@", "x", "sip:a@b:99999", "sip:a@[::1]", "sip:a@[::1", "sip:a%zz@b",
      "sip:a@b;x=\"y\"", "mailto:x@y", "urn:x", "a:b", "sip:a@b:", "sip:a:b@c", "sips:a@b.com",
      "sip:a@b c", "sip:a@b>", "sip:a@b\tc", "", "sip:a@b;maddr=[::1]", "sip:a@b;lr;lr",
      "sip:a@b?", "sip:a@b?x", "sip:a@b#f", "sip:a@b%41", "sip:a@b\"", "sip:a@b,c", "sip:a@b;",
  };
  static const char *const params[] = {NULL, ";tag=1", ";lr", ";x=\"q\"", ";tag=a\r\nX: y", ", <sip:c@d>",
                                       ";expires=5", ";=", " ;x"};
  char line[400], buf[1024];
  for (int round = 0; round < 2; round++)
    for (size_t h = 0; h < sizeof hs / sizeof *hs; h++)
      for (size_t u = 0; u < sizeof uris / sizeof *uris; u++)
        for (size_t pi = 0; pi < sizeof params / sizeof *params; pi++) {
          const char *uri = uris[u], *par = params[pi];
          size_t un = strlen(uri), pn = par ? strlen(par) : 0;
          size_t uri_off = strlen(hs[h].name) + 3; /* "Name: <" */
          /* what checking the URI and then the line gives */
          int want = SIPKIT_EOK;
          uint32_t want_off = 0;
          size_t bad = un;
          for (size_t i = 0; i < un && bad == un; i++)
            if (uri[i] == '\r' || uri[i] == '\n' || uri[i] == '\0')
              bad = i;
          for (size_t i = 0; i < un && bad == un; i++)
            if (uri[i] == ' ' || uri[i] == '\t' || uri[i] == '<' || uri[i] == '>')
              bad = i;
          if (!un || bad < un) {
            want = SIPKIT_EINVALID_VALUE;
            want_off = (uint32_t)(uri_off + bad);
          } else {
            struct sipkit__ctx c = {0};
            sipkit_uri pu;
            c.base = (sipkit__ptr)uri;
            c.end = c.base + un;
            if (sipkit__vm_uri(&c, &pu, c.base, c.end)) {
              want = SIPKIT_EINVALID_VALUE;
              want_off = (uint32_t)uri_off + c.err_off;
            }
          }
          size_t n = (size_t)snprintf(line, sizeof line, "%s: <%s>", hs[h].name, uri);
          if (want == SIPKIT_EOK && pn) {
            size_t pbad = strcspn(par, "\r\n");
            if (pbad < pn) {
              want = SIPKIT_EINVALID_VALUE;
              want_off = (uint32_t)(n + pbad);
            }
          }
          memcpy(line + n, par ? par : "", pn);
          n += pn;
          if (want == SIPKIT_EOK && vm_refuses(hs[h].id, line, n, &want_off))
            want = SIPKIT_EINVALID_VALUE;
          sipkit_builder b;
          start(&b, buf, sizeof buf);
          int rc = sipkit_builder_addr(&b, hs[h].id, NULL, 0, uri, un, par, pn);
          if (rc != want || (rc && b.err.offset != want_off))
            print_error("%.*s: got %s at %u, want %s at %u\n", (int)n, line, sipkit_err_name(rc),
                        b.err.offset, sipkit_err_name(want), want_off);
          assert_int_equal(rc, want);
          if (rc)
            assert_int_equal(b.err.offset, want_off);
          else
            assert_memory_equal(buf + b.len - n - 2, line, n);
        }
}

/* A line sipkit_builder_addr takes as valid by construction (an ASCII
 * display-name written as a quoted-string, a URI the URI machine accepts,
 * a ";token[=token]" tail) is one the line's grammar accepts, and the
 * lines it does not take so still get the grammar's verdict. */
static void test_addr_display_built(void **state) {
  (void)state;
  static const int ids[] = {SIPKIT_HDR_FROM, SIPKIT_HDR_TO, SIPKIT_HDR_CONTACT, SIPKIT_HDR_ROUTE,
                            SIPKIT_HDR_RECORD_ROUTE, SIPKIT_HDR_SUBJECT};
  static const char *const displays[] = {NULL, "", "Alice", "A \"B\" \\ C", "tab\there", "\x7f~!#$%",
                                         "caf\xc3\xa9", "bad\xc3", "\x01\x1f"};
  static const char *const params[] = {NULL, ";tag=1", ";tag=a;x", ";lr", ";x=\"q\"", ";=", "x"};
  char buf[1024];
  for (size_t h = 0; h < sizeof ids / sizeof *ids; h++)
    for (size_t d = 0; d < sizeof displays / sizeof *displays; d++)
      for (size_t pi = 0; pi < sizeof params / sizeof *params; pi++) {
        const char *disp = displays[d], *par = params[pi];
        sipkit_builder b;
        start(&b, buf, sizeof buf);
        size_t before = b.len;
        int rc = sipkit_builder_addr(&b, ids[h], disp, disp ? strlen(disp) : 0, S("sip:a@b.com"),
                                     par, par ? strlen(par) : 0);
        if (rc == SIPKIT_EOK) {
          assert_false(vm_refuses(ids[h], buf + before, b.len - before - 2, NULL));
        } else {
          assert_int_equal(rc, SIPKIT_EINVALID_VALUE);
          assert_int_equal(b.len, before);
        }
      }
}

static void test_injection(void **state) {
  (void)state;
  char buf[1024];
  sipkit_builder b;
  static const struct {
    int id;
    const char *v;
    size_t n;
    const char *rule;
    uint32_t off;
  } t[] = {
      {SIPKIT_HDR_SUBJECT, S("hi\r\nVia: SIP/2.0/UDP evil"), "Subject", 11},
      {SIPKIT_HDR_SUBJECT, S("hi\nX: y"), "Subject", 11},
      {SIPKIT_HDR_SUBJECT, S("hi\rX: y"), "Subject", 11},
      {SIPKIT_HDR_SUBJECT, S("hi\r\n there"), "Subject", 11}, /* a fold too */
      {SIPKIT_HDR_SUBJECT, S("a\0b"), "Subject", 10},
      {SIPKIT_HDR_CALL_ID, S("abc\r\n\r\nINVITE sip:x SIP/2.0"), "Call-ID", 12},
      {SIPKIT_HDR_CALL_ID, S("abc\0def"), "Call-ID", 12},
      {SIPKIT_HDR_VIA, S("garbage"), "Via", 12}, /* at the line end */
      {SIPKIT_HDR_CSEQ, S("abc INVITE"), "CSeq", 6},
      {SIPKIT_HDR_MAX_FORWARDS, S("70\r\n"), "Max-Forwards", 16},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    start(&b, buf, sizeof buf);
    size_t before = b.len;
    assert_int_equal(sipkit_builder_header(&b, t[i].id, t[i].v, t[i].n),
                     SIPKIT_EINVALID_VALUE);
    if (b.err.offset != t[i].off)
      print_error("case %zu: offset %u\n", i, b.err.offset);
    assert_int_equal(b.err.offset, t[i].off);
    expect_refused(&b, before, SIPKIT_EINVALID_VALUE, t[i].rule);
  }
  /* raw extension headers: the name against header-name, the line
   * against extension-header */
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header_raw(&b, S("X-Foo"), S("a\r\nX-Bar: b")),
                   SIPKIT_EINVALID_VALUE);
  expect_refused(&b, 35, SIPKIT_EINVALID_VALUE, "extension-header");
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header_raw(&b, S("X-Foo"), S("a\0b")),
                   SIPKIT_EINVALID_VALUE);
  expect_refused(&b, 35, SIPKIT_EINVALID_VALUE, "extension-header");
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header_raw(&b, S("X-Foo: a\r\nX-Bar"), S("b")),
                   SIPKIT_EINVALID_VALUE);
  assert_int_equal(b.err.offset, 5);
  expect_refused(&b, 35, SIPKIT_EINVALID_VALUE, "header-name");
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header_raw(&b, S(""), S("b")), SIPKIT_EINVALID_VALUE);
  expect_refused(&b, 35, SIPKIT_EINVALID_VALUE, "header-name");
  /* a known name given raw is held to its own rule */
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header_raw(&b, S("v"), S("garbage")), SIPKIT_EINVALID_VALUE);
  expect_refused(&b, 35, SIPKIT_EINVALID_VALUE, "Via");

  /* display name */
  static const char *const bad_display[] = {"Bob\r\nX: y", "Bob\nX", "Bo\0b"};
  static const size_t bad_display_len[] = {10, 6, 4};
  for (size_t i = 0; i < 3; i++) {
    start(&b, buf, sizeof buf);
    assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_TO, bad_display[i],
                                         bad_display_len[i], S("sip:bob@biloxi.com"),
                                         NULL, 0),
                     SIPKIT_EINVALID_VALUE);
    assert_int_equal(b.err.offset, 5 + (i == 2 ? 2 : 3)); /* To: "Bob|Bo| */
    expect_refused(&b, 35, SIPKIT_EINVALID_VALUE, "display-name");
  }
  /* URIs */
  static const char *const bad_uri[] = {"sip:bob@biloxi.com\r\nX: y",
                                        "sip:bob@biloxi.com\n", "sip:bob\0@biloxi.com",
                                        "sip:bob@biloxi.com> <sip:x"};
  static const size_t bad_uri_len[] = {25, 19, 19, 26};
  for (size_t i = 0; i < 4; i++) {
    start(&b, buf, sizeof buf);
    assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_TO, NULL, 0, bad_uri[i],
                                         bad_uri_len[i], NULL, 0),
                     SIPKIT_EINVALID_VALUE);
    expect_refused(&b, 35, SIPKIT_EINVALID_VALUE, "addr-spec");
  }
  for (size_t i = 0; i < 4; i++) {
    sipkit_builder_init(&b, buf, sizeof buf);
    assert_int_equal(sipkit_builder_request(&b, S("INVITE"), bad_uri[i], bad_uri_len[i]),
                     SIPKIT_EINVALID_VALUE);
    expect_refused(&b, 0, SIPKIT_EINVALID_VALUE, "Request-URI");
  }
  /* URI headers are not allowed in a Request-URI */
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_request(&b, S("INVITE"), S("sip:bob@biloxi.com?Subject=x")),
                   SIPKIT_EINVALID_VALUE);
  assert_string_equal(b.err.rule, "Request-URI");
  /* method token */
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_request(&b, S("INV ITE"), S("sip:bob@biloxi.com")),
                   SIPKIT_EINVALID_VALUE);
  assert_int_equal(b.err.offset, 3);
  expect_refused(&b, 0, SIPKIT_EINVALID_VALUE, "Method");
  /* params after the URI */
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_FROM, NULL, 0, S("sip:a@b.com"),
                                       S(";tag=1\r\nX: y")),
                   SIPKIT_EINVALID_VALUE);
  expect_refused(&b, 35, SIPKIT_EINVALID_VALUE, "From");
}

static void test_misuse(void **state) {
  (void)state;
  char buf[512];
  sipkit_builder b;
  /* header before the start line */
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_SUBJECT, S("x")), SIPKIT_EARGUMENT);
  /* Content-Length is computed, never given */
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_CONTENT_LENGTH, S("0")),
                   SIPKIT_EARGUMENT);
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header_raw(&b, S("l"), S("0")), SIPKIT_EARGUMENT);
  /* the parse-back check: a request without the mandatory headers */
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EMISSING_HEADER);
  /* display name escapes: '"' and '\' become quoted-pairs */
  start(&b, buf, sizeof buf);
  size_t before = b.len;
  assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_TO, S("A \"B\" \\ C"),
                                       S("sip:bob@biloxi.com"), NULL, 0),
                   SIPKIT_EOK);
  const char want[] = "To: \"A \\\"B\\\" \\\\ C\" <sip:bob@biloxi.com>\r\n";
  assert_int_equal(b.len - before, sizeof want - 1);
  assert_memory_equal(buf + before, want, sizeof want - 1);
}

/* The random pool survives fork(): a child must not hand out the bytes
 * its parent will (two sipkit load workers with the same branches). */
static void test_generators_after_fork(void **state) {
  (void)state;
  char parent[SIPKIT_CALL_ID_SIZE], child[SIPKIT_CALL_ID_SIZE];
  assert_int_equal(sipkit_gen_call_id(parent, sizeof parent), 32); /* pool filled */
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int n = sipkit_gen_call_id(child, sizeof child);
    _exit(n == 32 && write(fds[1], child, 32) == 32 ? 0 : 1);
  }
  close(fds[1]);
  assert_int_equal(read(fds[0], child, 32), 32);
  child[32] = '\0';
  close(fds[0]);
  int st = -1;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_int_equal(sipkit_gen_call_id(parent, sizeof parent), 32);
  assert_string_not_equal(parent, child);
}

static void test_generators(void **state) {
  (void)state;
  char a[SIPKIT_BRANCH_SIZE], c[SIPKIT_BRANCH_SIZE];
  assert_int_equal(sipkit_gen_branch(a, sizeof a), 39);
  assert_int_equal(sipkit_gen_branch(c, sizeof c), 39);
  assert_memory_equal(a, "z9hG4bK", 7);
  assert_int_equal(strlen(a), 39);
  assert_int_equal(strspn(a + 7, "0123456789abcdef"), 32);
  assert_string_not_equal(a, c);
  assert_int_equal(sipkit_gen_branch(a, SIPKIT_BRANCH_SIZE - 1), -1);
  char t[SIPKIT_TAG_SIZE], t2[SIPKIT_TAG_SIZE];
  assert_int_equal(sipkit_gen_tag(t, sizeof t), 16);
  assert_int_equal(sipkit_gen_tag(t2, sizeof t2), 16);
  assert_int_equal(strspn(t, "0123456789abcdef"), 16);
  assert_string_not_equal(t, t2);
  assert_int_equal(sipkit_gen_tag(t, 16), -1);
  char id[SIPKIT_CALL_ID_SIZE], id2[SIPKIT_CALL_ID_SIZE];
  assert_int_equal(sipkit_gen_call_id(id, sizeof id), 32);
  assert_int_equal(sipkit_gen_call_id(id2, sizeof id2), 32);
  assert_int_equal(strspn(id, "0123456789abcdef"), 32);
  assert_string_not_equal(id, id2);
  /* they fit their grammar rules */
  sipkit_builder b;
  char buf[512];
  start(&b, buf, sizeof buf);
  char via[128];
  snprintf(via, sizeof via, "SIP/2.0/UDP pc33.atlanta.com;branch=%s", a);
  assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_VIA, via, strlen(via)), SIPKIT_EOK);
  assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_CALL_ID, id, strlen(id)), SIPKIT_EOK);
  char from[128];
  snprintf(from, sizeof from, ";tag=%s", t);
  assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_FROM, NULL, 0, S("sip:a@b.com"),
                                       from, strlen(from)),
                   SIPKIT_EOK);
}

/* ------------------------------------------------------------------ */
/* RFC 3261 helpers                                                    */

/* The INVITE of RFC 3261 §4 as Bob receives it (§24.2 F1 shape), with two
 * Record-Route values on one line and a Timestamp. */
#define INVITE_AT_BOB                                                          \
  "INVITE sip:bob@biloxi.com SIP/2.0\r\n"                                      \
  "Via: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3\r\n" \
  "Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2,\r\n" \
  " SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n" \
  "Max-Forwards: 68\r\n"                                                       \
  "Record-Route: <sip:server10.biloxi.com;lr>, <sip:bigbox3.site3.atlanta.com;lr>\r\n" \
  "To: Bob <sip:bob@biloxi.com>\r\n"                                           \
  "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"                     \
  "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"                               \
  "CSeq: 314159 INVITE\r\n"                                                    \
  "Timestamp: 54\r\n"                                                          \
  "Contact: <sip:alice@pc33.atlanta.com>\r\n"                                  \
  "Content-Length: 0\r\n"                                                      \
  "\r\n"

#define RESP_VIAS                                                              \
  "Via: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3\r\n" \
  "Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2\r\n" \
  "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"

/* §8.2.6.2 + §12.1.1: 180 to INVITE copies Vias in order, Record-Route,
 * From, To with a tag added, Call-ID, CSeq (cf. RFC 3261 §24.2 F8). */
static void test_response_180(void **state) {
  (void)state;
  static const char req[] = INVITE_AT_BOB;
  sipkit_msg m;
  parse_ok(&m, g_hdrs, req, sizeof req - 1);
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  assert_int_equal(sipkit_build_response(&b, &m, req, 180, NULL, 0, STR("a6c85cf")),
                   SIPKIT_EOK);
  sipkit_builder_addr(&b, SIPKIT_HDR_CONTACT, NULL, 0, S("sip:bob@192.0.2.4"), NULL, 0);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
  expect_bytes(&b, "SIP/2.0 180 Ringing\r\n" RESP_VIAS
                   "Record-Route: <sip:server10.biloxi.com;lr>\r\n"
                   "Record-Route: <sip:bigbox3.site3.atlanta.com;lr>\r\n"
                   "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
                   "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n"
                   "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
                   "CSeq: 314159 INVITE\r\n"
                   "Contact: <sip:bob@192.0.2.4>\r\n"
                   "Content-Length: 0\r\n\r\n");
  /* the helpers report the exact size too, at every cap below it */
  const size_t want = b.len;
  char fixed[1024];
  assert_true(want < sizeof fixed);
  for (size_t cap = 0; cap < want; cap++) {
    sipkit_builder f;
    memset(fixed, 0x5A, sizeof fixed);
    sipkit_builder_init(&f, fixed, cap);
    sipkit_build_response(&f, &m, req, 180, NULL, 0, STR("a6c85cf"));
    sipkit_builder_addr(&f, SIPKIT_HDR_CONTACT, NULL, 0, S("sip:bob@192.0.2.4"), NULL, 0);
    assert_int_equal(sipkit_builder_finish(&f, NULL, 0, NULL), SIPKIT_EBUFFER_TOO_SMALL);
    assert_int_equal(f.need, want);
    assert_memory_equal(fixed, b.buf, f.len); /* a prefix of the message */
    for (size_t i = cap; i < sizeof fixed; i++)
      assert_int_equal((unsigned char)fixed[i], 0x5A);
  }
  sipkit_builder_free(&b);
}

/* §8.2.6.1: 100 Trying gets no To tag, copies Timestamp; no Record-Route
 * (100 creates no dialog). */
static void test_response_100(void **state) {
  (void)state;
  static const char req[] = INVITE_AT_BOB;
  sipkit_msg m;
  parse_ok(&m, g_hdrs, req, sizeof req - 1);
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  assert_int_equal(sipkit_build_response(&b, &m, req, 100, NULL, 0, NOSTR), SIPKIT_EOK);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
  expect_bytes(&b, "SIP/2.0 100 Trying\r\n" RESP_VIAS
                   "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
                   "To: Bob <sip:bob@biloxi.com>\r\n"
                   "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
                   "CSeq: 314159 INVITE\r\n"
                   "Timestamp: 54\r\n"
                   "Content-Length: 0\r\n\r\n");
  sipkit_builder_free(&b);
}

/* A final non-2xx creates no dialog: no Record-Route; a generated tag. */
static void test_response_486_generated_tag(void **state) {
  (void)state;
  static const char req[] = INVITE_AT_BOB;
  sipkit_msg m, r;
  parse_ok(&m, g_hdrs, req, sizeof req - 1);
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  assert_int_equal(sipkit_build_response(&b, &m, req, 486, NULL, 0, NOSTR), SIPKIT_EOK);
  sipkit_msg_init(&r, g_hdrs2, SIPKIT_MAX_HEADERS);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, &r), SIPKIT_EOK);
  assert_int_equal(r.status, 486);
  assert_null(sipkit_msg_header(&r, SIPKIT_HDR_RECORD_ROUTE));
  assert_null(sipkit_msg_header(&r, SIPKIT_HDR_TIMESTAMP));
  assert_non_null(r.to);
  assert_int_equal(r.to->tag.len, 16);
  assert_int_equal(strspn(b.buf + r.to->tag.off, "0123456789abcdef"), 16);
  assert_memory_equal(b.buf, "SIP/2.0 486 Busy Here\r\n", 23);
  sipkit_builder_free(&b);
}

/* 200 to OPTIONS: no Record-Route; a To that has a tag keeps it. */
static void test_response_options_tagged(void **state) {
  (void)state;
  static const char req[] =
      "OPTIONS sip:carol@chicago.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877\r\n"
      "Max-Forwards: 70\r\n"
      "Record-Route: <sip:p1.example.com;lr>\r\n"
      "To: <sip:carol@chicago.com>;tag=93810874\r\n"
      "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
      "Call-ID: a84b4c76e66710\r\n"
      "CSeq: 63104 OPTIONS\r\n"
      "Content-Length: 0\r\n\r\n";
  sipkit_msg m;
  parse_ok(&m, g_hdrs, req, sizeof req - 1);
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  assert_int_equal(sipkit_build_response(&b, &m, req, 200, S("Fine"), STR("x")), SIPKIT_EOK);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
  expect_bytes(&b, "SIP/2.0 200 Fine\r\n"
                   "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877\r\n"
                   "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
                   "To: <sip:carol@chicago.com>;tag=93810874\r\n"
                   "Call-ID: a84b4c76e66710\r\n"
                   "CSeq: 63104 OPTIONS\r\n"
                   "Content-Length: 0\r\n\r\n");
  sipkit_builder_free(&b);
}

#define INVITE_FROM_ALICE                                                      \
  "INVITE sip:bob@biloxi.com SIP/2.0\r\n"                                      \
  "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"              \
  "Max-Forwards: 70\r\n"                                                       \
  "Route: <sip:p1.atlanta.com;lr>\r\n"                                         \
  "Route: <sip:p2.biloxi.com;lr>\r\n"                                          \
  "To: Bob <sip:bob@biloxi.com>\r\n"                                           \
  "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"                     \
  "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"                               \
  "CSeq: 314159 INVITE\r\n"                                                    \
  "Contact: <sip:alice@pc33.atlanta.com>\r\n"                                  \
  "Content-Length: 0\r\n"                                                      \
  "\r\n"

/* §17.1.1.3: ACK for a non-2xx final response. */
static void test_ack_non2xx(void **state) {
  (void)state;
  static const char inv[] = INVITE_FROM_ALICE;
  static const char resp[] =
      "SIP/2.0 486 Busy Here\r\n"
      "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
      "To: Bob <sip:bob@biloxi.com>;tag=314159\r\n"
      "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
      "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
      "CSeq: 314159 INVITE\r\n"
      "Content-Length: 0\r\n\r\n";
  sipkit_msg mi, mr;
  parse_ok(&mi, g_hdrs, inv, sizeof inv - 1);
  parse_ok(&mr, g_hdrs2, resp, sizeof resp - 1);
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  assert_int_equal(sipkit_build_ack_non2xx(&b, &mi, inv, &mr, resp), SIPKIT_EOK);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
  expect_bytes(&b, "ACK sip:bob@biloxi.com SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
                   "Max-Forwards: 70\r\n"
                   "Route: <sip:p1.atlanta.com;lr>\r\n"
                   "Route: <sip:p2.biloxi.com;lr>\r\n"
                   "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
                   "To: Bob <sip:bob@biloxi.com>;tag=314159\r\n"
                   "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
                   "CSeq: 314159 ACK\r\n"
                   "Content-Length: 0\r\n\r\n");
  sipkit_builder_free(&b);
  /* a 2xx is not acknowledged this way */
  sipkit_builder_init_dynamic(&b);
  assert_int_equal(sipkit_build_ack_non2xx(&b, &mi, inv, &mi, inv), SIPKIT_EARGUMENT);
  sipkit_builder_free(&b);
}

/* §9.1: CANCEL. */
static void test_cancel(void **state) {
  (void)state;
  static const char inv[] = INVITE_FROM_ALICE;
  sipkit_msg mi;
  parse_ok(&mi, g_hdrs, inv, sizeof inv - 1);
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  assert_int_equal(sipkit_build_cancel(&b, &mi, inv), SIPKIT_EOK);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
  expect_bytes(&b, "CANCEL sip:bob@biloxi.com SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
                   "Max-Forwards: 70\r\n"
                   "Route: <sip:p1.atlanta.com;lr>\r\n"
                   "Route: <sip:p2.biloxi.com;lr>\r\n"
                   "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
                   "To: Bob <sip:bob@biloxi.com>\r\n"
                   "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
                   "CSeq: 314159 CANCEL\r\n"
                   "Content-Length: 0\r\n\r\n");
  sipkit_builder_free(&b);
}

/* §12.2.1.1 loose routing; a BYE from Bob (cf. RFC 3261 §24.2 F13). */
static void test_in_dialog_loose(void **state) {
  (void)state;
  static const sipkit_str routes[] = {{S("<sip:p2.biloxi.com;lr>")},
                                      {S("<sip:p1.atlanta.com;lr>")}};
  sipkit_dialog_view d = {
      .call_id = STR("a84b4c76e66710@pc33.atlanta.com"),
      .local_uri = STR("sip:bob@biloxi.com"), .local_tag = STR("a6c85cf"),
      .remote_uri = STR("sip:alice@atlanta.com"), .remote_tag = STR("1928301774"),
      .remote_target = STR("sip:alice@pc33.atlanta.com"),
      .route_set = routes, .route_count = 2, .local_cseq = 230};
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  assert_int_equal(sipkit_build_in_dialog(&b, &d, STR("BYE"), 0,
                                          STR("SIP/2.0/UDP 192.0.2.4"),
                                          STR("z9hG4bKnashds10")),
                   SIPKIT_EOK);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
  expect_bytes(&b, "BYE sip:alice@pc33.atlanta.com SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds10\r\n"
                   "Max-Forwards: 70\r\n"
                   "Route: <sip:p2.biloxi.com;lr>\r\n"
                   "Route: <sip:p1.atlanta.com;lr>\r\n"
                   "From: <sip:bob@biloxi.com>;tag=a6c85cf\r\n"
                   "To: <sip:alice@atlanta.com>;tag=1928301774\r\n"
                   "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
                   "CSeq: 231 BYE\r\n"
                   "Content-Length: 0\r\n\r\n");
  sipkit_builder_free(&b);
}

/* An "lr" parameter with a value (Kamailio's full-lr mode writes ";lr=on")
 * is loose routing too; a parameter merely starting with "lr" is not. */
static void test_in_dialog_lr_value(void **state) {
  (void)state;
  static const sipkit_str on[] = {{S("<sip:p1.example.com;transport=udp;LR=on>")}};
  static const sipkit_str lrx[] = {{S("<sip:p1.example.com;lrx=1>")}};
  sipkit_dialog_view d = {
      .call_id = STR("c1"),
      .local_uri = STR("sip:alice@atlanta.com"), .local_tag = STR("t1"),
      .remote_uri = STR("sip:bob@biloxi.com"), .remote_tag = STR("t2"),
      .remote_target = STR("sip:bob@192.0.2.4"),
      .route_set = on, .route_count = 1, .local_cseq = 1};
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  assert_int_equal(sipkit_build_in_dialog(&b, &d, STR("BYE"), 2,
                                          STR("SIP/2.0/UDP 192.0.2.1"), STR("z9hG4bK1")),
                   SIPKIT_EOK);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
  expect_bytes(&b, "BYE sip:bob@192.0.2.4 SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
                   "Max-Forwards: 70\r\n"
                   "Route: <sip:p1.example.com;transport=udp;LR=on>\r\n"
                   "From: <sip:alice@atlanta.com>;tag=t1\r\n"
                   "To: <sip:bob@biloxi.com>;tag=t2\r\n"
                   "Call-ID: c1\r\n"
                   "CSeq: 2 BYE\r\n"
                   "Content-Length: 0\r\n\r\n");
  sipkit_builder_free(&b);
  d.route_set = lrx;
  sipkit_builder_init_dynamic(&b);
  assert_int_equal(sipkit_build_in_dialog(&b, &d, STR("BYE"), 2,
                                          STR("SIP/2.0/UDP 192.0.2.1"), STR("z9hG4bK1")),
                   SIPKIT_EOK);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
  assert_memory_equal(b.buf, "BYE sip:p1.example.com;lrx=1 SIP/2.0\r\n", 38);
  sipkit_builder_free(&b);
}

/* §12.2.1.1 strict routing: Request-URI = first route (URI headers
 * stripped), the rest of the route set, remote target as last Route. */
static void test_in_dialog_strict(void **state) {
  (void)state;
  static const sipkit_str routes[] = {{S("<sip:p1.example.com?X=1>")},
                                      {S("<sip:p2.example.com;lr>")}};
  sipkit_dialog_view d = {
      .call_id = STR("c1"),
      .local_uri = STR("sip:alice@atlanta.com"), .local_tag = STR("t1"),
      .remote_uri = STR("sip:bob@biloxi.com"), .remote_tag = STR("t2"),
      .remote_target = STR("sip:bob@192.0.2.4"),
      .route_set = routes, .route_count = 2, .local_cseq = 1};
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  assert_int_equal(sipkit_build_in_dialog(&b, &d, STR("INFO"), 5,
                                          STR("SIP/2.0/TCP 192.0.2.1:5060"), STR("z9hG4bK1")),
                   SIPKIT_EOK);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
  expect_bytes(&b, "INFO sip:p1.example.com SIP/2.0\r\n"
                   "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
                   "Max-Forwards: 70\r\n"
                   "Route: <sip:p2.example.com;lr>\r\n"
                   "Route: <sip:bob@192.0.2.4>\r\n"
                   "From: <sip:alice@atlanta.com>;tag=t1\r\n"
                   "To: <sip:bob@biloxi.com>;tag=t2\r\n"
                   "Call-ID: c1\r\n"
                   "CSeq: 5 INFO\r\n"
                   "Content-Length: 0\r\n\r\n");
  sipkit_builder_free(&b);
}

/* §13.2.2.4: ACK for a 2xx, no route set, CSeq number of the INVITE, a new
 * branch. */
static void test_ack_2xx(void **state) {
  (void)state;
  sipkit_dialog_view d = {
      .call_id = STR("a84b4c76e66710@pc33.atlanta.com"),
      .local_uri = STR("sip:alice@atlanta.com"), .local_tag = STR("1928301774"),
      .remote_uri = STR("sip:bob@biloxi.com"), .remote_tag = STR("a6c85cf"),
      .remote_target = STR("sip:bob@192.0.2.4"), .local_cseq = 314159};
  sipkit_builder b;
  sipkit_msg r;
  sipkit_builder_init_dynamic(&b);
  assert_int_equal(sipkit_build_in_dialog(&b, &d, STR("ACK"), 314159,
                                          STR("SIP/2.0/UDP pc33.atlanta.com"), NOSTR),
                   SIPKIT_EOK);
  sipkit_msg_init(&r, g_hdrs2, SIPKIT_MAX_HEADERS);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, &r), SIPKIT_EOK);
  static const char head[] = "ACK sip:bob@192.0.2.4 SIP/2.0\r\n"
                             "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK";
  assert_memory_equal(b.buf, head, sizeof head - 1);
  assert_int_equal(r.via->branch.len, 39);
  static const char tail[] = "\r\nMax-Forwards: 70\r\n"
                             "From: <sip:alice@atlanta.com>;tag=1928301774\r\n"
                             "To: <sip:bob@biloxi.com>;tag=a6c85cf\r\n"
                             "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
                             "CSeq: 314159 ACK\r\n"
                             "Content-Length: 0\r\n\r\n";
  assert_int_equal(b.len, sizeof head - 1 + 32 + sizeof tail - 1);
  assert_memory_equal(b.buf + b.len - (sizeof tail - 1), tail, sizeof tail - 1);
  assert_int_equal(r.cseq->num, 314159);
  assert_int_equal(r.cseq->method, SIPKIT_METHOD_ACK);
  sipkit_builder_free(&b);
}

/* ------------------------------------------------------------------ */
/* Round trips                                                         */

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = malloc((size_t)n + 1);
  if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  if (p)
    p[n] = '\0'; /* the verdict tables are read with strtok */
  fclose(f);
  *len = (size_t)n;
  return p;
}

/* Rebuild m (parsed from buf): start line, every header line (the values
 * of one line joined with ", ", unfolded, name as written) but
 * Content-Length, body. */
static int rebuild(sipkit_builder *b, const sipkit_msg *m, const char *buf,
                   sipkit_msg *out) {
  static char val[SIPKIT_MAX_MSG_SIZE];
  if (m->status)
    sipkit_builder_response(b, m->status, buf + m->reason.off, m->reason.len);
  else
    sipkit_builder_request(b, buf + m->method_name.off, m->method_name.len,
                           buf + m->request_uri.off, m->request_uri.len);
  for (uint32_t i = 0; i < m->num_headers; i++) {
    const sipkit_header *h = &m->headers[i];
    if (h->id == SIPKIT_HDR_CONTENT_LENGTH)
      continue;
    if (i && m->headers[i - 1].name.off == h->name.off)
      continue; /* joined with the first value of its line */
    size_t n = 0;
    for (uint32_t j = i; j < m->num_headers && m->headers[j].name.off == h->name.off; j++) {
      if (j > i) {
        memcpy(val + n, ", ", 2);
        n += 2;
      }
      n += sipkit_unfold(buf, m->headers[j].value, val + n, sizeof val - n);
    }
    sipkit_builder_header_raw(b, buf + h->name.off, h->name.len, val, n);
  }
  return sipkit_builder_finish(b, buf + m->body.off, m->body.len, out);
}

static void same_structure(const sipkit_msg *a, const char *abuf,
                           const sipkit_msg *b, const char *bbuf) {
  static char va[SIPKIT_MAX_MSG_SIZE], vb[SIPKIT_MAX_MSG_SIZE];
  assert_int_equal(a->status, b->status);
  assert_int_equal(a->method, b->method);
  assert_int_equal(a->method_name.len, b->method_name.len);
  assert_memory_equal(abuf + a->method_name.off, bbuf + b->method_name.off, a->method_name.len);
  assert_int_equal(a->request_uri.len, b->request_uri.len);
  assert_memory_equal(abuf + a->request_uri.off, bbuf + b->request_uri.off, a->request_uri.len);
  assert_int_equal(a->reason.len, b->reason.len);
  assert_memory_equal(abuf + a->reason.off, bbuf + b->reason.off, a->reason.len);
  uint32_t i = 0, j = 0;
  for (;;) {
    while (i < a->num_headers && a->headers[i].id == SIPKIT_HDR_CONTENT_LENGTH)
      i++;
    while (j < b->num_headers && b->headers[j].id == SIPKIT_HDR_CONTENT_LENGTH)
      j++;
    if (i == a->num_headers || j == b->num_headers)
      break;
    const sipkit_header *x = &a->headers[i++], *y = &b->headers[j++];
    assert_int_equal(x->id, y->id);
    assert_int_equal(x->name.len, y->name.len);
    assert_memory_equal(abuf + x->name.off, bbuf + y->name.off, x->name.len);
    size_t na = sipkit_unfold(abuf, x->value, va, sizeof va);
    size_t nb = sipkit_unfold(bbuf, y->value, vb, sizeof vb);
    assert_int_equal(na, nb);
    assert_memory_equal(va, vb, na);
  }
  assert_int_equal(i, a->num_headers);
  assert_int_equal(j, b->num_headers);
  assert_int_equal(a->body.len, b->body.len);
  assert_memory_equal(abuf + a->body.off, bbuf + b->body.off, a->body.len);
}

/* Round trip one file; returns 1 when the rebuilt bytes equal the input
 * (up to msg.size). */
static int round_trip(const char *path, unsigned flags) {
  size_t len;
  char *buf = slurp(path, &len);
  assert_non_null(buf);
  sipkit_msg m, m2;
  sipkit_error e;
  sipkit_msg_init(&m, g_hdrs, SIPKIT_MAX_HEADERS);
  assert_int_equal(sipkit_parse(&m, buf, len, flags, &e), SIPKIT_EOK);
  /* A header the parser keeps raw yet its rule rejects (RFC 4475
   * baddate.dat: a Date the grammar does not allow) cannot be built: the
   * builder must refuse it with that header's rule. */
  const char *bad_rule = NULL;
  for (uint32_t i = 0; i < m.num_headers && !bad_rule; i++) {
    if (i && m.headers[i - 1].name.off == m.headers[i].name.off)
      continue;
    if (sipkit_header_validate(&m, buf, &m.headers[i], &e))
      bad_rule = e.rule;
  }
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  b.parse_flags = flags;
  sipkit_msg_init(&m2, g_hdrs2, SIPKIT_MAX_HEADERS);
  int rc = rebuild(&b, &m, buf, &m2);
  /* without a msg the parse-back skips the value machines of the lines the
   * grammar checked when written: the verdict and the bytes are the same */
  sipkit_builder b2;
  sipkit_builder_init_dynamic(&b2);
  b2.parse_flags = flags;
  assert_int_equal(rebuild(&b2, &m, buf, NULL), rc);
  assert_int_equal(b2.err.offset, b.err.offset);
  assert_int_equal(b2.len, b.len);
  assert_memory_equal(b2.buf, b.buf, b.len);
  sipkit_builder_free(&b2);
  if (bad_rule) {
    print_message("%s: refused, %s [%s]\n", path, sipkit_err_name(rc), b.err.rule);
    assert_int_equal(rc, SIPKIT_EINVALID_VALUE);
    assert_string_equal(b.err.rule, bad_rule);
    sipkit_builder_free(&b);
    free(buf);
    return 0;
  }
  if (rc)
    print_error("%s: %s at %u [%s]\n", path, sipkit_err_name(rc), b.err.offset, b.err.rule);
  assert_int_equal(rc, SIPKIT_EOK);
  same_structure(&m, buf, &m2, b.buf);
  int same = b.len == m.size && memcmp(b.buf, buf, b.len) == 0;
  sipkit_builder_free(&b);
  free(buf);
  return same;
}

static void test_round_trip_rfc4475(void **state) {
  (void)state;
  size_t len;
  char *tsv = slurp("tests/msgs/rfc4475/verdicts.tsv", &len);
  assert_non_null(tsv);
  int n = 0;
  for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
    char file[128], verdict[16], err[64], framing[16], mode[16];
    if (line[0] == '#' ||
        sscanf(line, "%127[^\t]\t%15[^\t]\t%63[^\t]\t%15[^\t]\t%15[^\t]", file, verdict,
               err, framing, mode) != 5 ||
        strcmp(verdict, "accept") != 0)
      continue;
    char path[256];
    snprintf(path, sizeof path, "tests/msgs/rfc4475/%s", file);
    unsigned flags = strcmp(mode, "lenient-lf") == 0 ? SIPKIT_PARSE_LENIENT_LF : 0;
    /* these RFC 4475 messages are canonical already (checked by hand:
     * long names, ": ", one value per line, Content-Length last); dblreq
     * up to the end of its first message */
    static const char *const canonical[] = {"dblreq.dat", "mpart01.dat",
                                            "unkscm.dat", "novelsc.dat",
                                            "bext01.dat", "invut.dat",
                                            "zeromf.dat"};
    int want = 0;
    for (size_t k = 0; k < sizeof canonical / sizeof canonical[0]; k++)
      want |= strcmp(file, canonical[k]) == 0;
    int same = round_trip(path, flags);
    if (same != want)
      print_error("%s: byte-for-byte %d, expected %d\n", file, same, want);
    assert_int_equal(same, want);
    n++;
  }
  free(tsv);
  assert_true(n >= 28); /* the accepted rows of verdicts.tsv */
}

/* Every accepted message of a verdicts.tsv (datagram framing, .msg or
 * extensionless files): same structure after the round trip; which ones
 * come back byte for byte is only pinned for RFC 4475 and the bench. */
static int round_trip_folder(const char *dir) {
  size_t len;
  char path[512];
  snprintf(path, sizeof path, "tests/msgs/%s/verdicts.tsv", dir);
  char *tsv = slurp(path, &len);
  assert_non_null(tsv);
  int n = 0;
  for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
    char file[128], verdict[16], err[64], framing[16], mode[16];
    if (line[0] == '#' ||
        sscanf(line, "%127[^\t]\t%15[^\t]\t%63[^\t]\t%15[^\t]\t%15[^\t]", file, verdict,
               err, framing, mode) != 5 ||
        strcmp(verdict, "accept") != 0 || strcmp(framing, "datagram") != 0)
      continue;
    const char *dot = strrchr(file, '.');
    if (dot && strcmp(dot, ".msg") != 0)
      continue; /* JAIN-SIP header and URL cases are not messages */
    snprintf(path, sizeof path, "tests/msgs/%s/%s", dir, file);
    round_trip(path, strcmp(mode, "lenient-lf") == 0 ? SIPKIT_PARSE_LENIENT_LF : 0);
    n++;
  }
  free(tsv);
  return n;
}

static void test_round_trip_rfc5118(void **state) {
  (void)state;
  assert_true(round_trip_folder("rfc5118-crlf") >= 10);
}

static void test_round_trip_jain(void **state) {
  (void)state;
  assert_true(round_trip_folder("jain-sip") >= 130);
}

static void test_round_trip_bench(void **state) {
  (void)state;
  /* canonical (Content-Length last, long names, one value per line, ": "):
   * every bench message except the compact-form INVITE */
  glob_t g;
  assert_int_equal(glob("tests/bench/corpus/*.sip", 0, NULL, &g), 0);
  assert_true(g.gl_pathc >= 12);
  for (size_t i = 0; i < g.gl_pathc; i++) {
    int same = round_trip(g.gl_pathv[i], 0);
    int want = strstr(g.gl_pathv[i], "compact") == NULL;
    if (same != want)
      print_error("%s: byte-for-byte %d, expected %d\n", g.gl_pathv[i], same, want);
    assert_int_equal(same, want);
  }
  globfree(&g);
}

/* ------------------------------------------------------------------ */
/* Remaining paths: arguments, escapes, long values, sticky errors       */

/* Reason-Phrase escapes and characters, exact verdicts and offsets. */
static void test_reason_phrase_chars(void **state) {
  (void)state;
  static const struct {
    const char *r;
    size_t n;
    int rc;
    uint32_t off; /* of the bad byte in the line */
  } t[] = {
      {S("OK %41"), SIPKIT_EOK, 0},          /* escaped at the end */
      {S("%4a%4A x"), SIPKIT_EOK, 0},
      {S("tab\there"), SIPKIT_EOK, 0},
      {S("caf\xc3\xa9"), SIPKIT_EOK, 0},     /* UTF-8 */
      {S(";/?:@&=+$,-_.!~*'()"), SIPKIT_EOK, 0},
      {S(""), SIPKIT_EOK, 0},
      {S("OK %4"), SIPKIT_EINVALID_VALUE, 15},  /* cut short */
      {S("OK %"), SIPKIT_EINVALID_VALUE, 15},
      {S("%41%"), SIPKIT_EINVALID_VALUE, 15},
      {S("%zz"), SIPKIT_EINVALID_VALUE, 12},    /* not hex */
      {S("%4g"), SIPKIT_EINVALID_VALUE, 12},
      {S("%g4"), SIPKIT_EINVALID_VALUE, 12},
      {S("a%:1"), SIPKIT_EINVALID_VALUE, 13},
      {S("a\"b"), SIPKIT_EINVALID_VALUE, 13},
      {S("a<b"), SIPKIT_EINVALID_VALUE, 13},
      {S("a\x01"), SIPKIT_EINVALID_VALUE, 13},
      {S("a\x7f"), SIPKIT_EINVALID_VALUE, 13},
      {S("a\0b"), SIPKIT_EINVALID_VALUE, 13},
      {S("ab\r"), SIPKIT_EINVALID_VALUE, 14},
      {S("[x]"), SIPKIT_EINVALID_VALUE, 12},
      {S("a{"), SIPKIT_EINVALID_VALUE, 13},
      {S("a`"), SIPKIT_EINVALID_VALUE, 13},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    char buf[128];
    sipkit_builder b;
    sipkit_builder_init(&b, buf, sizeof buf);
    int rc = sipkit_builder_response(&b, 200, t[i].r, t[i].n);
    if (rc != t[i].rc || (rc && b.err.offset != t[i].off))
      print_error("case %zu: rc %d offset %u\n", i, rc, b.err.offset);
    assert_int_equal(rc, t[i].rc);
    if (rc) {
      assert_int_equal(b.err.offset, t[i].off);
      assert_string_equal(b.err.rule, "Reason-Phrase");
      assert_int_equal(b.len, 0);
    } else {
      assert_int_equal(b.len, 14 + t[i].n);
      assert_memory_equal(buf, "SIP/2.0 200 ", 12);
      assert_memory_equal(buf + 12, t[i].r, t[i].n);
      assert_memory_equal(buf + 12 + t[i].n, "\r\n", 2);
    }
  }
}

/* Invalid arguments to every builder call. */
static void test_builder_arguments(void **state) {
  (void)state;
  char buf[512];
  sipkit_builder b;
  /* start lines: NULL method or URI, a second start line */
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_request(&b, NULL, 3, S("sip:a@b.com")),
                   SIPKIT_EARGUMENT);
  assert_int_equal(b.err.offset, 0);
  assert_string_equal(b.err.rule, "");
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_request(&b, S("INVITE"), NULL, 5), SIPKIT_EARGUMENT);
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_request(&b, S(""), S("sip:a@b.com")),
                   SIPKIT_EINVALID_VALUE);
  assert_string_equal(b.err.rule, "Method");
  assert_int_equal(b.err.offset, 0);
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_request(&b, S("INVITE"), S("")), SIPKIT_EINVALID_VALUE);
  assert_string_equal(b.err.rule, "Request-URI");
  assert_int_equal(b.err.offset, 7);
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_request(&b, S("INVITE"), S("sip:a@b.com\tx")),
                   SIPKIT_EINVALID_VALUE);
  assert_int_equal(b.err.offset, 18);
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_request(&b, S("INVITE"), S("<sip:a@b.com")),
                   SIPKIT_EINVALID_VALUE);
  assert_int_equal(b.err.offset, 7);
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_request(&b, S("INVITE"), S("not a uri")),
                   SIPKIT_EINVALID_VALUE);
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_request(&b, S("INVITE"), S("::")),
                   SIPKIT_EINVALID_VALUE);
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_request(&b, S("INVITE"), S("sip:a@b.com")),
                   SIPKIT_EARGUMENT);
  assert_int_equal(b.len, 35);
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_response(&b, 200, NULL, 0), SIPKIT_EARGUMENT);
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_response(&b, 200, NULL, 0), SIPKIT_EOK);
  assert_int_equal(sipkit_builder_response(&b, 200, NULL, 0), SIPKIT_EARGUMENT);
  assert_int_equal(b.len, 16);

  /* headers: id out of range, NULL value with a length, before start */
  static const struct { int id; const char *v; size_t n; } hdr[] = {
      {SIPKIT_HDR_OTHER, S("x")},
      {SIPKIT_HDR_OTHER - 1, S("x")},
      {SIPKIT_HDR__COUNT, S("x")},
      {SIPKIT_HDR__COUNT + 5, S("x")},
      {SIPKIT_HDR_SUBJECT, NULL, 3},
  };
  for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++) {
    start(&b, buf, sizeof buf);
    assert_int_equal(sipkit_builder_header(&b, hdr[i].id, hdr[i].v, hdr[i].n),
                     SIPKIT_EARGUMENT);
    expect_refused(&b, 35, SIPKIT_EARGUMENT, "");
  }
  /* a NULL value of length 0 is an empty value */
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_SUBJECT, NULL, 0), SIPKIT_EOK);
  assert_memory_equal(buf + 35, "Subject: \r\n", 11);
  assert_int_equal(b.len, 46);
  /* raw */
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header_raw(&b, NULL, 3, S("x")), SIPKIT_EARGUMENT);
  expect_refused(&b, 35, SIPKIT_EARGUMENT, "");
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header_raw(&b, S("X-A"), NULL, 1), SIPKIT_EARGUMENT);
  expect_refused(&b, 35, SIPKIT_EARGUMENT, "");
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header_raw(&b, S("X-A"), S("x")), SIPKIT_EARGUMENT);
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_TO, NULL, 0, S("sip:a@b.com"),
                                       NULL, 0),
                   SIPKIT_EARGUMENT);
  /* addr */
  static const struct {
    int id;
    const char *d; size_t dn;
    const char *u; size_t un;
    const char *p; size_t pn;
  } ad[] = {
      {SIPKIT_HDR_OTHER, NULL, 0, S("sip:a@b.com"), NULL, 0},
      {SIPKIT_HDR__COUNT, NULL, 0, S("sip:a@b.com"), NULL, 0},
      {SIPKIT_HDR_TO, NULL, 0, NULL, 3, NULL, 0},
      {SIPKIT_HDR_TO, NULL, 2, S("sip:a@b.com"), NULL, 0},
      {SIPKIT_HDR_TO, NULL, 0, S("sip:a@b.com"), NULL, 2},
  };
  for (size_t i = 0; i < sizeof ad / sizeof ad[0]; i++) {
    start(&b, buf, sizeof buf);
    assert_int_equal(sipkit_builder_addr(&b, ad[i].id, ad[i].d, ad[i].dn, ad[i].u,
                                         ad[i].un, ad[i].p, ad[i].pn),
                     SIPKIT_EARGUMENT);
    expect_refused(&b, 35, SIPKIT_EARGUMENT, "");
  }
  /* display escapes of control bytes and DEL; an empty display name */
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_TO, S("a\tb\x7f"),
                                       S("sip:a@b.com"), S(";tag=1")),
                   SIPKIT_EOK);
  {
    const char want[] = "To: \"a\tb\\\x7f\" <sip:a@b.com>;tag=1\r\n";
    assert_int_equal(b.len, 35 + sizeof want - 1);
    assert_memory_equal(buf + 35, want, sizeof want - 1);
  }
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_TO, "", 0,
                                       S("sip:a@b.com"), NULL, 0),
                   SIPKIT_EOK);
  {
    const char want[] = "To: \"\" <sip:a@b.com>\r\n";
    assert_int_equal(b.len, 35 + sizeof want - 1);
    assert_memory_equal(buf + 35, want, sizeof want - 1);
  }
  /* a URI with headers is fine in an addr (not a Request-URI) */
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_CONTACT, NULL, 0,
                                       S("sip:a@b.com?Subject=x"), NULL, 0),
                   SIPKIT_EOK);
  /* a bad URI inside an addr names the machine's rule or addr-spec, and
   * the offset is in the line */
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_TO, NULL, 0, S(""), NULL, 0),
                   SIPKIT_EINVALID_VALUE);
  assert_int_equal(b.err.offset, 5);
  expect_refused(&b, 35, SIPKIT_EINVALID_VALUE, "addr-spec");
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_TO, S("Bob"), S("sip:a b"),
                                       NULL, 0),
                   SIPKIT_EINVALID_VALUE);
  assert_int_equal(b.err.offset, 16);
  /* finish: NULL body with a length, before the start line */
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 3, NULL), SIPKIT_EARGUMENT);
  expect_refused(&b, 35, SIPKIT_EARGUMENT, "");
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EARGUMENT);
  /* finish twice */
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(build_options(&b), SIPKIT_EOK);
  assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EARGUMENT);
  assert_int_equal(b.len, sizeof(OPTIONS_MSG) - 1);
  /* a NULL buffer is a zero capacity: BUFFER_TOO_SMALL with the size */
  sipkit_builder_init(&b, NULL, 100);
  assert_int_equal(b.cap, 0);
  assert_int_equal(build_options(&b), SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(b.need, sizeof(OPTIONS_MSG) - 1);
  assert_int_equal(b.len, 0);
  /* free of a fixed builder leaves the caller's buffer alone */
  sipkit_builder_init(&b, buf, sizeof buf);
  sipkit_builder_free(&b);
  assert_null(b.buf);
  assert_int_equal(b.cap, 0);
}

/* Header names given raw: only tokens. */
static void test_raw_header_names(void **state) {
  (void)state;
  char buf[512];
  sipkit_builder b;
  static const struct {
    const char *n; size_t nl;
    uint32_t off; /* 0xffffffff: accepted */
  } t[] = {
      {S("X-Ok"), 0xffffffffu},
      {S("x.y!%*_+`'~z"), 0xffffffffu},
      {S("Subject"), 0xffffffffu},  /* known: its own rule */
      {S("s"), 0xffffffffu},        /* compact Subject */
      {S("X:A"), 1},
      {S("X A"), 1},
      {S(" X"), 0},
      {S("X\t"), 1},
      {S("(X)"), 0},
      {S("X@"), 1},
      {S("X/Y"), 1},
      {S("X\"Y"), 1},
      {S("X\x80"), 1},
      {S("X\0"), 1},
      {S("a[b]"), 1},
      {S("ab{"), 2},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    start(&b, buf, sizeof buf);
    int rc = sipkit_builder_header_raw(&b, t[i].n, t[i].nl, S("v"));
    if (t[i].off == 0xffffffffu) {
      if (rc)
        print_error("case %zu: rc %d\n", i, rc);
      assert_int_equal(rc, SIPKIT_EOK);
      assert_int_equal(b.len, 35 + t[i].nl + 5);
      assert_memory_equal(buf + 35, t[i].n, t[i].nl);
      assert_memory_equal(buf + 35 + t[i].nl, ": v\r\n", 5);
    } else {
      if (rc != SIPKIT_EINVALID_VALUE || b.err.offset != t[i].off)
        print_error("case %zu: rc %d offset %u\n", i, rc, b.err.offset);
      assert_int_equal(rc, SIPKIT_EINVALID_VALUE);
      assert_int_equal(b.err.offset, t[i].off);
      expect_refused(&b, 35, SIPKIT_EINVALID_VALUE, "header-name");
    }
  }
}

/* Values longer than a line: LINE_TOO_LONG, nothing written. */
static void test_too_long_values(void **state) {
  (void)state;
  static char big[SIPKIT_MAX_HEADER_LINE + 16];
  memset(big, 'a', sizeof big);
  char buf[512];
  sipkit_builder b;
  /* "Subject: " is 9 bytes: 9 + value must fit the line */
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_SUBJECT, big,
                                         SIPKIT_MAX_HEADER_LINE - 8),
                   SIPKIT_ELINE_TOO_LONG);
  assert_int_equal(b.err.offset, SIPKIT_MAX_HEADER_LINE);
  expect_refused(&b, 35, SIPKIT_ELINE_TOO_LONG, "Subject");
  {
    sipkit_builder d;
    sipkit_builder_init_dynamic(&d);
    assert_int_equal(sipkit_builder_request(&d, S("INVITE"), S("sip:bob@biloxi.com")),
                     SIPKIT_EOK);
    assert_int_equal(sipkit_builder_header(&d, SIPKIT_HDR_SUBJECT, big,
                                           SIPKIT_MAX_HEADER_LINE - 9),
                     SIPKIT_EOK);
    assert_int_equal(d.len, 35 + SIPKIT_MAX_HEADER_LINE + 2);
    sipkit_builder_free(&d);
  }
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header_raw(&b, S("X-Big"), big, sizeof big),
                   SIPKIT_ELINE_TOO_LONG);
  expect_refused(&b, 35, SIPKIT_ELINE_TOO_LONG, "extension-header");
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_TO, big, sizeof big,
                                       S("sip:a@b.com"), NULL, 0),
                   SIPKIT_ELINE_TOO_LONG);
  expect_refused(&b, 35, SIPKIT_ELINE_TOO_LONG, "To");
  start(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_addr(&b, SIPKIT_HDR_FROM, NULL, 0,
                                       S("sip:a@b.com"), big, sizeof big),
                   SIPKIT_ELINE_TOO_LONG);
  expect_refused(&b, 35, SIPKIT_ELINE_TOO_LONG, "From");
}

/* After a hard error every call returns it and writes nothing. */
static void test_every_call_after_sticky_error(void **state) {
  (void)state;
  static const char inv[] = INVITE_FROM_ALICE;
  static const char resp[] =
      "SIP/2.0 486 Busy Here\r\n"
      "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
      "To: Bob <sip:bob@biloxi.com>;tag=314159\r\n"
      "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
      "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
      "CSeq: 314159 INVITE\r\n"
      "Content-Length: 0\r\n\r\n";
  sipkit_msg mi, mr;
  parse_ok(&mi, g_hdrs, inv, sizeof inv - 1);
  parse_ok(&mr, g_hdrs2, resp, sizeof resp - 1);
  sipkit_dialog_view dv = {
      .call_id = STR("c1"), .local_uri = STR("sip:a@b.com"), .local_tag = STR("t1"),
      .remote_uri = STR("sip:c@d.com"), .remote_tag = STR("t2"),
      .remote_target = STR("sip:c@192.0.2.4"), .local_cseq = 1};
  /* three ways into a hard error */
  for (int cause = 0; cause < 3; cause++) {
    for (int call = 0; call < 10; call++) {
      char buf[512];
      sipkit_builder b;
      int code;
      sipkit_builder_init(&b, buf, sizeof buf);
      if (cause == 0) {
        code = SIPKIT_EINVALID_VALUE;
        assert_int_equal(sipkit_builder_request(&b, S("IN VITE"), S("sip:a@b.com")),
                         code);
      } else if (cause == 1) {
        code = SIPKIT_EARGUMENT;
        assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_SUBJECT, S("x")), code);
      } else {
        code = SIPKIT_EINVALID_VALUE;
        start(&b, buf, sizeof buf);
        assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_CSEQ, S("x")), code);
      }
      size_t len = b.len, need = b.need;
      sipkit_error err = b.err;
      int rc = -1;
      switch (call) {
      case 0: rc = sipkit_builder_request(&b, S("INVITE"), S("sip:a@b.com")); break;
      case 1: rc = sipkit_builder_response(&b, 200, NULL, 0); break;
      case 2: rc = sipkit_builder_header(&b, SIPKIT_HDR_SUBJECT, S("x")); break;
      case 3: rc = sipkit_builder_header_raw(&b, S("X-A"), S("x")); break;
      case 4: rc = sipkit_builder_addr(&b, SIPKIT_HDR_TO, NULL, 0, S("sip:a@b.com"),
                                       NULL, 0); break;
      case 5: rc = sipkit_builder_finish(&b, S("body"), NULL); break;
      case 6: rc = sipkit_build_response(&b, &mi, inv, 180, NULL, 0, STR("x1")); break;
      case 7: rc = sipkit_build_ack_non2xx(&b, &mi, inv, &mr, resp); break;
      case 8: rc = sipkit_build_cancel(&b, &mi, inv); break;
      case 9: rc = sipkit_build_in_dialog(&b, &dv, STR("BYE"), 0,
                                          STR("SIP/2.0/UDP 192.0.2.1"),
                                          STR("z9hG4bK1")); break;
      }
      if (rc != code || b.len != len || b.need != need)
        print_error("cause %d call %d: rc %d len %zu->%zu need %zu->%zu\n", cause,
                    call, rc, len, b.len, need, b.need);
      assert_int_equal(rc, code);
      assert_int_equal(b.code, code);
      assert_int_equal(b.len, len);
      assert_int_equal(b.need, need);
      assert_int_equal(b.err.offset, err.offset);
      assert_string_equal(b.err.rule, err.rule);
    }
  }
  /* the helpers' own argument checks do not replace an earlier error */
  char buf[512];
  sipkit_builder b;
  sipkit_builder_init(&b, buf, sizeof buf);
  assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_SUBJECT, S("x")),
                   SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_build_response(&b, NULL, inv, 200, NULL, 0, NOSTR),
                   SIPKIT_EARGUMENT);
  b.code = SIPKIT_EINVALID_VALUE; /* a different sticky code stays */
  assert_int_equal(sipkit_build_cancel(&b, NULL, inv), SIPKIT_EINVALID_VALUE);
  assert_int_equal(b.code, SIPKIT_EINVALID_VALUE);

  /* a soft BUFFER_TOO_SMALL is replaced by a later hard error */
  sipkit_builder_init(&b, buf, 10);
  assert_int_equal(sipkit_builder_request(&b, S("INVITE"), S("sip:bob@biloxi.com")),
                   SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(b.need, 35);
  assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_MAX_FORWARDS, S("70")),
                   SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(b.need, 53);
  assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_CSEQ, S("x")),
                   SIPKIT_EINVALID_VALUE);
  assert_int_equal(b.err.code, SIPKIT_EINVALID_VALUE);
  assert_string_equal(b.err.rule, "CSeq");
  assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_MAX_FORWARDS, S("70")),
                   SIPKIT_EINVALID_VALUE);
  assert_int_equal(b.need, 53);
  /* BUFFER_TOO_SMALL from the start line: finish reports it, need exact */
  sipkit_builder_init(&b, buf, 10);
  assert_int_equal(sipkit_builder_response(&b, 200, NULL, 0),
                   SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(sipkit_builder_finish(&b, S("xy"), NULL), SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(b.need, 16 + 21 + 2);
  assert_true(b.len <= 10);
}

/* The RFC 3261 helpers' argument checks. */
static void test_helper_arguments(void **state) {
  (void)state;
  static const char inv[] = INVITE_FROM_ALICE;
  static const char resp[] =
      "SIP/2.0 486 Busy Here\r\n"
      "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
      "To: Bob <sip:bob@biloxi.com>;tag=314159\r\n"
      "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
      "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
      "CSeq: 314159 INVITE\r\n"
      "Content-Length: 0\r\n\r\n";
  static const char opt[] =
      "OPTIONS sip:bob@biloxi.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK77\r\n"
      "Max-Forwards: 70\r\n"
      "To: Bob <sip:bob@biloxi.com>\r\n"
      "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
      "Call-ID: o1\r\n"
      "CSeq: 5 OPTIONS\r\n"
      "Content-Length: 0\r\n\r\n";
  static sipkit_header h3[SIPKIT_MAX_HEADERS];
  sipkit_msg mi, mr, mo;
  parse_ok(&mi, g_hdrs, inv, sizeof inv - 1);
  parse_ok(&mr, g_hdrs2, resp, sizeof resp - 1);
  parse_ok(&mo, h3, opt, sizeof opt - 1);
  sipkit_builder b;
  char buf[1024];
  /* build_response */
  {
    sipkit_msg no_to = mi, no_from = mi, no_cseq = mi;
    no_to.to = NULL;
    no_from.from = NULL;
    no_cseq.cseq = NULL;
    const struct { const sipkit_msg *m; const char *buf; } t[] = {
        {NULL, inv}, {&mi, NULL}, {&mr, resp}, {&no_to, inv}, {&no_from, inv},
        {&no_cseq, inv},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
      sipkit_builder_init(&b, buf, sizeof buf);
      assert_int_equal(sipkit_build_response(&b, t[i].m, t[i].buf, 200, NULL, 0,
                                             STR("x")),
                       SIPKIT_EARGUMENT);
      assert_int_equal(b.len, 0);
      assert_int_equal(b.err.offset, 0);
    }
    /* a bad status stops it before any header */
    sipkit_builder_init(&b, buf, sizeof buf);
    assert_int_equal(sipkit_build_response(&b, &mi, inv, 700, NULL, 0, STR("x")),
                     SIPKIT_EINVALID_VALUE);
    assert_int_equal(b.len, 0);
    /* a to_tag that is no token: refused with the To rule */
    sipkit_builder_init(&b, buf, sizeof buf);
    assert_int_equal(sipkit_build_response(&b, &mi, inv, 200, NULL, 0, STR("a b")),
                     SIPKIT_EINVALID_VALUE);
    assert_string_equal(b.err.rule, "To");
    /* too small: need is the exact size of the response */
    sipkit_builder_init(&b, buf, sizeof buf);
    assert_int_equal(sipkit_build_response(&b, &mo, opt, 200, NULL, 0, STR("x1")),
                     SIPKIT_EOK);
    assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
    size_t full = b.len;
    assert_int_equal(full, sizeof "SIP/2.0 200 OK\r\n"
                                  "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK77\r\n"
                                  "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
                                  "To: Bob <sip:bob@biloxi.com>;tag=x1\r\n"
                                  "Call-ID: o1\r\n"
                                  "CSeq: 5 OPTIONS\r\n"
                                  "Content-Length: 0\r\n\r\n" - 1);
    sipkit_builder_init(&b, buf, 20);
    assert_int_equal(sipkit_build_response(&b, &mo, opt, 200, NULL, 0, STR("x1")),
                     SIPKIT_EBUFFER_TOO_SMALL);
    assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EBUFFER_TOO_SMALL);
    assert_int_equal(b.need, full);
  }
  /* build_ack_non2xx */
  {
    sipkit_msg no_cseq = mi;
    no_cseq.cseq = NULL;
    const struct {
      const sipkit_msg *i; const char *ib; const sipkit_msg *r; const char *rb;
    } t[] = {
        {NULL, inv, &mr, resp}, {&mi, NULL, &mr, resp}, {&mi, inv, NULL, resp},
        {&mi, inv, &mr, NULL},  {&mr, resp, &mr, resp}, {&mo, opt, &mr, resp},
        {&no_cseq, inv, &mr, resp},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
      sipkit_builder_init(&b, buf, sizeof buf);
      assert_int_equal(sipkit_build_ack_non2xx(&b, t[i].i, t[i].ib, t[i].r, t[i].rb),
                       SIPKIT_EARGUMENT);
      assert_int_equal(b.len, 0);
    }
  }
  /* build_cancel */
  {
    static const char ack[] =
        "ACK sip:bob@biloxi.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK77\r\n"
        "Max-Forwards: 70\r\n"
        "To: Bob <sip:bob@biloxi.com>;tag=9\r\n"
        "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
        "Call-ID: o1\r\n"
        "CSeq: 5 ACK\r\n"
        "Content-Length: 0\r\n\r\n";
    static const char can[] =
        "CANCEL sip:bob@biloxi.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK77\r\n"
        "Max-Forwards: 70\r\n"
        "To: Bob <sip:bob@biloxi.com>\r\n"
        "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
        "Call-ID: o1\r\n"
        "CSeq: 5 CANCEL\r\n"
        "Content-Length: 0\r\n\r\n";
    static sipkit_header ha[SIPKIT_MAX_HEADERS], hc[SIPKIT_MAX_HEADERS];
    sipkit_msg ma, mc, no_cseq = mi;
    parse_ok(&ma, ha, ack, sizeof ack - 1);
    parse_ok(&mc, hc, can, sizeof can - 1);
    no_cseq.cseq = NULL;
    const struct { const sipkit_msg *m; const char *buf; } t[] = {
        {NULL, inv}, {&mi, NULL}, {&mr, resp}, {&no_cseq, inv}, {&ma, ack},
        {&mc, can},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
      sipkit_builder_init(&b, buf, sizeof buf);
      assert_int_equal(sipkit_build_cancel(&b, t[i].m, t[i].buf), SIPKIT_EARGUMENT);
      assert_int_equal(b.len, 0);
    }
    /* CANCEL of a request without Route: no Route line */
    sipkit_builder_init(&b, buf, sizeof buf);
    assert_int_equal(sipkit_build_cancel(&b, &mo, opt), SIPKIT_EOK);
    assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
    expect_bytes(&b, "CANCEL sip:bob@biloxi.com SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK77\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
                     "To: Bob <sip:bob@biloxi.com>\r\n"
                     "Call-ID: o1\r\n"
                     "CSeq: 5 CANCEL\r\n"
                     "Content-Length: 0\r\n\r\n");
  }
  /* build_in_dialog */
  {
    static const sipkit_str bad_routes[][1] = {
        {{S("<>")}}, {{S("<not a uri>")}}, {{S("")}}, {{S("<sip:p1.example.com")}},
    };
    const sipkit_dialog_view good = {
        .call_id = STR("c1"), .local_uri = STR("sip:a@b.com"),
        .remote_uri = STR("sip:c@d.com"),
        .remote_target = STR("sip:c@192.0.2.4"), .local_cseq = 7};
    for (int k = 0; k < 6; k++) {
      sipkit_dialog_view v = good;
      sipkit_str method = STR("BYE"), via = STR("SIP/2.0/UDP 192.0.2.1");
      if (k == 0) v.remote_target.p = NULL;
      if (k == 1) v.call_id.p = NULL;
      if (k == 2) v.local_uri.p = NULL;
      if (k == 3) v.remote_uri.p = NULL;
      if (k == 4) v.route_count = 1;
      if (k == 5) method.p = NULL;
      sipkit_builder_init(&b, buf, sizeof buf);
      assert_int_equal(sipkit_build_in_dialog(&b, &v, method, 0, via, STR("z9hG4bK1")),
                       SIPKIT_EARGUMENT);
      assert_int_equal(b.len, 0);
    }
    sipkit_builder_init(&b, buf, sizeof buf);
    assert_int_equal(sipkit_build_in_dialog(&b, NULL, STR("BYE"), 0,
                                            STR("SIP/2.0/UDP 192.0.2.1"), NOSTR),
                     SIPKIT_EARGUMENT);
    sipkit_builder_init(&b, buf, sizeof buf);
    assert_int_equal(sipkit_build_in_dialog(&b, &good, STR("BYE"), 0, NOSTR, NOSTR),
                     SIPKIT_EARGUMENT);
    /* a route set whose first value is no URI: Route refused */
    for (size_t i = 0; i < sizeof bad_routes / sizeof bad_routes[0]; i++) {
      sipkit_dialog_view v = good;
      v.route_set = bad_routes[i];
      v.route_count = 1;
      sipkit_builder_init(&b, buf, sizeof buf);
      int rc = sipkit_build_in_dialog(&b, &v, STR("BYE"), 0,
                                      STR("SIP/2.0/UDP 192.0.2.1"), STR("z9hG4bK1"));
      if (rc != SIPKIT_EINVALID_VALUE)
        print_error("route case %zu: %d\n", i, rc);
      assert_int_equal(rc, SIPKIT_EINVALID_VALUE);
      assert_string_equal(b.err.rule, "Route");
      assert_int_equal(b.len, 0);
    }
    /* a bad method or Via sent-by: refused by their rules */
    sipkit_builder_init(&b, buf, sizeof buf);
    assert_int_equal(sipkit_build_in_dialog(&b, &good, STR("B E"), 0,
                                            STR("SIP/2.0/UDP 192.0.2.1"), STR("z9hG4bK1")),
                     SIPKIT_EINVALID_VALUE);
    assert_string_equal(b.err.rule, "Method");
    sipkit_builder_init(&b, buf, sizeof buf);
    assert_int_equal(sipkit_build_in_dialog(&b, &good, STR("BYE"), 0,
                                            STR("garbage"), STR("z9hG4bK1")),
                     SIPKIT_EINVALID_VALUE);
    /* no tags, cseq 0: local CSeq + 1, To/From without tag */
    sipkit_builder_init(&b, buf, sizeof buf);
    assert_int_equal(sipkit_build_in_dialog(&b, &good, STR("OPTIONS"), 0,
                                            STR("SIP/2.0/UDP 192.0.2.1"), STR("z9hG4bK1")),
                     SIPKIT_EOK);
    assert_int_equal(sipkit_builder_finish(&b, NULL, 0, NULL), SIPKIT_EOK);
    expect_bytes(&b, "OPTIONS sip:c@192.0.2.4 SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:a@b.com>\r\n"
                     "To: <sip:c@d.com>\r\n"
                     "Call-ID: c1\r\n"
                     "CSeq: 8 OPTIONS\r\n"
                     "Content-Length: 0\r\n\r\n");
    /* a route without angle brackets is taken as the URI itself (loose) */
    static const sipkit_str bare[] = {{S("sip:p1.example.com;lr")}};
    sipkit_dialog_view v = good;
    v.route_set = bare;
    v.route_count = 1;
    sipkit_builder_init(&b, buf, sizeof buf);
    assert_int_equal(sipkit_build_in_dialog(&b, &v, STR("BYE"), 9,
                                            STR("SIP/2.0/UDP 192.0.2.1"), STR("z9hG4bK1")),
                     SIPKIT_EINVALID_VALUE); /* a Route value needs <...> */
    assert_string_equal(b.err.rule, "Route");
  }
  /* generators: NULL output */
  assert_int_equal(sipkit_gen_branch(NULL, 100), -1);
  assert_int_equal(sipkit_gen_tag(NULL, 100), -1);
  assert_int_equal(sipkit_gen_call_id(NULL, 100), -1);
  char id[SIPKIT_CALL_ID_SIZE];
  assert_int_equal(sipkit_gen_call_id(id, SIPKIT_CALL_ID_SIZE - 1), -1);
}

/* A dynamic builder grows through several reallocations (256 doubling),
 * both one header at a time and in one step for a large body. */
static void test_dynamic_growth(void **state) {
  (void)state;
  static char want[40000];
  size_t wn = 0;
  sipkit_builder b;
  sipkit_builder_init_dynamic(&b);
  assert_null(b.buf);
  assert_int_equal(b.cap, 0);
  assert_int_equal(sipkit_builder_request(&b, S("OPTIONS"), S("sip:carol@chicago.com")),
                   SIPKIT_EOK);
  assert_int_equal(b.cap, 1024);
  wn += (size_t)sprintf(want + wn, "OPTIONS sip:carol@chicago.com SIP/2.0\r\n");
  static const char *const fixed[][2] = {
      {"Via", "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKgrow"},
      {"Max-Forwards", "70"},
      {"To", "<sip:carol@chicago.com>"},
      {"From", "<sip:alice@atlanta.com>;tag=1"},
      {"Call-ID", "grow1"},
      {"CSeq", "1 OPTIONS"},
  };
  static const int ids[] = {SIPKIT_HDR_VIA, SIPKIT_HDR_MAX_FORWARDS, SIPKIT_HDR_TO,
                            SIPKIT_HDR_FROM, SIPKIT_HDR_CALL_ID, SIPKIT_HDR_CSEQ};
  for (size_t i = 0; i < 6; i++) {
    assert_int_equal(sipkit_builder_header(&b, ids[i], fixed[i][1], strlen(fixed[i][1])),
                     SIPKIT_EOK);
    wn += (size_t)sprintf(want + wn, "%s: %s\r\n", fixed[i][0], fixed[i][1]);
  }
  size_t caps[8];
  size_t ncaps = 0;
  caps[ncaps++] = b.cap;
  for (int i = 0; i < 60; i++) {
    char v[80];
    int n = snprintf(v, sizeof v, "value-%02d-abcdefghijklmnopqrstuvwxyz0123456789", i);
    assert_int_equal(sipkit_builder_header_raw(&b, S("X-Grow"), v, (size_t)n), SIPKIT_EOK);
    wn += (size_t)sprintf(want + wn, "X-Grow: %s\r\n", v);
    assert_int_equal(b.len, wn);
    assert_int_equal(b.need, wn);
    assert_true(b.cap >= b.len);
    if (b.cap != caps[ncaps - 1]) {
      assert_true(ncaps < 8);
      caps[ncaps++] = b.cap;
    }
  }
  /* 1024 -> 2048 -> 4096 */
  assert_int_equal(ncaps, 3);
  for (size_t i = 1; i < ncaps; i++)
    assert_int_equal(caps[i], caps[i - 1] * 2);
  /* a 20000-byte body: several doublings in one step */
  static char body[20000];
  for (size_t i = 0; i < sizeof body; i++)
    body[i] = (char)('a' + i % 26);
  assert_int_equal(sipkit_builder_header(&b, SIPKIT_HDR_CONTENT_TYPE, S("text/plain")),
                   SIPKIT_EOK);
  wn += (size_t)sprintf(want + wn, "Content-Type: text/plain\r\n");
  wn += (size_t)sprintf(want + wn, "Content-Length: %zu\r\n\r\n", sizeof body);
  memcpy(want + wn, body, sizeof body);
  wn += sizeof body;
  sipkit_msg m;
  sipkit_msg_init(&m, g_hdrs, SIPKIT_MAX_HEADERS);
  assert_int_equal(sipkit_builder_finish(&b, body, sizeof body, &m), SIPKIT_EOK);
  assert_int_equal(b.len, wn);
  assert_int_equal(b.need, wn);
  assert_int_equal(b.cap, 32768);
  assert_memory_equal(b.buf, want, wn);
  assert_int_equal(m.body.len, sizeof body);
  sipkit_builder_free(&b);
  assert_null(b.buf);
  assert_int_equal(b.cap, 0);
  assert_int_equal(b.len, 0);
  assert_int_equal(b.need, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_fixed),
      cmocka_unit_test(test_request_dynamic),
      cmocka_unit_test(test_buffer_too_small),
      cmocka_unit_test(test_response_default_reason),
      cmocka_unit_test(test_reason_phrases),
      cmocka_unit_test(test_strcat),
      cmocka_unit_test(test_validated_line_cache),
      cmocka_unit_test(test_param_tail_scan),
      cmocka_unit_test(test_call_id_scan),
      cmocka_unit_test(test_cseq_scan),
      cmocka_unit_test(test_addr_uri_skip),
      cmocka_unit_test(test_addr_display_built),
      cmocka_unit_test(test_injection),
      cmocka_unit_test(test_misuse),
      cmocka_unit_test(test_generators),
      cmocka_unit_test(test_generators_after_fork),
      cmocka_unit_test(test_response_180),
      cmocka_unit_test(test_response_100),
      cmocka_unit_test(test_response_486_generated_tag),
      cmocka_unit_test(test_response_options_tagged),
      cmocka_unit_test(test_ack_non2xx),
      cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_in_dialog_loose),
      cmocka_unit_test(test_in_dialog_strict),
      cmocka_unit_test(test_in_dialog_lr_value),
      cmocka_unit_test(test_ack_2xx),
      cmocka_unit_test(test_reason_phrase_chars),
      cmocka_unit_test(test_builder_arguments),
      cmocka_unit_test(test_raw_header_names),
      cmocka_unit_test(test_too_long_values),
      cmocka_unit_test(test_every_call_after_sticky_error),
      cmocka_unit_test(test_helper_arguments),
      cmocka_unit_test(test_dynamic_growth),
      cmocka_unit_test(test_recheck_changed_line),
      cmocka_unit_test(test_round_trip_rfc4475),
      cmocka_unit_test(test_round_trip_bench),
      cmocka_unit_test(test_round_trip_rfc5118),
      cmocka_unit_test(test_round_trip_jain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
