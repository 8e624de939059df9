/* test_body.c - application/dtmf-relay, application/dtmf and multipart
 * bodies with exact expected values.  Every input is copied into an
 * exact-size heap buffer (no NUL after it).  Run from the repository root
 * (the corpus messages are read from files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sipkit_body.h"

static sipkit_error E;
static char *B;
static size_t BLEN;

static void set_input(const char *s, size_t len) {
  free(B);
  B = malloc(len ? len : 1);
  assert_non_null(B);
  memcpy(B, s, len);
  BLEN = len;
}

static int teardown(void **st) {
  (void)st;
  free(B);
  B = NULL;
  BLEN = 0;
  return 0;
}

/* whole file into an exact-size buffer */
static void load_file(const char *path) {
  static char raw[65536];
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  size_t n = fread(raw, 1, sizeof raw, f);
  fclose(f);
  set_input(raw, n);
}

#define SPAN_EQ(sp, lit)                                                       \
  do {                                                                         \
    sipkit_span s_ = (sp);                                                     \
    assert_int_equal(s_.len, strlen(lit));                                     \
    assert_memory_equal(B + s_.off, lit, strlen(lit));                         \
  } while (0)

#define ERR(code_, off_, rule_)                                                \
  do {                                                                         \
    assert_int_equal(E.code, (code_));                                         \
    assert_int_equal(E.offset, (off_));                                        \
    assert_string_equal(E.rule, (rule_));                                      \
  } while (0)

/* offset of the first occurrence of needle in s (NUL-free test text), plus k */
static uint32_t at(const char *s, const char *needle, uint32_t k) {
  const char *p = strstr(s, needle);
  assert_non_null(p);
  return (uint32_t)(p - s) + k;
}

/* ------------------------------------------------------------ dtmf-relay */

static sipkit_dtmf D;

static int relay_n(const char *s, size_t n) {
  set_input(s, n);
  memset(&E, 0, sizeof E);
  return sipkit_dtmf_relay_parse(&D, B, BLEN, &E);
}
static int relay(const char *s) { return relay_n(s, strlen(s)); }

static void parse_msg(sipkit_msg *m, sipkit_header *h, size_t nh) {
  sipkit_msg_init(m, h, nh);
  memset(&E, 0, sizeof E);
  assert_int_equal(sipkit_parse(m, B, BLEN, 0, &E), SIPKIT_EOK);
}

static void test_relay_corpus(void **st) {
  (void)st;
  static sipkit_header h[SIPKIT_DEFAULT_HEADERS];
  sipkit_msg m;
  load_file("tests/bench/corpus/10_info_dtmf.sip");
  parse_msg(&m, h, SIPKIT_DEFAULT_HEADERS);
  assert_non_null(m.content_type);
  SPAN_EQ(m.content_type->type, "application");
  SPAN_EQ(m.content_type->subtype, "dtmf-relay");
  SPAN_EQ(m.body, "Signal=1\r\nDuration=100\r\n");
  /* the body on its own, exact size */
  char body[64];
  assert_true(m.body.len < sizeof body);
  memcpy(body, B + m.body.off, m.body.len);
  assert_int_equal(relay_n(body, m.body.len), SIPKIT_EOK);
  assert_int_equal(D.signal, '1');
  assert_int_equal(D.has_duration, 1);
  assert_int_equal(D.duration, 100);
  assert_int_equal(E.code, SIPKIT_EOK);
}

static void test_relay_forms(void **st) {
  (void)st;
  static const struct {
    const char *in;
    char sig;
    uint32_t dur; /* 0: no Duration */
  } t[] = {
      {"Signal=5\r\nDuration=160\r\n", '5', 160},
      {"Signal=5\nDuration=160\n", '5', 160},
      {"Signal=5\r\nDuration=160", '5', 160},       /* last line unterminated */
      {"signal = #\nDURATION= 250 \n", '#', 250},   /* spaces, key case */
      {"\tSIGNAL\t=\t*\t\r\n", '*', 0},             /* no Duration */
      {"Signal=d\r\nDuration=1\r\n", 'D', 1},       /* a-d accepted, upper-cased */
      {"Signal=A\r\nDuration=60000\r\n", 'A', 60000},
      {"Duration=00160\r\nSignal=0\r\n", '0', 160}, /* any order, 5 digits */
      {"\r\nSignal=9\r\n\r\nVolume=10\r\nDuration=40\r\n\r\n", '9', 40}, /* empty lines, unknown key */
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    assert_int_equal(relay(t[i].in), SIPKIT_EOK);
    assert_int_equal(D.signal, t[i].sig);
    assert_int_equal(D.duration, t[i].dur);
    assert_int_equal(D.has_duration, t[i].dur ? 1 : 0);
  }
}

