/* test_ladder.c - terminal and HTML ladder diagrams (sipkit_ladder.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipkit_ladder.h"

#define T0 1714557600000000ull

static char texts[16][1024];

/* A minimal valid message of call cid: request (status 0) or response. */
static const char *sip(int i, const char *start, const char *cid, int cseq, const char *method,
                       const char *extra) {
  snprintf(texts[i], sizeof texts[i],
           "%s\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK%d\r\nMax-Forwards: 70\r\n"
           "From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: %s\r\nCSeq: %d %s\r\n%sContent-Length: 0\r\n\r\n",
           start, cseq, cid, cseq, method, extra ? extra : "");
  return texts[i];
}

static sipkit_dgram ev(int dir, const char *local, const char *remote, const char *bytes,
                       uint64_t dt_us) {
  sipkit_dgram d;
  memset(&d, 0, sizeof d);
  d.dir = dir;
  d.time_us = T0 + dt_us;
  sipkit_addr_parse(&d.local, local);
  sipkit_addr_parse(&d.remote, remote);
  d.bytes = bytes;
  d.len = strlen(bytes);
  return d;
}

static size_t basic_call(sipkit_dgram *e) {
  const char *a = "10.0.0.1:5060", *b = "10.0.0.2:5060";
  e[0] = ev(0, a, b, sip(0, "INVITE sip:bob@10.0.0.2 SIP/2.0", "c1", 1, "INVITE", NULL), 0);
  e[1] = ev(1, a, b, sip(1, "SIP/2.0 100 Trying", "c1", 1, "INVITE", NULL), 1000);
  e[2] = ev(1, a, b, sip(2, "SIP/2.0 180 Ringing", "c1", 1, "INVITE", NULL), 21000);
  e[3] = ev(1, a, b, sip(3, "SIP/2.0 200 OK", "c1", 1, "INVITE", NULL), 1500000);
  e[4] = ev(0, a, b, sip(4, "ACK sip:bob@10.0.0.2 SIP/2.0", "c1", 1, "ACK", NULL), 1501000);
  e[5] = ev(0, a, b, "\r\n\r\n", 2000000); /* keep-alive: not drawn */
  e[6] = ev(1, a, b, sip(5, "BYE sip:alice@10.0.0.1 SIP/2.0", "c1", 2, "BYE", NULL), 12250400);
  e[7] = ev(0, a, b, sip(6, "SIP/2.0 200 OK", "c1", 2, "BYE", NULL), 12251000);
  return 8;
}

static char *render(const sipkit_dgram *e, size_t n, int color, int html) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  sipkit_ladder_opts o = {80, color};
  assert_non_null(f);
  if (html)
    assert_int_equal(sipkit_ladder_html(f, e, n, "t <b>"), SIPKIT_EOK);
  else
    assert_int_equal(sipkit_ladder_text(f, e, n, &o), SIPKIT_EOK);
  fclose(f);
  return text;
}

static void no_line_over(const char *text, size_t width) {
  const char *p = text;
  while (*p) {
    const char *nl = strchr(p, '\n');
    assert_non_null(nl);
    assert_true((size_t)(nl - p) <= width);
    p = nl + 1;
  }
}

static void test_text_basic(void **state) {
  sipkit_dgram e[8];
  size_t n = basic_call(e);
  char *t = render(e, n, 0, 0);
  (void)state;
  assert_string_equal(t,
      "Call 1/1: c1\n"
      "  From: sip:alice@example.com\n"
      "  To:   sip:bob@example.com\n"
      "  completed: 200 OK, BYE (7 messages, 12.251 s)\n"
      "\n"
      "              10.0.0.1:5060                           10.0.0.2:5060\n"
      "                    |                                       |\n"
      "   0.000            |--------------- INVITE --------------->|\n"
      "   0.001            |<------------ 100 Trying --------------|\n"
      "   0.021            |<------------ 180 Ringing -------------|\n"
      "   1.500            |<-------------- 200 OK ----------------|\n"
      "   1.501            |----------------- ACK ---------------->|\n"
      "  12.250            |<---------------- BYE -----------------|\n"
      "  12.251            |--------------- 200 OK --------------->|\n"
      "\n");
  no_line_over(t, 80);
  free(t);
  /* colour: the arrow segments only, reset after each */
  t = render(e, n, 1, 0);
  assert_non_null(strstr(t, "|\033[36m--------------- INVITE --------------->\033[0m|\n"));
  assert_non_null(strstr(t, "|\033[32m<-------------- 200 OK ----------------\033[0m|\n"));
  free(t);
}

