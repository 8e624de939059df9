/* test_capture.c - text trace, frames, pcap round trips over every link
 * type the reader knows, event log and the trace-hook adapter
 * (sipkit_capture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sipkit_capture.h"

static const char invite[] = "INVITE sip:bob@127.0.0.1:5070 SIP/2.0\r\n"
                             "Call-ID: x\x01y\r\n"
                             "\r\n";

static sipkit_dgram mk(int dir, const char *local, const char *remote, const char *bytes,
                       uint64_t t) {
  sipkit_dgram d;
  memset(&d, 0, sizeof d);
  d.dir = dir;
  d.time_us = t;
  assert_int_equal(sipkit_addr_parse(&d.local, local), SIPKIT_EOK);
  assert_int_equal(sipkit_addr_parse(&d.remote, remote), SIPKIT_EOK);
  d.bytes = bytes;
  d.len = strlen(bytes);
  return d;
}

static char *tmp_path(const char *name) {
  static char buf[256];
  snprintf(buf, sizeof buf, "%s/sipkit-test-capture-%ld-%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
           (long)getpid(), name);
  return buf;
}

static void test_addr(void **state) {
  struct sockaddr_storage ss;
  char buf[SIPKIT_ADDR_STRLEN];
  (void)state;
  assert_int_equal(sipkit_addr_parse(&ss, "192.0.2.1:5060"), SIPKIT_EOK);
  sipkit_addr_format((struct sockaddr *)&ss, buf, sizeof buf);
  assert_string_equal(buf, "192.0.2.1:5060");
  assert_int_equal(sipkit_addr_parse(&ss, "[2001:db8::1]:65535"), SIPKIT_EOK);
  sipkit_addr_format((struct sockaddr *)&ss, buf, sizeof buf);
  assert_string_equal(buf, "[2001:db8::1]:65535");
  assert_int_equal(sipkit_addr_parse(&ss, "192.0.2.1:65536"), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_addr_parse(&ss, "192.0.2.1"), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_addr_parse(&ss, "[::1:5060"), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_addr_parse(&ss, "host:5060"), SIPKIT_EARGUMENT);
  memset(&ss, 0, sizeof ss);
  sipkit_addr_format((struct sockaddr *)&ss, buf, sizeof buf);
  assert_string_equal(buf, "?");
}

static void test_is_sip(void **state) {
  (void)state;
  assert_true(sipkit_dgram_is_sip(invite, strlen(invite)));
  assert_true(sipkit_dgram_is_sip("SIP/2.0 200 OK\r\n", 16));
  assert_false(sipkit_dgram_is_sip("SIP/2.0 20 OK\r\n", 15));
  assert_false(sipkit_dgram_is_sip("\x80\x00hello", 7));
  assert_false(sipkit_dgram_is_sip("\r\n\r\n", 4));
  assert_false(sipkit_dgram_is_sip("GET / HTTP/1.1\r\n", 16));
}

/* Exact text of one trace block: header, LF line ends, control bytes
 * escaped, a blank line after. */
static void test_trace_exact(void **state) {
  sipkit_dgram d = mk(SIPKIT_DGRAM_RECEIVED, "127.0.0.1:5060", "[2001:db8::2]:5070", invite,
                      1714557600123456ull);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  (void)state;
  assert_non_null(f);
  assert_int_equal(sipkit_trace_write(f, &d), 0);
  d.dir = SIPKIT_DGRAM_DROPPED_SEND;
  d.bytes = "x";
  d.len = 1;
  d.time_us = 0;
  assert_int_equal(sipkit_trace_write(f, &d), 0);
  fclose(f);
  assert_string_equal(text,
                      "----------------------------------------------- 2024-05-01 10:00:00.123456 UTC\n"
                      "UDP message received (55 bytes) [2001:db8::2]:5070 -> 127.0.0.1:5060\n"
                      "\n"
                      "INVITE sip:bob@127.0.0.1:5070 SIP/2.0\n"
                      "Call-ID: x\\x01y\n"
                      "\n"
                      "\n"
                      "----------------------------------------------- 1970-01-01 00:00:00.000000 UTC\n"
                      "UDP message dropped before sending (1 bytes) 127.0.0.1:5060 -> [2001:db8::2]:5070\n"
                      "\n"
                      "x\n"
                      "\n");
  free(text);
}

