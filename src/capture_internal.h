/* capture_internal.h - sipkit__ entry points of capture.c for tests and
 * fuzzing (fuzz/fuzz_pcap.c).  Not installed, never exported. */
#ifndef SIPKIT_CAPTURE_INTERNAL_H
#define SIPKIT_CAPTURE_INTERNAL_H

#include <stdio.h>

#include "sipkit_capture.h"

/* sipkit_pcap_open_read on an open stream (fmemopen, tmpfile), which
 * the reader takes over: sipkit_pcap_close_read closes it, and so does a
 * failed open. */
int sipkit__pcap_fopen_read(sipkit_pcap_reader **r, FILE *f, char *errbuf, size_t errcap);
/* What sipkit_pcap_next does with one record of n captured bytes of
 * link type linktype (a DLT_ value): 1 and a datagram in *d (bytes point
 * into p), 0 when skipped, counted in *st. */
int sipkit__pcap_decode(int linktype, const uint8_t *p, size_t n, sipkit_dgram *d,
                        sipkit_pcap_stats *st);

#endif