/* Four addresses (a proxy in the path): lettered columns and a legend,
 * lost and malformed datagrams, outcome "failed". */
static void test_text_four_columns(void **state) {
  const char *a = "192.168.100.200:5060", *p = "192.168.100.201:5060", *b = "192.168.100.202:5062",
             *x = "[2001:db8::99]:5070";
  sipkit_dgram e[6];
  char *t;
  (void)state;
  e[0] = ev(0, a, p, sip(0, "INVITE sip:bob@example.com SIP/2.0", "c2", 1, "INVITE", NULL), 0);
  e[1] = ev(0, p, b, texts[0], 2000);
  e[2] = ev(2, b, x, "OPTIONS nonsense SIP/2.0\r\nCall-ID: c2\r\n\r\n", 3000);
  e[3] = ev(1, p, b, sip(3, "SIP/2.0 486 Busy Here", "c2", 1, "INVITE", NULL), 4000);
  e[4] = ev(1, a, p, texts[3], 5000);
  e[5] = ev(0, b, b, sip(5, "OPTIONS sip:b SIP/2.0", "c2", 9, "OPTIONS", NULL), 6000);
  t = render(e, 6, 0, 0);
  assert_string_equal(t,
      "Call 1/1: c2\n"
      "  From: sip:alice@example.com\n"
      "  To:   sip:bob@example.com\n"
      "  failed: 486 Busy Here (6 messages, 0.006 s)\n"
      "  A = 192.168.100.200:5060\n"
      "  B = 192.168.100.201:5060\n"
      "  C = 192.168.100.202:5062\n"
      "  D = [2001:db8::99]:5070\n"
      "\n"
      "                    A               B               C               D\n"
      "                    |               |               |               |\n"
      "   0.000            |--- INVITE --->|               |               |\n"
      "   0.002            |               |--- INVITE --->|               |\n"
      "   0.003            |               |               |-- malforme~ -x|\n"
      "   0.004            |               |<- 486 Busy~ --|               |\n"
      "   0.005            |<- 486 Busy~ --|               |               |\n"
      "   0.006            |               |               |<> OPTIONS     |\n"
      "\n");
  no_line_over(t, 80);
  free(t);
}

/* Message text is attacker-controlled: nothing of it may become markup. */
static void test_html_escaping(void **state) {
  sipkit_dgram e[9];
  size_t n = basic_call(e);
  char *h;
  (void)state;
  sip(0, "INVITE sip:bob@10.0.0.2 SIP/2.0", "c1", 1, "INVITE",
      "Subject: </pre><script>alert(\"x\")</script>&amp; '\xff'\r\n");
  e[0].len = strlen(texts[0]);
  e[n++] = ev(0, "10.0.0.1:5060", "10.0.0.2:5060",
              sip(7, "OPTIONS sip:x SIP/2.0", "c1<script>alert(1)</script>", 1, "OPTIONS", NULL), 0);
  h = render(e, n, 0, 1);
  assert_null(strstr(h, "<script>alert"));
  assert_null(strstr(h, "</pre><script"));
  assert_non_null(strstr(h, "Subject: &lt;/pre&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
                            "&amp;amp; &#39;\\xff&#39;\n"));
  assert_non_null(strstr(h, "<td>c1&lt;script&gt;alert(1)&lt;/script&gt;</td>"));
  assert_non_null(strstr(h, "<title>t &lt;b&gt;</title>"));
  assert_non_null(strstr(h, "script-src 'sha256-"));
  /* one script element: ours */
  assert_non_null(strstr(h, "<script>("));
  assert_null(strstr(strstr(h, "<script>(") + 1, "<script"));
  /* arrows link to their message; the message text is in the page */
  assert_non_null(strstr(h, "<a href=\"#m1-1\"><g class=\"msg req\"><line "));
  assert_non_null(strstr(h, "<details id=\"m1-7\"><summary>7. 12.251 s 10.0.0.1:5060 &rarr; "
                            "10.0.0.2:5060 200 OK (193 bytes, sent)</summary>"));
  assert_non_null(strstr(h, "<td class=\"ok\">completed: 200 OK, BYE</td><td class=\"n\">12.251</td>"));
  free(h);
}

static void test_empty(void **state) {
  char *t = render(NULL, 0, 0, 0);
  (void)state;
  assert_string_equal(t, "no SIP messages\n");
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_basic),
      cmocka_unit_test(test_text_four_columns),
      cmocka_unit_test(test_html_escaping),
      cmocka_unit_test(test_empty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
