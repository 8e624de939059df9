/* test_fastpath.c - the hand-written fast paths of the parser against the
 * generated machines alone.
 *
 * sipkit_parse() takes some lines and values through hand-written C (header
 * names and line ends in src/parse.c, ...) that must be exactly equivalent
 * to the ABNF the machines were generated from.  The internal flag
 * SIPKIT__PARSE_REFERENCE turns every fast path off; fz_diff_fast_path()
 * (fuzz/fuzz_common.h, also run by fuzz_parse on every fuzz input) parses
 * with and without it and requires the same verdict, the same error (code,
 * offset, line, column, rule) and the same parsed message byte for byte.
 *
 * Inputs: every file under tests/msgs, tests/bench/corpus and
 * fuzz/corpus/fuzz_parse as they are, and the bench corpus and RFC 4475
 * messages with every byte of their header section replaced in turn by
 * each byte of MUTANTS (bytes that end names, lines, values, URIs and
 * parameters, or that no header may hold).  Run from the repository root.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "../fuzz/fuzz_common.h"

static const unsigned char MUTANTS[] = {0x00, 0x01, '\t', '\n', '\r', ' ', '"', '%', '\'',
                                        ',', '-', '.', '/', ':', ';', '<', '=', '>', '?',
                                        '@', 'A', '[', '\\', ']', '_', 'a', 'z', '~',
                                        0x7f, 0x80, 0xc3, 0xff};

static char *load(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc(n > 0 ? (size_t)n : 1);
  if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *len = n > 0 ? (size_t)n : 0;
  return b;
}

static int diff_both(const char *buf, size_t len, const char *what) {
  int bad = fz_diff_fast_path(buf, len, 0) | fz_diff_fast_path(buf, len, SIPKIT_PARSE_LENIENT_LF);
  if (bad)
    fprintf(stderr, "  in %s\n", what);
  return bad;
}

/* Every byte of the header section (up to the empty line, at most 2,000
 * bytes) replaced by each mutant. */
static int mutate(const char *path, const char *buf, size_t len) {
  char *m = malloc(len ? len : 1);
  const char *end = len ? strstr(buf, "\r\n\r\n") : NULL;
  size_t head = end ? (size_t)(end - buf) + 4 : len;
  int bad = 0;
  if (head > 2000)
    head = 2000;
  memcpy(m, buf, len);
  for (size_t i = 0; i < head && !bad; i++) {
    for (size_t k = 0; k < sizeof MUTANTS && !bad; k++) {
      char what[1200];
      m[i] = (char)MUTANTS[k];
      snprintf(what, sizeof what, "%s with byte %zu = 0x%02x", path, i, MUTANTS[k]);
      bad = diff_both(m, len, what);
    }
    m[i] = buf[i];
  }
  free(m);
  return bad;
}

/* Every regular file under dir (recursively); mutated too when mut. */
static int walk(const char *dir, int mut, int *files) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int bad = 0;
  if (!d)
    return 0;
  while ((e = readdir(d)) != NULL) {
    char path[1024];
    struct stat st;
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (stat(path, &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode)) {
      bad |= walk(path, mut, files);
    } else if (S_ISREG(st.st_mode)) {
      size_t len;
      char *buf = load(path, &len);
      if (!buf)
        continue;
      (*files)++;
      bad |= diff_both(buf, len, path);
      if (mut && strstr(path, ".sip") && !bad)
        bad |= mutate(path, buf, len);
      free(buf);
    }
  }
  closedir(d);
  return bad;
}

static void test_files(void **state) {
  (void)state;
  int files = 0;
  assert_int_equal(walk("tests/msgs", 0, &files), 0);
  assert_int_equal(walk("fuzz/corpus/fuzz_parse", 0, &files), 0);
  assert_true(files > 400);
}

static void test_mutants(void **state) {
  (void)state;
  int files = 0;
  assert_int_equal(walk("tests/bench/corpus", 1, &files), 0);
  assert_int_equal(walk("tests/msgs/rfc4475", 1, &files), 0);
  assert_true(files > 40);
}

/* Header names: every byte at the start, middle and end of a name, and
 * before the colon. */
