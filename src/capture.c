/* capture.c - datagram events, text traces, pcap writer and reader, event
 * log and the runtime trace-hook adapter (sipkit_capture.h).
 *
 * The pcap writer wraps each UDP payload in synthetic Ethernet, IPv4 or
 * IPv6, and UDP headers with the real addresses and ports, correct
 * lengths, IPv4 header checksum and UDP checksum, so Wireshark and
 * tshark decode the file like a capture from the wire.  The reader
 * undoes any of the usual link layers and yields the UDP payloads.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "capture_internal.h"
#include "sipkit_capture.h"

/* ---------------------------------------------------------------- addresses */

const struct sockaddr *sipkit_dgram_src(const sipkit_dgram *d) {
  int remote_first = d->dir == SIPKIT_DGRAM_RECEIVED || d->dir == SIPKIT_DGRAM_DROPPED_RECV;
  return (const struct sockaddr *)(remote_first ? &d->remote : &d->local);
}

const struct sockaddr *sipkit_dgram_dst(const sipkit_dgram *d) {
  int remote_first = d->dir == SIPKIT_DGRAM_RECEIVED || d->dir == SIPKIT_DGRAM_DROPPED_RECV;
  return (const struct sockaddr *)(remote_first ? &d->local : &d->remote);
}

const char *sipkit_dgram_dir_name(int dir) {
  switch (dir) {
  case SIPKIT_DGRAM_SENT: return "sent";
  case SIPKIT_DGRAM_RECEIVED: return "received";
  case SIPKIT_DGRAM_DROPPED_SEND: return "dropped-send";
  case SIPKIT_DGRAM_DROPPED_RECV: return "dropped-recv";
  case SIPKIT_DGRAM_WIRE: return "wire";
  default: return "?";
  }
}

int sipkit_addr_format(const struct sockaddr *sa, char *out, size_t cap) {
  char ip[INET6_ADDRSTRLEN];
  if (sa != NULL && sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    return snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
  }
  if (sa != NULL && sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    return snprintf(out, cap, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
  }
  return snprintf(out, cap, "?");
}

static int parse_port(const char *s, uint16_t *port) {
  unsigned long v = 0;
  size_t i;
  if (*s == '\0')
    return -1;
  for (i = 0; s[i] != '\0'; i++) {
    if (s[i] < '0' || s[i] > '9' || i >= 5)
      return -1;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v > 65535)
    return -1;
  *port = (uint16_t)v;
  return 0;
}

int sipkit_addr_parse(struct sockaddr_storage *ss, const char *s) {
  char host[INET6_ADDRSTRLEN + 2];
  const char *colon, *end;
  uint16_t port;
  size_t hlen;

  memset(ss, 0, sizeof *ss);
  if (s == NULL)
    return SIPKIT_EARGUMENT;
  if (s[0] == '[') {
    end = strchr(s, ']');
    if (end == NULL || end[1] != ':')
      return SIPKIT_EARGUMENT;
    hlen = (size_t)(end - s - 1);
    colon = end + 1;
    s++;
  } else {
    colon = strrchr(s, ':');
    if (colon == NULL)
      return SIPKIT_EARGUMENT;
    hlen = (size_t)(colon - s);
  }
  if (hlen >= sizeof host || parse_port(colon + 1, &port) != 0)
    return SIPKIT_EARGUMENT;
  memcpy(host, s, hlen);
  host[hlen] = '\0';
  {
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
      in->sin_family = AF_INET;
      in->sin_port = htons(port);
      return SIPKIT_EOK;
    }
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(port);
      return SIPKIT_EOK;
    }
  }
  memset(ss, 0, sizeof *ss);
  return SIPKIT_EARGUMENT;
}

/* token chars of RFC 3261 §25.1 */
static int is_token_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != 0 && strchr("-.!%*_+`'~", c) != NULL);
}

int sipkit_dgram_is_sip(const char *bytes, size_t len) {
  size_t i = 0, eol;
  const char *p = bytes;
  if (len >= 12 && memcmp(p, "SIP/2.0 ", 8) == 0)
    return p[8] >= '1' && p[8] <= '6' && p[9] >= '0' && p[9] <= '9' && p[10] >= '0' &&
           p[10] <= '9';
  while (i < len && is_token_char((unsigned char)p[i]))
    i++;
  if (i == 0 || i >= len || p[i] != ' ')
    return 0;
  for (eol = i; eol < len && p[eol] != '\r' && p[eol] != '\n'; eol++)
    ;
  return eol - i >= 9 && memcmp(p + eol - 8, " SIP/2.0", 8) == 0;
}

