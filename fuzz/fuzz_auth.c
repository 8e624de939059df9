/* fuzz_auth.c - digest challenge / credentials parsing, and the client's
 * answer to every challenge that parses.
 *
 * Byte 0 is a selector, the rest (data + 1, size - 1, no copy) is the
 * header value:
 *   bits 0-1  0 WWW-Authenticate, 1 Proxy-Authenticate (challenge),
 *             2 Authorization, 3 Proxy-Authorization (credentials)
 *   bit 2     the client prefers auth-int
 * On success every span lies inside the value.  A parsed challenge is
 * answered by sipkit_auth_build with a fixed client (user / password,
 * sip:a@b, REGISTER, fixed cnonce) into an exact-size heap buffer sized by
 * a first call with cap 0; the answer must parse as credentials of the
 * matching header, carry the challenge's realm, nonce, opaque and
 * algorithm, and pass sipkit_auth_verify with the same password. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "sipkit_auth.h"

#define PASSWORD "secret"
#define BODY "v=0\r\n"

static const int hdr_ids[4] = {SIPKIT_HDR_WWW_AUTHENTICATE, SIPKIT_HDR_PROXY_AUTHENTICATE,
                               SIPKIT_HDR_AUTHORIZATION, SIPKIT_HDR_PROXY_AUTHORIZATION};

static void check_error(int rc, const sipkit_error *e, size_t size) {
  CHECK(rc > 0);
  CHECK(e->code == rc);
  CHECK(e->offset <= size);
  CHECK(e->rule != NULL);
  CHECK(rc == SIPKIT_EAUTH || rc == SIPKIT_EAUTH_ALGORITHM || rc == SIPKIT_ELINE_TOO_LONG);
}

/* unquoted bytes of two spans are equal */
static int same_text(const char *a, sipkit_span sa, const char *b, sipkit_span sb) {
  static char x[SIPKIT_MAX_HEADER_LINE], y[SIPKIT_MAX_HEADER_LINE];
  size_t n = sipkit_auth_unquote(a, sa, x, sizeof x);
  size_t m = sipkit_auth_unquote(b, sb, y, sizeof y);
  CHECK(n <= sa.len && m <= sb.len);
  return n == m && n <= sizeof x && memcmp(x, y, n) == 0;
}

static void check_credentials(const sipkit_credentials *cr, size_t lo, size_t hi) {
#define C_SPAN(f) CHECK_SPAN(cr->f, lo, hi)
  C_SPAN(username); C_SPAN(realm); C_SPAN(nonce); C_SPAN(uri); C_SPAN(response);
  C_SPAN(cnonce); C_SPAN(opaque); C_SPAN(nc); C_SPAN(qop_name); C_SPAN(algorithm_name);
#undef C_SPAN
  CHECK(cr->algorithm >= 0 && cr->algorithm < SIPKIT_DIGEST__COUNT);
  CHECK(cr->qop <= SIPKIT_QOP_AUTH_INT);
  CHECK(cr->response.len == 0 || cr->response.len == sipkit_digest_hex_len(cr->algorithm));
  if (cr->qop) CHECK(cr->nc.len == 8 && cr->cnonce.len > 0);
}