static void test_header_names(void **state) {
  (void)state;
  static const char *const tmpl[] = {
      "%cia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n", "V%ca: SIP/2.0/UDP h;branch=z9hG4bK1\r\n",
      "Vi%c: SIP/2.0/UDP h;branch=z9hG4bK1\r\n", "Via%c: SIP/2.0/UDP h;branch=z9hG4bK1\r\n",
      "X%c: y\r\n",  "%c: y\r\n", "Call-ID%c: a@b\r\n", "Content-Length %c: 0\r\n",
      "l%c: 0\r\n",  "Subject:%cx\r\n",
      /* the 16 bytes one load compares: names of 14 to 16 bytes, and a
       * prefix of two names */
      "Accept-Encodin%c: gzip\r\n", "Accept-Encoding%c: gzip\r\n",
      "Content-Encoding%c: gzip\r\n", "Call-I%c: a@b\r\n"};
  for (size_t t = 0; t < sizeof tmpl / sizeof *tmpl; t++) {
    for (int b = 0; b < 256; b++) {
      static const char pre[] = "OPTIONS sip:a@b SIP/2.0\r\n";
      static const char post[] = "Via: SIP/2.0/UDP h;branch=z9hG4bK2\r\nTo: <sip:a@b>\r\n"
                                 "From: <sip:c@d>;tag=1\r\nCall-ID: x\r\n"
                                 "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
      char msg[512];
      size_t n = 0;
      memcpy(msg, pre, sizeof pre - 1);
      n += sizeof pre - 1;
      for (const char *s = tmpl[t]; *s; s++) {
        if (s[0] == '%' && s[1] == 'c') {
          msg[n++] = (char)b;
          s++;
        } else {
          msg[n++] = *s;
        }
      }
      memcpy(msg + n, post, sizeof post - 1);
      n += sizeof post - 1;
      char what[64];
      snprintf(what, sizeof what, "template %zu byte 0x%02x", t, b);
      assert_int_equal(diff_both(msg, n, what), 0);
    }
  }
}

/* The ids the name lookup gives: any case, compact forms, the names at the
 * 16-byte edge of its one load, a name that is a prefix of another, LWS
 * before the colon. */
static void test_header_ids(void **state) {
  static const char msg[] = "OPTIONS sip:a@b SIP/2.0\r\n"
                            "vIA: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                            "ACCEPT-ENCODING: gzip\r\n"
                            "Content-Encoding: gzip\r\n"
                            "Call-Info: <sip:x>\r\n"
                            "Call-I: a\r\n"
                            "i : a@b\r\n"
                            "To: <sip:a@b>\r\nf: <sip:c@d>;tag=1\r\n"
                            "CSeq: 1 OPTIONS\r\nl: 0\r\n\r\n";
  static const int ids[] = {SIPKIT_HDR_VIA, SIPKIT_HDR_ACCEPT_ENCODING,
                            SIPKIT_HDR_CONTENT_ENCODING, SIPKIT_HDR_CALL_INFO,
                            SIPKIT_HDR_OTHER, SIPKIT_HDR_CALL_ID, SIPKIT_HDR_TO,
                            SIPKIT_HDR_FROM, SIPKIT_HDR_CSEQ, SIPKIT_HDR_CONTENT_LENGTH};
  sipkit_header hdrs[16];
  sipkit_msg m;
  (void)state;
  sipkit_msg_init(&m, hdrs, 16);
  assert_int_equal(sipkit_parse(&m, msg, sizeof msg - 1, 0, NULL), SIPKIT_EOK);
  assert_int_equal(m.num_headers, sizeof ids / sizeof *ids);
  for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
    assert_int_equal(hdrs[i].id, ids[i]);
  assert_int_equal(hdrs[5].name.len, 1);
  assert_int_equal(diff_both(msg, sizeof msg - 1, "header ids"), 0);
}

/* Whole header lines in and around the subsets the value fast paths take:
 * ports at and past their limits, parameters with and without values,
 * host forms. */