/* ---------------------------------------------------------------- text trace */

static const char *trace_verb(int dir) {
  switch (dir) {
  case SIPKIT_DGRAM_SENT: return "sent";
  case SIPKIT_DGRAM_RECEIVED: return "received";
  case SIPKIT_DGRAM_DROPPED_SEND: return "dropped before sending";
  case SIPKIT_DGRAM_DROPPED_RECV: return "received and dropped";
  default: return "seen";
  }
}

int sipkit_trace_write(FILE *out, const sipkit_dgram *d) {
  char src[SIPKIT_ADDR_STRLEN], dst[SIPKIT_ADDR_STRLEN], stamp[32];
  time_t secs = (time_t)(d->time_us / 1000000u);
  struct tm tm;
  size_t i;
  int at_bol = 1;

  sipkit_addr_format(sipkit_dgram_src(d), src, sizeof src);
  sipkit_addr_format(sipkit_dgram_dst(d), dst, sizeof dst);
  if (gmtime_r(&secs, &tm) == NULL || strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm) == 0)
    strcpy(stamp, "?");
  fprintf(out,
          "----------------------------------------------- %s.%06u UTC\n"
          "UDP message %s (%zu bytes) %s -> %s\n\n",
          stamp, (unsigned)(d->time_us % 1000000u), trace_verb(d->dir), d->len, src, dst);
  for (i = 0; i < d->len; i++) {
    unsigned char c = (unsigned char)d->bytes[i];
    if (c == '\r' && i + 1 < d->len && d->bytes[i + 1] == '\n')
      continue;
    if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f))
      putc(c, out);
    else
      fprintf(out, "\\x%02x", c);
    at_bol = c == '\n';
  }
  if (!at_bol)
    putc('\n', out);
  putc('\n', out);
  return ferror(out) ? -1 : 0;
}

/* ---------------------------------------------------------------- frames */

uint16_t sipkit_inet_checksum(const void *data, size_t len) {
  const uint8_t *p = data;
  uint32_t sum = 0;
  size_t i;
  for (i = 0; i + 1 < len; i += 2)
    sum += (uint32_t)p[i] << 8 | p[i + 1];
  if (len & 1)
    sum += (uint32_t)p[len - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffffu) + (sum >> 16);
  return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* One IP endpoint, normalised: v4-mapped IPv6 becomes IPv4. */
typedef struct endpoint {
  int family; /* AF_INET, AF_INET6, AF_UNSPEC */
  uint8_t addr[16];
  uint16_t port;
} endpoint;

static void endpoint_of(const struct sockaddr *sa, endpoint *e) {
  memset(e, 0, sizeof *e);
  e->family = AF_UNSPEC;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    e->family = AF_INET;
    memcpy(e->addr, &in->sin_addr, 4);
    e->port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    e->port = ntohs(in6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      e->family = AF_INET;
      memcpy(e->addr, in6->sin6_addr.s6_addr + 12, 4);
    } else {
      e->family = AF_INET6;
      memcpy(e->addr, &in6->sin6_addr, 16);
    }
  }
}

/* UDP checksum over the pseudo-header and the UDP header + payload. */
static uint16_t udp_checksum(const endpoint *s, const endpoint *t, const uint8_t *udp,
                             size_t udp_len) {
  uint32_t sum = 0;
  size_t i, alen = s->family == AF_INET ? 4 : 16;
  uint16_t c;
  for (i = 0; i < alen; i += 2)
    sum += (uint32_t)s->addr[i] << 8 | s->addr[i + 1];
  for (i = 0; i < alen; i += 2)
    sum += (uint32_t)t->addr[i] << 8 | t->addr[i + 1];
  sum += 17; /* protocol / next header */
  sum += (uint32_t)(udp_len & 0xffff) + (uint32_t)(udp_len >> 16);
  for (i = 0; i + 1 < udp_len; i += 2)
    sum += (uint32_t)udp[i] << 8 | udp[i + 1];
  if (udp_len & 1)
    sum += (uint32_t)udp[udp_len - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffffu) + (sum >> 16);
  c = (uint16_t)~sum;
  return c == 0 ? 0xffff : c; /* 0 means "no checksum" (RFC 768) */
}

