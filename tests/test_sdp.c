/* test_sdp.c - SDP parse / build / offer-answer with exact expected values.
 * Inputs are copied into exact-size heap buffers (no NUL after them).
 * Run from the repository root (the corpus bodies are read from files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sipkit_sdp.h"

static sipkit_sdp S;
static sipkit_error E;
static char *B;
static size_t BLEN;

static void set_input(const char *s, size_t len) {
  free(B);
  B = malloc(len ? len : 1);
  memcpy(B, s, len);
  BLEN = len;
}

static int parse_n(const char *s, size_t len) {
  set_input(s, len);
  memset(&E, 0, sizeof E);
  return sipkit_sdp_parse(&S, B, BLEN, &E);
}
static int parse(const char *s) { return parse_n(s, strlen(s)); }

/* The body of a SIP message file: after the first empty line. */
static int parse_file_body(const char *path) {
  FILE *f = fopen(path, "rb");
  static char raw[65536];
  size_t n;
  const char *b;
  assert_non_null(f);
  n = fread(raw, 1, sizeof raw, f);
  fclose(f);
  b = NULL;
  for (size_t i = 0; i + 1 < n; i++) {
    if (i + 3 < n && memcmp(raw + i, "\r\n\r\n", 4) == 0) { b = raw + i + 4; break; }
    if (memcmp(raw + i, "\n\n", 2) == 0) { b = raw + i + 2; break; }
  }
  assert_non_null(b);
  return parse_n(b, n - (size_t)(b - raw));
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

/* offset of the first occurrence of needle in s, plus k */
static uint32_t at(const char *s, const char *needle, uint32_t k) {
  const char *p = strstr(s, needle);
  assert_non_null(p);
  return (uint32_t)(p - s) + k;
}

#define HEAD "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"

/* ------------------------------------------------------------------ corpus */

static void rtp_fmt(const sipkit_sdp_format *f, const char *fmt, uint32_t pt, const char *enc,
                    uint32_t clock) {
  SPAN_EQ(f->fmt, fmt);
  assert_int_equal(f->has_pt, 1);
  assert_int_equal(f->pt, pt);
  if (enc) {
    assert_int_equal(f->has_rtpmap, 1);
    SPAN_EQ(f->encoding, enc);
    assert_int_equal(f->clock_rate, clock);
    assert_int_equal(f->channels, 1);
    assert_int_equal(f->enc_params.len, 0);
  } else
    assert_int_equal(f->has_rtpmap, 0);
}

static void test_corpus_invite(void **st) {
  (void)st;
  assert_int_equal(parse_file_body("tests/bench/corpus/01_invite_sdp.sip"), SIPKIT_EOK);
  assert_int_equal(BLEN, 264);
  assert_int_equal(S.version, 0);
  SPAN_EQ(S.origin, "alice 2890844526 2890844526 IN IP4 192.0.2.101");
  SPAN_EQ(S.o_username, "alice");
  SPAN_EQ(S.o_sess_id, "2890844526");
  SPAN_EQ(S.o_sess_version, "2890844526");
  SPAN_EQ(S.o_nettype, "IN");
  SPAN_EQ(S.o_addrtype, "IP4");
  SPAN_EQ(S.o_address, "192.0.2.101");
  SPAN_EQ(S.name, "-");
  assert_int_equal(S.num_conns, 1);
  SPAN_EQ(S.conn.nettype, "IN");
  SPAN_EQ(S.conn.addrtype, "IP4");
  SPAN_EQ(S.conn.address, "192.0.2.101");
  assert_int_equal(S.num_times, 1);
  SPAN_EQ(S.t_start, "0");
  SPAN_EQ(S.t_stop, "0");
  assert_int_equal(S.num_attrs, 0);
  assert_int_equal(S.num_media, 1);
  const sipkit_sdp_media *m = &S.media[0];
  SPAN_EQ(m->line, "audio 49170 RTP/AVP 0 8 9 101");
  SPAN_EQ(m->media, "audio");
  assert_int_equal(m->port, 49170);
  assert_int_equal(m->num_ports, 0);
  SPAN_EQ(m->proto, "RTP/AVP");
  assert_int_equal(m->num_conns, 0);
  assert_int_equal(m->num_formats, 4);
  rtp_fmt(&m->formats[0], "0", 0, "PCMU", 8000);
  rtp_fmt(&m->formats[1], "8", 8, "PCMA", 8000);
  rtp_fmt(&m->formats[2], "9", 9, "G722", 8000);
  rtp_fmt(&m->formats[3], "101", 101, "telephone-event", 8000);
  assert_int_equal(m->formats[3].has_fmtp, 1);
  SPAN_EQ(m->formats[3].fmtp, "0-16");
  assert_int_equal(m->formats[0].has_fmtp, 0);
  assert_int_equal(m->num_attrs, 7);
  SPAN_EQ(m->attrs[0].name, "rtpmap");
  SPAN_EQ(m->attrs[0].value, "0 PCMU/8000");
  SPAN_EQ(m->attrs[5].name, "ptime");
  SPAN_EQ(m->attrs[5].value, "20");
  SPAN_EQ(m->attrs[6].name, "sendrecv");
  assert_int_equal(m->attrs[6].has_value, 0);
  assert_int_equal(m->direction, SIPKIT_SDP_SENDRECV);
  assert_int_equal(sipkit_sdp_direction(&S, 0), SIPKIT_SDP_SENDRECV);
  assert_int_equal(sipkit_sdp_is_hold(&S, B, 0), 0);
  const sipkit_sdp_attr *a = sipkit_sdp_attr_find(&S, B, 0, "ptime");
  assert_ptr_equal(a, &m->attrs[5]);
  assert_null(sipkit_sdp_attr_find(&S, B, 0, "rtcp"));
  assert_null(sipkit_sdp_attr_find(&S, B, UINT32_MAX, "ptime"));
}

static void test_corpus_200(void **st) {
  (void)st;
  assert_int_equal(parse_file_body("tests/bench/corpus/04_200_ok_sdp.sip"), SIPKIT_EOK);
  assert_int_equal(BLEN, 209);
  SPAN_EQ(S.o_username, "bob");
  SPAN_EQ(S.o_sess_id, "2808844564");
  SPAN_EQ(S.o_address, "192.0.2.4");
  SPAN_EQ(S.conn.address, "192.0.2.4");
  assert_int_equal(S.num_media, 1);
  assert_int_equal(S.media[0].port, 3456);
  assert_int_equal(S.media[0].num_formats, 2);
  rtp_fmt(&S.media[0].formats[0], "0", 0, "PCMU", 8000);
  rtp_fmt(&S.media[0].formats[1], "101", 101, "telephone-event", 8000);
  SPAN_EQ(S.media[0].formats[1].fmtp, "0-16");
  assert_int_equal(S.media[0].num_attrs, 5);
}

static void test_rfc4475_sdp01(void **st) {
  (void)st;
  assert_int_equal(parse_file_body("tests/msgs/rfc4475/sdp01.dat"), SIPKIT_EOK);
  assert_int_equal(BLEN, 150);
  SPAN_EQ(S.o_username, "mhandley");
  SPAN_EQ(S.o_sess_id, "29739");
  SPAN_EQ(S.o_sess_version, "7272939");
  SPAN_EQ(S.o_address, "192.0.2.5");
  assert_int_equal(S.num_media, 2);
  SPAN_EQ(S.media[0].media, "audio");
  assert_int_equal(S.media[0].port, 49217);
  assert_int_equal(S.media[0].num_formats, 2);
  rtp_fmt(&S.media[0].formats[0], "0", 0, NULL, 0);
  rtp_fmt(&S.media[0].formats[1], "12", 12, NULL, 0);
  assert_int_equal(S.media[0].num_attrs, 0);
  SPAN_EQ(S.media[1].media, "video");
  assert_int_equal(S.media[1].port, 3227);
  assert_int_equal(S.media[1].num_formats, 1);
  rtp_fmt(&S.media[1].formats[0], "31", 31, NULL, 0);
  /* "a=rtpmap:31 LPC": no clock rate (RFC 8866 §6.6) - kept, flagged */
  assert_int_equal(S.media[1].formats[0].rtpmap_bad, 1);
  assert_int_equal(S.media[1].num_attrs, 1);
  SPAN_EQ(S.media[1].attrs[0].value, "31 LPC");
}

static void test_rfc5118_ipv6(void **st) {
  (void)st;
  /* bare LF line ends (RFC 8866 §5: parsers SHOULD accept them) */
  assert_int_equal(parse_file_body("tests/msgs/rfc5118/ipv6-in-sdp"), SIPKIT_EOK);
  assert_int_equal(BLEN, 242);
  SPAN_EQ(S.o_username, "assistant");
  SPAN_EQ(S.o_sess_id, "971731711378798081");
  SPAN_EQ(S.o_sess_version, "0");
  SPAN_EQ(S.o_addrtype, "IP6");
  SPAN_EQ(S.o_address, "2001:db8::20");
  SPAN_EQ(S.name, "Live video feed for today's meeting");
  SPAN_EQ(S.conn.addrtype, "IP6");
  SPAN_EQ(S.conn.address, "2001:db8::20");
  SPAN_EQ(S.t_start, "3338481189");
  SPAN_EQ(S.t_stop, "3370017201");
  assert_int_equal(S.num_media, 2);
  assert_int_equal(S.media[0].port, 6000);
  rtp_fmt(&S.media[0].formats[0], "2", 2, "G726-32", 8000);
  assert_int_equal(S.media[1].port, 6024);
  rtp_fmt(&S.media[1].formats[0], "107", 107, "H263-1998", 90000);
}

static void test_rfc5118_mult_ip(void **st) {
  (void)st;
  /* "s=" with an empty name: RFC 8866 text = byte-string needs 1 byte
   * (§5.3 recommends "s= ") */
  const char *body = "v=0\no=bob 280744730 28977631 IN IP4 host.example.com\ns=\nt=0 0\n";
  assert_int_equal(parse_file_body("tests/msgs/rfc5118/mult-ip-in-sdp"), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(body, "s=\n", 2), "session-name-field");
  assert_int_equal(E.line, 3);
  assert_int_equal(E.column, 3);
  /* the same body with "s= ": two media with their own c= */
  assert_int_equal(parse("v=0\no=bob 280744730 28977631 IN IP4 host.example.com\ns= \nt=0 0\n"
                         "m=audio 22334 RTP/AVP 0\nc=IN IP4 192.0.2.1\n"
                         "m=video 6024 RTP/AVP 107\nc=IN IP6 2001:db8::1\n"
                         "a=rtpmap:107 H263-1998/90000\n"),
                   SIPKIT_EOK);
  SPAN_EQ(S.name, " ");
  assert_int_equal(S.num_conns, 0);
  assert_int_equal(S.media[0].num_conns, 1);
  SPAN_EQ(S.media[0].conn.address, "192.0.2.1");
  SPAN_EQ(S.media[1].conn.addrtype, "IP6");
  SPAN_EQ(S.media[1].conn.address, "2001:db8::1");
}

/* ------------------------------------------------------------------ all line types */

static void test_all_lines(void **st) {
  (void)st;
  const char *s = "v=0\r\n"
                  "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n"
                  "s=SDP Seminar\r\n"
                  "i=A Seminar on the session description protocol\r\n"
                  "u=http://www.example.com/seminars/sdp.pdf\r\n"
                  "e=j.doe@example.com (Jane Doe)\r\n"
                  "e=x@example.com\r\n"
                  "p=+1 617 555-6011\r\n"
                  "c=IN IP4 224.2.17.12/127\r\n"
                  "b=CT:128\r\n"
                  "t=2873397496 2873404696\r\n"
                  "r=7d 1h 0 25h\r\n"
                  "z=2882844526 -1h 2898848070 0\r\n"
                  "t=0 0\r\n"
                  "k=prompt\r\n"
                  "a=recvonly\r\n"
                  "m=audio 49170/2 RTP/AVP 0\r\n"
                  "i=voice\r\n"
                  "c=IN IP6 FF15::101/3\r\n"
                  "b=AS:64\r\n"
                  "k=clear:secret\r\n"
                  "a=rtpmap:0 PCMU/8000/1\r\n"
                  "m=application 9 udp wb\r\n"
                  "a=orient:portrait\r\n"
                  "a=inactive\r\n";
  assert_int_equal(parse(s), SIPKIT_EOK);
  SPAN_EQ(S.name, "SDP Seminar");
  SPAN_EQ(S.info, "A Seminar on the session description protocol");
  SPAN_EQ(S.uri, "http://www.example.com/seminars/sdp.pdf");
  SPAN_EQ(S.email, "j.doe@example.com (Jane Doe)");
  assert_int_equal(S.num_emails, 2);
  SPAN_EQ(S.phone, "+1 617 555-6011");
  assert_int_equal(S.num_phones, 1);
  SPAN_EQ(S.conn.address, "224.2.17.12/127");
  SPAN_EQ(S.bandwidth, "CT:128");
  assert_int_equal(S.num_bandwidths, 1);
  assert_int_equal(S.num_times, 2);
  SPAN_EQ(S.t_start, "2873397496");
  SPAN_EQ(S.t_stop, "2873404696");
  SPAN_EQ(S.repeat, "7d 1h 0 25h");
  assert_int_equal(S.num_repeats, 1);
  SPAN_EQ(S.zone, "2882844526 -1h 2898848070 0");
  SPAN_EQ(S.key, "prompt");
  assert_int_equal(S.num_attrs, 1);
  assert_int_equal(S.direction, SIPKIT_SDP_RECVONLY);
  assert_int_equal(S.num_media, 2);
  const sipkit_sdp_media *m = &S.media[0];
  assert_int_equal(m->port, 49170);
  assert_int_equal(m->num_ports, 2);
  SPAN_EQ(m->info, "voice");
  SPAN_EQ(m->conn.addrtype, "IP6");
  SPAN_EQ(m->conn.address, "FF15::101/3");
  SPAN_EQ(m->bandwidth, "AS:64");
  SPAN_EQ(m->key, "clear:secret");
  SPAN_EQ(m->formats[0].enc_params, "1");
  assert_int_equal(m->formats[0].channels, 1);
  assert_int_equal(m->direction, SIPKIT_SDP_DIR_NONE);
  assert_int_equal(sipkit_sdp_direction(&S, 0), SIPKIT_SDP_RECVONLY); /* session's */
  m = &S.media[1];
  SPAN_EQ(m->media, "application");
  SPAN_EQ(m->proto, "udp");
  SPAN_EQ(m->formats[0].fmt, "wb");
  assert_int_equal(m->formats[0].has_pt, 0);
  SPAN_EQ(m->attrs[0].name, "orient");
  SPAN_EQ(m->attrs[0].value, "portrait");
  assert_int_equal(sipkit_sdp_direction(&S, 1), SIPKIT_SDP_INACTIVE);
  assert_int_equal(sipkit_sdp_is_hold(&S, B, 1), 1);
}

static void test_rtpmap_forms(void **st) {
  (void)st;
  assert_int_equal(parse(HEAD "m=audio 1 RTP/AVP 96 97 98 99 100\r\n"
                              "a=rtpmap:96\r\n"
                              "a=rtpmap:97 opus/48000/2\r\n"
                              "a=rtpmap:98 X/0\r\n"
                              "a=rtpmap:99 L16/4294967296\r\n"
                              "a=rtpmap:100 AMR/8000\r\n"
                              "a=rtpmap:100 GSM/8000\r\n"
                              "a=rtpmap:5 PCMU/8000\r\n"
                              "a=fmtp:100\r\n"
                              "a=fmtp:97 minptime=10;useinbandfec=1\r\n"),
                   SIPKIT_EOK);
  const sipkit_sdp_format *f = S.media[0].formats;
  assert_int_equal(f[0].rtpmap_bad, 1);
  assert_int_equal(f[0].has_rtpmap, 0);
  assert_int_equal(f[1].has_rtpmap, 1);
  SPAN_EQ(f[1].encoding, "opus");
  assert_int_equal(f[1].clock_rate, 48000);
  assert_int_equal(f[1].channels, 2);
  SPAN_EQ(f[1].fmtp, "minptime=10;useinbandfec=1");
  assert_int_equal(f[2].rtpmap_bad, 1); /* clock rate 0 */
  assert_int_equal(f[3].rtpmap_bad, 1); /* > 2^32-1 */
  SPAN_EQ(f[4].encoding, "AMR");        /* first wins */
  assert_int_equal(f[4].has_fmtp, 0);   /* "a=fmtp:100" without parameters */
  assert_int_equal(S.media[0].num_attrs, 9);
}

/* ------------------------------------------------------------------ malformed */

static void test_malformed(void **st) {
  (void)st;
  const char *s;
  /* 1-char line "a" */
  s = HEAD "a\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "a\r\n", 1), "attribute-field");
  /* "b10" (no =) */
  s = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nb10\r\nt=0 0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "b10", 1), "bandwidth-field");
  /* b= without ":" bandwidth */
  s = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nb=AS\r\nt=0 0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "b=AS", 4), "bandwidth-field");
  /* empty a= */
  s = HEAD "m=audio 1 RTP/AVP 0\r\na=\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "a=\r", 2), "attribute-field");
  /* last line without line end */
  s = HEAD "a=sendrecv";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, (uint32_t)strlen(s), "attribute-field");
  /* CR-only line ends */
  s = "v=0\ro=- 1 1 IN IP4 192.0.2.1\rs=-\rt=0 0\r";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, 4, "version-field");
  /* unknown line type */
  s = HEAD "x=1\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "x=", 0), "session-description");
  /* out of order: a= before t= */
  s = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\na=x\r\nt=0 0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "a=x", 0), "session-description");
  /* no t= */
  s = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "m=", 0), "session-description");
  /* empty body */
  assert_int_equal(parse(""), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, 0, "session-description");
  /* v=1 */
  s = "v=1\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, 2, "version-field");
  /* o= with a missing field */
  s = "v=0\r\no=- 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "IN IP4", 0), "origin-field");
  /* t= with a 9-digit time */
  s = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=123456789 0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "789 0", 3), "time-field");
  /* port too large / not a number / count 0 */
  s = HEAD "m=audio 99999999999 RTP/AVP 0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "9999", 0), "media-field");
  s = HEAD "m=audio 65536 RTP/AVP 0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "65536", 0), "media-field");
  s = HEAD "m=audio abc RTP/AVP 0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "abc", 0), "media-field");
  s = HEAD "m=audio 1/0 RTP/AVP 0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "/0", 1), "media-field");
  s = HEAD "m=audio 1/-1 RTP/AVP 0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "/-1", 1), "media-field");
  /* payload type out of range on an RTP proto */
  s = HEAD "m=audio 1 RTP/AVP 0 4294967296\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "4294967296", 0), "fmt");
  s = HEAD "m=audio 1 RTP/AVP 128\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "128", 0), "fmt");
  /* m= without a format */
  s = HEAD "m=audio 1 RTP/AVP\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "AVP\r", 3), "media-field");
  /* NUL in an attribute name */
  static const char nul[] = HEAD "m=audio 1 RTP/AVP 101\r\na=fmtp\0:101 0-16\r\n";
  assert_int_equal(parse_n(nul, sizeof nul - 1), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(nul, "a=fmtp", 6), "attribute-field");
  /* bare CR inside a line */
  s = HEAD "a=x\ry\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "\ry", 1), "attribute-field");
  /* space after "=" where a token is required */
  s = HEAD "m= audio 1 RTP/AVP 0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, at(s, "m= ", 2), "media-field");
  /* case-sensitive type letters */
  s = "V=0\r\n";
  assert_int_equal(parse(s), SIPKIT_ESDP);
  ERR(SIPKIT_ESDP, 0, "session-description");
  /* mixed CRLF and LF are both line ends */
  assert_int_equal(parse("v=0\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\nt=0 0\r\n"), SIPKIT_EOK);
  /* arguments */
  assert_int_equal(sipkit_sdp_parse(NULL, "v", 1, &E), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_sdp_parse(&S, NULL, 1, &E), SIPKIT_EARGUMENT);
}

