/* capgen.c - writes known calls through sipkit's capture writers, for the
 * tshark and Chromium checks in tests/capture/run.sh.
 *
 *   capgen OUT.pcap [TRACE.txt]
 *
 * Four calls with fixed times (2024-05-01 10:00:00 UTC onwards), on ports
 * other than 5060 so that tshark decodes them with its heuristic SIP
 * dissector, as a user's plain `tshark -r OUT.pcap` does:
 *   1. IPv4 127.0.0.1:15060 -> 127.0.0.1:15070: INVITE 100 180 200 ACK BYE 200
 *   2. IPv6 [::1]:15062 -> [::1]:15072: the same
 *   3. IPv4: INVITE 100 486 ACK, with "<script>" and "</pre>" in a header
 *      (the HTML view must show it as text)
 *   4. IPv4: INVITE 180 CANCEL 200 487 ACK
 * 24 datagrams in all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipkit_capture.h"

static sipkit_capture *pcap_out, *trace_out;
static uint64_t now_us = 1714557600000000ull; /* 2024-05-01 10:00:00 UTC */

typedef struct side {
  const char *a, *b;     /* "ip:port" of caller and callee */
  const char *host_a;    /* for Via/Contact */
  const char *call_id;
} side;

static void emit(const side *s, int from_a, const char *text) {
  sipkit_dgram d;
  memset(&d, 0, sizeof d);
  d.time_us = now_us;
  d.dir = from_a ? SIPKIT_DGRAM_SENT : SIPKIT_DGRAM_RECEIVED; /* the caller is local */
  if (sipkit_addr_parse(&d.local, s->a) != SIPKIT_EOK ||
      sipkit_addr_parse(&d.remote, s->b) != SIPKIT_EOK) {
    fprintf(stderr, "capgen: bad address\n");
    exit(2);
  }
  d.bytes = text;
  d.len = strlen(text);
  if (sipkit_capture_write(pcap_out, &d) != SIPKIT_EOK ||
      (trace_out != NULL && sipkit_capture_write(trace_out, &d) != SIPKIT_EOK)) {
    fprintf(stderr, "capgen: write failed\n");
    exit(2);
  }
  now_us += 1500; /* 1.5 ms between datagrams */
}

/* A request or response of the call with an optional body. */
static void msg(const side *s, int from_a, const char *start, const char *method, int cseq,
                const char *to_tag, const char *extra) {
  static char buf[4096];
  const char *sdp = strcmp(method, "INVITE") == 0 && (start[0] != 'S' || strstr(start, " 200 "))
                        ? "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                          "t=0 0\r\nm=audio 16000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                        : "";
  int n = snprintf(buf, sizeof buf,
                   "%s\r\n"
                   "Via: SIP/2.0/UDP %s;branch=z9hG4bK-%.*s-%d%s\r\n"
                   "Max-Forwards: 70\r\n"
                   "From: \"Alice\" <sip:alice@%s>;tag=a1\r\n"
                   "To: <sip:bob@%s>%s%s\r\n"
                   "Call-ID: %s\r\n"
                   "CSeq: %d %s\r\n"
                   "Contact: <sip:alice@%s>\r\n"
                   "%s"
                   "%s"
                   "Content-Length: %zu\r\n"
                   "\r\n%s",
                   start, s->a, (int)strcspn(s->call_id, "@"), s->call_id, cseq, strcmp(method, "ACK") == 0 ? "a" : "",
                   s->host_a, s->b, to_tag ? ";tag=" : "", to_tag ? to_tag : "", s->call_id, cseq,
                   method, s->a, extra ? extra : "", sdp[0] ? "Content-Type: application/sdp\r\n" : "",
                   strlen(sdp), sdp);
  if (n <= 0 || (size_t)n >= sizeof buf)
    exit(2);
  emit(s, from_a, buf);
}