size_t sipkit_frame_build(uint8_t *out, size_t cap, const sipkit_dgram *d, uint16_t ip_id) {
  endpoint s, t;
  size_t ip_len, total;
  uint8_t *ip, *udp;
  int local_src = !(d->dir == SIPKIT_DGRAM_RECEIVED || d->dir == SIPKIT_DGRAM_DROPPED_RECV);

  endpoint_of(sipkit_dgram_src(d), &s);
  endpoint_of(sipkit_dgram_dst(d), &t);
  if (s.family == AF_UNSPEC && t.family == AF_UNSPEC)
    return 0;
  if (s.family == AF_UNSPEC) /* unknown side: the unspecified address, port 0 */
    s.family = t.family;
  if (t.family == AF_UNSPEC)
    t.family = s.family;
  if (s.family != t.family)
    return 0;
  ip_len = s.family == AF_INET ? 20 : 40;
  if (d->len > 65535u - 8u - (s.family == AF_INET ? 20u : 0u))
    return 0;
  total = 14 + ip_len + 8 + d->len;
  if (total > cap)
    return 0;

  memcpy(out, local_src ? SIPKIT_PCAP_REMOTE_MAC : SIPKIT_PCAP_LOCAL_MAC, 6);
  memcpy(out + 6, local_src ? SIPKIT_PCAP_LOCAL_MAC : SIPKIT_PCAP_REMOTE_MAC, 6);
  put16(out + 12, s.family == AF_INET ? 0x0800 : 0x86dd);
  ip = out + 14;
  udp = ip + ip_len;
  if (s.family == AF_INET) {
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, (uint32_t)(20 + 8 + d->len));
    put16(ip + 4, ip_id);
    put16(ip + 6, 0x4000); /* DF, offset 0 */
    ip[8] = 64;
    ip[9] = 17;
    put16(ip + 10, 0);
    memcpy(ip + 12, s.addr, 4);
    memcpy(ip + 16, t.addr, 4);
    put16(ip + 10, sipkit_inet_checksum(ip, 20));
  } else {
    ip[0] = 0x60;
    ip[1] = ip[2] = ip[3] = 0;
    put16(ip + 4, (uint32_t)(8 + d->len));
    ip[6] = 17;
    ip[7] = 64;
    memcpy(ip + 8, s.addr, 16);
    memcpy(ip + 24, t.addr, 16);
  }
  put16(udp, s.port);
  put16(udp + 2, t.port);
  put16(udp + 4, (uint32_t)(8 + d->len));
  put16(udp + 6, 0);
  if (d->len > 0)
    memcpy(udp + 8, d->bytes, d->len);
  put16(udp + 6, udp_checksum(&s, &t, udp, 8 + d->len));
  return total;
}

/* ---------------------------------------------------------------- writers */

enum { CAP_TRACE, CAP_PCAP };

struct sipkit_capture {
  int kind;
  int failed;
  FILE *out;             /* CAP_TRACE */
  pcap_t *pcap;          /* CAP_PCAP */
  pcap_dumper_t *dumper;
  uint16_t ip_id;
  uint8_t *frame;        /* SIPKIT_FRAME_MAX bytes */
};

static void set_err(char *errbuf, size_t errcap, const char *msg) {
  if (errbuf != NULL && errcap > 0)
    snprintf(errbuf, errcap, "%s", msg);
}

int sipkit_capture_open_trace(sipkit_capture **cap, FILE *out) {
  sipkit_capture *c;
  *cap = NULL;
  if (out == NULL)
    return SIPKIT_EARGUMENT;
  c = calloc(1, sizeof *c);
  if (c == NULL)
    return SIPKIT_ENO_MEMORY;
  c->kind = CAP_TRACE;
  c->out = out;
  *cap = c;
  return SIPKIT_EOK;
}