/* ------------------------------------------------------------------ limits */

static char big[200000];

static size_t add(size_t n, const char *s) {
  size_t l = strlen(s);
  memcpy(big + n, s, l);
  return n + l;
}

static void test_limit_media(void **st) {
  (void)st;
  size_t n = add(0, HEAD), at17 = 0;
  for (int i = 0; i < 17; i++) {
    if (i == 16) at17 = n;
    n = add(n, "m=audio 1 RTP/AVP 0\r\n");
    if (i == 15) {
      assert_int_equal(parse_n(big, n), SIPKIT_EOK);
      assert_int_equal(S.num_media, 16);
    }
  }
  assert_int_equal(parse_n(big, n), SIPKIT_ESDP_LIMIT);
  ERR(SIPKIT_ESDP_LIMIT, at17, "media-description");
}

static void test_limit_formats(void **st) {
  (void)st;
  size_t n = add(0, HEAD "m=audio 1 RTP/AVP"), at65 = 0;
  char t[16];
  for (int i = 0; i < 65; i++) {
    snprintf(t, sizeof t, " %d", i);
    if (i == 64) at65 = n + 1;
    n = add(n, t);
  }
  n = add(n, "\r\n");
  assert_int_equal(parse_n(big, n), SIPKIT_ESDP_LIMIT);
  ERR(SIPKIT_ESDP_LIMIT, at65, "fmt");
  /* 64 are fine */
  memcpy(big + at65 - 1, "\r\n", 2);
  assert_int_equal(parse_n(big, at65 + 1), SIPKIT_EOK);
  assert_int_equal(S.media[0].num_formats, 64);
  SPAN_EQ(S.media[0].formats[63].fmt, "63");
}

