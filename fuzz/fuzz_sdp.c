/* fuzz_sdp.c - sipkit_sdp_parse on the input as it is (no copy, no NUL).
 * On success: every span inside [0, size), counts within the limits,
 * direction / hold / attribute lookup for each media; then the RFC 3264
 * answer (a 4 KiB buffer, and an exact-size heap buffer when that is too
 * small), which must parse back as SDP with one m= line per offered one.
 * On error: the code is the return, offset <= size, rule non-NULL. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "sipkit_sdp.h"

static sipkit_sdp sdp, back; /* ~80 KB each */

static void check_conn(const sipkit_sdp_conn *c, size_t size) {
  CHECK_SPAN(c->nettype, 0, size);
  CHECK_SPAN(c->addrtype, 0, size);
  CHECK_SPAN(c->address, 0, size);
}

static void check_attrs(const sipkit_sdp_attr *a, uint32_t n, size_t size) {
  CHECK(n <= SIPKIT_SDP_MAX_ATTRS);
  for (uint32_t i = 0; i < n; i++) {
    CHECK(a[i].name.len > 0);
    CHECK_SPAN(a[i].name, 0, size);
    CHECK_SPAN(a[i].value, 0, size);
    CHECK(a[i].has_value || a[i].value.len == 0);
  }
}

static void check_sdp(const sipkit_sdp *s, const char *buf, size_t size) {
  CHECK(s->version == 0);
  CHECK_SPAN(s->origin, 0, size);
  CHECK_SPAN(s->o_username, 0, size); CHECK_SPAN(s->o_sess_id, 0, size);
  CHECK_SPAN(s->o_sess_version, 0, size); CHECK_SPAN(s->o_nettype, 0, size);
  CHECK_SPAN(s->o_addrtype, 0, size); CHECK_SPAN(s->o_address, 0, size);
  CHECK_SPAN(s->name, 0, size); CHECK_SPAN(s->info, 0, size);
  CHECK_SPAN(s->uri, 0, size); CHECK_SPAN(s->email, 0, size);
  CHECK_SPAN(s->phone, 0, size);
  check_conn(&s->conn, size);
  CHECK(s->num_conns <= 1);
  CHECK_SPAN(s->bandwidth, 0, size);
  CHECK_SPAN(s->t_start, 0, size); CHECK_SPAN(s->t_stop, 0, size);
  CHECK(s->num_times >= 1);
  CHECK_SPAN(s->repeat, 0, size); CHECK_SPAN(s->zone, 0, size);
  CHECK_SPAN(s->key, 0, size);
  CHECK(s->direction <= SIPKIT_SDP_INACTIVE);
  check_attrs(s->attrs, s->num_attrs, size);
  CHECK(s->num_media <= SIPKIT_SDP_MAX_MEDIA);
  const sipkit_sdp_attr *fa = sipkit_sdp_attr_find(s, buf, UINT32_MAX, "rtpmap");
  CHECK(fa == NULL || (fa >= s->attrs && fa < s->attrs + s->num_attrs));
  for (uint32_t i = 0; i < s->num_media; i++) {
    const sipkit_sdp_media *m = &s->media[i];
    CHECK(m->line.len > 0);
    CHECK_SPAN(m->line, 0, size);
    size_t a = m->line.off, b = (size_t)m->line.off + m->line.len;
    CHECK_SPAN(m->media, a, b); CHECK_SPAN(m->proto, a, b);
    CHECK(m->media.len > 0 && m->proto.len > 0);
    CHECK(m->port <= 65535);
    CHECK_SPAN(m->info, 0, size);
    check_conn(&m->conn, size);
    CHECK_SPAN(m->bandwidth, 0, size);
    CHECK_SPAN(m->key, 0, size);
    CHECK(m->direction <= SIPKIT_SDP_INACTIVE);
    CHECK(m->num_formats >= 1 && m->num_formats <= SIPKIT_SDP_MAX_FORMATS);
    for (uint32_t k = 0; k < m->num_formats; k++) {
      const sipkit_sdp_format *f = &m->formats[k];
      CHECK(f->fmt.len > 0);
      CHECK_SPAN(f->fmt, a, b);
      CHECK_SPAN(f->encoding, 0, size);
      CHECK_SPAN(f->enc_params, 0, size);
      CHECK_SPAN(f->fmtp, 0, size);
      if (f->has_pt) CHECK(f->pt <= 127);
      if (f->has_rtpmap && !f->rtpmap_bad) {
        CHECK(f->clock_rate >= 1);
        CHECK(f->encoding.len > 0);
      }
      CHECK(f->has_fmtp || f->fmtp.len == 0);
    }
    check_attrs(m->attrs, m->num_attrs, size);
    int dir = sipkit_sdp_direction(s, i);
    CHECK(dir >= SIPKIT_SDP_SENDRECV && dir <= SIPKIT_SDP_INACTIVE);
    int hold = sipkit_sdp_is_hold(s, buf, i);
    CHECK(hold == 0 || hold == 1);
    if (dir == SIPKIT_SDP_SENDONLY || dir == SIPKIT_SDP_INACTIVE) CHECK(hold == 1);
    fa = sipkit_sdp_attr_find(s, buf, i, "rtpmap");
    CHECK(fa == NULL || (fa >= m->attrs && fa < m->attrs + m->num_attrs));
  }
}

