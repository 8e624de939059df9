/* fuzz_stream.c - differential test of stream framing.
 *
 * Input layout: byte 0 = control, then (control & 7) split points of two
 * bytes each (little endian, taken modulo the message length + 1), then the
 * stream bytes S.  Bit 3 of the control byte feeds S one byte at a time
 * instead (for S up to 4 KiB), bit 4 sets SIPKIT_PARSE_LENIENT_LF.
 *
 * The stream parser sees growing prefixes of S in the same buffer, exactly as
 * a TCP reader would.  The first result that is not INCOMPLETE (or the last
 * one) must be identical to sipkit_parse_stream on all of S at once: code,
 * consumed, error offset, and every span.  A complete message with
 * Content-Length must also be what the datagram parser makes of exactly
 * `consumed` bytes.  Up to three pipelined messages after it are parsed the
 * same way (one shot vs. byte-exact datagram). */
#include <stdlib.h>

#include "fuzz_common.h"

#define CAP SIPKIT_DEFAULT_HEADERS
static sipkit_header h_inc[CAP], h_all[CAP], h_dg[CAP];

/* Canonical copy of one header: only the fields its id and `parsed` make
 * meaningful, everything else zero, so two parses compare with memcmp. */
static void canon_header(const sipkit_header *h, sipkit_header *out) {
  memset(out, 0, sizeof *out);
  out->name = h->name;
  out->value = h->value;
  out->id = h->id;
  out->parsed = h->parsed;
  out->element = h->element;
  if (!h->parsed) return;
  switch (h->id) {
  case SIPKIT_HDR_VIA: out->u.via = h->u.via; break;
  case SIPKIT_HDR_FROM: case SIPKIT_HDR_TO: case SIPKIT_HDR_CONTACT:
  case SIPKIT_HDR_ROUTE: case SIPKIT_HDR_RECORD_ROUTE: out->u.addr = h->u.addr; break;
  case SIPKIT_HDR_CSEQ: out->u.cseq = h->u.cseq; break;
  case SIPKIT_HDR_CONTENT_TYPE: out->u.ctype = h->u.ctype; break;
  case SIPKIT_HDR_CONTENT_LENGTH: case SIPKIT_HDR_MAX_FORWARDS:
  case SIPKIT_HDR_EXPIRES: out->u.number = h->u.number; break;
  default: break;
  }
}

static long idx(const sipkit_msg *m, const void *p) {
  if (!p) return -1;
  return (long)(((const char *)p - (const char *)m->headers) / (long)sizeof(sipkit_header));
}