static void test_limit_attrs(void **st) {
  (void)st;
  size_t n = add(0, HEAD), at33 = 0;
  for (int i = 0; i < 33; i++) {
    if (i == 32) at33 = n;
    n = add(n, "a=x\r\n");
  }
  assert_int_equal(parse_n(big, n), SIPKIT_ESDP_LIMIT);
  ERR(SIPKIT_ESDP_LIMIT, at33, "attribute-field");
  assert_int_equal(parse_n(big, at33), SIPKIT_EOK);
  assert_int_equal(S.num_attrs, 32);
  /* per media: 32 in each of two media are fine */
  n = add(0, HEAD);
  for (int k = 0; k < 2; k++) {
    n = add(n, "m=audio 1 RTP/AVP 0\r\n");
    for (int i = 0; i < 32; i++)
      n = add(n, "a=y\r\n");
  }
  assert_int_equal(parse_n(big, n), SIPKIT_EOK);
  assert_int_equal(S.media[1].num_attrs, 32);
  at33 = n;
  n = add(n, "a=y\r\n");
  assert_int_equal(parse_n(big, n), SIPKIT_ESDP_LIMIT);
  ERR(SIPKIT_ESDP_LIMIT, at33, "attribute-field");
}

static void test_limit_attr_line(void **st) {
  (void)st;
  size_t h = add(0, HEAD "a=x:"), n;
  /* the line "a=x:" + value + CRLF is exactly 4096 bytes */
  memset(big + h, 'v', 4096 - 6);
  n = add(h + 4096 - 6, "\r\n");
  assert_int_equal(parse_n(big, n), SIPKIT_EOK);
  assert_int_equal(S.attrs[0].value.len, 4090);
  memset(big + h, 'v', 4096 - 5);
  n = add(h + 4096 - 5, "\r\n");
  assert_int_equal(parse_n(big, n), SIPKIT_ESDP_LIMIT);
  ERR(SIPKIT_ESDP_LIMIT, (uint32_t)strlen(HEAD), "attribute-field");
  /* 64 KiB a= line */
  memset(big + h, 'v', 65536);
  n = add(h + 65536, "\r\n");
  assert_int_equal(parse_n(big, n), SIPKIT_ESDP_LIMIT);
}