int sipkit_capture_open_pcap(sipkit_capture **cap, const char *path, char *errbuf,
                             size_t errcap) {
  sipkit_capture *c;
  *cap = NULL;
  if (path == NULL) {
    set_err(errbuf, errcap, "no file name");
    return SIPKIT_EARGUMENT;
  }
  c = calloc(1, sizeof *c);
  if (c != NULL)
    c->frame = malloc(SIPKIT_FRAME_MAX);
  if (c == NULL || c->frame == NULL) {
    free(c);
    set_err(errbuf, errcap, "out of memory");
    return SIPKIT_ENO_MEMORY;
  }
  c->kind = CAP_PCAP;
  c->pcap = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535 + 14 + 40 + 8,
                                                 PCAP_TSTAMP_PRECISION_MICRO);
  if (c->pcap == NULL) {
    free(c->frame);
    free(c);
    set_err(errbuf, errcap, "pcap_open_dead failed");
    return SIPKIT_ENO_MEMORY;
  }
  c->dumper = pcap_dump_open(c->pcap, path);
  if (c->dumper == NULL) {
    set_err(errbuf, errcap, pcap_geterr(c->pcap));
    pcap_close(c->pcap);
    free(c->frame);
    free(c);
    return SIPKIT_EIO;
  }
  *cap = c;
  return SIPKIT_EOK;
}

int sipkit_capture_write(sipkit_capture *cap, const sipkit_dgram *d) {
  struct pcap_pkthdr h;
  size_t n;
  if (cap == NULL || d == NULL || (d->bytes == NULL && d->len > 0))
    return SIPKIT_EARGUMENT;
  if (cap->kind == CAP_TRACE) {
    if (sipkit_trace_write(cap->out, d) != 0) {
      cap->failed = 1;
      return SIPKIT_EIO;
    }
    return SIPKIT_EOK;
  }
  if (d->dir == SIPKIT_DGRAM_DROPPED_SEND)
    return SIPKIT_EOK;
  n = sipkit_frame_build(cap->frame, SIPKIT_FRAME_MAX, d, cap->ip_id);
  if (n == 0)
    return SIPKIT_EARGUMENT;
  cap->ip_id++;
  memset(&h, 0, sizeof h);
  h.ts.tv_sec = (time_t)(d->time_us / 1000000u);
  h.ts.tv_usec = (suseconds_t)(d->time_us % 1000000u);
  h.caplen = h.len = (bpf_u_int32)n;
  pcap_dump((u_char *)cap->dumper, &h, cap->frame);
  if (ferror(pcap_dump_file(cap->dumper))) {
    cap->failed = 1;
    return SIPKIT_EIO;
  }
  return SIPKIT_EOK;
}

int sipkit_capture_flush(sipkit_capture *cap) {
  if (cap == NULL)
    return SIPKIT_EOK;
  if (cap->kind == CAP_TRACE) {
    if (fflush(cap->out) != 0 || ferror(cap->out))
      cap->failed = 1;
  } else if (pcap_dump_flush(cap->dumper) != 0) {
    cap->failed = 1;
  }
  return cap->failed ? SIPKIT_EIO : SIPKIT_EOK;
}

int sipkit_capture_close(sipkit_capture *cap) {
  int rc;
  if (cap == NULL)
    return SIPKIT_EOK;
  rc = sipkit_capture_flush(cap);
  if (cap->kind == CAP_PCAP) {
    FILE *f = pcap_dump_file(cap->dumper);
    if (ferror(f))
      rc = SIPKIT_EIO;
    pcap_dump_close(cap->dumper); /* fclose: a late error cannot be seen here */
    pcap_close(cap->pcap);
    free(cap->frame);
  }
  free(cap);
  return rc;
}

/* ---------------------------------------------------------------- reader */

struct sipkit_pcap_reader {
  pcap_t *pcap;
  int linktype;
  sipkit_pcap_stats st;
};

static int link_supported(int lt) {
  switch (lt) {
  case DLT_EN10MB:
  case DLT_LINUX_SLL:
#ifdef DLT_LINUX_SLL2
  case DLT_LINUX_SLL2:
#endif
  case DLT_RAW:
#ifdef DLT_IPV4
  case DLT_IPV4:
  case DLT_IPV6:
#endif
  case DLT_NULL:
  case DLT_LOOP:
    return 1;
  default:
    return 0;
  }
}