#define SAME(field)                                                            \
  do {                                                                         \
    if (memcmp(&a->field, &b->field, sizeof a->field) != 0) {                  \
      fprintf(stderr, "%s: differs in %s\n", what, #field);                    \
      CHECK_FAIL("parses of the same bytes differ");                          \
    }                                                                          \
  } while (0)

/* Two successful parses of the same bytes (offsets from the same base). */
static void same_msg(const sipkit_msg *a, const sipkit_msg *b, const char *what) {
  SAME(status); SAME(method); SAME(method_name); SAME(reason);
  SAME(version); SAME(request_uri); SAME(ruri); SAME(body); SAME(size);
  SAME(content_length); SAME(has_content_length); SAME(call_id);
  SAME(num_headers); SAME(first);
  if (a->first[SIPKIT_HDR_MAX_FORWARDS]) SAME(max_forwards);
  if (a->first[SIPKIT_HDR_EXPIRES]) SAME(expires);
  CHECK(idx(a, a->via) == idx(b, b->via));
  CHECK(idx(a, a->from) == idx(b, b->from));
  CHECK(idx(a, a->to) == idx(b, b->to));
  CHECK(idx(a, a->contact) == idx(b, b->contact));
  CHECK(idx(a, a->cseq) == idx(b, b->cseq));
  CHECK(idx(a, a->content_type) == idx(b, b->content_type));
  for (uint32_t i = 0; i < a->num_headers; i++) {
    sipkit_header x, y;
    canon_header(&a->headers[i], &x);
    canon_header(&b->headers[i], &y);
    if (memcmp(&x, &y, sizeof x) != 0) {
      fprintf(stderr, "%s: header %u differs\n", what, (unsigned)i);
      CHECK_FAIL("parses of the same bytes differ");
    }
  }
}

static int cmp_u16(const void *x, const void *y) {
  return (int)*(const uint16_t *)x - (int)*(const uint16_t *)y;
}

/* One message at buf[0..len): incremental vs. one shot vs. datagram.
 * Returns bytes consumed (0 when there is no complete message). */
static size_t one(const char *buf, size_t len, unsigned flags,
                  const uint16_t *splits, size_t nsplits, int bytewise) {
  sipkit_msg inc, all;
  sipkit_error e_inc, e_all;
  size_t c_inc = 0, c_all = 0;
  int rc_inc = SIPKIT_EINCOMPLETE;

  memset(h_inc, 0, sizeof h_inc);
  memset(h_all, 0, sizeof h_all);
  memset(&e_inc, 0, sizeof e_inc);
  memset(&e_all, 0, sizeof e_all);

  /* incremental: growing prefixes of the same buffer, msg kept in between */
  sipkit_msg_init(&inc, h_inc, CAP);
  size_t p = 0, si = 0, fed = 0;
  for (;;) {
    if (bytewise) p = p < len ? p + 1 : len;
    else p = si < nsplits ? (splits[si++] % (len + 1)) : len;
    if (p < fed) continue; /* splits are sorted; this only skips repeats */
    fed = p;
    rc_inc = sipkit_parse_stream(&inc, buf, p, flags, &c_inc, &e_inc);
    if (rc_inc != SIPKIT_EINCOMPLETE || p == len) break;
  }
  /* one shot */
  sipkit_msg_init(&all, h_all, CAP);
  int rc_all = sipkit_parse_stream(&all, buf, len, flags, &c_all, &e_all);

  if (rc_inc != rc_all) {
    fprintf(stderr, "incremental %s (prefix %zu) vs one shot %s\n",
            sipkit_err_name(rc_inc), p, sipkit_err_name(rc_all));
    CHECK_FAIL("incremental and one-shot stream results differ");
  }
  if (rc_all == SIPKIT_EINCOMPLETE) return 0;
  if (rc_all != SIPKIT_EOK) {
    fz_check_error(rc_all, &e_all, buf, len);
    fz_check_error(rc_inc, &e_inc, buf, p);
    CHECK(e_inc.offset == e_all.offset);
    CHECK(e_inc.line == e_all.line && e_inc.column == e_all.column);
    return 0;
  }
  CHECK(c_inc == c_all);
  CHECK(c_all > 0 && c_all <= len && c_all <= p);
  CHECK(all.has_content_length); /* mandatory on a stream */
  CHECK(all.size == c_all);
  fz_check_msg(&all, buf, c_all, CAP);
  same_msg(&inc, &all, "incremental vs one shot");

  /* the datagram parse of exactly `consumed` bytes, in an exact-size copy */
  char *copy = malloc(c_all);
  if (!copy) return c_all;
  memcpy(copy, buf, c_all);
  sipkit_msg dg;
  sipkit_error e_dg;
  memset(h_dg, 0, sizeof h_dg);
  sipkit_msg_init(&dg, h_dg, CAP);
  int rc_dg = sipkit_parse(&dg, copy, c_all, flags, &e_dg);
  if (rc_dg != SIPKIT_EOK) {
    fprintf(stderr, "stream OK (consumed %zu) but datagram %s at %u\n", c_all,
            sipkit_err_name(rc_dg), (unsigned)e_dg.offset);
    CHECK_FAIL("stream and datagram disagree");
  }
  same_msg(&dg, &all, "datagram vs stream");
  free(copy);
  return c_all;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned ctl = data[0];
  size_t nsplits = ctl & 7;
  if (size < 1 + 2 * nsplits) return 0;
  uint16_t splits[8];
  for (size_t i = 0; i < nsplits; i++)
    splits[i] = (uint16_t)(data[1 + 2 * i] | data[2 + 2 * i] << 8);
  const char *buf = (const char *)data + 1 + 2 * nsplits;
  size_t len = size - 1 - 2 * nsplits;
  unsigned flags = (ctl & 16) ? SIPKIT_PARSE_LENIENT_LF : 0;
  int bytewise = (ctl & 8) && len <= 4096;
  for (size_t i = 0; i < nsplits; i++) splits[i] = (uint16_t)(splits[i] % (len + 1));
  qsort(splits, nsplits, sizeof splits[0], cmp_u16);

  size_t c = one(buf, len, flags, splits, nsplits, bytewise);
  /* pipelined messages after the first: each from where the last ended */
  for (int k = 0; k < 3 && c > 0 && c < len; k++) {
    buf += c;
    len -= c;
    c = one(buf, len, flags, NULL, 0, 0);
  }
  return 0;
}