static void test_values(void **state) {
  (void)state;
  static const char *const lines[] = {
      "Via: SIP/2.0/UDP h:0;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP h:65535;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP h:65536;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP h:0000005060;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP h:99999999999999999999999;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP h:;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP 1.2.3.4:5060;rport;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP 1.2.3.4;rport=5060;received=5.6.7.8;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP 1.2.3.4;received=a.b;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP 1.2.3;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP 1.2.3.4.;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP a.b.;branch=z9hG4bK1;maddr=x.y;ttl=16\r\n",
      "Via: SIP/2.0/UDP a.b;maddr=1.2.3.4;ttl=1234;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP a.b;maddr=-x;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP a-.b;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP a.1b;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP a;branch=z9hG4bK1;rport=;x\r\n",
      "Via: SIP/2.0/UDP a;branch=z9hG4bK1;BRANCH=z9hG4bK2;x=y;a;b;c;d;e;f;g\r\n",
      "Via: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b:1\r\n",
      "Via: SIP/2.0/UDP a ;branch=z9hG4bK1\r\n",
      "Via: sip/2.0/UDP a;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/ UDP a;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0 /UDP a;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/\r\n",
      "Via: SIP/2.0/U\r\n",
      "Via: SIP/2.0//UDP a\r\n",
      "Via: SIP/2.0/UDP/x a\r\n",
      "Via: SIP/2.0/UDP  a\r\n",
      "Via: X/1/UDP a;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP 1.2.3.4a;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP 1.2.3.4.com:5060;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP 1.2.3.4-5;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP 001.002.003.004;received=1.2.3.4.5;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP 1.2.3.1234;received=1.2.3;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP a..b;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP a.-b;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/UDP a;BrAnCh=z9hG4bK1;RPORT;ReCeIvEd=1.2.3.4;mAddr=x;TTL=1\r\n",
      "Via: SIP/2.0/UDP a;branci=z9hG4bK1;rpor=1;receivee=1.2.3.4;maddR=1;ttL=1\r\n",
      "Via: SIP/2.0/UDP a;br@nch=z9hG4bK1;branch=z9hG4bK1;r\x10port;received=1.2.3.4\r\n",
      "CSeq: 0000000000001 OPTIONS\r\n",
      "CSeq: 2147483648 OPTIONS\r\n",
      "CSeq: 2147483647 OPTIONS\r\n",
      "CSeq: 12345678901234567890 OPTIONS\r\n",
      "CSeq: 1 OPTIONSX\r\n",
      "CSeq: 1 options\r\n",
      "CSeq: 1 INVITE\r\n",
      "CSeq: 1 INVITE \r\n",
      "Max-Forwards: 255\r\n",
      "Max-Forwards: 256\r\n",
      "Max-Forwards: 00000000000000000000070\r\n",
      "Expires: 4294967296\r\n",
      "Expires: 99999999999\r\n",
      "Content-Length: 0000\r\n",
      "Content-Length: 1x\r\n",
      "Content-Type: application/sdp\r\n",
      "Content-Type: application/sdp;charset=utf-8\r\n",
      "Content-Type: a / b\r\n",
      "Content-Type: a/\r\n",
      "Content-Type: /b\r\n",
      "Content-Type: a/b/c\r\n",
      "Content-Type: a@/b\r\n",
      "Content-Type: X-A/B%`~\r\n",
      "Content-Type: ab\r\n",
      "Contact: <sip:u@h:65536>\r\n",
      "Contact: <sip:u:pw@h:5060;transport=tcp;lr;maddr=1.2.3.4>;q=0.5;expires=60\r\n",
      "Contact: sip:u@[::1]:5060\r\n",
      "Contact: *\r\n",
  };
  for (size_t t = 0; t < sizeof lines / sizeof *lines; t++) {
    static const char pre[] = "OPTIONS sip:a@b SIP/2.0\r\n";
    static const char post[] = "Via: SIP/2.0/UDP h;branch=z9hG4bK2\r\nTo: <sip:a@b>\r\n"
                               "From: <sip:c@d>;tag=1\r\nCall-ID: x\r\n"
                               "Content-Length: 0\r\n\r\n";
    static const char cseq[] = "CSeq: 1 OPTIONS\r\n";
    char msg[1024];
    size_t n = 0, l = strlen(lines[t]);
    int has_cseq = strncmp(lines[t], "CSeq", 4) == 0;
    memcpy(msg + n, pre, sizeof pre - 1);
    n += sizeof pre - 1;
    memcpy(msg + n, lines[t], l);
    n += l;
    if (!has_cseq) {
      memcpy(msg + n, cseq, sizeof cseq - 1);
      n += sizeof cseq - 1;
    }
    memcpy(msg + n, post, sizeof post - 1);
    n += sizeof post - 1;
    char what[64];
    snprintf(what, sizeof what, "value line %zu", t);
    assert_int_equal(diff_both(msg, n, what), 0);
  }
}