static void good_call(const side *s, const char *ruri) {
  char rl[256], ack[256], bye[256];
  snprintf(rl, sizeof rl, "INVITE %s SIP/2.0", ruri);
  snprintf(ack, sizeof ack, "ACK %s SIP/2.0", ruri);
  snprintf(bye, sizeof bye, "BYE %s SIP/2.0", ruri);
  msg(s, 1, rl, "INVITE", 1, NULL, NULL);
  msg(s, 0, "SIP/2.0 100 Trying", "INVITE", 1, NULL, NULL);
  msg(s, 0, "SIP/2.0 180 Ringing", "INVITE", 1, "b2", NULL);
  msg(s, 0, "SIP/2.0 200 OK", "INVITE", 1, "b2", NULL);
  msg(s, 1, ack, "ACK", 1, "b2", NULL);
  now_us += 2000000; /* talk for 2 s */
  msg(s, 1, bye, "BYE", 2, "b2", NULL);
  msg(s, 0, "SIP/2.0 200 OK", "BYE", 2, "b2", NULL);
}

int main(int argc, char **argv) {
  char err[256];
  FILE *tf = NULL;
  side v4 = {"127.0.0.1:15060", "127.0.0.1:15070", "127.0.0.1", "call-v4@capgen"};
  side v6 = {"[::1]:15062", "[::1]:15072", "[::1]", "call-v6@capgen"};
  side busy = {"127.0.0.1:15064", "127.0.0.1:15074", "127.0.0.1", "call-busy@capgen"};
  side cxl = {"127.0.0.1:15066", "127.0.0.1:15076", "127.0.0.1", "call-cancel@capgen"};

  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: capgen OUT.pcap [TRACE.txt]\n");
    return 2;
  }
  if (sipkit_capture_open_pcap(&pcap_out, argv[1], err, sizeof err) != SIPKIT_EOK) {
    fprintf(stderr, "capgen: %s\n", err);
    return 2;
  }
  if (argc == 3) {
    tf = fopen(argv[2], "w");
    if (tf == NULL || sipkit_capture_open_trace(&trace_out, tf) != SIPKIT_EOK)
      return 2;
  }
  good_call(&v4, "sip:bob@127.0.0.1:15070");
  good_call(&v6, "sip:bob@[::1]:15072");

  msg(&busy, 1, "INVITE sip:bob@127.0.0.1:15074 SIP/2.0", "INVITE", 1, NULL,
      "Subject: <script>document.title='pwned'</script></pre><img src=x onerror=alert(1)>\r\n");
  msg(&busy, 0, "SIP/2.0 100 Trying", "INVITE", 1, NULL, NULL);
  msg(&busy, 0, "SIP/2.0 486 Busy Here", "INVITE", 1, "b3", NULL);
  msg(&busy, 1, "ACK sip:bob@127.0.0.1:15074 SIP/2.0", "ACK", 1, "b3", NULL);

  msg(&cxl, 1, "INVITE sip:bob@127.0.0.1:15076 SIP/2.0", "INVITE", 1, NULL, NULL);
  msg(&cxl, 0, "SIP/2.0 180 Ringing", "INVITE", 1, "b4", NULL);
  msg(&cxl, 1, "CANCEL sip:bob@127.0.0.1:15076 SIP/2.0", "CANCEL", 1, NULL, NULL);
  msg(&cxl, 0, "SIP/2.0 200 OK", "CANCEL", 1, "b4", NULL);
  msg(&cxl, 0, "SIP/2.0 487 Request Terminated", "INVITE", 1, "b4", NULL);
  msg(&cxl, 1, "ACK sip:bob@127.0.0.1:15076 SIP/2.0", "ACK", 1, "b4", NULL);

  if (sipkit_capture_close(pcap_out) != SIPKIT_EOK || sipkit_capture_close(trace_out) != SIPKIT_EOK)
    return 2;
  if (tf != NULL && fclose(tf) != 0)
    return 2;
  return 0;
}