static void test_relay_errors(void **st) {
  (void)st;
  static const struct {
    const char *in;
    size_t len; /* 0: strlen */
    uint32_t off;
    const char *rule;
  } t[] = {
      {"", 0, 0, "dtmf-relay Signal"},
      {"Duration=160\r\n", 0, 14, "dtmf-relay Signal"},
      {"Signal=E\r\n", 0, 7, "dtmf-relay Signal"},
      {"Signal=\r\n", 0, 7, "dtmf-relay Signal"},
      {"Signal=10\r\n", 0, 8, "dtmf-relay Signal"},
      {"Signal=5x\r\n", 0, 8, "dtmf-relay Signal"},
      {"Signal=5\r\nSignal=6\r\n", 0, 10, "dtmf-relay Signal"},
      {"Signal=5\r\nDuration=abc\r\n", 0, 19, "dtmf-relay Duration"},
      {"Signal=5\r\nDuration=16x0", 0, 21, "dtmf-relay Duration"},
      {"Signal=5\r\nDuration=-1", 0, 19, "dtmf-relay Duration"},
      {"Signal=5\r\nDuration=123456\r\n", 0, 24, "dtmf-relay Duration"},
      {"Signal=5\r\nDuration=99999999999999999999\r\n", 0, 24, "dtmf-relay Duration"},
      {"Signal=5\r\nDuration=0\r\n", 0, 19, "dtmf-relay Duration"},
      {"Signal=5\r\nDuration=60001\r\n", 0, 19, "dtmf-relay Duration"},
      {"Signal=5\r\nDuration=\r\n", 0, 19, "dtmf-relay Duration"},
      {"Signal=5\r\nDuration=1\r\nduration=2\r\n", 0, 22, "dtmf-relay Duration"},
      {"Signal=5\r\nDuration 160\r\n", 0, 19, "dtmf-relay line"},
      {"Signal=5\rDuration=1", 0, 8, "dtmf-relay line"},
      {"Signal=5\r", 0, 8, "dtmf-relay line"},
      {"=5\r\n", 0, 0, "dtmf-relay line"},
      {"Sig nal=5\r\n", 0, 4, "dtmf-relay line"},
      {"Signal=5\0\r\n", 11, 8, "dtmf-relay line"},
      {"Sig\0nal=5\r\n", 11, 3, "dtmf-relay line"},
      {"Signal=5\r\nDuration=1\x01", 0, 20, "dtmf-relay line"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    int rc = relay_n(t[i].in, t[i].len ? t[i].len : strlen(t[i].in));
    if (rc != SIPKIT_EINVALID_VALUE || E.offset != t[i].off)
      print_message("case %zu: rc %d off %u rule %s\n", i, rc, E.offset, E.rule);
    assert_int_equal(rc, SIPKIT_EINVALID_VALUE);
    ERR(SIPKIT_EINVALID_VALUE, t[i].off, t[i].rule);
  }
  /* line and column */
  assert_int_equal(relay("Signal=5\r\nDuration=abc"), SIPKIT_EINVALID_VALUE);
  assert_int_equal(E.line, 2);
  assert_int_equal(E.column, 10);
  /* arguments */
  assert_int_equal(sipkit_dtmf_relay_parse(NULL, "x", 1, &E), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_dtmf_relay_parse(&D, NULL, 1, &E), SIPKIT_EARGUMENT);
}

static void test_relay_build(void **st) {
  (void)st;
  static const char sigs[] = "0123456789*#ABCDabcd";
  char out[64];
  size_t len;
  for (size_t i = 0; i < sizeof sigs - 1; i++) {
    sipkit_dtmf d = {sigs[i], 0, {0, 0}, 160};
    char want[32];
    char up = sigs[i] >= 'a' ? (char)(sigs[i] - 32) : sigs[i];
    int wn = snprintf(want, sizeof want, "Signal=%c\r\nDuration=160\r\n", up);
    assert_int_equal(sipkit_dtmf_relay_build(&d, out, sizeof out, &len), SIPKIT_EOK);
    assert_int_equal(len, (size_t)wn);
    assert_memory_equal(out, want, len);
    /* round trip from an exact-size buffer */
    assert_int_equal(relay_n(out, len), SIPKIT_EOK);
    assert_int_equal(D.signal, up);
    assert_int_equal(D.duration, 160);
    assert_int_equal(D.has_duration, 1);
  }
  sipkit_dtmf d = {'#', 0, {0, 0}, 0};
  assert_int_equal(sipkit_dtmf_relay_build(&d, out, sizeof out, &len), SIPKIT_EOK);
  assert_int_equal(len, 10);
  assert_memory_equal(out, "Signal=#\r\n", 10);
  d.duration = 60000;
  assert_int_equal(sipkit_dtmf_relay_build(&d, out, sizeof out, &len), SIPKIT_EOK);
  assert_int_equal(len, 26);
  assert_memory_equal(out, "Signal=#\r\nDuration=60000\r\n", 26);
  d.duration = 7;
  assert_int_equal(sipkit_dtmf_relay_build(&d, out, sizeof out, &len), SIPKIT_EOK);
  assert_int_equal(len, 22);
  assert_memory_equal(out, "Signal=#\r\nDuration=7\r\n", 22);
  /* too small: size needed, nothing past cap */
  d.duration = 160;
  assert_int_equal(sipkit_dtmf_relay_build(&d, NULL, 0, &len), SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(len, 24);
  memset(out, 'z', sizeof out);
  assert_int_equal(sipkit_dtmf_relay_build(&d, out, 23, &len), SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(len, 24);
  assert_int_equal(out[23], 'z');
  assert_int_equal(sipkit_dtmf_relay_build(&d, out, 24, &len), SIPKIT_EOK);
  assert_int_equal(len, 24);
  assert_memory_equal(out, "Signal=#\r\nDuration=160\r\n", 24);
  /* invalid */
  d.signal = 'E';
  assert_int_equal(sipkit_dtmf_relay_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
  assert_int_equal(len, 0);
  d.signal = '\0';
  assert_int_equal(sipkit_dtmf_relay_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
  d.signal = '5';
  d.duration = 60001;
  assert_int_equal(sipkit_dtmf_relay_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
  assert_int_equal(sipkit_dtmf_relay_build(NULL, out, sizeof out, &len), SIPKIT_EARGUMENT);
}

/* ------------------------------------------------------------ application/dtmf */

static int dtmf(const char *s, size_t n) {
  set_input(s, n);
  memset(&E, 0, sizeof E);
  return sipkit_dtmf_parse(&D, B, BLEN, &E);
}

static void test_dtmf(void **st) {
  (void)st;
  static const struct {
    const char *in;
    char sig;
  } ok[] = {{"5", '5'}, {"#\r\n", '#'}, {" * \n", '*'}, {"b", 'B'}, {"\tD\t\r\n", 'D'}, {"0", '0'}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    assert_int_equal(dtmf(ok[i].in, strlen(ok[i].in)), SIPKIT_EOK);
    assert_int_equal(D.signal, ok[i].sig);
    assert_int_equal(D.duration, 0);
    assert_int_equal(D.has_duration, 0);
  }
  static const struct {
    const char *in;
    size_t len;
    uint32_t off;
  } bad[] = {{"", 0, 0},         {"  ", 2, 2},        {"E", 1, 0},
             {"55", 2, 1},       {"5 5", 3, 2},       {"5\r\n\r\n", 5, 3},
             {"5\r", 2, 1},      {"\0", 1, 0},        {"5\0", 2, 1},
             {"10", 2, 1},       {"\r\n5", 3, 0}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(dtmf(bad[i].in, bad[i].len), SIPKIT_EINVALID_VALUE);
    ERR(SIPKIT_EINVALID_VALUE, bad[i].off, "dtmf");
  }
  char out[4];
  size_t len;
  sipkit_dtmf d = {'7', 0, {0, 0}, 0};
  assert_int_equal(sipkit_dtmf_build(&d, out, sizeof out, &len), SIPKIT_EOK);
  assert_int_equal(len, 1);
  assert_int_equal(out[0], '7');
  assert_int_equal(dtmf(out, len), SIPKIT_EOK);
  assert_int_equal(D.signal, '7');
  d.signal = 'c';
  assert_int_equal(sipkit_dtmf_build(&d, out, sizeof out, &len), SIPKIT_EOK);
  assert_int_equal(out[0], 'C');
  assert_int_equal(sipkit_dtmf_build(&d, NULL, 0, &len), SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(len, 1);
  d.signal = 'x';
  assert_int_equal(sipkit_dtmf_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
}

/* ------------------------------------------------------------ multipart */

static sipkit_part P[SIPKIT_MAX_PARTS + 4];
static size_t NP;
static uint32_t PO; /* where the body starts in B (after the params) */

/* B = params then body, exact size */
static int mp_n(const char *params, const char *body, size_t body_len, size_t cap) {
  size_t pl = strlen(params);
  char *tmp = malloc(pl + body_len + 1);
  assert_non_null(tmp);
  memcpy(tmp, params, pl);
  memcpy(tmp + pl, body, body_len);
  set_input(tmp, pl + body_len);
  free(tmp);
  PO = (uint32_t)pl;
  sipkit_span ps = {0, (uint32_t)pl}, bs = {(uint32_t)pl, (uint32_t)body_len};
  memset(&E, 0, sizeof E);
  NP = 99;
  return sipkit_multipart_parse(B, bs, ps, P, cap, &NP, &E);
}
static int mp(const char *params, const char *body) {
  return mp_n(params, body, strlen(body), sizeof P / sizeof P[0]);
}

static void test_mpart01(void **st) {
  (void)st;
  static sipkit_header h[SIPKIT_DEFAULT_HEADERS];
  sipkit_msg m;
  load_file("tests/msgs/rfc4475/mpart01.dat");
  assert_int_equal(BLEN, 1290);
  parse_msg(&m, h, SIPKIT_DEFAULT_HEADERS);
  assert_non_null(m.content_type);
  SPAN_EQ(m.content_type->type, "multipart");
  SPAN_EQ(m.content_type->subtype, "mixed");
  SPAN_EQ(m.content_type->params, "boundary=7a9cbec02ceef655");
  assert_int_equal(m.body.off, 737);
  assert_int_equal(m.body.len, 553);
  assert_int_equal(sipkit_multipart_parse(B, m.body, m.content_type->params, P,
                                          SIPKIT_MAX_PARTS, &NP, &E),
                   SIPKIT_EOK);
  assert_int_equal(E.code, SIPKIT_EOK);
  assert_int_equal(NP, 2);
  /* part 1: text/plain "Hello" */
  assert_int_equal(P[0].depth, 1);
  assert_int_equal(P[0].has_ctype, 1);
  assert_int_equal(P[0].is_multipart, 0);
  SPAN_EQ(P[0].content_type, "text/plain");
  SPAN_EQ(P[0].ctype.type, "text");
  SPAN_EQ(P[0].ctype.subtype, "plain");
  assert_int_equal(P[0].ctype.params.len, 0);
  assert_int_equal(P[0].num_headers, 2);
  SPAN_EQ(P[0].hdrs[0].name, "Content-Type");
  SPAN_EQ(P[0].hdrs[1].name, "Content-Transfer-Encoding");
  SPAN_EQ(P[0].hdrs[1].value, "binary");
  SPAN_EQ(P[0].headers, "Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n");
  SPAN_EQ(P[0].body, "Hello");
  assert_int_equal(P[0].all.off, 737 + 20);
  assert_int_equal(P[0].all.len, 68);
  /* part 2: 342 binary bytes with NULs, up to the CRLF before --boundary-- */
  SPAN_EQ(P[1].content_type, "application/octet-stream");
  SPAN_EQ(P[1].ctype.type, "application");
  SPAN_EQ(P[1].ctype.subtype, "octet-stream");
  assert_int_equal(P[1].num_headers, 2);
  assert_int_equal(P[1].body.off, 924);
  assert_int_equal(P[1].body.len, 342);
  assert_int_equal((unsigned char)B[924], 0x30);
  assert_int_equal((unsigned char)B[924 + 341], 0x05);
  assert_memory_equal(B + 924 + 342, "\r\n--7a9cbec02ceef655--\r\n", 24);
  assert_int_equal(924 + 342 + 24, 1290);
  size_t nul = 0;
  for (uint32_t i = 0; i < P[1].body.len; i++)
    nul += B[P[1].body.off + i] == '\0';
  assert_int_equal(nul, 2);
  /* not multipart: no nesting */
  size_t n2;
  assert_int_equal(sipkit_multipart_parse_part(B, &P[1], P + 2, 4, &n2, &E), SIPKIT_EINVALID_VALUE);
  ERR(SIPKIT_EINVALID_VALUE, P[1].content_type.off, "multipart Content-Type");
}

#define SDP                                                                    \
  "v=0\r\n"                                                                    \
  "o=alice 2890844526 2890842807 IN IP4 atlanta.example.com\r\n"               \
  "s=-\r\n"                                                                    \
  "c=IN IP4 192.0.2.1\r\n"                                                     \
  "t=0 0\r\n"                                                                  \
  "m=audio 20000 RTP/AVP 0\r\n"                                                \
  "a=rtpmap:0 PCMU/8000\r\n"
#define XML                                                                    \
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"                             \
  "<resource-lists xmlns=\"urn:ietf:params:xml:ns:resource-lists\">\r\n"       \
  "  <list>\r\n"                                                               \
  "    <entry uri=\"sip:bill@example.com\"/>\r\n"                              \
  "    <entry uri=\"sip:randy@example.net\"/>\r\n"                             \
  "    <entry uri=\"sip:joe@example.org\"/>\r\n"                               \
  "  </list>\r\n"                                                              \
  "</resource-lists>"

/* RFC 5621 §3-style INVITE: SDP plus a recipient-list (RFC 5366) */
static void test_rfc5621(void **st) {
  (void)st;
  static const char body[] =
      "--boundary1\r\n"
      "Content-Type: application/sdp\r\n"
      "\r\n" SDP "\r\n"
      "--boundary1\r\n"
      "Content-Type: application/resource-lists+xml\r\n"
      "Content-Disposition: recipient-list\r\n"
      "Content-ID: <list@atlanta.example.com>\r\n"
      "\r\n" XML "\r\n"
      "--boundary1--\r\n";
  char msg[2048];
  int n = snprintf(msg, sizeof msg,
                   "INVITE sip:conf-fact@example.com SIP/2.0\r\n"
                   "Via: SIP/2.0/TCP atlanta.example.com;branch=z9hG4bKhjhs8ass83\r\n"
                   "Max-Forwards: 70\r\n"
                   "To: \"Conference Factory\" <sip:conf-fact@example.com>\r\n"
                   "From: Alice <sip:alice@example.com>;tag=32331\r\n"
                   "Call-ID: d432fa84b4c76e66710\r\n"
                   "CSeq: 2 INVITE\r\n"
                   "Contact: <sip:alice@atlanta.example.com>\r\n"
                   "Require: recipient-list-invite\r\n"
                   "Content-Type: multipart/mixed;boundary=\"boundary1\"\r\n"
                   "Content-Length: %zu\r\n"
                   "\r\n%s",
                   sizeof body - 1, body);
  assert_true(n > 0 && (size_t)n < sizeof msg);
  set_input(msg, (size_t)n);
  static sipkit_header h[SIPKIT_DEFAULT_HEADERS];
  sipkit_msg m;
  parse_msg(&m, h, SIPKIT_DEFAULT_HEADERS);
  SPAN_EQ(m.content_type->params, "boundary=\"boundary1\"");
  assert_int_equal(m.body.len, sizeof body - 1);
  assert_int_equal(sipkit_multipart_parse(B, m.body, m.content_type->params, P,
                                          SIPKIT_MAX_PARTS, &NP, &E),
                   SIPKIT_EOK);
  assert_int_equal(NP, 2);
  SPAN_EQ(P[0].content_type, "application/sdp");
  SPAN_EQ(P[0].body, SDP);
  assert_int_equal(P[0].body.off, m.body.off + 13 + 31 + 2);
  assert_int_equal(P[0].content_id.len, 0);
  assert_int_equal(P[0].disposition.len, 0);
  SPAN_EQ(P[1].ctype.type, "application");
  SPAN_EQ(P[1].ctype.subtype, "resource-lists+xml");
  SPAN_EQ(P[1].disposition, "recipient-list");
  SPAN_EQ(P[1].content_id, "<list@atlanta.example.com>");
  assert_int_equal(P[1].num_headers, 3);
  SPAN_EQ(P[1].body, XML);
  assert_int_equal(P[1].body.off + P[1].body.len + 17, m.body.off + m.body.len);
}

/* multipart/mixed holding multipart/alternative; a third level is refused */
static void test_nested(void **st) {
  (void)st;
  static const char body[] =
      "This is the preamble.\r\n"
      "--outer\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "\r\n"
      "first\r\n"
      "--outer\r\n"
      "content-type: multipart/alternative;\r\n"
      "\tboundary=\"inner b\"\r\n"
      "\r\n"
      "--inner b\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "plain\r\n"
      "--inner b\r\n"
      "Content-Type: multipart/mixed; boundary=third\r\n"
      "\r\n"
      "--third\r\n"
      "\r\n"
      "deep\r\n"
      "--third--\r\n"
      "--inner b--\r\n"
      "--outer--\r\n"
      "epilogue\r\n";
  assert_int_equal(mp("boundary=outer", body), SIPKIT_EOK);
  assert_int_equal(NP, 2);
  SPAN_EQ(P[0].ctype.params, "charset=utf-8");
  SPAN_EQ(P[0].body, "first");
  assert_int_equal(P[1].is_multipart, 1);
  assert_int_equal(P[1].depth, 1);
  SPAN_EQ(P[1].hdrs[0].name, "content-type");
  SPAN_EQ(P[1].content_type, "multipart/alternative;\r\n\tboundary=\"inner b\"");
  SPAN_EQ(P[1].ctype.subtype, "alternative");
  SPAN_EQ(P[1].ctype.params, "boundary=\"inner b\"");
  sipkit_part in[4];
  size_t nin = 0;
  assert_int_equal(sipkit_multipart_parse_part(B, &P[1], in, 4, &nin, &E), SIPKIT_EOK);
  assert_int_equal(nin, 2);
  assert_int_equal(in[0].depth, 2);
  SPAN_EQ(in[0].body, "plain");
  assert_int_equal(in[1].is_multipart, 1);
  SPAN_EQ(in[1].body, "--third\r\n\r\ndeep\r\n--third--");
  /* depth 3 */
  sipkit_part deep[2];
  size_t nd = 7;
  assert_int_equal(sipkit_multipart_parse_part(B, &in[1], deep, 2, &nd, &E),
                   SIPKIT_EINVALID_VALUE);
  ERR(SIPKIT_EINVALID_VALUE, in[1].body.off, "multipart depth limit");
  assert_int_equal(nd, 0);
  /* the same body split directly (as a caller could) works: no part headers */
  sipkit_span tb = in[1].body;
  assert_int_equal(sipkit_multipart_parse(B, tb, in[1].ctype.params, deep, 2, &nd, &E), SIPKIT_EOK);
  assert_int_equal(nd, 1);
  assert_int_equal(deep[0].num_headers, 0);
  assert_int_equal(deep[0].has_ctype, 0);
  assert_int_equal(deep[0].headers.len, 0);
  SPAN_EQ(deep[0].body, "deep");
}

static void test_mp_forms(void **st) {
  (void)st;
  /* LF only */
  assert_int_equal(mp("boundary=b", "--b\n\nbody\n--b--\n"), SIPKIT_EOK);
  assert_int_equal(NP, 1);
  SPAN_EQ(P[0].body, "body");
  /* transport padding, an empty body, a "--bX" line inside a part */
  assert_int_equal(mp(" ; Boundary = b ; x=y",
                      "--b \t\r\n\r\n\r\n--b\r\n\r\n--bX\r\n--b-\r\n\r\n--b--  \r\n"),
                   SIPKIT_EOK);
  assert_int_equal(NP, 2);
  assert_int_equal(P[0].body.len, 0);
  assert_int_equal(P[0].body.off, PO + 9);
  SPAN_EQ(P[1].body, "--bX\r\n--b-\r\n");
  /* fields and no empty line before the delimiter: an empty body */
  assert_int_equal(mp("boundary=b", "--b\r\nContent-Type: a/b\r\n\r\n--b--"), SIPKIT_EOK);
  assert_int_equal(NP, 1);
  SPAN_EQ(P[0].content_type, "a/b");
  assert_int_equal(P[0].body.len, 0);
  assert_int_equal(P[0].body.off, PO + 24);
  /* SP before the colon, folded value, close delimiter at the very end */
  assert_int_equal(mp("boundary=\"=_Part:1 (x)\"",
                      "--=_Part:1 (x)\r\nContent-Type : text/plain\r\nX-A: 1\r\n 2\r\n\r\nhi\r\n--=_Part:1 (x)--"),
                   SIPKIT_EOK);
  assert_int_equal(NP, 1);
  SPAN_EQ(P[0].hdrs[0].name, "Content-Type");
  SPAN_EQ(P[0].hdrs[1].value, "1\r\n 2");
  SPAN_EQ(P[0].body, "hi");
  /* exactly SIPKIT_MAX_PARTS parts; a boundary of 70 bchars */
  char big[2048], b70[71];
  memset(b70, 'a', 70);
  b70[70] = '\0';
  size_t k = 0;
  for (unsigned i = 0; i < SIPKIT_MAX_PARTS; i++)
    k += (size_t)snprintf(big + k, sizeof big - k, "--%s\r\n\r\n%u\r\n", b70, i);
  k += (size_t)snprintf(big + k, sizeof big - k, "--%s--", b70);
  char params[96];
  snprintf(params, sizeof params, "boundary=%s", b70);
  assert_int_equal(mp(params, big), SIPKIT_EOK);
  assert_int_equal(NP, SIPKIT_MAX_PARTS);
  SPAN_EQ(P[15].body, "15");
}

static void test_mp_errors(void **st) {
  (void)st;
  static const char ok1[] = "--b\r\n\r\nx\r\n--b--";
  static const struct {
    const char *params;
    const char *body;
    int in_params; /* offset is in the params, not the body */
    const char *needle;  /* NULL: offset is body end (or k for in_params) */
    uint32_t k;
    const char *rule;
  } t[] = {
      {"charset=x", ok1, 1, NULL, 0, "multipart boundary"},
      {"", ok1, 1, NULL, 0, "multipart boundary"},
      {"boundary=", ok1, 1, NULL, 9, "multipart boundary"},
      {"boundary=\"\"", ok1, 1, NULL, 9, "multipart boundary"},
      {"boundary=\"abc", ok1, 1, NULL, 9, "multipart boundary"},
      {"boundary=a@b", ok1, 1, NULL, 10, "multipart boundary"},
      {"boundary=a b", ok1, 1, NULL, 10, "multipart boundary"},
      {"boundary=\"ab \"", ok1, 1, NULL, 12, "multipart boundary"},
      {"boundary=\"a\\b\"", ok1, 1, NULL, 11, "multipart boundary"},
      {"boundary=b;boundary=c", ok1, 1, NULL, 11, "multipart boundary"},
      {"boundary=abcdefgh", "--abc", 0, "--abc", 0, "multipart delimiter"},
      {"boundary=b", "", 0, NULL, 0, "multipart delimiter"},
      {"boundary=b", "hello, no delimiter here\r\n-- b\r\n", 0, NULL, 0, "multipart delimiter"},
      {"boundary=b", "x--b\r\n\r\nx\r\n-- b--", 0, NULL, 0, "multipart delimiter"},
      {"boundary=b", "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n", 0, NULL, 0,
       "multipart close-delimiter"},
      {"boundary=b", "--b\r\n\r\nhi\r\n--b", 0, NULL, 0, "multipart close-delimiter"},
      {"boundary=b", "--b\r\n\r\nhi\r\n--b \r", 0, NULL, 0, "multipart close-delimiter"},
      {"boundary=b", "--b--\r\n", 0, "--b--", 0, "multipart body-part"},
      {"boundary=b", "--b\r\n--b--", 0, "--b--", 0, "multipart body-part"},
      {"boundary=b", "--b\r\n\r\n--b--", 0, "--b--", 0, "multipart body-part"},
      {"boundary=b", "--b\r\n\r\nx\r\n--b\r\n\r\n--b--", 0, "--b--", 0, "multipart body-part"},
      {"boundary=b", "--b\n\n--b--", 0, "--b--", 0, "multipart body-part"},
      {"boundary=b", "--b\r\nContent-Type: text/plain\r\n--b--", 0, "\r\n--b--", 0,
       "multipart body-part"},
      {"boundary=b", "--b\r\nhello\r\n--b--", 0, "\r\n--b--", 0, "multipart field"},
      {"boundary=b", "--b\r\nNoColonHere\r\n\r\nx\r\n--b--", 0, "\r\n\r\nx", 0, "multipart field"},
      {"boundary=b", "--b\r\n Content-Type: a/b\r\n\r\nx\r\n--b--", 0, " Content", 0,
       "multipart field"},
      {"boundary=b", "--b\r\nX: a\rb\r\n\r\nx\r\n--b--", 0, "\rb", 0, "multipart field"},
      {"boundary=b", "--b\r\nContent Type: a/b\r\n\r\nx\r\n--b--", 0, " Type", 0,
       "multipart field-name"},
      {"boundary=b", "--b\r\nContent\x01Type: a/b\r\n\r\nx\r\n--b--", 0, "\x01", 0,
       "multipart field-name"},
      {"boundary=b", "--b\r\nContent-Typ\xc3\xa9: a/b\r\n\r\nx\r\n--b--", 0, "\xc3", 0,
       "multipart field-name"},
      {"boundary=b", "--b\r\n: a/b\r\n\r\nx\r\n--b--", 0, ": a", 0, "multipart field-name"},
      {"boundary=b", "--b\r\n\t: a/b\r\n\r\nx\r\n--b--", 0, "\t:", 0, "multipart field"},
      {"boundary=b", "--b\r\nContent-Type: text\r\n\r\nx\r\n--b--", 0, "\r\n\r\nx", 0,
       "multipart Content-Type"},
      {"boundary=b", "--b\r\nContent-Type: text/plain x\r\n\r\nx\r\n--b--", 0, " x", 1,
       "multipart Content-Type"},
      {"boundary=b", "--b\r\nContent-Type: /plain\r\n\r\nx\r\n--b--", 0, "/plain", 0,
       "multipart Content-Type"},
      {"boundary=b", "--b\r\nContent-Type: a/b\r\ncontent-type: a/c\r\n\r\nx\r\n--b--", 0,
       "content-type", 0, "multipart Content-Type"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    int rc = mp(t[i].params, t[i].body);
    uint32_t want = t[i].in_params ? t[i].k
                    : t[i].needle  ? PO + at(t[i].body, t[i].needle, t[i].k)
                                   : PO + (uint32_t)strlen(t[i].body);
    if (rc != SIPKIT_EINVALID_VALUE || E.offset != want || strcmp(E.rule, t[i].rule) != 0)
      print_message("case %zu: rc %d off %u (want %u) rule %s\n", i, rc, E.offset, want,
                    E.rule);
    assert_int_equal(rc, SIPKIT_EINVALID_VALUE);
    ERR(SIPKIT_EINVALID_VALUE, want, t[i].rule);
    assert_int_equal(NP, 0);
  }
  /* a boundary of 71 chars */
  char params[96];
  snprintf(params, sizeof params, "boundary=%071d", 0);
  assert_int_equal(mp(params, ok1), SIPKIT_EINVALID_VALUE);
  ERR(SIPKIT_EINVALID_VALUE, 9, "multipart boundary");
  /* a NUL in a part header name, from a length-given body */
  static const char nulname[] = "--b\r\nA\0B: x\r\n\r\nx\r\n--b--";
  assert_int_equal(mp_n("boundary=b", nulname, sizeof nulname - 1, 4), SIPKIT_EINVALID_VALUE);
  ERR(SIPKIT_EINVALID_VALUE, PO + 6, "multipart field-name");
  /* line and column count from buf */
  assert_int_equal(mp("boundary=b", "--b\r\nContent Type: a/b\r\n\r\nx\r\n--b--"),
                   SIPKIT_EINVALID_VALUE);
  assert_int_equal(E.line, 2);
  assert_int_equal(E.column, 8);
  /* arguments */
  sipkit_span s0 = {0, 0};
  assert_int_equal(sipkit_multipart_parse(NULL, s0, s0, P, 1, &NP, &E), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_multipart_parse("x", s0, s0, P, 0, &NP, &E), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_multipart_parse("x", s0, s0, NULL, 1, &NP, &E), SIPKIT_EARGUMENT);
}

static void test_mp_limits(void **st) {
  (void)st;
  char big[4096];
  size_t k = 0;
  uint32_t d17 = 0;
  for (unsigned i = 0; i < SIPKIT_MAX_PARTS + 1; i++) {
    if (i == SIPKIT_MAX_PARTS)
      d17 = (uint32_t)k;
    k += (size_t)snprintf(big + k, sizeof big - k, "--b\r\n\r\n%u\r\n", i);
  }
  k += (size_t)snprintf(big + k, sizeof big - k, "--b--\r\n");
  assert_int_equal(mp("boundary=b", big), SIPKIT_EINVALID_VALUE);
  ERR(SIPKIT_EINVALID_VALUE, PO + d17, "multipart parts limit");
  /* the caller's capacity is the limit when smaller */
  static const char three[] = "--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b\r\n\r\n3\r\n--b--";
  assert_int_equal(mp_n("boundary=b", three, sizeof three - 1, 2), SIPKIT_EINVALID_VALUE);
  ERR(SIPKIT_EINVALID_VALUE, PO + 20, "multipart parts limit");
  assert_int_equal(mp_n("boundary=b", three, sizeof three - 1, 3), SIPKIT_EOK);
  assert_int_equal(NP, 3);
  /* 100 parts: refused at the 17th, no write past the array */
  k = 0;
  for (unsigned i = 0; i < 100; i++)
    k += (size_t)snprintf(big + k, sizeof big - k, "--b\r\n\r\nx\r\n");
  k += (size_t)snprintf(big + k, sizeof big - k, "--b--");
  assert_int_equal(mp_n("boundary=b", big, k, 1000), SIPKIT_EINVALID_VALUE);
  ERR(SIPKIT_EINVALID_VALUE, PO + 16 * 10, "multipart parts limit");
  /* part headers */
  k = (size_t)snprintf(big, sizeof big, "--b\r\n");
  uint32_t h17 = 0;
  for (unsigned i = 0; i < SIPKIT_MAX_PART_HEADERS + 1; i++) {
    if (i == SIPKIT_MAX_PART_HEADERS)
      h17 = (uint32_t)k;
    k += (size_t)snprintf(big + k, sizeof big - k, "X-%u: v\r\n", i);
  }
  k += (size_t)snprintf(big + k, sizeof big - k, "\r\nx\r\n--b--");
  assert_int_equal(mp("boundary=b", big), SIPKIT_EINVALID_VALUE);
  ERR(SIPKIT_EINVALID_VALUE, PO + h17, "multipart part headers limit");
}

/* every prefix of a valid body: an error or success, never a crash
 * (exact-size buffers, so ASan/valgrind see any over-read) */
static void test_mp_prefixes(void **st) {
  (void)st;
  static const char body[] = "pre\r\n--b\r\nContent-Type: a/b;\r\n x=1\r\n\r\nxy\r\n--b\r\n\r\nz\r\n--b--\r\nepi";
  for (size_t n = 0; n <= sizeof body - 1; n++) {
    int rc = mp_n("boundary=b", body, n, SIPKIT_MAX_PARTS);
    assert_true(rc == SIPKIT_EOK || rc == SIPKIT_EINVALID_VALUE);
    if (rc == SIPKIT_EOK)
      assert_true(n >= sizeof body - 1 - 5);
  }
  for (size_t n = 0; n <= 26; n++) {
    static const char r[] = "Signal=5\r\nDuration=160\r\n";
    int rc = relay_n(r, n < sizeof r - 1 ? n : sizeof r - 1);
    assert_true(rc == SIPKIT_EOK || rc == SIPKIT_EINVALID_VALUE);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_relay_corpus, teardown),
      cmocka_unit_test_teardown(test_relay_forms, teardown),
      cmocka_unit_test_teardown(test_relay_errors, teardown),
      cmocka_unit_test_teardown(test_relay_build, teardown),
      cmocka_unit_test_teardown(test_dtmf, teardown),
      cmocka_unit_test_teardown(test_mpart01, teardown),
      cmocka_unit_test_teardown(test_rfc5621, teardown),
      cmocka_unit_test_teardown(test_nested, teardown),
      cmocka_unit_test_teardown(test_mp_forms, teardown),
      cmocka_unit_test_teardown(test_mp_errors, teardown),
      cmocka_unit_test_teardown(test_mp_limits, teardown),
      cmocka_unit_test_teardown(test_mp_prefixes, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