static int open_read(sipkit_pcap_reader **r, const char *path, FILE *f, char *errbuf,
                     size_t errcap) {
  char eb[PCAP_ERRBUF_SIZE];
  sipkit_pcap_reader *rd;
  pcap_t *p;

  *r = NULL;
  eb[0] = '\0';
  p = f ? pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, eb)
        : pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, eb);
  if (p == NULL) {
    if (f)
      fclose(f); /* libpcap leaves it open when it fails */
    set_err(errbuf, errcap, eb);
    return SIPKIT_EIO;
  }
  if (!link_supported(pcap_datalink(p))) {
    if (errbuf != NULL && errcap > 0) {
      const char *name = pcap_datalink_val_to_name(pcap_datalink(p));
      snprintf(errbuf, errcap, "unsupported link type %d (%s)", pcap_datalink(p),
               name != NULL ? name : "unknown");
    }
    pcap_close(p);
    return SIPKIT_EIO;
  }
  rd = calloc(1, sizeof *rd);
  if (rd == NULL) {
    pcap_close(p);
    set_err(errbuf, errcap, "out of memory");
    return SIPKIT_ENO_MEMORY;
  }
  rd->pcap = p;
  rd->linktype = pcap_datalink(p);
  *r = rd;
  return SIPKIT_EOK;
}

int sipkit_pcap_open_read(sipkit_pcap_reader **r, const char *path, char *errbuf,
                          size_t errcap) {
  return open_read(r, path, NULL, errbuf, errcap);
}

int sipkit__pcap_fopen_read(sipkit_pcap_reader **r, FILE *f, char *errbuf, size_t errcap) {
  return open_read(r, NULL, f, errbuf, errcap);
}

enum { NET_NONE, NET_V4, NET_V6 };

/* Find the network layer in a link-layer frame.  Returns NET_V4/NET_V6
 * with *off set, NET_NONE for anything else; *dir_hint gets the
 * direction recorded in sipkit's own MAC addresses (-1 when none). */
static int link_to_net(int lt, const uint8_t *p, size_t n, size_t *off, int *dir_hint) {
  uint32_t type;
  *dir_hint = -1;
  switch (lt) {
  case DLT_EN10MB:
    if (n < 14)
      return -1;
    if (memcmp(p + 6, SIPKIT_PCAP_LOCAL_MAC, 6) == 0 &&
        memcmp(p, SIPKIT_PCAP_REMOTE_MAC, 6) == 0)
      *dir_hint = SIPKIT_DGRAM_SENT;
    else if (memcmp(p, SIPKIT_PCAP_LOCAL_MAC, 6) == 0 &&
             memcmp(p + 6, SIPKIT_PCAP_REMOTE_MAC, 6) == 0)
      *dir_hint = SIPKIT_DGRAM_RECEIVED;
    *off = 14;
    type = get16(p + 12);
    while (type == 0x8100 || type == 0x88a8 || type == 0x9100) { /* VLAN tags */
      if (n < *off + 4)
        return -1;
      type = get16(p + *off + 2);
      *off += 4;
    }
    break;
  case DLT_LINUX_SLL:
    if (n < 16)
      return -1;
    type = get16(p + 14);
    *off = 16;
    break;
#ifdef DLT_LINUX_SLL2
  case DLT_LINUX_SLL2:
    if (n < 20)
      return -1;
    type = get16(p);
    *off = 20;
    break;
#endif
  case DLT_NULL:
  case DLT_LOOP:
    if (n < 4)
      return -1;
    if (lt == DLT_LOOP)
      type = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    else
      memcpy(&type, p, 4); /* host byte order of the capturing machine */
    if (type > 0xffff) /* written on a machine of the other byte order */
      type = (type >> 24) | ((type >> 8) & 0xff00u) | ((type << 8) & 0xff0000u) | (type << 24);
    *off = 4;
    if (type == 2)
      return NET_V4;
    if (type == 10 || type == 24 || type == 28 || type == 30)
      return NET_V6;
    return NET_NONE;
  default: /* raw IP: the version nibble decides */
    *off = 0;
    if (n < 1)
      return -1;
    return (p[0] >> 4) == 4 ? NET_V4 : (p[0] >> 4) == 6 ? NET_V6 : NET_NONE;
  }
  if (type == 0x0800)
    return NET_V4;
  if (type == 0x86dd)
    return NET_V6;
  return NET_NONE;
}

