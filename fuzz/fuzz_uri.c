/* fuzz_uri.c - sipkit_uri_parse on the input as it is, then on the input
 * minus its first and last byte (spans must stay inside the span given,
 * not just the buffer), and sipkit_unescape on every part: the output is
 * never longer than the input (one level of %HH, never recursive), fits the
 * cap given, and a cap one byte short of the result is refused. */
#include <stdlib.h>

#include "fuzz_common.h"

static void unescape_check(const char *src, size_t len) {
  static char out[65536];
  if (len > sizeof out) return;
  long n = sipkit_unescape(src, len, out, sizeof out);
  if (n < 0) {
    CHECK(n == -1);
    /* a malformed escape is malformed whatever the cap */
    CHECK(sipkit_unescape(src, len, out, len) == -1);
    return;
  }
  CHECK((size_t)n <= len);
  if (memchr(src, '%', len) == NULL) {
    CHECK((size_t)n == len && memcmp(out, src, len) == 0);
  }
  /* exact cap works, one less is refused; a heap buffer of exactly n bytes
   * lets ASan catch a write past cap */
  char *exact = malloc(n ? (size_t)n : 1);
  if (!exact) return;
  CHECK(sipkit_unescape(src, len, exact, (size_t)n) == n);
  CHECK(memcmp(exact, out, (size_t)n) == 0);
  if (n > 0) CHECK(sipkit_unescape(src, len, exact, (size_t)n - 1) == -1);
  free(exact);
}

static void one(const char *buf, size_t size, sipkit_span span) {
  sipkit_uri uri;
  sipkit_error err;
  memset(&err, 0, sizeof err);
  int rc = sipkit_uri_parse(&uri, buf, span, &err);
  if (rc != SIPKIT_EOK) {
    fz_check_error(rc, &err, buf, size);
    CHECK(err.offset >= span.off && err.offset <= span.off + span.len);
    return;
  }
  fz_check_uri(&uri, span.off, (size_t)span.off + span.len);
  CHECK(uri.scheme != SIPKIT_SCHEME_NONE);
  CHECK(uri.all.len > 0);
#define UN(f) if (uri.f.len) unescape_check(buf + uri.f.off, uri.f.len)
  UN(user); UN(password); UN(host); UN(params); UN(headers);
#undef UN
  fz_check_params(buf, uri.params);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  if (size > 0xffffffffu) return 0;
  sipkit_span whole = {0, (uint32_t)size};
  one(buf, size, whole);
  if (size >= 2) {
    sipkit_span inner = {1, (uint32_t)size - 2};
    one(buf, size, inner);
  }
  unescape_check(buf, size);
  return 0;
}
