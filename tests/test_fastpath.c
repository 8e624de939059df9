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
      "l%c: 0\r\n",  "Subject:%cx\r\n"};
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header_names),
      cmocka_unit_test(test_files),
      cmocka_unit_test(test_mutants),
      cmocka_unit_test(test_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