static void set_sa(struct sockaddr_storage *ss, int family, const uint8_t *addr, uint16_t port) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    memcpy(&in->sin_addr, addr, 4);
    in->sin_port = htons(port);
  } else {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    memcpy(&in6->sin6_addr, addr, 16);
    in6->sin6_port = htons(port);
  }
}

/* 1: a UDP datagram in *d; 0: skipped (counted). */
static int decode(sipkit_pcap_reader *r, const uint8_t *p, size_t n, sipkit_dgram *d) {
  size_t off, ip_end, udp_len;
  int hint, net = link_to_net(r->linktype, p, n, &off, &hint);
  const uint8_t *ip, *src, *dst, *udp;
  int family, proto;

  if (net < 0) {
    r->st.truncated++;
    return 0;
  }
  if (net == NET_NONE) {
    r->st.not_ip++;
    return 0;
  }
  ip = p + off;
  if (net == NET_V4) {
    size_t ihl, tot;
    if (n < off + 20 || (ip[0] >> 4) != 4 || (ihl = (size_t)(ip[0] & 15) * 4) < 20) {
      r->st.truncated += (n < off + 20);
      r->st.not_ip += !(n < off + 20);
      return 0;
    }
    tot = get16(ip + 2);
    if ((get16(ip + 6) & 0x3fff) != 0) { /* MF or a fragment offset */
      r->st.fragments++;
      return 0;
    }
    if (ip[9] != 17) {
      r->st.not_udp++;
      return 0;
    }
    if (tot < ihl + 8 || n < off + tot) {
      r->st.truncated++;
      return 0;
    }
    family = AF_INET;
    src = ip + 12;
    dst = ip + 16;
    ip_end = off + tot;
    off += ihl;
  } else {
    size_t plen;
    if (n < off + 40 || (ip[0] >> 4) != 6) {
      r->st.truncated += (n < off + 40);
      r->st.not_ip += !(n < off + 40);
      return 0;
    }
    plen = get16(ip + 4);
    if (n < off + 40 + plen) {
      r->st.truncated++;
      return 0;
    }
    family = AF_INET6;
    src = ip + 8;
    dst = ip + 24;
    ip_end = off + 40 + plen;
    proto = ip[6];
    off += 40;
    /* extension headers: hop-by-hop, routing, destination options */
    while (proto == 0 || proto == 43 || proto == 60) {
      if (ip_end < off + 8) {
        r->st.truncated++;
        return 0;
      }
      proto = p[off];
      off += ((size_t)p[off + 1] + 1) * 8;
    }
    if (proto == 44) {
      r->st.fragments++;
      return 0;
    }
    if (proto != 17) {
      r->st.not_udp++;
      return 0;
    }
  }
  if (ip_end < off + 8) {
    r->st.truncated++;
    return 0;
  }
  udp = p + off;
  udp_len = get16(udp + 4);
  if (udp_len < 8 || off + udp_len > ip_end) {
    r->st.truncated++;
    return 0;
  }
  memset(d, 0, sizeof *d);
  if (hint == SIPKIT_DGRAM_RECEIVED) {
    d->dir = SIPKIT_DGRAM_RECEIVED;
    set_sa(&d->remote, family, src, get16(udp));
    set_sa(&d->local, family, dst, get16(udp + 2));
  } else {
    d->dir = hint == SIPKIT_DGRAM_SENT ? SIPKIT_DGRAM_SENT : SIPKIT_DGRAM_WIRE;
    set_sa(&d->local, family, src, get16(udp));
    set_sa(&d->remote, family, dst, get16(udp + 2));
  }
  d->bytes = (const char *)udp + 8;
  d->len = udp_len - 8;
  return 1;
}

int sipkit_pcap_next(sipkit_pcap_reader *r, sipkit_dgram *d, char *errbuf, size_t errcap) {
  for (;;) {
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(r->pcap, &h, &data);
    if (rc == PCAP_ERROR_BREAK)
      return 0;
    if (rc != 1) {
      set_err(errbuf, errcap, pcap_geterr(r->pcap));
      return -1;
    }
    r->st.packets++;
    if (decode(r, data, h->caplen, d)) {
      d->time_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
      r->st.udp++;
      return 1;
    }
  }
}