/* URIs in and around the subset sipkit__fast_uri takes, as a Request-URI
 * and inside a Contact name-addr: hosts at the edges of the label rules,
 * ports, user parts with the bytes that make them parameters, the
 * well-known parameters in the forms their own rules do and do not read. */
static const char *const uris[] = {
    "sip:h", "sip:h.", "sip:h..", "sip:.h", "sip:-h", "sip:h-", "sip:a-b.c-d.e",
    "sip:a.-b", "sip:a-.b", "sip:1.2.3.4", "sip:1.2.3.4.", "sip:1.2.3", "sip:1.2.3.4.5",
    "sip:1.2.3.4a", "sip:1a.2", "sip:123.com", "sip:1234.1.1.1", "sip:u@1.2.3.4:0",
    "sip:u@h:65535", "sip:u@h:65536", "sip:u@h:000005060", "sip:u@h:05060", "sip:u@h:",
    "sip:u@h:5x", "sip:@h", "sip:u@@h", "sip:u:p@h", "sip:u:5060@h", "sip:u;x@h",
    "sip:u@h;x@y", "sip:h;x@y", "sip:u?x@h", "sip:h;lr;lr=on;LR", "sip:h;lr",
    "sip:h;transport=udp;TRANSPORT=a(b)", "sip:h;transport=a%41", "sip:h;transport",
    "sip:h;ttl=1;ttl=1234", "sip:h;ttl=12a", "sip:h;ttl=", "sip:h;maddr=1.2.3.4",
    "sip:h;maddr=[::1]", "sip:h;maddr=a..b", "sip:h;maddr=a.b.", "sip:h;method=INVITE;user=phone",
    "sip:h;method=a/b", "sip:h;user=a:b", "sip:h;TrAnSpOrT=tcp;METHOD=x;USER=ip;Lr",
    "sip:h;transporT=tcp;transpor=x;transports=x;lR=1;methoD=X",  "sip:h;=x", "sip:h;x=", "sip:h;;x", "sip:h;x=y=z",
    "sip:h;", "sip:h?a=b", "sip:h;a=b?c=d", "sips:u@h:5061;transport=tls", "SIP:U@H",
    "SiPs:h", "sip:u!~*'()&=+$,-_.@h", "sip:h:5060:5060", "sip:h;a:b=c/d[]&+$",
    "sip:u@[::1]:5060;transport=tcp", "sipx:h", "sip:", "sips:", "sip:u@h;a;b;c;d;e;f;g;h;i;j",
    "sip:a.b@h", "sip:a-@h", "sip:-a@h", "sip:a..b@h", "sip:1.2.3.4@h", "sip:a.b:5060@h",
    "sip:+1555@h", "sip:a.@h.", "sip:a.b.c", "sip:a.b.c;lr", "sip:a.b.c:1;lr", "sip:a.b.c?x",
    "sip:a_b.c", "sip:u@1.2.3.4a", "sip:u@1.2.3.4.com:1", "sip:u@1.2.3.4-5", "sip:1.2.3.4:5;lr",
    "sip:u@1.2.3.1234", "sip:a.b_c@d", "sip:u%41@h", "sip:u@h%41", "sip:u@h;x=%41", "sip:h:5060;transport=udp",
    "sip:alice@pc33.atlanta.example.com;transport=tcp;user=ip;method=REGISTER;ttl=255;maddr=a.b",
    "tel:+1-201-555-0123;ext=1", "sip:a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.aa.bb.cc.dd",
};

static void test_uris(void **state) {
  (void)state;
  for (size_t t = 0; t < sizeof uris / sizeof *uris; t++) {
    static const char tail[] = "Via: SIP/2.0/UDP h;branch=z9hG4bK2\r\nTo: <sip:a@b>\r\n"
                               "From: <sip:c@d>;tag=1\r\nCall-ID: x\r\n"
                               "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    char msg[1024], what[64];
    int n = snprintf(msg, sizeof msg, "OPTIONS %s SIP/2.0\r\n%s", uris[t], tail);
    snprintf(what, sizeof what, "Request-URI %zu", t);
    assert_int_equal(diff_both(msg, (size_t)n, what), 0);
    n = snprintf(msg, sizeof msg, "OPTIONS sip:a@b SIP/2.0\r\nContact: <%s>;q=1\r\n%s",
                 uris[t], tail);
    snprintf(what, sizeof what, "Contact URI %zu", t);
    assert_int_equal(diff_both(msg, (size_t)n, what), 0);
  }
}