/* RFC 1071 example bytes, and a real IPv4 header (checksum 0xb861). */
static void test_checksum(void **state) {
  static const uint8_t rfc[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  static const uint8_t hdr[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  (void)state;
  assert_int_equal(sipkit_inet_checksum(rfc, sizeof rfc), (uint16_t)~0xddf2);
  assert_int_equal(sipkit_inet_checksum(hdr, sizeof hdr), 0xb861);
}

static void test_frame_ipv4(void **state) {
  uint8_t f[SIPKIT_FRAME_MAX];
  sipkit_dgram d = mk(SIPKIT_DGRAM_SENT, "192.0.2.1:5060", "198.51.100.7:5070", "hello", 0);
  size_t n = sipkit_frame_build(f, sizeof f, &d, 0x1234);
  (void)state;
  assert_int_equal(n, 14 + 20 + 8 + 5);
  assert_memory_equal(f, SIPKIT_PCAP_REMOTE_MAC SIPKIT_PCAP_LOCAL_MAC "\x08\x00", 14);
  assert_memory_equal(f + 14, "\x45\x00\x00\x21\x12\x34\x40\x00\x40\x11", 10);
  assert_memory_equal(f + 26, "\xc0\x00\x02\x01\xc6\x33\x64\x07", 8);
  assert_int_equal(sipkit_inet_checksum(f + 14, 20), 0); /* header checksum verifies */
  assert_memory_equal(f + 34, "\x13\xc4\x13\xce\x00\x0d", 6);
  assert_memory_equal(f + 42, "hello", 5);
  /* too small a buffer, mixed families, no addresses */
  assert_int_equal(sipkit_frame_build(f, n - 1, &d, 0), 0);
  assert_int_equal(sipkit_addr_parse(&d.remote, "[::1]:5"), SIPKIT_EOK);
  assert_int_equal(sipkit_frame_build(f, sizeof f, &d, 0), 0);
  memset(&d.local, 0, sizeof d.local);
  memset(&d.remote, 0, sizeof d.remote);
  assert_int_equal(sipkit_frame_build(f, sizeof f, &d, 0), 0);
}

static void same_dgram(const sipkit_dgram *a, const sipkit_dgram *b) {
  char x[SIPKIT_ADDR_STRLEN], y[SIPKIT_ADDR_STRLEN];
  assert_int_equal(a->dir, b->dir);
  assert_true(a->time_us == b->time_us);
  sipkit_addr_format((const struct sockaddr *)&a->local, x, sizeof x);
  sipkit_addr_format((const struct sockaddr *)&b->local, y, sizeof y);
  assert_string_equal(x, y);
  sipkit_addr_format((const struct sockaddr *)&a->remote, x, sizeof x);
  sipkit_addr_format((const struct sockaddr *)&b->remote, y, sizeof y);
  assert_string_equal(x, y);
  assert_int_equal(a->len, b->len);
  assert_memory_equal(a->bytes, b->bytes, a->len);
}

/* Write sent, received (IPv4, IPv6) and dropped events; read back the
 * same directions, addresses, ports, times and bytes. */
static void test_pcap_roundtrip(void **state) {
  const char *path = tmp_path("rt.pcap");
  sipkit_dgram ev[4];
  sipkit_capture *cap;
  sipkit_pcap_reader *rd;
  sipkit_pcap_stats st;
  sipkit_dgram d;
  char err[256];
  int i;
  (void)state;
  ev[0] = mk(SIPKIT_DGRAM_SENT, "127.0.0.1:15060", "127.0.0.2:15070", invite, 1714557600000001ull);
  ev[1] = mk(SIPKIT_DGRAM_RECEIVED, "[2001:db8::1]:5062", "[2001:db8::2]:5072", "SIP/2.0 200 OK\r\n\r\n",
             1714557600500000ull);
  ev[2] = mk(SIPKIT_DGRAM_DROPPED_SEND, "127.0.0.1:1", "127.0.0.1:2", "lost", 1714557601000000ull);
  ev[3] = mk(SIPKIT_DGRAM_DROPPED_RECV, "127.0.0.1:1", "127.0.0.1:2", "", 1714557602000000ull);
  assert_int_equal(sipkit_capture_open_pcap(&cap, path, err, sizeof err), SIPKIT_EOK);
  for (i = 0; i < 4; i++)
    assert_int_equal(sipkit_capture_write(cap, &ev[i]), SIPKIT_EOK);
  assert_int_equal(sipkit_capture_close(cap), SIPKIT_EOK);

  assert_int_equal(sipkit_pcap_open_read(&rd, path, err, sizeof err), SIPKIT_EOK);
  assert_int_equal(sipkit_pcap_next(rd, &d, err, sizeof err), 1);
  same_dgram(&ev[0], &d);
  assert_int_equal(sipkit_pcap_next(rd, &d, err, sizeof err), 1);
  same_dgram(&ev[1], &d);
  /* the dropped send was never on the wire; the dropped receive was */
  assert_int_equal(sipkit_pcap_next(rd, &d, err, sizeof err), 1);
  ev[3].dir = SIPKIT_DGRAM_RECEIVED;
  same_dgram(&ev[3], &d);
  assert_int_equal(sipkit_pcap_next(rd, &d, err, sizeof err), 0);
  sipkit_pcap_get_stats(rd, &st);
  assert_true(st.packets == 3 && st.udp == 3 && st.not_udp == 0);
  sipkit_pcap_close_read(rd);
  unlink(path);

  assert_int_equal(sipkit_capture_open_pcap(&cap, "/nonexistent/dir/x.pcap", err, sizeof err),
                   SIPKIT_EIO);
  assert_null(cap);
  assert_non_null(strstr(err, "No such file or directory"));
  assert_int_equal(sipkit_pcap_open_read(&rd, "/nonexistent.pcap", err, sizeof err), SIPKIT_EIO);
  assert_non_null(strstr(err, "No such file or directory"));
}

/* A frame of ours rewritten for another link type. */
static size_t relink(int dlt, const uint8_t *eth, size_t n, uint8_t *out) {
  int v6 = eth[12] == 0x86;
  size_t h = 0;
  switch (dlt) {
  case DLT_LINUX_SLL:
    memcpy(out, "\x00\x00\x00\x01\x00\x06\x02\x00\x00\x00\x00\x01\x00\x00", 14);
    memcpy(out + 14, eth + 12, 2);
    h = 16;
    break;
  case DLT_LINUX_SLL2:
    memset(out, 0, 20);
    memcpy(out, eth + 12, 2);
    h = 20;
    break;
  case DLT_NULL: {
    uint32_t af = v6 ? 10 : 2;
    memcpy(out, &af, 4);
    h = 4;
    break;
  }
  case DLT_LOOP:
    memcpy(out, v6 ? "\x00\x00\x00\x1e" : "\x00\x00\x00\x02", 4);
    h = 4;
    break;
  case DLT_EN10MB: /* with an 802.1Q tag and other MACs */
    memcpy(out, "\x00\x11\x22\x33\x44\x55\x00\x11\x22\x33\x44\x66\x81\x00\x00\x05", 16);
    memcpy(out + 16, eth + 12, 2);
    memcpy(out + 18, eth + 14, n - 14);
    return n + 4;
  default: /* DLT_RAW */
    break;
  }
  memcpy(out + h, eth + 14, n - 14);
  return h + n - 14;
}

static void test_link_types(void **state) {
  static const int dlts[] = {DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, DLT_RAW, DLT_EN10MB};
  const char *path = tmp_path("lt.pcap");
  uint8_t eth[SIPKIT_FRAME_MAX], out[SIPKIT_FRAME_MAX + 8];
  sipkit_dgram ev[2], d;
  char err[256];
  size_t k;
  (void)state;
  ev[0] = mk(SIPKIT_DGRAM_WIRE, "10.0.0.1:5060", "10.0.0.2:5080", invite, 1000001);
  ev[1] = mk(SIPKIT_DGRAM_WIRE, "[fe80::1]:5060", "[fe80::2]:5080", "SIP/2.0 100 Trying\r\n\r\n", 2000002);
  for (k = 0; k < sizeof dlts / sizeof dlts[0]; k++) {
    pcap_t *p = pcap_open_dead(dlts[k], 65535);
    pcap_dumper_t *dp = pcap_dump_open(p, path);
    sipkit_pcap_reader *rd;
    sipkit_pcap_stats st;
    struct pcap_pkthdr h;
    size_t i, n;
    assert_non_null(dp);
    for (i = 0; i < 2; i++) {
      n = sipkit_frame_build(eth, sizeof eth, &ev[i], 7);
      assert_true(n > 0);
      n = relink(dlts[k], eth, n, out);
      memset(&h, 0, sizeof h);
      h.ts.tv_sec = (time_t)(ev[i].time_us / 1000000);
      h.ts.tv_usec = (suseconds_t)(ev[i].time_us % 1000000);
      h.caplen = h.len = (bpf_u_int32)n;
      pcap_dump((u_char *)dp, &h, out);
      if (i == 0) { /* the same as a TCP segment, and as an IPv4 fragment */
        size_t ip = n - (14 + 20 + 8 + ev[0].len) + 14;
        uint8_t save = out[ip + 9];
        out[ip + 9] = 6;
        pcap_dump((u_char *)dp, &h, out);
        out[ip + 9] = save;
        out[ip + 6] |= 0x20; /* MF */
        pcap_dump((u_char *)dp, &h, out);
        out[ip + 6] &= (uint8_t)~0x20;
        h.caplen = 20; /* cut by a snap length */
        pcap_dump((u_char *)dp, &h, out);
      }
    }
    pcap_dump_close(dp);
    pcap_close(p);
    assert_int_equal(sipkit_pcap_open_read(&rd, path, err, sizeof err), SIPKIT_EOK);
    for (i = 0; i < 2; i++) {
      assert_int_equal(sipkit_pcap_next(rd, &d, err, sizeof err), 1);
      same_dgram(&ev[i], &d);
    }
    assert_int_equal(sipkit_pcap_next(rd, &d, err, sizeof err), 0);
    sipkit_pcap_get_stats(rd, &st);
    assert_true(st.packets == 5 && st.udp == 2 && st.not_udp == 1 && st.fragments == 1 &&
                st.truncated == 1);
    sipkit_pcap_close_read(rd);
  }
  /* an unsupported link type is refused with its name */
  {
    pcap_t *p = pcap_open_dead(DLT_IEEE802_11, 65535);
    pcap_dumper_t *dp = pcap_dump_open(p, path);
    sipkit_pcap_reader *rd;
    pcap_dump_close(dp);
    pcap_close(p);
    assert_int_equal(sipkit_pcap_open_read(&rd, path, err, sizeof err), SIPKIT_EIO);
    assert_string_equal(err, "unsupported link type 105 (IEEE802_11)");
  }
  unlink(path);
}

static void test_evlog_and_tap(void **state) {
  sipkit_evlog log;
  sipkit_tap tap;
  sipkit_capture *trace;
  struct sockaddr_storage l, r;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  char buf[8] = "abc";
  (void)state;
  sipkit_evlog_init(&log);
  log.max_events = 2;
  sipkit_tap_init(&tap);
  tap.log = &log;
  assert_int_equal(sipkit_capture_open_trace(&trace, f), SIPKIT_EOK);
  tap.trace = trace;
  sipkit_addr_parse(&l, "127.0.0.1:1");
  sipkit_addr_parse(&r, "127.0.0.1:2");
  /* a wall-clock time is kept as is */
  sipkit_tap_trace(&tap, 0, 1714557600000000ull, (struct sockaddr *)&l, (struct sockaddr *)&r, buf, 3);
  buf[0] = 'X'; /* the log holds a copy */
  sipkit_tap_trace(&tap, 1, 1714557600000500ull, (struct sockaddr *)&l, (struct sockaddr *)&r, buf, 3);
  sipkit_tap_trace(&tap, 1, 1714557600000600ull, (struct sockaddr *)&l, NULL, buf, 3);
  assert_int_equal(log.count, 2);
  assert_true(log.lost == 1 && tap.errors == 1);
  assert_memory_equal(log.ev[0].bytes, "abc", 3);
  assert_memory_equal(log.ev[1].bytes, "Xbc", 3);
  assert_int_equal(log.ev[1].dir, SIPKIT_DGRAM_RECEIVED);
  assert_true(log.ev[1].time_us == 1714557600000500ull);
  assert_int_equal(sipkit_capture_close(trace), SIPKIT_EOK);
  fclose(f);
  assert_non_null(strstr(text, "UDP message received (3 bytes) ? -> 127.0.0.1:1\n"));
  free(text);
  sipkit_evlog_free(&log);

  /* a monotonic time is moved onto the wall clock, differences kept */
  sipkit_evlog_init(&log);
  sipkit_tap_init(&tap);
  tap.log = &log;
  sipkit_tap_trace(&tap, 0, 5000000, (struct sockaddr *)&l, (struct sockaddr *)&r, buf, 3);
  sipkit_tap_trace(&tap, 0, 5250000, (struct sockaddr *)&l, (struct sockaddr *)&r, buf, 3);
  assert_true(log.ev[0].time_us > 1600000000000000ull);
  assert_true(log.ev[1].time_us - log.ev[0].time_us == 250000);
  sipkit_evlog_free(&log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_addr),          cmocka_unit_test(test_is_sip),
      cmocka_unit_test(test_trace_exact),   cmocka_unit_test(test_checksum),
      cmocka_unit_test(test_frame_ipv4),    cmocka_unit_test(test_pcap_roundtrip),
      cmocka_unit_test(test_link_types),    cmocka_unit_test(test_evlog_and_tap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