static void answer(const sipkit_challenge *ch, const char *buf, int hdr_id, int auth_int) {
  sipkit_auth_client cl;
  memset(&cl, 0, sizeof cl);
  cl.username = "alice";
  cl.password = PASSWORD;
  cl.method = "REGISTER";
  cl.uri = "sip:a@b";
  cl.body = BODY;
  cl.body_len = sizeof BODY - 1;
  cl.nc = 1;
  cl.cnonce = "0a4f113b";
  cl.want_auth_int = auth_int;
  sipkit_error err;
  memset(&err, 0, sizeof err);
  size_t need = 0;
  char dummy[1];
  int rc = sipkit_auth_build(ch, buf, &cl, dummy, 0, &need, &err);
  if (rc == SIPKIT_EAUTH && !(ch->qop_offered & (SIPKIT_QOP_AUTH | SIPKIT_QOP_AUTH_INT)))
    return; /* only unknown qop tokens: nothing to answer with */
  if (rc != SIPKIT_EBUFFER_TOO_SMALL) {
    fprintf(stderr, "sipkit_auth_build(cap 0): %s (%s)\n", sipkit_err_name(rc),
            err.rule ? err.rule : "");
    CHECK_FAIL("auth_build with cap 0 reports the size");
  }
  CHECK(need > 0);
  char *out = malloc(need + 1);
  if (!out) return;
  size_t len = 0;
  /* one byte short is still too small */
  rc = sipkit_auth_build(ch, buf, &cl, out, need, &len, &err);
  CHECK(rc == SIPKIT_EBUFFER_TOO_SMALL && len == need);
  rc = sipkit_auth_build(ch, buf, &cl, out, need + 1, &len, &err);
  if (rc == SIPKIT_ELINE_TOO_LONG) { /* a long realm/nonce: the line is over the limit */
    CHECK(need + strlen("Authorization: ") > SIPKIT_MAX_HEADER_LINE);
    free(out);
    return;
  }
  if (rc != SIPKIT_EOK) {
    fprintf(stderr, "sipkit_auth_build: %s at %u (%s)\n%.*s\n", sipkit_err_name(rc),
            (unsigned)err.offset, err.rule ? err.rule : "", (int)need, out);
    CHECK_FAIL("auth_build answers a parsed challenge");
  }
  CHECK(len == need);
  CHECK(out[len] == '\0');
  int cred_id = hdr_id == SIPKIT_HDR_WWW_AUTHENTICATE ? SIPKIT_HDR_AUTHORIZATION
                                                      : SIPKIT_HDR_PROXY_AUTHORIZATION;
  sipkit_credentials cr;
  sipkit_span v = {0, (uint32_t)len};
  rc = sipkit_auth_parse_credentials(&cr, cred_id, out, v, &err);
  if (rc == SIPKIT_ELINE_TOO_LONG &&
      len + strlen(sipkit_hdr_name(cred_id)) + 2 > SIPKIT_MAX_HEADER_LINE) {
    free(out); /* fits Authorization's line limit, not Proxy-Authorization's */
    return;
  }
  if (rc != SIPKIT_EOK) {
    fprintf(stderr, "answer does not parse: %s at %u (%s)\n%.*s\n", sipkit_err_name(rc),
            (unsigned)err.offset, err.rule ? err.rule : "", (int)len, out);
    CHECK_FAIL("auth_build output parses as credentials");
  }
  check_credentials(&cr, 0, len);
  CHECK(cr.algorithm == ch->algorithm);
  CHECK(same_text(out, cr.realm, buf, ch->realm));
  CHECK(same_text(out, cr.nonce, buf, ch->nonce));
  CHECK(cr.has_opaque == ch->has_opaque);
  if (ch->has_opaque) CHECK(same_text(out, cr.opaque, buf, ch->opaque));
  if (ch->has_qop) CHECK(cr.qop != SIPKIT_QOP_NONE && (cr.qop & ch->qop_offered));
  else CHECK(cr.qop == SIPKIT_QOP_NONE);
  sipkit_auth_verify_in vin;
  memset(&vin, 0, sizeof vin);
  vin.password = PASSWORD;
  vin.method = "REGISTER";
  vin.body = BODY;
  vin.body_len = sizeof BODY - 1;
  rc = sipkit_auth_verify(&cr, out, &vin);
  if (rc != SIPKIT_EOK) {
    fprintf(stderr, "verify: %s\n%.*s\n", sipkit_err_name(rc), (int)len, out);
    CHECK_FAIL("auth_verify accepts auth_build's answer");
  }
  vin.password = PASSWORD "x";
  CHECK(sipkit_auth_verify(&cr, out, &vin) == SIPKIT_EAUTH);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const char *buf = (const char *)data;
  unsigned sel = data[0];
  int hdr_id = hdr_ids[sel & 3];
  if (size - 1 > UINT32_MAX) return 0;
  sipkit_span value = {1, (uint32_t)(size - 1)};
  size_t lo = 1, hi = size;
  sipkit_error err;
  memset(&err, 0, sizeof err);
  if ((sel & 3) < 2) {
    sipkit_challenge ch;
    int rc = sipkit_auth_parse_challenge(&ch, hdr_id, buf, value, &err);
    if (rc != SIPKIT_EOK) {
      check_error(rc, &err, size);
      return 0;
    }
#define CH_SPAN(f) CHECK_SPAN(ch.f, lo, hi)
    CH_SPAN(realm); CH_SPAN(nonce); CH_SPAN(opaque); CH_SPAN(domain); CH_SPAN(qop);
    CH_SPAN(algorithm_name);
#undef CH_SPAN
    CHECK(ch.algorithm >= 0 && ch.algorithm < SIPKIT_DIGEST__COUNT);
    CHECK(ch.qop_offered <= (SIPKIT_QOP_AUTH | SIPKIT_QOP_AUTH_INT));
    CHECK(ch.has_qop || ch.qop_offered == 0);
    CHECK(ch.has_opaque || ch.opaque.len == 0);
    answer(&ch, buf, hdr_id, (sel >> 2) & 1);
  } else {
    sipkit_credentials cr;
    int rc = sipkit_auth_parse_credentials(&cr, hdr_id, buf, value, &err);
    if (rc != SIPKIT_EOK) {
      check_error(rc, &err, size);
      return 0;
    }
    check_credentials(&cr, lo, hi);
    sipkit_auth_verify_in vin;
    memset(&vin, 0, sizeof vin);
    vin.password = PASSWORD;
    vin.method = "REGISTER";
    rc = sipkit_auth_verify(&cr, buf, &vin);
    CHECK(rc == SIPKIT_EOK || rc == SIPKIT_EAUTH);
  }
  return 0;
}