/* The fast path itself takes the common forms (so the differential tests
 * above compare it, not the machine twice) and records their fields. */
static void span_is(sipkit_span s, uint32_t off, uint32_t len) {
  assert_int_equal(s.off, off);
  assert_int_equal(s.len, len);
}

/* A parse context over buf alone, as the fast paths see one. */
static void ctx_over(struct sipkit__ctx *c, const char *buf, size_t len) {
  memset(c, 0, sizeof *c);
  c->base = (sipkit__ptr)buf;
  c->end = c->base + len;
}

static void test_uri_taken(void **state) {
  (void)state;
  static const char buf[] = "sip:bob@192.0.2.4:5060;transport=udp;lr;ttl=7;maddr=m.example "
                            "sips:proxy.example.com. sip:u:p@h sip:h;x=%41 sip:a@b>sip:a@b,";
  struct sipkit__ctx c;
  sipkit_uri u;
  ctx_over(&c, buf, sizeof buf - 1);
  assert_int_equal(sipkit__fast_uri(&c, &u, c.base, c.base + 61), 1);
  assert_int_equal(u.scheme, SIPKIT_SCHEME_SIP);
  span_is(u.user, 4, 3);
  span_is(u.host, 8, 9);
  assert_int_equal(u.host_type, SIPKIT_HOST_IPV4);
  assert_int_equal(u.port, 5060);
  assert_int_equal(u.has_port, 1);
  span_is(u.params, 23, 38);
  span_is(u.transport, 33, 3);
  assert_int_equal(u.lr, 1);
  span_is(u.ttl, 44, 1);
  span_is(u.maddr, 52, 9);
  span_is(u.all, 0, 61);
  assert_int_equal(sipkit__fast_uri(&c, &u, c.base + 62, c.base + 85), 1);
  assert_int_equal(u.scheme, SIPKIT_SCHEME_SIPS);
  assert_int_equal(u.user.len, 0);
  span_is(u.host, 67, 18);
  assert_int_equal(u.host_type, SIPKIT_HOST_NAME);
  assert_int_equal(u.has_port, 0);
  assert_int_equal(u.params.len, 0);
  /* a password and an escape are the machine's */
  assert_int_equal(sipkit__fast_uri(&c, &u, c.base + 86, c.base + 95), 0);
  assert_int_equal(sipkit__fast_uri(&c, &u, c.base + 96, c.base + 107), 0);
  /* its class scans test no bound: a URI byte after the end (",") or the
   * end of the buffer makes it the machine's */
  assert_int_equal(sipkit__fast_uri(&c, &u, c.base + 108, c.base + 115), 1);
  span_is(u.user, 112, 1);
  span_is(u.host, 114, 1);
  assert_int_equal(sipkit__fast_uri(&c, &u, c.base + 116, c.base + 123), 0);
  ctx_over(&c, buf, 123);
  assert_int_equal(sipkit__fast_uri(&c, &u, c.base + 116, c.base + 123), 0);
}

/* name-addr values in and around the subset sipkit__fast_addr takes:
 * display-name forms, what may stand before and after "<" and ">",
 * parameters with token, quoted and odd values, tag, q and expires in and
 * out of their own rules, lists. */
