/* sipkit_capture.h - evidence of a run: datagram events, a readable text
 * trace (SIPp's message-trace block format), pcap files written and read
 * through libpcap, and an in-memory event log for ladder diagrams
 * (sipkit_ladder.h).
 *
 * Runtime layer: this header uses <sys/socket.h> and <stdio.h>; the parser
 * core never includes it.
 *
 * Wiring into a runtime (sipkit_rt.h):
 *
 *   sipkit_tap tap;
 *   sipkit_tap_init(&tap);
 *   tap.trace = ...;   // sipkit_capture_open_trace(&tap.trace, stderr)
 *   tap.pcap  = ...;   // sipkit_capture_open_pcap(&tap.pcap, "run.pcap")
 *   tap.log   = ...;   // a sipkit_evlog, for sipkit_ladder_text/html
 *   sipkit_rt_set_trace(rt, sipkit_tap_trace, &tap);
 *   ... run ...
 *   sipkit_capture_close(tap.trace); sipkit_capture_close(tap.pcap);
 */
#ifndef SIPKIT_CAPTURE_H
#define SIPKIT_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "sipkit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Datagram events                                                     */

/* Directions: 0..3 are the values of sipkit_rt's trace hook
 * (SIPKIT_RT_SENT ...).  A datagram read from a capture made by someone
 * else has no "local" side: it is SIPKIT_DGRAM_WIRE, with local = source
 * and remote = destination. */
enum sipkit_dgram_dir {
  SIPKIT_DGRAM_SENT = 0,          /* local -> remote */
  SIPKIT_DGRAM_RECEIVED = 1,      /* remote -> local */
  SIPKIT_DGRAM_DROPPED_SEND = 2,  /* injected loss: never on the wire */
  SIPKIT_DGRAM_DROPPED_RECV = 3,  /* arrived, discarded by injected loss */
  SIPKIT_DGRAM_WIRE = 4           /* seen in a capture: local -> remote */
};

typedef struct sipkit_dgram {
  uint64_t time_us;               /* microseconds since the Unix epoch (UTC) */
  int dir;                        /* enum sipkit_dgram_dir */
  struct sockaddr_storage local;  /* AF_INET or AF_INET6; AF_UNSPEC when unknown */
  struct sockaddr_storage remote;
  const char *bytes;              /* the UDP payload (not NUL-terminated) */
  size_t len;
} sipkit_dgram;

/* Source and destination of d by its direction. */
SIPKIT_API const struct sockaddr *sipkit_dgram_src(const sipkit_dgram *d);
SIPKIT_API const struct sockaddr *sipkit_dgram_dst(const sipkit_dgram *d);
/* "sent", "received", "dropped-send", "dropped-recv", "wire". */
SIPKIT_API const char *sipkit_dgram_dir_name(int dir);

/* "192.0.2.1:5060", "[2001:db8::1]:5060", "?" for AF_UNSPEC.  Returns the
 * length (snprintf semantics); cap 48 always suffices. */
#define SIPKIT_ADDR_STRLEN 48
SIPKIT_API int sipkit_addr_format(const struct sockaddr *sa, char *out, size_t cap);
/* Parse "192.0.2.1:5060" or "[2001:db8::1]:5060" (numeric only).
 * Returns SIPKIT_EOK or SIPKIT_EARGUMENT. */
SIPKIT_API int sipkit_addr_parse(struct sockaddr_storage *ss, const char *s);

/* Does the payload look like a SIP message (a request line or a status
 * line: "METHOD uri SIP/2.0" or "SIP/2.0 NNN" as its first line)?  Used to
 * tell SIP from RTP, DNS ... in third-party captures; it does not parse. */
SIPKIT_API int sipkit_dgram_is_sip(const char *bytes, size_t len);

/* ------------------------------------------------------------------ */
/* Text trace                                                          */

/* One block per datagram, like SIPp's message trace:
 *
 *   ----------------------------------------------- 2024-05-01 10:00:00.123456 UTC
 *   UDP message sent (512 bytes) 127.0.0.1:5060 -> 127.0.0.1:5070
 *
 *   INVITE sip:bob@127.0.0.1:5070 SIP/2.0
 *   ...
 *   <empty line>
 *
 * "sent", "received", "dropped before sending", "received and dropped"
 * or "seen"; the arrow always points from source to destination (local
 * first for sent, remote first for received).  The message text is
 * written with CRLF as LF; other control bytes and DEL as \xNN so that
 * a trace cannot drive a terminal.  Returns 0, or -1 on a write error. */
SIPKIT_API int sipkit_trace_write(FILE *out, const sipkit_dgram *d);

/* ------------------------------------------------------------------ */
/* Capture writers (text trace or pcap behind one handle)              */

typedef struct sipkit_capture sipkit_capture;

/* A text trace to out (not closed by sipkit_capture_close). */
SIPKIT_API int sipkit_capture_open_trace(sipkit_capture **cap, FILE *out);
/* A pcap file (Ethernet link type, microsecond timestamps).  Errors:
 * SIPKIT_EIO with libpcap's message in errbuf (may be NULL; 256 bytes is
 * enough), SIPKIT_ENO_MEMORY. */
SIPKIT_API int sipkit_capture_open_pcap(sipkit_capture **cap, const char *path,
                                        char *errbuf, size_t errcap);
/* Write one datagram.  pcap: SIPKIT_DGRAM_DROPPED_SEND is not written
 * (it never was on the wire); the others become one Ethernet + IPv4/IPv6
 * + UDP frame with the real addresses, ports, lengths and checksums.  The
 * frame's MAC addresses record the direction (SIPKIT_PCAP_LOCAL_MAC is
 * the local side), so sipkit_pcap_next reads sent/received back.
 * Returns SIPKIT_EOK, SIPKIT_EARGUMENT (no address, mixed families, too
 * large for one IP packet) or SIPKIT_EIO (write error). */
