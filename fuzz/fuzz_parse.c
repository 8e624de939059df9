/* fuzz_parse.c - datagram parse of the input as it is (no copy, no NUL),
 * strict and lenient-LF, with the invariants of fuzz_common.h on success
 * and on failure.  Also parses with a small header array so the
 * TOO_MANY_HEADERS path is reached. */
#include "fuzz_common.h"

static sipkit_header hdrs[SIPKIT_MAX_HEADERS];

static void one(const char *buf, size_t size, unsigned flags, size_t cap) {
  sipkit_msg msg;
  sipkit_error err;
  memset(&err, 0, sizeof err);
  sipkit_msg_init(&msg, hdrs, cap);
  int rc = sipkit_parse(&msg, buf, size, flags, &err);
  if (rc == SIPKIT_EOK) {
    fz_check_msg(&msg, buf, size, cap);
    CHECK(msg.size > 0);
  } else {
    fz_check_error(rc, &err, buf, size);
    CHECK(rc != SIPKIT_EINCOMPLETE); /* datagrams never say "incomplete" */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  one(buf, size, 0, SIPKIT_DEFAULT_HEADERS);
  one(buf, size, SIPKIT_PARSE_LENIENT_LF, SIPKIT_DEFAULT_HEADERS);
  one(buf, size, SIPKIT_PARSE_NO_CHECKS, 8);
  CHECK(fz_diff_fast_path(buf, size, 0) == 0);
  CHECK(fz_diff_fast_path(buf, size, SIPKIT_PARSE_LENIENT_LF) == 0);
  return 0;
}