/* ------------------------------------------------------------------ build */

static char out[8192];

static void test_build(void **st) {
  (void)st;
  const sipkit_sdp_codec cd[] = {{0, "PCMU", 8000, 0, NULL},
                                 {97, "opus", 48000, 2, "useinbandfec=1"},
                                 {13, NULL, 0, 0, NULL}};
  const sipkit_sdp_media_desc md[] = {
      {"audio", 5004, "RTP/AVP", cd, 3, NULL, SIPKIT_SDP_SENDONLY},
      {"video", 0, "RTP/AVP", cd, 1, "2001:db8::2", SIPKIT_SDP_DIR_NONE}};
  const sipkit_sdp_desc d = {"carol", 42, 7, "192.0.2.9", "call", md, 2};
  const char *want = "v=0\r\n"
                     "o=carol 42 7 IN IP4 192.0.2.9\r\n"
                     "s=call\r\n"
                     "c=IN IP4 192.0.2.9\r\n"
                     "t=0 0\r\n"
                     "m=audio 5004 RTP/AVP 0 97 13\r\n"
                     "a=rtpmap:0 PCMU/8000\r\n"
                     "a=rtpmap:97 opus/48000/2\r\n"
                     "a=fmtp:97 useinbandfec=1\r\n"
                     "a=sendonly\r\n"
                     "m=video 0 RTP/AVP 0\r\n"
                     "c=IN IP6 2001:db8::2\r\n"
                     "a=rtpmap:0 PCMU/8000\r\n";
  size_t len = 0;
  assert_int_equal(sipkit_sdp_build(&d, out, sizeof out, &len), SIPKIT_EOK);
  assert_int_equal(len, strlen(want));
  assert_memory_equal(out, want, len);
  /* parses back */
  assert_int_equal(parse_n(out, len), SIPKIT_EOK);
  assert_int_equal(S.num_media, 2);
  assert_int_equal(S.media[0].num_formats, 3);
  SPAN_EQ(S.media[0].formats[1].encoding, "opus");
  assert_int_equal(S.media[0].formats[1].channels, 2);
  SPAN_EQ(S.media[0].formats[1].fmtp, "useinbandfec=1");
  assert_int_equal(S.media[0].direction, SIPKIT_SDP_SENDONLY);
  SPAN_EQ(S.media[1].conn.address, "2001:db8::2");
  /* too small: the size needed */
  len = 0;
  assert_int_equal(sipkit_sdp_build(&d, out, 10, &len), SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(len, strlen(want));
  assert_int_equal(sipkit_sdp_build(&d, NULL, 0, &len), SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(len, strlen(want));
  assert_int_equal(sipkit_sdp_build(&d, out, strlen(want), &len), SIPKIT_EOK);
}

static void test_build_invalid(void **st) {
  (void)st;
  sipkit_sdp_codec cd[] = {{0, "PCMU", 8000, 0, NULL}};
  sipkit_sdp_media_desc md = {"audio", 5004, "RTP/AVP", cd, 1, NULL, SIPKIT_SDP_SENDRECV};
  sipkit_sdp_desc d = {NULL, 1, 1, "192.0.2.9", NULL, &md, 1};
  size_t len;
  assert_int_equal(sipkit_sdp_build(&d, out, sizeof out, &len), SIPKIT_EOK);
  d.address = "192.0.2.9\r\na=evil";
  assert_int_equal(sipkit_sdp_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
  d.address = "192.0.2.9";
  d.session_name = "x\r\nm=";
  assert_int_equal(sipkit_sdp_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
  d.session_name = NULL;
  md.media = "au dio";
  assert_int_equal(sipkit_sdp_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
  md.media = "audio";
  md.proto = "RTP//AVP";
  assert_int_equal(sipkit_sdp_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
  md.proto = "RTP/AVP";
  cd[0].pt = 128;
  assert_int_equal(sipkit_sdp_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
  cd[0].pt = 0;
  cd[0].clock_rate = 0;
  assert_int_equal(sipkit_sdp_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
  cd[0].clock_rate = 8000;
  cd[0].fmtp = "a\nb";
  assert_int_equal(sipkit_sdp_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
  cd[0].fmtp = NULL;
  md.port = 65536;
  assert_int_equal(sipkit_sdp_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
  md.port = 1;
  md.num_codecs = 0;
  assert_int_equal(sipkit_sdp_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
  md.num_codecs = 1;
  md.direction = 9;
  assert_int_equal(sipkit_sdp_build(&d, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
  md.direction = SIPKIT_SDP_DIR_NONE;
  d.num_media = SIPKIT_SDP_MAX_MEDIA + 1;
  assert_int_equal(sipkit_sdp_build(&d, out, sizeof out, &len), SIPKIT_EARGUMENT);
}

/* ------------------------------------------------------------------ offer/answer */

static const sipkit_sdp_audio BOB = {"bob", 100, 1, "192.0.2.4", 3456,
                                     SIPKIT_SDP_PCMU | SIPKIT_SDP_PCMA | SIPKIT_SDP_TELEPHONE_EVENT,
                                     0, 0};

#define BOB_HEAD "v=0\r\no=bob 100 1 IN IP4 192.0.2.4\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\n"

static void expect_out(const char *want, size_t len) {
  assert_int_equal(len, strlen(want));
  assert_memory_equal(out, want, len);
}

/* answer to the offer s from BOB-like a; the answer must parse */
static void answer(const char *offer, const sipkit_sdp_audio *a, const char *want) {
  size_t len = 0;
  static char ob[4096];
  static sipkit_sdp O;
  size_t ol = strlen(offer);
  memcpy(ob, offer, ol);
  assert_int_equal(sipkit_sdp_parse(&O, ob, ol, &E), SIPKIT_EOK);
  assert_int_equal(sipkit_sdp_answer(&O, ob, a, out, sizeof out, &len), SIPKIT_EOK);
  expect_out(want, len);
  assert_int_equal(parse_n(out, len), SIPKIT_EOK);
  assert_int_equal(S.num_media, O.num_media);
  /* too small */
  assert_int_equal(sipkit_sdp_answer(&O, ob, a, out, len - 1, &ol), SIPKIT_EBUFFER_TOO_SMALL);
  assert_int_equal(ol, len);
}

static void test_offer(void **st) {
  (void)st;
  sipkit_sdp_audio a = {NULL, 2890844526u, 2890844526u, "192.0.2.101", 49170,
                        SIPKIT_SDP_PCMU | SIPKIT_SDP_PCMA | SIPKIT_SDP_TELEPHONE_EVENT, 0, 0};
  size_t len;
  assert_int_equal(sipkit_sdp_offer(&a, out, sizeof out, &len), SIPKIT_EOK);
  expect_out("v=0\r\n"
             "o=- 2890844526 2890844526 IN IP4 192.0.2.101\r\n"
             "s=-\r\n"
             "c=IN IP4 192.0.2.101\r\n"
             "t=0 0\r\n"
             "m=audio 49170 RTP/AVP 0 8 101\r\n"
             "a=rtpmap:0 PCMU/8000\r\n"
             "a=rtpmap:8 PCMA/8000\r\n"
             "a=rtpmap:101 telephone-event/8000\r\n"
             "a=fmtp:101 0-16\r\n"
             "a=sendrecv\r\n",
             len);
  assert_int_equal(parse_n(out, len), SIPKIT_EOK);
  assert_int_equal(S.media[0].num_formats, 3);
  /* hold offer: sendonly, PCMA only, event pt 96, IPv6 */
  a.hold = 1;
  a.codecs = SIPKIT_SDP_PCMA | SIPKIT_SDP_TELEPHONE_EVENT;
  a.event_pt = 96;
  a.address = "2001:db8::5";
  a.sess_version++;
  assert_int_equal(sipkit_sdp_offer(&a, out, sizeof out, &len), SIPKIT_EOK);
  expect_out("v=0\r\n"
             "o=- 2890844526 2890844527 IN IP6 2001:db8::5\r\n"
             "s=-\r\n"
             "c=IN IP6 2001:db8::5\r\n"
             "t=0 0\r\n"
             "m=audio 49170 RTP/AVP 8 96\r\n"
             "a=rtpmap:8 PCMA/8000\r\n"
             "a=rtpmap:96 telephone-event/8000\r\n"
             "a=fmtp:96 0-16\r\n"
             "a=sendonly\r\n",
             len);
  assert_int_equal(parse_n(out, len), SIPKIT_EOK);
  assert_int_equal(sipkit_sdp_is_hold(&S, B, 0), 1);
  /* no audio codec */
  a.codecs = SIPKIT_SDP_TELEPHONE_EVENT;
  assert_int_equal(sipkit_sdp_offer(&a, out, sizeof out, &len), SIPKIT_EINVALID_VALUE);
}

static void test_answer_corpus(void **st) {
  (void)st;
  /* the corpus INVITE's offer: G722 dropped, order and numbers kept */
  const char *offer = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\n"
                      "c=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 9 101\r\n"
                      "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\n"
                      "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
                      "a=sendrecv\r\n";
  answer(offer, &BOB,
         BOB_HEAD "m=audio 3456 RTP/AVP 0 8 101\r\n"
                  "a=rtpmap:0 PCMU/8000\r\n"
                  "a=rtpmap:8 PCMA/8000\r\n"
                  "a=rtpmap:101 telephone-event/8000\r\n"
                  "a=fmtp:101 0-16\r\n"
                  "a=sendrecv\r\n");
  /* PCMU only, no events */
  sipkit_sdp_audio a = BOB;
  a.codecs = SIPKIT_SDP_PCMU;
  answer(offer, &a,
         BOB_HEAD "m=audio 3456 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n");
}

static void test_answer_directions(void **st) {
  (void)st;
  sipkit_sdp_audio a = BOB;
  a.codecs = SIPKIT_SDP_PCMA;
#define OFF(extra) HEAD "m=audio 4000 RTP/AVP 8\r\n" extra
#define ANS(dir) BOB_HEAD "m=audio 3456 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=" dir "\r\n"
  answer(OFF(""), &a, ANS("sendrecv"));
  answer(OFF("a=sendonly\r\n"), &a, ANS("recvonly"));
  answer(OFF("a=recvonly\r\n"), &a, ANS("sendonly"));
  answer(OFF("a=inactive\r\n"), &a, ANS("inactive"));
  /* session-level direction */
  answer("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\na=sendonly\r\n"
         "m=audio 4000 RTP/AVP 8\r\n",
         &a, ANS("recvonly"));
  /* RFC 2543 hold: c=0.0.0.0 */
  answer("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
         "m=audio 4000 RTP/AVP 8\r\n",
         &a, ANS("recvonly"));
  /* we hold */
  a.hold = 1;
  answer(OFF(""), &a, ANS("sendonly"));
  answer(OFF("a=recvonly\r\n"), &a, ANS("sendonly")); /* we never received */
  answer(OFF("a=sendonly\r\n"), &a, ANS("inactive")); /* recvonly, minus receiving */
#undef OFF
#undef ANS
}

static void test_answer_reject(void **st) {
  (void)st;
  /* video first, then audio with 0 and 12, then audio with port 0, then G722 only */
  answer(HEAD "m=video 3227 RTP/AVP 31 34\r\n"
              "m=audio 49217 RTP/AVP 12 0\r\n"
              "m=audio 0 RTP/AVP 0\r\n"
              "m=audio 5000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n"
              "m=audio 5002 RTP/SAVP 0\r\n"
              "m=image 6000 udptl t38\r\n",
         &BOB,
         BOB_HEAD "m=video 0 RTP/AVP 31 34\r\n"
                  "m=audio 3456 RTP/AVP 0\r\n"
                  "a=rtpmap:0 PCMU/8000\r\n"
                  "a=sendrecv\r\n"
                  "m=audio 0 RTP/AVP 0\r\n"
                  "m=audio 0 RTP/AVP 9\r\n"
                  "m=audio 0 RTP/SAVP 0\r\n"
                  "m=image 0 udptl t38\r\n");
  /* dynamic numbers and rtpmap names: PCMU as 96 is recognised by name; events
   * alone are not enough; the offer's event fmtp is kept */
  answer(HEAD "m=audio 4000 RTP/AVP 96 100\r\n"
              "a=rtpmap:96 pcmu/8000\r\n"
              "a=rtpmap:100 telephone-event/8000\r\n"
              "a=fmtp:100 0-15\r\n",
         &BOB,
         BOB_HEAD "m=audio 3456 RTP/AVP 96 100\r\n"
                  "a=rtpmap:96 PCMU/8000\r\n"
                  "a=rtpmap:100 telephone-event/8000\r\n"
                  "a=fmtp:100 0-15\r\n"
                  "a=sendrecv\r\n");
  answer(HEAD "m=audio 4000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n", &BOB,
         BOB_HEAD "m=audio 0 RTP/AVP 101\r\n");
  /* 0 mapped to another codec by rtpmap is not PCMU */
  answer(HEAD "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/16000\r\n", &BOB,
         BOB_HEAD "m=audio 0 RTP/AVP 0\r\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_corpus_invite),    cmocka_unit_test(test_corpus_200),
      cmocka_unit_test(test_rfc4475_sdp01),    cmocka_unit_test(test_rfc5118_ipv6),
      cmocka_unit_test(test_rfc5118_mult_ip),  cmocka_unit_test(test_all_lines),
      cmocka_unit_test(test_rtpmap_forms),     cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_limit_media),      cmocka_unit_test(test_limit_formats),
      cmocka_unit_test(test_limit_attrs),      cmocka_unit_test(test_limit_attr_line),
      cmocka_unit_test(test_build),            cmocka_unit_test(test_build_invalid),
      cmocka_unit_test(test_offer),            cmocka_unit_test(test_answer_corpus),
      cmocka_unit_test(test_answer_directions), cmocka_unit_test(test_answer_reject),
  };
  int r = cmocka_run_group_tests(tests, NULL, NULL);
  free(B);
  return r;
}