SIPKIT_API int sipkit_capture_write(sipkit_capture *cap, const sipkit_dgram *d);
/* Flush; SIPKIT_EIO if a write failed at any time. */
SIPKIT_API int sipkit_capture_flush(sipkit_capture *cap);
/* Flush and free (cap may be NULL); returns what sipkit_capture_flush does. */
SIPKIT_API int sipkit_capture_close(sipkit_capture *cap);

/* ------------------------------------------------------------------ */
/* Frames (what the pcap writer writes), for tests and other writers    */

/* 02:00:00:00:00:01 is the local side, 02:00:00:00:00:02 the remote one. */
#define SIPKIT_PCAP_LOCAL_MAC "\x02\x00\x00\x00\x00\x01"
#define SIPKIT_PCAP_REMOTE_MAC "\x02\x00\x00\x00\x00\x02"
#define SIPKIT_FRAME_MAX (14u + 40u + 8u + 65535u)

/* Build the Ethernet frame of d into out (cap bytes); ip_id is the IPv4
 * identification.  Returns the frame length, or 0 (bad addresses, payload
 * too large, cap too small). */
SIPKIT_API size_t sipkit_frame_build(uint8_t *out, size_t cap,
                                     const sipkit_dgram *d, uint16_t ip_id);
/* The Internet checksum (RFC 1071) of len bytes, as a host-order value
 * that is written big-endian. */
SIPKIT_API uint16_t sipkit_inet_checksum(const void *data, size_t len);

/* ------------------------------------------------------------------ */
/* Capture reader                                                      */

typedef struct sipkit_pcap_reader sipkit_pcap_reader;

typedef struct sipkit_pcap_stats {
  uint64_t packets;    /* records read */
  uint64_t udp;        /* UDP datagrams yielded */
  uint64_t not_ip;     /* link payload that is not IPv4/IPv6 (ARP ...) */
  uint64_t not_udp;    /* IP packets that are not UDP (TCP, ICMP ...) */
  uint64_t fragments;  /* IPv4/IPv6 fragments (not reassembled) */
  uint64_t truncated;  /* shorter than their headers say (snaplen ...) */
} sipkit_pcap_stats;

/* Open a pcap or pcapng file.  Link types: Ethernet (with VLAN tags),
 * Linux cooked SLL and SLL2, raw IP (RAW, IPV4, IPV6), BSD loopback
 * (NULL, LOOP).  Errors: SIPKIT_EIO with the reason in errbuf ("No such
 * file or directory", "unknown file format", "unsupported link type
 * N"). */
SIPKIT_API int sipkit_pcap_open_read(sipkit_pcap_reader **r, const char *path,
                                     char *errbuf, size_t errcap);
/* The next UDP datagram: 1 with *d filled (d->bytes valid until the next
 * call), 0 at the end, -1 on a read error (message in errbuf).  Other
 * packets are skipped and counted.  Frames written by sipkit's writer
 * read back with their direction; others are SIPKIT_DGRAM_WIRE. */
SIPKIT_API int sipkit_pcap_next(sipkit_pcap_reader *r, sipkit_dgram *d,
                                char *errbuf, size_t errcap);
SIPKIT_API void sipkit_pcap_get_stats(const sipkit_pcap_reader *r,
                                      sipkit_pcap_stats *st);
SIPKIT_API void sipkit_pcap_close_read(sipkit_pcap_reader *r);

/* ------------------------------------------------------------------ */
/* Event log: a growable array of copied datagrams                      */

typedef struct sipkit_evlog {
  /* read-only */
  sipkit_dgram *ev;    /* ev[0 .. count), each with its own copy of bytes */
  size_t count;
  size_t cap;
  uint64_t lost;       /* events not stored (out of memory, over limit) */
  /* public, 0 = no limit */
  size_t max_events;
} sipkit_evlog;

SIPKIT_API void sipkit_evlog_init(sipkit_evlog *log);
/* Copy d (and its bytes) to the end.  SIPKIT_EOK, or SIPKIT_ENO_MEMORY /
 * SIPKIT_ELIMIT (then counted in lost). */
SIPKIT_API int sipkit_evlog_add(sipkit_evlog *log, const sipkit_dgram *d);
SIPKIT_API void sipkit_evlog_free(sipkit_evlog *log);

/* ------------------------------------------------------------------ */
/* The runtime's trace hook                                           */

/* Fan-out target for sipkit_rt_set_trace(rt, sipkit_tap_trace, &tap):
 * every datagram goes to each sink that is set.  Times: the runtime's
 * time_us is used as is when it is a wall-clock time (after 2001);
 * a monotonic time is shifted once, at the first event, onto the wall
 * clock so that pcap timestamps are real dates. */
typedef struct sipkit_tap {
  sipkit_capture *trace;    /* text trace, or NULL */
  sipkit_capture *pcap;     /* pcap file, or NULL */
  sipkit_evlog *log;        /* event log for ladders, or NULL */
  uint64_t errors;          /* failed writes and adds */
  /* private */
  int64_t offset_us_;
  int have_offset_;
} sipkit_tap;

SIPKIT_API void sipkit_tap_init(sipkit_tap *tap);
/* Has the signature of sipkit_trace_fn (sipkit_rt.h); data is a sipkit_tap *. */
SIPKIT_API void sipkit_tap_trace(void *data, int dir, uint64_t time_us,
                                 const struct sockaddr *local,
                                 const struct sockaddr *remote,
                                 const char *bytes, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* SIPKIT_CAPTURE_H */
