/* test_auth.c - digest authentication (src/auth.c, src/sipkit_auth.h).
 *
 * Published vectors: RFC 2617 §3.5 and RFC 7616 §3.9.1 (MD5, SHA-256).
 * The other expected responses (-sess, auth-int, SHA-512-256, SIP
 * REGISTER/MESSAGE) were computed outside sipkit with Python's hashlib
 * from the RFC 7616 §3.4 formulas; the script is in tests/auth/README.md.
 * Run from the repository root (reads tests/bench/corpus and tests/auth). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sipkit.h"
#include "sipkit_auth.h"

static const char *B; /* the buffer spans refer to */

#define assert_span(span, str)                                                 \
  do {                                                                         \
    sipkit_span s_ = (span);                                                   \
    const char *w_ = (str);                                                    \
    if (s_.len != strlen(w_) || memcmp(B + s_.off, w_, strlen(w_)) != 0) {     \
      print_error("%s: got \"%.*s\" (%u+%u), want \"%s\"\n", #span,           \
                  (int)s_.len, B + s_.off, s_.off, s_.len, w_);               \
      fail();                                                                  \
    }                                                                          \
  } while (0)

#define assert_code(x, want)                                                   \
  do {                                                                         \
    int got_ = (x), want_ = (want);                                            \
    if (got_ != want_) {                                                       \
      print_error("%s: want %s, got %s (rule \"%s\", offset %u)\n", #x,        \
                  sipkit_err_name(want_), sipkit_err_name(got_),               \
                  E.rule ? E.rule : "", E.offset);                             \
      fail();                                                                  \
    }                                                                          \
  } while (0)

static sipkit_error E;
static sipkit_challenge CH;
static sipkit_credentials CR;

static sipkit_span whole(const char *s) {
  sipkit_span sp = {0, (uint32_t)strlen(s)};
  return sp;
}

static int challenge(const char *v) {
  B = v;
  memset(&E, 0, sizeof E);
  return sipkit_auth_parse_challenge(&CH, SIPKIT_HDR_WWW_AUTHENTICATE, v, whole(v), &E);
}

static int credentials(const char *v) {
  B = v;
  memset(&E, 0, sizeof E);
  return sipkit_auth_parse_credentials(&CR, SIPKIT_HDR_AUTHORIZATION, v, whole(v), &E);
}

static sipkit_strv S(const char *s) {
  sipkit_strv v = {s, s ? strlen(s) : 0};
  return v;
}

/* Whole file; every LF must follow a CR (pitfall: CRLF lost in git). */
static char *load(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf;
  long n;
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  rewind(f);
  buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  buf[n] = 0;
  for (long i = 0; i < n; i++)
    if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
      fail_msg("%s: bare LF at %ld", path, i);
  *len = (size_t)n;
  return buf;
}

/* ------------------------------------------------------------------ */
/* published vectors                                                   */

#define MUFASA_NONCE "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define MUFASA_CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"

static void test_rfc2617_3_5(void **state) {
  char out[SIPKIT_DIGEST_HEX_MAX + 1];
  sipkit_digest_in in;
  (void)state;
  memset(&in, 0, sizeof in);
  in.algorithm = SIPKIT_DIGEST_MD5;
  in.qop = SIPKIT_QOP_AUTH;
  in.username = S("Mufasa");
  in.realm = S("testrealm@host.com");
  in.password = S("Circle Of Life");
  in.nonce = S("dcd98b7102dd2f0e8b11d0f600bfb0c093");
  in.cnonce = S("0a4f113b");
  in.nc = S("00000001");
  in.method = S("GET");
  in.uri = S("/dir/index.html");
  assert_int_equal(sipkit_digest_response(&in, out, sizeof out), SIPKIT_EOK);
  assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
  /* the HA1 of the password gives the same */
  in.password = S(NULL);
  in.ha1 = S("939e7578ed9e3c518a452acee763bce9"); /* MD5(Mufasa:testrealm@host.com:Circle Of Life) */
  assert_int_equal(sipkit_digest_response(&in, out, sizeof out), SIPKIT_EOK);
  assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
  /* out must hold 32 hex digits and the NUL */
  assert_int_equal(sipkit_digest_response(&in, out, 32), SIPKIT_EBUFFER_TOO_SMALL);
  in.ha1 = S("939e7578ed9e3c518a452acee763bce");
  assert_int_equal(sipkit_digest_response(&in, out, sizeof out), SIPKIT_EARGUMENT);
}

/* RFC 2617 §3.5's challenge parses; its credentials do not in SIP: the
 * digest-uri-value must be a Request-URI (RFC 8760 §2.6 item 3). */