static void answer(const char *buf, int hold) {
  static char out[4096];
  sipkit_sdp_audio a;
  memset(&a, 0, sizeof a);
  a.sess_id = 1; a.sess_version = 2;
  a.address = "192.0.2.10";
  a.port = 49170;
  a.codecs = SIPKIT_SDP_PCMU | SIPKIT_SDP_PCMA | SIPKIT_SDP_TELEPHONE_EVENT;
  a.hold = hold;
  size_t len = 0;
  int rc = sipkit_sdp_answer(&sdp, buf, &a, out, sizeof out, &len);
  char *ans = out, *heap = NULL;
  if (rc == SIPKIT_EBUFFER_TOO_SMALL) {
    CHECK(len > sizeof out);
    heap = malloc(len);
    if (!heap) return;
    size_t len2 = 0;
    rc = sipkit_sdp_answer(&sdp, buf, &a, heap, len, &len2);
    CHECK(rc == SIPKIT_EOK);
    CHECK(len2 == len);
    ans = heap;
  }
  if (rc != SIPKIT_EOK) {
    fprintf(stderr, "sipkit_sdp_answer: %s\n", sipkit_err_name(rc));
    CHECK_FAIL("answer to a parsed offer fails");
  }
  CHECK(len <= (heap ? len : sizeof out));
  sipkit_error err;
  memset(&err, 0, sizeof err);
  rc = sipkit_sdp_parse(&back, ans, len, &err);
  if (rc != SIPKIT_EOK) {
    fprintf(stderr, "answer does not parse: %s at %u (%s)\n%.*s\n",
            sipkit_err_name(rc), (unsigned)err.offset, err.rule ? err.rule : "",
            (int)len, ans);
    CHECK_FAIL("answer parses back");
  }
  CHECK(back.num_media == sdp.num_media);
  for (uint32_t i = 0; i < back.num_media; i++)
    CHECK(back.media[i].direction != SIPKIT_SDP_DIR_NONE || back.media[i].port == 0);
  free(heap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  sipkit_error err;
  memset(&err, 0, sizeof err);
  int rc = sipkit_sdp_parse(&sdp, buf, size, &err);
  if (rc != SIPKIT_EOK) {
    CHECK(rc == SIPKIT_ESDP || rc == SIPKIT_ESDP_LIMIT);
    CHECK(err.code == rc);
    CHECK(err.offset <= size);
    CHECK(err.rule != NULL);
    return 0;
  }
  check_sdp(&sdp, buf, size);
  answer(buf, 0);
  answer(buf, 1);
  return 0;
}
