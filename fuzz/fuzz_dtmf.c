/* fuzz_dtmf.c - sipkit_dtmf_relay_parse and sipkit_dtmf_parse on the input
 * as it is (no copy, no NUL).  On success: the signal is one of 0-9 * # A-D,
 * the duration within 1..SIPKIT_DTMF_MAX_DURATION when present (0 when
 * absent); the value is built back (a first call with cap 0 gives the size,
 * then an exact-size heap buffer; one byte less is refused) and parsed
 * again with the same parser: same signal, same duration.
 * On error: EINVALID_VALUE, code == return, offset <= size, rule set. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "sipkit_body.h"

typedef int (*parse_fn)(sipkit_dtmf *, const char *, size_t, sipkit_error *);
typedef int (*build_fn)(const sipkit_dtmf *, char *, size_t, size_t *);

static int valid_signal(char c) {
  return (c >= '0' && c <= '9') || c == '*' || c == '#' || (c >= 'A' && c <= 'D');
}

static void one(parse_fn parse, build_fn build, int relay, const char *buf, size_t size) {
  sipkit_dtmf d;
  sipkit_error err;
  memset(&err, 0, sizeof err);
  memset(&d, 0x5a, sizeof d);
  int rc = parse(&d, buf, size, &err);
  if (rc != SIPKIT_EOK) {
    CHECK(rc == SIPKIT_EINVALID_VALUE);
    fz_check_error(rc, &err, buf, size);
    return;
  }
  CHECK(valid_signal(d.signal));
  if (relay && d.has_duration) CHECK(d.duration >= 1 && d.duration <= SIPKIT_DTMF_MAX_DURATION);
  else CHECK(d.duration == 0);
  CHECK(relay || d.has_duration == 0);
  size_t need = 0;
  rc = build(&d, NULL, 0, &need);
  CHECK(rc == SIPKIT_EBUFFER_TOO_SMALL);
  CHECK(need > 0 && need < 64);
  char *out = malloc(need);
  if (!out) return;
  size_t len = 0;
  if (need > 1) {
    rc = build(&d, out, need - 1, &len);
    CHECK(rc == SIPKIT_EBUFFER_TOO_SMALL);
    CHECK(len == need);
  }
  rc = build(&d, out, need, &len);
  CHECK(rc == SIPKIT_EOK);
  CHECK(len == need);
  sipkit_dtmf back;
  memset(&back, 0, sizeof back);
  memset(&err, 0, sizeof err);
  rc = parse(&back, out, len, &err);
  if (rc != SIPKIT_EOK) {
    fprintf(stderr, "built %.*s does not parse: %s at %u (%s)\n", (int)len, out,
            sipkit_err_name(rc), (unsigned)err.offset, err.rule ? err.rule : "");
    CHECK_FAIL("built value parses back");
  }
  CHECK(back.signal == d.signal);
  CHECK(back.duration == d.duration);
  CHECK(back.has_duration == (d.duration != 0));
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  one(sipkit_dtmf_relay_parse, sipkit_dtmf_relay_build, 1, buf, size);
  one(sipkit_dtmf_parse, sipkit_dtmf_build, 0, buf, size);
  return 0;
}
