/* fuzz_pcap.c - the pcap reader of src/capture.c and the ladders of
 * src/ladder.c on what it reads.
 *
 * The input is a pcap file.  Two passes:
 *   1. libpcap directly (pcap_fopen_offline on an fmemopen stream of the
 *      input): each record is copied into an exact-size heap buffer and
 *      given to sipkit__pcap_decode (what sipkit_pcap_next does with a
 *      record), so ASan sees any read past the captured bytes (libpcap's
 *      own buffer is larger).  A datagram must lie inside its record.
 *   2. The API: sipkit__pcap_fopen_read (sipkit_pcap_open_read on a
 *      stream) and sipkit_pcap_next until the end or an error; the same
 *      datagrams as pass 1, in order, with the same bytes and the stats
 *      adding up.  They go into a sipkit_evlog (copies of the bytes), each
 *      through sipkit_trace_write, then sipkit_ladder_text (80 columns,
 *      and 30 with colour) and sipkit_ladder_html, all into /dev/null:
 *      SIPKIT_EOK (or SIPKIT_ENO_MEMORY) each time.
 * At most 512 records are read. */
#define _GNU_SOURCE /* fmemopen */
#include <pcap/pcap.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "capture_internal.h"
#include "sipkit_ladder.h"

#define MAX_RECORDS 512

int LLVMFuzzerInitialize(int *argc, char ***argv);

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  devnull = fopen("/dev/null", "w");
  if (!devnull)
    abort();
  return 0;
}

typedef struct seen {
  size_t len;
  char *bytes;
  sipkit_dgram d;
} seen;

static void check_dgram(const sipkit_dgram *d) {
  CHECK(d->dir == SIPKIT_DGRAM_SENT || d->dir == SIPKIT_DGRAM_RECEIVED ||
        d->dir == SIPKIT_DGRAM_WIRE);
  CHECK(d->local.ss_family == AF_INET || d->local.ss_family == AF_INET6);
  CHECK(d->remote.ss_family == d->local.ss_family);
  CHECK(d->len <= 65535 - 8);
  CHECK(d->len == 0 || d->bytes != NULL);
  CHECK(sipkit_dgram_src(d) != NULL && sipkit_dgram_dst(d) != NULL);
}

/* Pass 1: libpcap's records, decoded from exact-size copies. */
static size_t pass_decode(const uint8_t *data, size_t size, seen *out, size_t cap,
                          sipkit_pcap_stats *st) {
  FILE *f = fmemopen((void *)(uintptr_t)data, size, "rb");
  if (!f)
    return 0;
  char eb[PCAP_ERRBUF_SIZE];
  pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, eb);
  if (!p) {
    fclose(f);
    return 0;
  }
  int lt = pcap_datalink(p);
  size_t n = 0;
  for (unsigned i = 0; i < MAX_RECORDS; i++) {
    struct pcap_pkthdr *h;
    const u_char *rec;
    if (pcap_next_ex(p, &h, &rec) != 1)
      break;
    st->packets++;
    uint8_t *copy = malloc(h->caplen ? h->caplen : 1);
    if (!copy)
      break;
    memcpy(copy, rec, h->caplen);
    sipkit_dgram d;
    if (sipkit__pcap_decode(lt, copy, h->caplen, &d, st)) {
      st->udp++;
      check_dgram(&d);
      CHECK((const uint8_t *)d.bytes >= copy + 8 &&
            (const uint8_t *)d.bytes + d.len <= copy + h->caplen);
      if (n < cap) {
        out[n].len = d.len;
        out[n].bytes = malloc(d.len ? d.len : 1);
        if (out[n].bytes) {
          memcpy(out[n].bytes, d.bytes, d.len);
          out[n].d = d;
          n++;
        }
      }
    }
    free(copy);
  }
  pcap_close(p); /* closes f */
  return n;
}

static void ladders(const sipkit_evlog *log) {
  int rc = sipkit_ladder_text(devnull, log->ev, log->count, NULL);
  CHECK(rc == SIPKIT_EOK || rc == SIPKIT_ENO_MEMORY);
  sipkit_ladder_opts o = {30, 1};
  rc = sipkit_ladder_text(devnull, log->ev, log->count, &o);
  CHECK(rc == SIPKIT_EOK || rc == SIPKIT_ENO_MEMORY);
  rc = sipkit_ladder_html(devnull, log->ev, log->count, "fuzz <&\"'>");
  CHECK(rc == SIPKIT_EOK || rc == SIPKIT_ENO_MEMORY);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  static seen first[MAX_RECORDS];
  sipkit_pcap_stats st1;
  memset(&st1, 0, sizeof st1);
  size_t n1 = pass_decode(data, size, first, MAX_RECORDS, &st1);

  /* Pass 2: the reader API, then the ladders. */
  FILE *f = fmemopen((void *)(uintptr_t)data, size, "rb");
  sipkit_pcap_reader *r = NULL;
  char eb[256];
  size_t n2 = 0;
  sipkit_evlog log;
  sipkit_evlog_init(&log);
  log.max_events = MAX_RECORDS;
  if (!f)
    goto out;
  if (sipkit__pcap_fopen_read(&r, f, eb, sizeof eb) == SIPKIT_EOK) {
    sipkit_pcap_stats st2;
    int beyond = 0;
    for (;;) {
      sipkit_pcap_get_stats(r, &st2);
      if (st2.packets >= st1.packets)
        break; /* pass 1 stopped here (limit, or the end) */
      sipkit_dgram d;
      int rc = sipkit_pcap_next(r, &d, eb, sizeof eb);
      if (rc <= 0) {
        CHECK(rc == 0 || memchr(eb, '\0', sizeof eb) != NULL);
        break;
      }
      sipkit_pcap_get_stats(r, &st2);
      if (st2.packets > st1.packets) {
        beyond = 1; /* skipped records past pass 1's limit to get here */
        break;
      }
      check_dgram(&d);
      CHECK(n2 < n1);
      CHECK(d.len == first[n2].len && memcmp(d.bytes, first[n2].bytes, d.len) == 0);
      CHECK(d.dir == first[n2].d.dir);
      CHECK(!memcmp(&d.local, &first[n2].d.local, sizeof d.local));
      CHECK(!memcmp(&d.remote, &first[n2].d.remote, sizeof d.remote));
      n2++;
      CHECK(sipkit_trace_write(devnull, &d) == SIPKIT_EOK);
      int ar = sipkit_evlog_add(&log, &d);
      CHECK(ar == SIPKIT_EOK || ar == SIPKIT_ENO_MEMORY || ar == SIPKIT_ELIMIT);
    }
    sipkit_pcap_get_stats(r, &st2);
    CHECK(st2.udp == n2 + (size_t)beyond);
    CHECK(st2.packets >= st2.udp);
    CHECK(st2.udp + st2.not_ip + st2.not_udp + st2.fragments + st2.truncated == st2.packets);
    sipkit_pcap_close_read(r);
    CHECK(n2 == n1);
  }
out:
  CHECK(log.count <= n2);
  ladders(&log);
  sipkit_evlog_free(&log);
  for (size_t i = 0; i < n1; i++)
    free(first[i].bytes);
  return 0;
}