static const char *const addrs[] = {
    "From: Alice <sip:a@b>;tag=1", "From: \"A \\\"x\" <sip:a@b>;tag=1",
    "From: A  B <sip:a@b>;tag=1", "From: A\tB <sip:a@b>;tag=1", "From: A<sip:a@b>;tag=1",
    "From: \"\"<sip:a@b>;tag=1", "From: \"A\"<sip:a@b>;tag=1", "From: \"A <sip:a@b>;tag=1",
    "From: <sip:a@b>;tag=1;tag=2", "From: <sip:a@b>;tag=1;TAG=1", "From: <sip:a@b>;tag=\"1\"",
    "From: <sip:a@b>;tag", "From: <sip:a@b> ;tag=1", "From: <sip:a@b>; tag=1",
    "From: <sip:a@b>;tag = 1", "From: <>;tag=1", "From: <sip:a@b >;tag=1",
    "From: <sip:a@b\">;tag=1", "From: <sip:a<b>;tag=1", "From: sip:a@b;tag=1",
    "From: A sip:a@b", "From: <sip:a@b>x", "From: <sip:a@b>;x=\"a;b\";tag=1",
    "From: <sip:a@b>;x=\"a\\\"b\";tag=1", "From: \"\xc3\xa9\" <sip:a@b>;tag=1",
    "From: <sip:a@b>;x=[::1];tag=1", "From: <sip:a@b>;;tag=1", "From: <sip:a@b>;=1",
    "From: <sip:a@b>;tag=", "From: <sip:a@b>;tag=1;", "From: <sip:a@b", "From: <sip:a@b>>",
    "From: <sip:a@b>;x=\"unterminated", "To: Bob <sip:b@c>", "To: <sip:b@c>;tag=a;x",
    "To: \"Bob\" <sip:b@c>;Tag=x~y", "To: <sip:b@c>, <sip:d@e>",
    "Contact: <sip:a@b>;q=0.5;expires=60", "Contact: <sip:a@b>;q=1.000;expires=0",
    "Contact: <sip:a@b>;q=1.001", "Contact: <sip:a@b>;q=1.5", "Contact: <sip:a@b>;q=0.1234",
    "Contact: <sip:a@b>;q=0.;q=1.", "Contact: <sip:a@b>;q=2", "Contact: <sip:a@b>;q=",
    "Contact: <sip:a@b>;expires=1x", "Contact: <sip:a@b>;ExPiReS=5;expire=1;expiress=2", "Contact: <sip:a@b>;Q=0;EXPIRES=1;tag=x",
    "Contact: <sip:a@b>;expires=99999999999999999999", "Contact: <sip:a@b>;q=\"1\"",
    "Contact: \"A\" <sip:a@b>;+sip.instance=\"<urn:uuid:1>\";reg-id=1",
    "Contact: <sip:a@b>, <sip:c@d>", "Contact: *", "Contact: <*>", "Contact: sip:a@b;q=1",
    "Route: <sip:p1;lr>;x=y", "Route: <sip:p1;lr>,<sip:p2;lr>", "Record-Route: <sip:p1;lr>",
    "Record-Route: A <sip:p1;lr>;tag=1", "Route: <sip:p1;lr>;q=x",
    /* a name-addr the fast path takes around a URI it does not */
    "From: <sip:a@b:99999>;tag=1", "To: \"B\" <sip:a@-b->;tag=1", "Contact: <sip:%zz@h>",
    "Contact: <sip:a@[::1]:5060>;q=0.5", "Route: <tel:+1234>;lr", "Record-Route: <sip:a@b?x=y>",
    "From: <sip:a:b@c>;tag=1", "To: <sip:a@b;x=%>;tag=1",
    /* bare URIs the machine delimits, followed by URI bytes (",") */
    "Contact: sip:a@b,sip:c@d", "Contact: sip:a@b, sip:c@d;q=1", "Route: <sip:p1;lr>,sip:p2",
    /* the tag name compared in one load with its "=" */
    "From: <sip:a@b>;TaG=1", "From: <sip:a@b>;tah=1;tag=2", "To: <sip:b@c>;4ag=1;tag=x",
    "To: <sip:b@c>;tag2=1", "To: <sip:b@c>;tagx=1;tag=y", "From: <sip:a@b>;tag",
    /* quoted strings around the 16-byte steps of their scan */
    "From: \"abcdefghijklmn\" <sip:a@b>;tag=1", "From: \"abcdefghijklmno\" <sip:a@b>;tag=1",
    "From: \"abcdefghijklmnop\" <sip:a@b>;tag=1", "From: \"abcdefghijklmnopqrstuvwxyz0123\" <sip:a@b>;tag=1",
    "From: \"abcdefghijklmnopqrstuvwxyz01234\" <sip:a@b>;tag=1",
    "From: \"abcdefghijklmno\\\"\" <sip:a@b>;tag=1", "From: \"abcdefghijklmnop\\x\" <sip:a@b>;tag=1",
    "From: \"abcdefghijklmnop\x7f\" <sip:a@b>;tag=1", "From: \"abcdefghijklmno\x01\" <sip:a@b>;tag=1",
    "From: \"abcdefghijklmnopq\xc3\xa9\" <sip:a@b>;tag=1", "From: \"abcdefghijklmnop~ !#\" <sip:a@b>;tag=1",
    "From: \"abcdefghijklmnopqrstuvwxyz0123456789",
    "Contact: <sip:a@b>;+sip.instance=\"<urn:uuid:0123456789abcdef0123456789abcdef>\";reg-id=1",
    "Contact: <sip:a@b>;+sip.instance=\"<urn:uuid:0123456789abcdef\x80" "123456789>\"",
};