int sipkit__pcap_decode(int linktype, const uint8_t *p, size_t n, sipkit_dgram *d,
                        sipkit_pcap_stats *st) {
  sipkit_pcap_reader r;
  memset(&r, 0, sizeof r);
  r.linktype = linktype;
  r.st = *st;
  int rc = decode(&r, p, n, d);
  *st = r.st;
  return rc;
}

void sipkit_pcap_get_stats(const sipkit_pcap_reader *r, sipkit_pcap_stats *st) { *st = r->st; }

void sipkit_pcap_close_read(sipkit_pcap_reader *r) {
  if (r == NULL)
    return;
  pcap_close(r->pcap);
  free(r);
}

/* ---------------------------------------------------------------- event log */

void sipkit_evlog_init(sipkit_evlog *log) { memset(log, 0, sizeof *log); }

int sipkit_evlog_add(sipkit_evlog *log, const sipkit_dgram *d) {
  char *copy;
  if (log->max_events > 0 && log->count >= log->max_events) {
    log->lost++;
    return SIPKIT_ELIMIT;
  }
  if (log->count == log->cap) {
    size_t ncap = log->cap ? log->cap * 2 : 64;
    sipkit_dgram *nev = realloc(log->ev, ncap * sizeof *nev);
    if (nev == NULL) {
      log->lost++;
      return SIPKIT_ENO_MEMORY;
    }
    log->ev = nev;
    log->cap = ncap;
  }
  copy = malloc(d->len ? d->len : 1);
  if (copy == NULL) {
    log->lost++;
    return SIPKIT_ENO_MEMORY;
  }
  if (d->len > 0)
    memcpy(copy, d->bytes, d->len);
  log->ev[log->count] = *d;
  log->ev[log->count].bytes = copy;
  log->count++;
  return SIPKIT_EOK;
}

void sipkit_evlog_free(sipkit_evlog *log) {
  size_t i;
  for (i = 0; i < log->count; i++)
    free((void *)(uintptr_t)log->ev[i].bytes);
  free(log->ev);
  memset(log, 0, sizeof *log);
}

/* ---------------------------------------------------------------- tap */

void sipkit_tap_init(sipkit_tap *tap) { memset(tap, 0, sizeof *tap); }

#define WALL_CLOCK_MIN_US 1000000000000000ull /* 2001-09-09 */

static void copy_sa(struct sockaddr_storage *ss, const struct sockaddr *sa) {
  memset(ss, 0, sizeof *ss);
  if (sa == NULL)
    return;
  if (sa->sa_family == AF_INET)
    memcpy(ss, sa, sizeof(struct sockaddr_in));
  else if (sa->sa_family == AF_INET6)
    memcpy(ss, sa, sizeof(struct sockaddr_in6));
}

void sipkit_tap_trace(void *data, int dir, uint64_t time_us, const struct sockaddr *local,
                      const struct sockaddr *remote, const char *bytes, size_t len) {
  sipkit_tap *tap = data;
  sipkit_dgram d;

  if (time_us < WALL_CLOCK_MIN_US) {
    if (!tap->have_offset_) {
      struct timeval tv;
      gettimeofday(&tv, NULL);
      tap->offset_us_ = ((int64_t)tv.tv_sec * 1000000 + tv.tv_usec) - (int64_t)time_us;
      tap->have_offset_ = 1;
    }
    time_us = (uint64_t)((int64_t)time_us + tap->offset_us_);
  }
  memset(&d, 0, sizeof d);
  d.time_us = time_us;
  d.dir = dir;
  copy_sa(&d.local, local);
  copy_sa(&d.remote, remote);
  d.bytes = bytes;
  d.len = len;
  if (tap->trace != NULL && sipkit_capture_write(tap->trace, &d) != SIPKIT_EOK)
    tap->errors++;
  if (tap->pcap != NULL && sipkit_capture_write(tap->pcap, &d) != SIPKIT_EOK)
    tap->errors++;
  if (tap->log != NULL && sipkit_evlog_add(tap->log, &d) != SIPKIT_EOK)
    tap->errors++;
}