static void test_rfc2617_headers(void **state) {
  (void)state;
  assert_code(challenge("Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
                        "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                        "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""),
              SIPKIT_EOK);
  assert_span(CH.realm, "testrealm@host.com");
  assert_span(CH.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
  assert_span(CH.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
  assert_span(CH.qop, "auth,auth-int");
  assert_int_equal(CH.qop_offered, SIPKIT_QOP_AUTH | SIPKIT_QOP_AUTH_INT);
  assert_int_equal(CH.algorithm, SIPKIT_DIGEST_MD5);
  assert_int_equal(CH.algorithm_name.len, 0);
  assert_int_equal(CH.stale, 0);

  assert_code(credentials("Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
                          "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
                          "qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
                          "response=\"6629fae49393a05397450978507c4ef1\", "
                          "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""),
              SIPKIT_EAUTH);
  assert_int_equal(E.offset, strlen("Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
                                    "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\""));
}

static void test_rfc7616_3_9_1(void **state) {
  static const struct {
    int alg;
    const char *want;
  } v[] = {
      {SIPKIT_DIGEST_MD5, "8ca523f5e9506fed4657c9700eebdbec"},
      {SIPKIT_DIGEST_SHA256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
  };
  (void)state;
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char out[SIPKIT_DIGEST_HEX_MAX + 1];
    sipkit_digest_in in;
    memset(&in, 0, sizeof in);
    in.algorithm = v[i].alg;
    in.qop = SIPKIT_QOP_AUTH;
    in.username = S("Mufasa");
    in.realm = S("http-auth@example.org");
    in.password = S("Circle of Life");
    in.nonce = S(MUFASA_NONCE);
    in.cnonce = S(MUFASA_CNONCE);
    in.nc = S("00000001");
    in.method = S("GET");
    in.uri = S("/dir/index.html");
    assert_int_equal(sipkit_digest_response(&in, out, sizeof out), SIPKIT_EOK);
    assert_string_equal(out, v[i].want);
  }
}

/* The RFC 7616 challenges with a SIP Request-URI: the client's header
 * carries the same response as sipkit_digest_response gives, and the
 * server accepts it. */
static void test_rfc7616_challenge_build_verify(void **state) {
  static const char *const chs[] = {
      "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, "
      "nonce=\"" MUFASA_NONCE "\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
      "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, "
      "nonce=\"" MUFASA_NONCE "\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
  };
  static const char *const want[] = {
      "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", nonce=\"" MUFASA_NONCE
      "\", uri=\"sip:example.org\", response=\"RESP\", algorithm=SHA-256, cnonce=\"" MUFASA_CNONCE
      "\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\", qop=auth, nc=00000001",
  };
  (void)state;
  for (int i = 0; i < 2; i++) {
    char out[512], hex[SIPKIT_DIGEST_HEX_MAX + 1];
    size_t len = 0;
    sipkit_auth_client cl;
    sipkit_auth_verify_in vi;
    sipkit_digest_in in;
    assert_code(challenge(chs[i]), SIPKIT_EOK);
    assert_int_equal(CH.algorithm, i == 0 ? SIPKIT_DIGEST_SHA256 : SIPKIT_DIGEST_MD5);
    assert_int_equal(CH.qop_offered, SIPKIT_QOP_AUTH | SIPKIT_QOP_AUTH_INT);
    memset(&cl, 0, sizeof cl);
    cl.username = "Mufasa";
    cl.password = "Circle of Life";
    cl.method = "REGISTER";
    cl.uri = "sip:example.org";
    cl.nc = 1;
    cl.cnonce = MUFASA_CNONCE;
    assert_code(sipkit_auth_build(&CH, chs[i], &cl, out, sizeof out, &len, &E), SIPKIT_EOK);
    assert_int_equal(len, strlen(out));

    memset(&in, 0, sizeof in);
    in.algorithm = CH.algorithm;
    in.qop = SIPKIT_QOP_AUTH;
    in.username = S("Mufasa");
    in.realm = S("http-auth@example.org");
    in.password = S("Circle of Life");
    in.nonce = S(MUFASA_NONCE);
    in.cnonce = S(MUFASA_CNONCE);
    in.nc = S("00000001");
    in.method = S("REGISTER");
    in.uri = S("sip:example.org");
    assert_int_equal(sipkit_digest_response(&in, hex, sizeof hex), SIPKIT_EOK);
    if (i == 0) {
      char w[512];
      const char *r = strstr(want[0], "RESP");
      snprintf(w, sizeof w, "%.*s%s%s", (int)(r - want[0]), want[0], hex, r + 4);
      assert_string_equal(out, w);
    }
    assert_code(credentials(out), SIPKIT_EOK);
    assert_span(CR.response, hex);
    assert_int_equal(CR.algorithm, CH.algorithm);
    memset(&vi, 0, sizeof vi);
    vi.password = "Circle of Life";
    vi.method = "REGISTER";
    assert_int_equal(sipkit_auth_verify(&CR, out, &vi), SIPKIT_EOK);
    vi.password = "Circle of life";
    assert_int_equal(sipkit_auth_verify(&CR, out, &vi), SIPKIT_EAUTH);
    vi.password = "Circle of Life";
    vi.method = "INVITE";
    assert_int_equal(sipkit_auth_verify(&CR, out, &vi), SIPKIT_EAUTH);
  }
}

/* ------------------------------------------------------------------ */
/* SIP                                                                  */

static void test_sip_register_corpus(void **state) {
  size_t len;
  char *buf = load("tests/bench/corpus/07_register_auth.sip", &len);
  sipkit_header hs[SIPKIT_DEFAULT_HEADERS];
  sipkit_msg msg;
  const sipkit_header *h;
  sipkit_auth_verify_in vi;
  (void)state;
  sipkit_msg_init(&msg, hs, SIPKIT_DEFAULT_HEADERS);
  assert_int_equal(sipkit_parse(&msg, buf, len, 0, NULL), SIPKIT_EOK);
  h = sipkit_msg_header(&msg, SIPKIT_HDR_AUTHORIZATION);
  assert_non_null(h);
  B = buf;
  assert_code(sipkit_auth_parse_credentials(&CR, SIPKIT_HDR_AUTHORIZATION, buf, h->value, &E),
              SIPKIT_EOK);
  assert_span(CR.username, "bob");
  assert_span(CR.realm, "biloxi.example.com");
  assert_span(CR.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
  assert_span(CR.uri, "sip:registrar.biloxi.example.com");
  assert_span(CR.response, "245f23415f11432b3434341c022a2432");
  assert_span(CR.algorithm_name, "MD5");
  assert_int_equal(CR.algorithm, SIPKIT_DIGEST_MD5);
  assert_span(CR.cnonce, "0a4f113b");
  assert_span(CR.qop_name, "auth");
  assert_int_equal(CR.qop, SIPKIT_QOP_AUTH);
  assert_span(CR.nc, "00000001");
  assert_int_equal(CR.nc_value, 1);
  assert_span(CR.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
  assert_int_equal(CR.has_opaque, 1);
  /* the corpus response is not the one of any password we know */
  memset(&vi, 0, sizeof vi);
  vi.password = "zanzibar";
  vi.method = "REGISTER";
  assert_int_equal(sipkit_auth_verify(&CR, buf, &vi), SIPKIT_EAUTH);
  /* Proxy-Authorization takes the same value */
  assert_code(sipkit_auth_parse_credentials(&CR, SIPKIT_HDR_PROXY_AUTHORIZATION, buf, h->value, &E),
              SIPKIT_EOK);
  /* a challenge parser is not given credentials */
  assert_code(sipkit_auth_parse_credentials(&CR, SIPKIT_HDR_WWW_AUTHENTICATE, buf, h->value, &E),
              SIPKIT_EARGUMENT);
  free(buf);
}

/* The 401 of the bench corpus, answered: exact header, exact response. */
static void test_sip_401_answer(void **state) {
  size_t len, n = 0;
  char *buf = load("tests/bench/corpus/08_401_unauthorized.sip", &len);
  char out[512];
  sipkit_header hs[SIPKIT_DEFAULT_HEADERS];
  sipkit_msg msg;
  sipkit_auth_client cl;
  (void)state;
  sipkit_msg_init(&msg, hs, SIPKIT_DEFAULT_HEADERS);
  assert_int_equal(sipkit_parse(&msg, buf, len, 0, NULL), SIPKIT_EOK);
  B = buf;
  assert_code(sipkit_auth_challenge_pick(&CH, &msg, buf, SIPKIT_HDR_WWW_AUTHENTICATE, &E), SIPKIT_EOK);
  assert_span(CH.realm, "biloxi.example.com");
  assert_int_equal(CH.stale, 0); /* stale=FALSE */
  assert_span(CH.algorithm_name, "MD5");
  memset(&cl, 0, sizeof cl);
  cl.username = "bob";
  cl.password = "zanzibar";
  cl.method = "REGISTER";
  cl.uri = "sip:registrar.biloxi.example.com";
  cl.nc = 1;
  cl.cnonce = "0a4f113b";
  assert_code(sipkit_auth_build(&CH, buf, &cl, out, sizeof out, &n, &E), SIPKIT_EOK);
  assert_string_equal(out,
                      "Digest username=\"bob\", realm=\"biloxi.example.com\", "
                      "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                      "uri=\"sip:registrar.biloxi.example.com\", "
                      "response=\"e7b64818f658d8ef19b95150c8e487cb\", algorithm=MD5, "
                      "cnonce=\"0a4f113b\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", "
                      "qop=auth, nc=00000001");
  assert_int_equal(n, strlen(out));
  /* a random cnonce: 32 hex digits, and the server still agrees */
  cl.cnonce = NULL;
  cl.nc = 2;
  assert_code(sipkit_auth_build(&CH, buf, &cl, out, sizeof out, &n, &E), SIPKIT_EOK);
  {
    sipkit_auth_verify_in vi;
    const char *chbuf = buf;
    assert_code(credentials(out), SIPKIT_EOK);
    assert_int_equal(CR.cnonce.len, 32);
    assert_int_equal(CR.nc_value, 2);
    memset(&vi, 0, sizeof vi);
    vi.password = "zanzibar";
    vi.method = "REGISTER";
    assert_int_equal(sipkit_auth_verify(&CR, out, &vi), SIPKIT_EOK);
    vi.password = NULL;
    vi.ha1 = "7fc33d266ff5f7fe764efb797bd4ba91"; /* MD5(bob:biloxi.example.com:zanzibar) */
    assert_int_equal(sipkit_auth_verify(&CR, out, &vi), SIPKIT_EOK);
    (void)chbuf;
  }
  free(buf);
}

/* Several challenges: the strongest supported one; unknown algorithms and
 * other schemes skipped. */
static void test_pick_strongest(void **state) {
  size_t len;
  char *buf = load("tests/auth/401_two_challenges.sip", &len);
  sipkit_header hs[SIPKIT_DEFAULT_HEADERS];
  sipkit_msg msg;
  (void)state;
  sipkit_msg_init(&msg, hs, SIPKIT_DEFAULT_HEADERS);
  assert_int_equal(sipkit_parse(&msg, buf, len, 0, NULL), SIPKIT_EOK);
  B = buf;
  assert_code(sipkit_auth_challenge_pick(&CH, &msg, buf, SIPKIT_HDR_WWW_AUTHENTICATE, &E), SIPKIT_EOK);
  assert_int_equal(CH.algorithm, SIPKIT_DIGEST_SHA256);
  assert_span(CH.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093"); /* the first of equals */
  assert_int_equal(CH.has_opaque, 1);
  assert_int_equal(CH.opaque.len, 0);
  /* no Proxy-Authenticate at all */
  assert_code(sipkit_auth_challenge_pick(&CH, &msg, buf, SIPKIT_HDR_PROXY_AUTHENTICATE, &E),
              SIPKIT_EAUTH);
  free(buf);
}

struct vec {
  int alg, qop;
  const char *method, *uri, *body, *nc, *want;
};

/* -sess, auth-int, SHA-512-256, no qop: each against an independent
 * computation (tests/auth/README.md). */
static void test_variants(void **state) {
  static const struct vec v[] = {
      {SIPKIT_DIGEST_MD5, SIPKIT_QOP_NONE, "REGISTER", "sip:registrar.biloxi.example.com", NULL,
       "00000001", "d90e4f67d3910751d1524b8a591fdfdd"},
      {SIPKIT_DIGEST_MD5_SESS, SIPKIT_QOP_AUTH, "REGISTER", "sip:registrar.biloxi.example.com",
       NULL, "00000001", "0586240f954fd6995d76a5e6da5ce765"},
      {SIPKIT_DIGEST_SHA256_SESS, SIPKIT_QOP_AUTH, "REGISTER", "sip:registrar.biloxi.example.com",
       NULL, "00000001", "311f16c2b7203be850dff8b1f8fe3ec2d21f7fe3e440bde84e4c5c438adb00b1"},
      {SIPKIT_DIGEST_SHA512_256, SIPKIT_QOP_AUTH, "REGISTER", "sip:registrar.biloxi.example.com",
       NULL, "00000001", "8f103f2e4999c2ec6b343406ec73578e9512d90d96d65d21a1d2ee9e68aee9b4"},
      {SIPKIT_DIGEST_SHA512_256_SESS, SIPKIT_QOP_AUTH_INT, "MESSAGE", "sip:alice@atlanta.example.com",
       "hello\r\n", "00000002", "ee95e184a79cb7bb107eb2862f0ba101745da2ef62654ded1b051d9873d529cb"},
      {SIPKIT_DIGEST_MD5, SIPKIT_QOP_AUTH_INT, "MESSAGE", "sip:alice@atlanta.example.com",
       "hello\r\n", "00000001", "b4348896be5783464033aa75a3c7502c"},
      /* RFC 8760 §2.6 item 7: no body hashes as H("") */
      {SIPKIT_DIGEST_MD5, SIPKIT_QOP_AUTH_INT, "REGISTER", "sip:registrar.biloxi.example.com", NULL,
       "00000001", "745add95111290837fa6f85cdfc03d4f"},
  };
  (void)state;
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char out[SIPKIT_DIGEST_HEX_MAX + 1];
    sipkit_digest_in in;
    memset(&in, 0, sizeof in);
    in.algorithm = v[i].alg;
    in.qop = v[i].qop;
    in.username = S("bob");
    in.realm = S("biloxi.example.com");
    in.password = S("zanzibar");
    in.nonce = S("dcd98b7102dd2f0e8b11d0f600bfb0c093");
    in.cnonce = S("0a4f113b");
    in.nc = S(v[i].nc);
    in.method = S(v[i].method);
    in.uri = S(v[i].uri);
    in.body = S(v[i].body);
    assert_int_equal(sipkit_digest_response(&in, out, sizeof out), SIPKIT_EOK);
    assert_string_equal(out, v[i].want);
  }
}

/* auth-int end to end, with a -sess algorithm: build, parse, verify; a
 * changed body fails. */
static void test_auth_int_sess_roundtrip(void **state) {
  static const char ch[] =
      "Digest realm=\"biloxi.example.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
      "algorithm=SHA-512-256-sess, qop=\"auth-int\"";
  char out[512];
  size_t n = 0;
  sipkit_auth_client cl;
  sipkit_auth_verify_in vi;
  (void)state;
  assert_code(challenge(ch), SIPKIT_EOK);
  assert_int_equal(CH.algorithm, SIPKIT_DIGEST_SHA512_256_SESS);
  assert_int_equal(CH.qop_offered, SIPKIT_QOP_AUTH_INT);
  memset(&cl, 0, sizeof cl);
  cl.username = "bob";
  cl.password = "zanzibar";
  cl.method = "MESSAGE";
  cl.uri = "sip:alice@atlanta.example.com";
  cl.body = "hello\r\n";
  cl.body_len = 7;
  cl.nc = 2;
  cl.cnonce = "0a4f113b";
  assert_code(sipkit_auth_build(&CH, ch, &cl, out, sizeof out, &n, &E), SIPKIT_EOK);
  assert_string_equal(out,
                      "Digest username=\"bob\", realm=\"biloxi.example.com\", "
                      "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                      "uri=\"sip:alice@atlanta.example.com\", "
                      "response=\"ee95e184a79cb7bb107eb2862f0ba101745da2ef62654ded1b051d9873d529cb\", "
                      "algorithm=SHA-512-256-sess, cnonce=\"0a4f113b\", qop=auth-int, nc=00000002");
  assert_code(credentials(out), SIPKIT_EOK);
  assert_int_equal(CR.qop, SIPKIT_QOP_AUTH_INT);
  memset(&vi, 0, sizeof vi);
  vi.password = "zanzibar";
  vi.method = "MESSAGE";
  vi.body = "hello\r\n";
  vi.body_len = 7;
  assert_int_equal(sipkit_auth_verify(&CR, out, &vi), SIPKIT_EOK);
  vi.body = "hello!\r\n";
  vi.body_len = 8;
  assert_int_equal(sipkit_auth_verify(&CR, out, &vi), SIPKIT_EAUTH);
  /* ha1 given: H(user:realm:pass) before -sess */
  vi.body = "hello\r\n";
  vi.body_len = 7;
  vi.password = NULL;
  vi.ha1 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  assert_int_equal(sipkit_auth_verify(&CR, out, &vi), SIPKIT_EAUTH);
  /* no qop offered, -sess: cnonce sent, no qop/nc */
  {
    static const char ch2[] = "Digest realm=\"biloxi.example.com\", nonce=\"n1\", algorithm=MD5-sess";
    assert_code(challenge(ch2), SIPKIT_EOK);
    cl.body = NULL;
    cl.body_len = 0;
    assert_code(sipkit_auth_build(&CH, ch2, &cl, out, sizeof out, &n, &E), SIPKIT_EOK);
    assert_non_null(strstr(out, ", algorithm=MD5-sess, cnonce=\"0a4f113b\""));
    assert_null(strstr(out, "qop="));
    assert_code(credentials(out), SIPKIT_EOK);
    vi.password = "zanzibar";
    vi.ha1 = NULL;
    assert_int_equal(sipkit_auth_verify(&CR, out, &vi), SIPKIT_EOK);
  }
}

/* ------------------------------------------------------------------ */
/* malformed input, each with its exact code                            */

struct bad {
  const char *value;
  int code;
  const char *rule;   /* NULL: the grammar's rule, not checked */
  uint32_t offset;
};

static void test_bad_challenges(void **state) {
  static const struct bad v[] = {
      /* missing nonce */
      {"Digest realm=\"a\", qop=\"auth\"", SIPKIT_EAUTH, "nonce", 28},
      {"Digest nonce=\"n\"", SIPKIT_EAUTH, "realm", 16},
      /* unterminated quotes */
      {"Digest realm=\"a, nonce=\"n\"", SIPKIT_EAUTH, NULL, 24},
      {"Digest realm=\"a\", nonce=\"n", SIPKIT_EAUTH, NULL, 26},
      /* duplicated parameters, in any case */
      {"Digest realm=\"a\", nonce=\"n\", realm=\"b\"", SIPKIT_EAUTH, "duplicate parameter", 29},
      {"Digest realm=\"a\", nonce=\"n\", REALM=\"b\"", SIPKIT_EAUTH, "duplicate parameter", 29},
      {"Digest realm=\"a\", nonce=\"n\", x=1, x=2", SIPKIT_EAUTH, "duplicate parameter", 34},
      /* algorithms */
      {"Digest realm=\"a\", nonce=\"n\", algorithm=SHA-1", SIPKIT_EAUTH_ALGORITHM, "algorithm", 39},
      {"Digest realm=\"a\", nonce=\"n\", algorithm=\"MD5\"x", SIPKIT_EAUTH, NULL, 44},
      /* CR/LF injection */
      {"Digest realm=\"a\", nonce=\"n\"\r\nVia: SIP/2.0/UDP evil", SIPKIT_EAUTH, NULL, 29},
      {"Digest realm=\"a\r\nb\", nonce=\"n\"", SIPKIT_EAUTH, NULL, 17},
      {"Digest realm=\"a\", nonce=\"n\0\"", SIPKIT_EAUTH, NULL, 26},
      /* other schemes, stale */
      {"Basic realm=\"a\"", SIPKIT_EAUTH, "challenge", 0},
      {"Digest realm=\"a\", nonce=\"n\", stale=maybe", SIPKIT_EAUTH, "stale", 35},
      {"Digest", SIPKIT_EAUTH, NULL, 6},
      {"", SIPKIT_EAUTH, NULL, 0},
  };
  (void)state;
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    const char *s = v[i].value;
    sipkit_span sp = {0, (uint32_t)strlen(s)};
    if (i == 11)
      sp.len = 28; /* the NUL case: length includes the NUL and the quote */
    int rc;
    B = s;
    memset(&E, 0, sizeof E);
    rc = sipkit_auth_parse_challenge(&CH, SIPKIT_HDR_WWW_AUTHENTICATE, s, sp, &E);
    if (rc != v[i].code || E.offset != v[i].offset)
      print_message("case %zu: %s at %u\n", i, sipkit_err_name(rc), E.offset);
    assert_code(rc, v[i].code);
    assert_int_equal(E.code, v[i].code);
    if (v[i].rule)
      assert_string_equal(E.rule, v[i].rule);
    assert_int_equal(E.offset, v[i].offset);
  }
  /* stale=TRUE is case-insensitive; a quoted algorithm is taken */
  assert_code(challenge("Digest realm=\"a\", nonce=\"n\", stale=TRUE, algorithm=\"sha-256\""),
              SIPKIT_EOK);
  assert_int_equal(CH.stale, 1);
  assert_int_equal(CH.algorithm, SIPKIT_DIGEST_SHA256);
  /* folded value from a message */
  assert_code(challenge("Digest realm=\"a\",\r\n nonce=\"n\""), SIPKIT_EOK);
  assert_span(CH.nonce, "n");
}

static void test_bad_credentials(void **state) {
#define CRED "Digest username=\"bob\", realm=\"r\", nonce=\"n\", uri=\"sip:a.example.com\""
#define R32 ", response=\"e7b64818f658d8ef19b95150c8e487cb\""
  static const struct bad v[] = {
      {CRED, SIPKIT_EAUTH, "response", 68},
      {CRED R32 ", qop=auth, nc=00000001", SIPKIT_EAUTH, "cnonce", 136},
      {CRED R32 ", qop=auth, cnonce=\"c\"", SIPKIT_EAUTH, "nonce-count", 135},
      {CRED R32 ", qop=auth, cnonce=\"c\", nc=1", SIPKIT_EAUTH, "nc-value", 140},
      {CRED R32 ", qop=auth-conf, cnonce=\"c\", nc=00000001", SIPKIT_EAUTH, "message-qop", 119},
      {CRED R32 ", algorithm=SHA-256", SIPKIT_EAUTH, "request-digest", 80},
      {CRED R32 ", algorithm=MD6", SIPKIT_EAUTH_ALGORITHM, "algorithm", 125},
      {CRED R32 ", algorithm=MD5-sess", SIPKIT_EAUTH, "cnonce", 133},
      {CRED R32 ", username=\"eve\"", SIPKIT_EAUTH, "duplicate parameter", 115},
      {CRED ", response=\"E7B64818F658D8EF19B95150C8E487CB\"", SIPKIT_EAUTH, NULL, 80},
      {CRED ", response=\"\"", SIPKIT_EOK, "", 0},
  };
  (void)state;
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    int rc = credentials(v[i].value);
    if (rc != v[i].code || E.offset != v[i].offset)
      print_message("case %zu: %s at %u\n", i, sipkit_err_name(rc), E.offset);
    assert_code(rc, v[i].code);
    if (v[i].rule)
      assert_string_equal(E.rule, v[i].rule);
    assert_int_equal(E.offset, v[i].offset);
  }
  /* an empty response never verifies */
  {
    sipkit_auth_verify_in vi;
    memset(&vi, 0, sizeof vi);
    vi.password = "x";
    vi.method = "REGISTER";
    assert_int_equal(sipkit_auth_verify(&CR, CRED ", response=\"\"", &vi), SIPKIT_EAUTH);
  }
}

/* ------------------------------------------------------------------ */
/* building                                                             */

static void test_buffer_too_small(void **state) {
  static const char ch[] = "Digest realm=\"biloxi.example.com\", "
                           "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", qop=\"auth\", "
                           "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
  static const char want[] = "Digest username=\"bob\", realm=\"biloxi.example.com\", "
                             "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                             "uri=\"sip:registrar.biloxi.example.com\", "
                             "response=\"e7b64818f658d8ef19b95150c8e487cb\", algorithm=MD5, "
                             "cnonce=\"0a4f113b\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", "
                             "qop=auth, nc=00000001";
  char out[sizeof want + 8];
  size_t n = 0;
  sipkit_auth_client cl;
  (void)state;
  assert_int_equal(sizeof want - 1, 278);
  assert_code(challenge(ch), SIPKIT_EOK);
  memset(&cl, 0, sizeof cl);
  cl.username = "bob";
  cl.password = "zanzibar";
  cl.method = "REGISTER";
  cl.uri = "sip:registrar.biloxi.example.com";
  cl.nc = 1;
  cl.cnonce = "0a4f113b";
  memset(out, 'X', sizeof out);
  assert_code(sipkit_auth_build(&CH, ch, &cl, out, 278, &n, &E), SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(n, 278); /* the value length: cap must be n + 1 */
  assert_int_equal(out[278], 'X');
  assert_code(sipkit_auth_build(&CH, ch, &cl, NULL, 0, &n, &E), SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(n, 278);
  assert_code(sipkit_auth_build(&CH, ch, &cl, out, 279, &n, &E), SIPKIT_EOK);
  assert_int_equal(n, 278);
  assert_string_equal(out, want);
}

static void test_build_refusals(void **state) {
  static const char ch[] = "Digest realm=\"r\", nonce=\"n\", qop=\"auth-conf\"";
  static const char ch2[] = "Digest realm=\"r\", nonce=\"n\", qop=\"auth\"";
  char out[512];
  size_t n;
  sipkit_auth_client cl;
  (void)state;
  memset(&cl, 0, sizeof cl);
  cl.username = "bob";
  cl.password = "zanzibar";
  cl.method = "REGISTER";
  cl.uri = "sip:r.example.com";
  cl.nc = 1;
  cl.cnonce = "c";
  /* no qop we support */
  assert_code(challenge(ch), SIPKIT_EOK);
  assert_int_equal(CH.has_qop, 1);
  assert_int_equal(CH.qop_offered, 0);
  assert_code(sipkit_auth_build(&CH, ch, &cl, out, sizeof out, &n, &E), SIPKIT_EAUTH);
  assert_string_equal(E.rule, "qop-options");
  assert_code(challenge(ch2), SIPKIT_EOK);
  /* header injection through the username */
  cl.username = "bob\"\r\nVia: x";
  assert_code(sipkit_auth_build(&CH, ch2, &cl, out, sizeof out, &n, &E), SIPKIT_EINVALID_VALUE);
  assert_string_equal(E.rule, "username");
  /* a quote and a backslash are escaped, and hashed unescaped */
  cl.username = "b\"o\\b";
  assert_code(sipkit_auth_build(&CH, ch2, &cl, out, sizeof out, &n, &E), SIPKIT_EOK);
  assert_non_null(strstr(out, "username=\"b\\\"o\\\\b\""));
  assert_code(credentials(out), SIPKIT_EOK);
  {
    char u[16];
    sipkit_auth_verify_in vi;
    assert_int_equal(sipkit_auth_unquote(out, CR.username, u, sizeof u), 5);
    assert_memory_equal(u, "b\"o\\b", 5);
    assert_int_equal(sipkit_auth_unquote(out, CR.username, u, 2), 5);
    memset(&vi, 0, sizeof vi);
    vi.password = "zanzibar";
    vi.method = "REGISTER";
    assert_int_equal(sipkit_auth_verify(&CR, out, &vi), SIPKIT_EOK);
  }
  /* the uri must be a Request-URI */
  cl.username = "bob";
  cl.uri = "/dir/index.html";
  assert_code(sipkit_auth_build(&CH, ch2, &cl, out, sizeof out, &n, &E), SIPKIT_EINVALID_VALUE);
  /* nc 0 with qop */
  cl.uri = "sip:r.example.com";
  cl.nc = 0;
  assert_code(sipkit_auth_build(&CH, ch2, &cl, out, sizeof out, &n, &E), SIPKIT_EARGUMENT);
}

/* An escaped realm from the challenge is hashed unescaped. */
static void test_escaped_realm(void **state) {
  static const char ch[] = "Digest realm=\"a\\\"b\\\\c\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", qop=\"auth\"";
  char out[512];
  size_t n;
  sipkit_auth_client cl;
  (void)state;
  assert_code(challenge(ch), SIPKIT_EOK);
  assert_span(CH.realm, "a\\\"b\\\\c");
  memset(&cl, 0, sizeof cl);
  cl.username = "bob";
  cl.password = "zanzibar";
  cl.method = "REGISTER";
  cl.uri = "sip:registrar.biloxi.example.com";
  cl.nc = 1;
  cl.cnonce = "0a4f113b";
  assert_code(sipkit_auth_build(&CH, ch, &cl, out, sizeof out, &n, &E), SIPKIT_EOK);
  assert_non_null(strstr(out, "realm=\"a\\\"b\\\\c\""));
  assert_non_null(strstr(out, "response=\"33cac0fb66fdfd1d5630e1e0342bd7e0\""));
}

/* ------------------------------------------------------------------ */
/* server: challenges and stateless nonces                              */

static void test_server_challenge(void **state) {
  static const char key[] = "server secret";
  char nonce[SIPKIT_AUTH_NONCE_LEN + 1], out[512], cred[512];
  size_t n;
  int stale = -1;
  sipkit_auth_challenge_in ci;
  sipkit_auth_client cl;
  sipkit_auth_verify_in vi;
  (void)state;
  assert_int_equal(sipkit_auth_nonce_make(key, sizeof key - 1, 1000, nonce, sizeof nonce), SIPKIT_EOK);
  assert_int_equal(strlen(nonce), SIPKIT_AUTH_NONCE_LEN);
  assert_memory_equal(nonce, "00000000000003e8", 16);
  assert_int_equal(sipkit_auth_nonce_make(key, sizeof key - 1, 1000, nonce, SIPKIT_AUTH_NONCE_LEN),
                   SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(sipkit_auth_nonce_check(key, sizeof key - 1, nonce, strlen(nonce), 1030, 60, &stale),
                   SIPKIT_EOK);
  assert_int_equal(stale, 0);
  assert_int_equal(sipkit_auth_nonce_check(key, sizeof key - 1, nonce, strlen(nonce), 1061, 60, &stale),
                   SIPKIT_EOK);
  assert_int_equal(stale, 1);
  assert_int_equal(sipkit_auth_nonce_check(key, sizeof key - 1, nonce, strlen(nonce), 999, 60, &stale),
                   SIPKIT_EOK);
  assert_int_equal(stale, 1);
  assert_int_equal(sipkit_auth_nonce_check("other", 5, nonce, strlen(nonce), 1030, 60, &stale),
                   SIPKIT_EAUTH);
  nonce[15] = '9'; /* a forged time */
  assert_int_equal(sipkit_auth_nonce_check(key, sizeof key - 1, nonce, strlen(nonce), 1030, 60, &stale),
                   SIPKIT_EAUTH);
  assert_int_equal(sipkit_auth_nonce_check(key, sizeof key - 1, nonce, 95, 1030, 60, &stale),
                   SIPKIT_EAUTH);

  assert_int_equal(sipkit_auth_nonce_make(key, sizeof key - 1, 1000, nonce, sizeof nonce), SIPKIT_EOK);
  memset(&ci, 0, sizeof ci);
  ci.realm = "biloxi.example.com";
  ci.nonce = nonce;
  ci.opaque = "o";
  ci.algorithm = SIPKIT_DIGEST_SHA256;
  ci.qop = SIPKIT_QOP_AUTH | SIPKIT_QOP_AUTH_INT;
  ci.stale = 1;
  assert_code(sipkit_auth_challenge_build(&ci, out, sizeof out, &n, &E), SIPKIT_EOK);
  {
    char want[256];
    snprintf(want, sizeof want,
             "Digest realm=\"biloxi.example.com\", nonce=\"%s\", opaque=\"o\", "
             "algorithm=SHA-256, qop=\"auth,auth-int\", stale=true", nonce);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    assert_code(sipkit_auth_challenge_build(&ci, out, n, &n, &E), SIPKIT_EBUFFER_TOO_SMALL);
    assert_int_equal(n, strlen(want));
    assert_code(sipkit_auth_challenge_build(&ci, out, sizeof out, &n, &E), SIPKIT_EOK);
  }
  ci.realm = "evil\r\nVia: x";
  assert_code(sipkit_auth_challenge_build(&ci, cred, sizeof cred, &n, &E), SIPKIT_EINVALID_VALUE);
  assert_string_equal(E.rule, "realm");

  /* the whole exchange */
  assert_code(challenge(out), SIPKIT_EOK);
  assert_int_equal(CH.stale, 1);
  assert_int_equal(CH.algorithm, SIPKIT_DIGEST_SHA256);
  memset(&cl, 0, sizeof cl);
  cl.username = "bob";
  cl.password = "zanzibar";
  cl.method = "INVITE";
  cl.uri = "sip:alice@atlanta.example.com";
  cl.nc = 1;
  assert_code(sipkit_auth_build(&CH, out, &cl, cred, sizeof cred, &n, &E), SIPKIT_EOK);
  assert_code(credentials(cred), SIPKIT_EOK);
  assert_int_equal(CR.qop, SIPKIT_QOP_AUTH);
  assert_int_equal(sipkit_auth_nonce_check(key, sizeof key - 1, cred + CR.nonce.off, CR.nonce.len,
                                           1010, 60, &stale),
                   SIPKIT_EOK);
  assert_int_equal(stale, 0);
  memset(&vi, 0, sizeof vi);
  vi.password = "zanzibar";
  vi.method = "INVITE";
  assert_int_equal(sipkit_auth_verify(&CR, cred, &vi), SIPKIT_EOK);
}

/* Every prefix of a challenge and of credentials, flush against a
 * PROT_NONE page: no byte past the span is ever read. */
static void test_guard_page(void **state) {
  static const char *const vals[] = {
      "Digest realm=\"biloxi.example.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
      "algorithm=SHA-256-sess, qop=\"auth,auth-int\", opaque=\"o\\\"x\", stale=true, domain=\"sip:a.example.com\"",
      "Digest username=\"bob\", realm=\"biloxi.example.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
      "uri=\"sip:registrar.biloxi.example.com\", response=\"e7b64818f658d8ef19b95150c8e487cb\", "
      "algorithm=MD5, cnonce=\"0a4f113b\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", qop=auth, nc=00000001",
  };
  long pg = sysconf(_SC_PAGESIZE);
  char *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  (void)state;
  assert_true(map != MAP_FAILED);
  assert_int_equal(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
  for (int k = 0; k < 2; k++) {
    size_t n = strlen(vals[k]);
    for (size_t cut = 0; cut <= n; cut++) {
      char *b = map + pg - cut;
      sipkit_span sp = {0, (uint32_t)cut};
      int rc;
      memcpy(b, vals[k], cut);
      rc = k == 0 ? sipkit_auth_parse_challenge(&CH, SIPKIT_HDR_PROXY_AUTHENTICATE, b, sp, &E)
                  : sipkit_auth_parse_credentials(&CR, SIPKIT_HDR_PROXY_AUTHORIZATION, b, sp, &E);
      assert_int_equal(rc, cut == n ? SIPKIT_EOK : rc);
      assert_true(E.offset <= cut);
      if (k == 0 && cut == n) {
        B = b;
        assert_int_equal(CH.algorithm, SIPKIT_DIGEST_SHA256_SESS);
        assert_span(CH.opaque, "o\\\"x");
        assert_span(CH.domain, "sip:a.example.com");
        assert_int_equal(CH.stale, 1);
      }
    }
  }
  munmap(map, (size_t)pg * 2);
}

static void test_alg_names(void **state) {
  (void)state;
  assert_string_equal(sipkit_digest_alg_name(SIPKIT_DIGEST_SHA512_256_SESS), "SHA-512-256-sess");
  assert_string_equal(sipkit_digest_alg_name(6), "");
  assert_string_equal(sipkit_digest_alg_name(-1), "");
  assert_int_equal(sipkit_digest_alg_lookup("md5-SESS", 8), SIPKIT_DIGEST_MD5_SESS);
  assert_int_equal(sipkit_digest_alg_lookup("SHA-256-sess", 12), SIPKIT_DIGEST_SHA256_SESS);
  assert_int_equal(sipkit_digest_alg_lookup("SHA-256-", 8), -1);
  assert_int_equal(sipkit_digest_hex_len(SIPKIT_DIGEST_MD5_SESS), 32);
  assert_int_equal(sipkit_digest_hex_len(SIPKIT_DIGEST_SHA512_256), 64);
  assert_int_equal(sipkit_digest_hex_len(9), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc2617_3_5),
      cmocka_unit_test(test_rfc2617_headers),
      cmocka_unit_test(test_rfc7616_3_9_1),
      cmocka_unit_test(test_rfc7616_challenge_build_verify),
      cmocka_unit_test(test_sip_register_corpus),
      cmocka_unit_test(test_sip_401_answer),
      cmocka_unit_test(test_pick_strongest),
      cmocka_unit_test(test_variants),
      cmocka_unit_test(test_auth_int_sess_roundtrip),
      cmocka_unit_test(test_bad_challenges),
      cmocka_unit_test(test_bad_credentials),
      cmocka_unit_test(test_buffer_too_small),
      cmocka_unit_test(test_build_refusals),
      cmocka_unit_test(test_escaped_realm),
      cmocka_unit_test(test_server_challenge),
      cmocka_unit_test(test_guard_page),
      cmocka_unit_test(test_alg_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