static void test_addrs(void **state) {
  (void)state;
  for (size_t t = 0; t < sizeof addrs / sizeof *addrs; t++) {
    char msg[1024], what[64];
    int from = strncmp(addrs[t], "From:", 5) == 0, to = strncmp(addrs[t], "To:", 3) == 0;
    int n = snprintf(msg, sizeof msg,
                     "OPTIONS sip:a@b SIP/2.0\r\n%s\r\n%s%sVia: SIP/2.0/UDP h;branch=z9hG4bK2\r\n"
                     "Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                     addrs[t], from ? "" : "From: <sip:c@d>;tag=1\r\n", to ? "" : "To: <sip:a@b>\r\n");
    snprintf(what, sizeof what, "name-addr value %zu", t);
    assert_int_equal(diff_both(msg, (size_t)n, what), 0);
  }
}

/* The fast path takes the common forms and records their fields. */
static const char addr_buf[] = "Contact: \"A b\" <sip:u@h>;q=0.5;expires=60;x=\"y\"\r\n"
                               "From: Al Bo <sip:u@h>;tag=t1\r\nTo: <sip:u@h>;tag=\"t\"\r\n";

static void test_addr_taken(void **state) {
  sipkit_header h;
  struct sipkit__ctx c;
  (void)state;
  memset(&h, 0, sizeof h);
  ctx_over(&c, addr_buf, sizeof addr_buf - 1);
  c.cur = &h;
  assert_int_equal(sipkit__fast_addr(&c, SIPKIT_HDR_CONTACT, c.base + 9, c.base + 47), 1);
  span_is(h.u.addr.display, 10, 3);
  assert_int_equal(h.u.addr.display_quoted, 1);
  span_is(h.u.addr.uri.all, 16, 7);
  assert_int_equal(h.u.addr.angle, 1);
  span_is(h.u.addr.params, 25, 22);
  span_is(h.u.addr.q, 27, 3);
  span_is(h.u.addr.expires, 39, 2);
  span_is(h.value, 9, 38);
  assert_int_equal(c.element_done, 1);
  /* a second element of the same line is the machine's */
  assert_int_equal(sipkit__fast_addr(&c, SIPKIT_HDR_CONTACT, c.base + 9, c.base + 47), 0);
  memset(&h, 0, sizeof h);
  c.element_done = 0; /* a new header line, as sipkit__header_line starts one */
  assert_int_equal(sipkit__fast_addr(&c, SIPKIT_HDR_FROM, c.base + 55, c.base + 77), 1);
  span_is(h.u.addr.display, 55, 5);
  assert_int_equal(h.u.addr.display_quoted, 0);
  span_is(h.u.addr.tag, 75, 2);
  /* a quoted tag is a generic-param: the machine's */
  assert_int_equal(sipkit__fast_addr(&c, SIPKIT_HDR_TO, c.base + 83, c.base + 100), 0);
}

/* sipkit__find_byte over 0 to 40 bytes, the byte at each place and just
 * past the end: the 16-byte steps and the last load that overlaps them. */
static void test_find_byte(void **state) {
  unsigned char buf[41];
  (void)state;
  for (size_t len = 0; len <= 40; len++) {
    memset(buf, 'a', sizeof buf);
    buf[len] = '>';
    assert_null(sipkit__find_byte(buf, buf + len, '>'));
    for (size_t at = 0; at < len; at++) {
      memset(buf, 'a', sizeof buf);
      buf[at] = '>';
      assert_ptr_equal(sipkit__find_byte(buf, buf + len, '>'), buf + at);
    }
  }
}

/* Start lines in and around the forms parse.c takes before the frame:
 * versions, status codes, reason bytes, separators, line ends. */
static const char *const start_lines[] = {
    "SIP/2.0 200 OK\r\n", "SIP/2.0 200 \r\n", "SIP/2.0 200\r\n", "SIP/2.0 099 x\r\n",
    "SIP/2.0 700 x\r\n", "SIP/2.0 20 OK\r\n", "SIP/2.0 2000 OK\r\n", "SIP/2.0 200 O\tK\r\n",
    "SIP/2.0 200 \xc3\xa9\r\n", "SIP/2.0 200 a%41\r\n", "SIP/2.0 200 a\"b\r\n",
    "sip/2.0 200 OK\r\n", "SIP/2.1 200 OK\r\n", "SIP/2.0  200 OK\r\n", "SIP/2.0 200 OK\n",
    "SIP/2.0 200 OK\r", "SIP/2.0 200 a;b/c?d:e@f&g=h+i$j,k-l_m.n!o~p*q'r(s)t\r\n",
    "SIP/2.0 2a0 OK\r\n", "SIP/20 200 OK\r\n", "SIP/2.0\t200 OK\r\n",
    "OPTIONS sip:a@b SIP/2.0\r\n", "OPTIONS  sip:a@b SIP/2.0\r\n", "OPTIONS sip:a@b  SIP/2.0\r\n",
    "OPTIONS sip:a@b SIP/2.0 \r\n", "OPTIONS sip:a@b sip/2.0\r\n", "OPTIONS sip:a@b SIP/2.1\r\n",
    "OPTIONS sip:a@b SIP/2.00\r\n", "OPT(ONS sip:a@b SIP/2.0\r\n", "OPTIONS sip:a@\x01b SIP/2.0\r\n",
    "OPTIONS sip:a@b SIP/2.0\n", "OPTIONS sip:a@b\r\n", "OPTIONS sip:a b SIP/2.0\r\n",
    "OPTIONS sip:a@b?x=y SIP/2.0\r\n", "OPTIONS x SIP/2.0\r\n", "OPTIONS  SIP/2.0\r\n",
    "OPTIONS sip:a@b:99999 SIP/2.0\r\n", "OPTIONS sip:a@b SIP/2.0\r\r\n", "OPTIONS\tsip:a@b SIP/2.0\r\n",
    "INVITE sip:a@b SIP/2.0\r\n", "OPTIONS tel:+1 SIP/2.0\r\n", "OPTIONS sip:a@b SIP/2.",
    /* Request-URIs around the 16-byte steps of the SP/CR/LF search */
    "OPTIONS sip:abcdefghijk@b SIP/2.0\r\n", "OPTIONS sip:abcdefghijkl@b SIP/2.0\r\n",
    "OPTIONS sip:abcdefghijklm@b SIP/2.0\r\n", "OPTIONS sip:abcdefghijklmnopqrstuvwxyz@b SIP/2.0\r\n",
    "OPTIONS sip:abcdefghijklmnopqrstuvwxyz01234@b SIP/2.0\r\n",
    "OPTIONS sip:abcdefghijklmnopqrst\rx@b SIP/2.0\r\n", "OPTIONS sip:abcdefghijklmnopqrst\nx@b SIP/2.0\r\n",
    "OPTIONS sip:abcdefghijklmnopqrstuvwxyz01234@b\r\n", "OPTIONS sip:abcdefghijklmnopqrstuvwxyz01234@b",
};

static void test_start_lines(void **state) {
  (void)state;
  for (size_t t = 0; t < sizeof start_lines / sizeof *start_lines; t++) {
    char msg[1024], what[64];
    int n = snprintf(msg, sizeof msg,
                     "%sVia: SIP/2.0/UDP h;branch=z9hG4bK2\r\nTo: <sip:a@b>\r\n"
                     "From: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
                     "Content-Length: 0\r\n\r\n",
                     start_lines[t]);
    snprintf(what, sizeof what, "start line %zu", t);
    assert_int_equal(diff_both(msg, (size_t)n, what), 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header_names),
      cmocka_unit_test(test_header_ids),
      cmocka_unit_test(test_files),
      cmocka_unit_test(test_mutants),
      cmocka_unit_test(test_values),
      cmocka_unit_test(test_uris),
      cmocka_unit_test(test_uri_taken),
      cmocka_unit_test(test_addrs),
      cmocka_unit_test(test_addr_taken),
      cmocka_unit_test(test_start_lines),
      cmocka_unit_test(test_find_byte),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
