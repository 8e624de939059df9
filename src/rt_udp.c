/* rt_udp.c - UDP sockets (IPv4 / IPv6) under libuv, fault injection on
 * both directions, addresses. */
#define _GNU_SOURCE /* recvmmsg */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/errqueue.h>
#endif

#include "rt_internal.h"

/* The socket is read here rather than by uv_udp_recv_start: libuv reads
 * until recvmmsg fails with EAGAIN, one empty system call per wake-up (a
 * fifth of a call's system calls).  A batch shorter than its slots means
 * the queue was empty at that moment; epoll is level-triggered, so a
 * datagram that comes after it wakes the loop again.  The uv_udp_t still
 * sends.  A uv_poll_t watches a dup of the socket: libuv allows one watcher
 * per descriptor, and the uv_udp_t watches its own while sends wait in its
 * queue. */
#define SIPKIT__RECV_SLOTS 8u
#define SIPKIT__RECV_SLOT (64u * 1024u) /* any UDP datagram fits */
#define SIPKIT__RECV_ROUNDS 4u          /* full batches read per wake-up, as libuv's 32 */

/* The receive side, in the block ua->rbuf points to.  It leaves with its
 * poll handle's close callback, which libuv runs after the UDP handle's
 * (closing handles go last in, first out) that frees the UA. */
typedef struct rx {
  uv_poll_t poll;
  int fd; /* the dup the poll watches */
  struct mmsghdr mm[SIPKIT__RECV_SLOTS];
  struct iovec iov[SIPKIT__RECV_SLOTS];
  struct sockaddr_storage from[SIPKIT__RECV_SLOTS];
  char slot[SIPKIT__RECV_SLOTS][SIPKIT__RECV_SLOT];
} rx;

/* A datagram held back by an injected delay, in either direction. */
typedef struct delayed {
  uv_timer_t h;
  sipkit_ua *ua;
  sipkit__link link;
  int receive;
  struct sockaddr_storage peer;
  size_t len;
  char bytes[];
} delayed;

socklen_t sipkit__addr_len(const struct sockaddr *sa) {
  return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

int sipkit__addr_equal(const struct sockaddr *a, const struct sockaddr *b) {
  if (a->sa_family != b->sa_family)
    return 0;
  if (a->sa_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

int sipkit__addr_format(const struct sockaddr *sa, char *out, size_t cap, int with_port) {
  char ip[INET6_ADDRSTRLEN];
  int port;
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const void *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
    port = ntohs(s6->sin6_port);
    return with_port ? snprintf(out, cap, "[%s]:%d", ip, port) : snprintf(out, cap, "%s", ip);
  }
  const struct sockaddr_in *s4 = (const void *)sa;
  inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
  port = ntohs(s4->sin_port);
  return with_port ? snprintf(out, cap, "%s:%d", ip, port) : snprintf(out, cap, "%s", ip);
}

/* "host", "host:port", "[v6]", "[v6]:port".  Numeric addresses need no
 * resolver; a name goes through getaddrinfo, which blocks (documented in
 * sipkit_rt.h). */
int sipkit__addr_parse(const char *hp, int default_port, struct sockaddr_storage *ss) {
  char host[256];
  const char *port_s = NULL;
  size_t hl;
  if (!hp || !*hp)
    return SIPKIT_EARGUMENT;
  if (hp[0] == '[') {
    const char *rb = strchr(hp, ']');
    if (!rb)
      return SIPKIT_EARGUMENT;
    hl = (size_t)(rb - hp - 1);
    if (hl >= sizeof host)
      return SIPKIT_EARGUMENT;
    memcpy(host, hp + 1, hl);
    if (rb[1] == ':')
      port_s = rb + 2;
    else if (rb[1])
      return SIPKIT_EARGUMENT;
  } else {
    const char *colon = strchr(hp, ':');
    if (colon && strchr(colon + 1, ':'))
      colon = NULL; /* bare IPv6 without brackets: no port */
    hl = colon ? (size_t)(colon - hp) : strlen(hp);
    if (hl >= sizeof host)
      return SIPKIT_EARGUMENT;
    memcpy(host, hp, hl);
    if (colon)
      port_s = colon + 1;
  }
  host[hl] = 0;
  long port = default_port;
  if (port_s) {
    char *end;
    port = strtol(port_s, &end, 10);
    if (!*port_s || *end || port < 0 || port > 65535)
      return SIPKIT_EARGUMENT;
  }
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *s4 = (void *)ss;
  struct sockaddr_in6 *s6 = (void *)ss;
  if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    return SIPKIT_EOK;
  }
  if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    return SIPKIT_EOK;
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_DGRAM;
  if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
    return SIPKIT_EARGUMENT;
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (ss->ss_family == AF_INET6)
    s6->sin6_port = htons((uint16_t)port);
  else
    s4->sin_port = htons((uint16_t)port);
  return SIPKIT_EOK;
}

typedef struct send_req {
  uv_udp_send_t req;
  char bytes[];
} send_req;

static void send_done(uv_udp_send_t *r, int status) {
  (void)status;
  free(SIPKIT__CONTAINER(r, send_req, req));
}

/* SIPKIT_EIO when the kernel refused the datagram. */
static int wire_send(sipkit_ua *ua, const struct sockaddr *to, const char *bytes, size_t len) {
  sipkit_rt *rt = ua->rt;
  uv_buf_t b = uv_buf_init((char *)bytes, (unsigned)len);
  int rc = uv_udp_try_send(&ua->udp, &b, 1, to);
  if (rc < 0 && rc != UV_EAGAIN)
    /* With IP_RECVERR the socket's pending error (an ICMP error for an
     * earlier datagram, to any peer) fails the next send before anything
     * is queued, and is cleared by it; that error stays in the error
     * queue, read by drain_errors.  So a refused send is tried once more:
     * only a second refusal is this datagram's own. */
    rc = uv_udp_try_send(&ua->udp, &b, 1, to);
  if (rc == UV_EAGAIN) {
    /* The kernel queue is full or earlier sends wait: queue a copy. */
    send_req *sr = malloc(sizeof *sr + len);
    if (!sr)
      return SIPKIT_ENO_MEMORY;
    memcpy(sr->bytes, bytes, len);
    b = uv_buf_init(sr->bytes, (unsigned)len);
    rc = uv_udp_send(&sr->req, &ua->udp, &b, 1, to, send_done);
    if (rc != 0)
      free(sr);
  }
  if (rc < 0) {
    rt->st.transport_errors++;
    return SIPKIT_EIO;
  }
  rt->st.datagrams_out++;
  rt->st.bytes_out += len;
  sipkit__trace(rt, SIPKIT_RT_SENT, (const struct sockaddr *)&ua->local, to, bytes, len);
  return SIPKIT_EOK;
}

/* Linux queues ICMP errors for an unconnected UDP socket only with
 * IP_RECVERR / IPV6_RECVERR, on the socket's error queue: each entry
 * names the destination (msg_name) and quotes the start of our datagram
 * (the payload), which names the transaction (its Via branch).  A
 * non-empty queue keeps the socket readable-with-error, so it is always
 * drained. */
static void drain_errors(sipkit_ua *ua) {
#if defined(__linux__) && defined(IP_RECVERR)
  uv_os_fd_t fd;
  if (uv_fileno((const uv_handle_t *)&ua->udp, &fd) != 0)
    return;
  for (int i = 0; i < 256 && !ua->closing; i++) {
    char payload[2048];
    union {
      struct cmsghdr align;
      char buf[512];
    } ctrl;
    struct sockaddr_storage dest;
    struct iovec iov = {payload, sizeof payload};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    memset(&dest, 0, sizeof dest);
    mh.msg_name = &dest;
    mh.msg_namelen = sizeof dest;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctrl.buf;
    mh.msg_controllen = sizeof ctrl.buf;
    ssize_t n = recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0)
      return;
    int err = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
          (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
        struct sock_extended_err ee;
        memcpy(&ee, CMSG_DATA(c), sizeof ee);
        /* only what came from the network; EMSGSIZE (path MTU) is not
         * a failure of the peer */
        if ((ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6) &&
            ee.ee_errno != EMSGSIZE)
          err = (int)ee.ee_errno;
      }
    }
    if (!err || mh.msg_namelen == 0)
      continue;
    ua->rt->st.transport_errors++;
    sipkit__ua_send_error(ua, (const struct sockaddr *)&dest, payload, (size_t)n);
  }
#else
  (void)ua;
#endif
}

static void delayed_fire(uv_timer_t *h) {
  delayed *d = h->data;
  sipkit__list_del(&d->link);
  uv_close((uv_handle_t *)&d->h, sipkit__close_free);
  if (d->receive) {
    sipkit__trace(d->ua->rt, SIPKIT_RT_RECEIVED, (const struct sockaddr *)&d->ua->local,
                  (const struct sockaddr *)&d->peer, d->bytes, d->len);
    sipkit__ua_datagram(d->ua, d->bytes, d->len, (const struct sockaddr *)&d->peer);
  } else {
    /* a delayed datagram's sender has moved on: a refusal is only counted */
    (void)wire_send(d->ua, (const struct sockaddr *)&d->peer, d->bytes, d->len);
  }
}

static void delay(sipkit_ua *ua, int receive, const struct sockaddr *peer, const char *bytes,
                  size_t len) {
  delayed *d = malloc(sizeof *d + len);
  if (!d)
    return;
  d->ua = ua;
  d->receive = receive;
  memcpy(&d->peer, peer, sipkit__addr_len(peer));
  d->len = len;
  memcpy(d->bytes, bytes, len);
  uv_timer_init(ua->rt->loop, &d->h);
  d->h.data = d;
  uv_timer_start(&d->h, delayed_fire, ua->rt->cfg.delay_ms, 0);
  sipkit__list_add(&ua->delayed, &d->link);
}

int sipkit__send(sipkit_ua *ua, const struct sockaddr *to, const char *bytes, size_t len,
                 int retransmission) {
  sipkit_rt *rt = ua->rt;
  if (ua->closing)
    return SIPKIT_ESTATE;
  if (retransmission)
    rt->st.retransmissions++;
  switch (sipkit__fault(rt, 0)) {
  case SIPKIT_RT_FAULT_DROP:
    rt->st.injected_drops++;
    sipkit__trace(rt, SIPKIT_RT_DROPPED_SEND, (const struct sockaddr *)&ua->local, to, bytes,
                  len);
    return SIPKIT_EOK;
  case SIPKIT_RT_FAULT_DUP:
    rt->st.injected_dups++;
    (void)wire_send(ua, to, bytes, len);
    break;
  case SIPKIT_RT_FAULT_DELAY:
    rt->st.injected_delays++;
    delay(ua, 0, to, bytes, len);
    return SIPKIT_EOK;
  default:
    break;
  }
  return wire_send(ua, to, bytes, len) == SIPKIT_EOK ? SIPKIT_EOK : SIPKIT_EIO;
}

static void deliver(sipkit_ua *ua, const char *bytes, size_t len, const struct sockaddr *addr);

static void on_readable(uv_poll_t *p, int status, int events) {
  (void)events;
  sipkit_ua *ua = p->data;
  rx *r = (rx *)(void *)ua->rbuf;
  if (ua->closing)
    return;
  if (status < 0) {
    /* EPOLLERR: an ICMP error waits in the error queue, and libuv stopped
     * the handle.  Datagrams may wait too. */
    drain_errors(ua);
    if (ua->closing || uv_poll_start(p, UV_READABLE, on_readable) != 0)
      return;
  }
  unsigned got = 0;
  for (unsigned round = 0; round < SIPKIT__RECV_ROUNDS; round++) {
    for (unsigned i = 0; i < SIPKIT__RECV_SLOTS; i++) {
      r->iov[i].iov_base = r->slot[i];
      r->iov[i].iov_len = sizeof r->slot[i];
      memset(&r->mm[i].msg_hdr, 0, sizeof r->mm[i].msg_hdr);
      r->mm[i].msg_hdr.msg_name = &r->from[i];
      r->mm[i].msg_hdr.msg_namelen = sizeof r->from[i];
      r->mm[i].msg_hdr.msg_iov = &r->iov[i];
      r->mm[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(r->fd, r->mm, SIPKIT__RECV_SLOTS, 0, NULL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      /* A pending ICMP error failed the read; or nothing came, which
       * without an error queue entry is a spurious wake-up. */
      if (errno != EAGAIN || !got)
        drain_errors(ua);
      return;
    }
    for (int i = 0; i < n; i++) {
      if (ua->closing)
        return;
      if (r->mm[i].msg_hdr.msg_flags & MSG_TRUNC)
        ua->rt->st.oversize++;
      else if (r->mm[i].msg_len)
        deliver(ua, r->slot[i], r->mm[i].msg_len, (const struct sockaddr *)&r->from[i]);
    }
    got += (unsigned)n;
    if ((unsigned)n < SIPKIT__RECV_SLOTS)
      return; /* the queue is drained */
  }
}

/* One datagram read from the socket: size limit, statistics, receive
 * fault injection, trace, then the UA core. */
static void deliver(sipkit_ua *ua, const char *bytes, size_t len, const struct sockaddr *addr) {
  sipkit_rt *rt = ua->rt;
  if (len > rt->cfg.max_datagram) {
    rt->st.oversize++;
    return;
  }
  rt->st.datagrams_in++;
  rt->st.bytes_in += (uint64_t)len;
  switch (sipkit__fault(rt, 1)) {
  case SIPKIT_RT_FAULT_DROP:
    rt->st.injected_drops++;
    sipkit__trace(rt, SIPKIT_RT_DROPPED_RECV, (const struct sockaddr *)&ua->local, addr, bytes,
                  len);
    return;
  case SIPKIT_RT_FAULT_DELAY:
    rt->st.injected_delays++;
    delay(ua, 1, addr, bytes, len);
    return;
  case SIPKIT_RT_FAULT_DUP: {
    rt->st.injected_dups++;
    /* The first delivery may send and receive (nested loops never run
     * here, but a callback may close the UA): deliver a copy first. */
    char *copy = malloc(len);
    if (copy) {
      memcpy(copy, bytes, len);
      sipkit__trace(rt, SIPKIT_RT_RECEIVED, (const struct sockaddr *)&ua->local, addr, copy,
                    len);
      sipkit__ua_datagram(ua, copy, len, addr);
      free(copy);
    }
    if (ua->closing)
      return;
    break;
  }
  default:
    break;
  }
  sipkit__trace(rt, SIPKIT_RT_RECEIVED, (const struct sockaddr *)&ua->local, addr, bytes, len);
  sipkit__ua_datagram(ua, bytes, len, addr);
}

void sipkit__ua_inject(sipkit_ua *ua, const char *bytes, size_t len, const struct sockaddr *from) {
  if (!ua || ua->closing || !from || len == 0)
    return; /* on_recv: a closing UA reads nothing, an empty read is no datagram */
  deliver(ua, bytes, len, from);
}

static void rx_closed(uv_handle_t *h) {
  rx *r = SIPKIT__CONTAINER((uv_poll_t *)h, rx, poll);
  close(r->fd);
  free(r);
}

/* The poll handle takes the receive block with it (ua->rbuf no longer
 * owns it): its close callback runs after the UA is freed. */
static void rx_close(sipkit_ua *ua) {
  rx *r = (rx *)(void *)ua->rbuf;
  ua->rbuf = NULL;
  uv_close((uv_handle_t *)&r->poll, rx_closed);
}

int sipkit__udp_open(sipkit_ua *ua, const char *bind_to, int reuseport, int *sys_err) {
  struct sockaddr_storage ss;
  sipkit_rt *rt = ua->rt;
  if (sipkit__addr_parse(bind_to, 0, &ss) != SIPKIT_EOK)
    return SIPKIT_EARGUMENT;
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    goto fail;
  int one = 1;
  if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    goto fail;
#if defined(__linux__) && defined(IP_RECVERR)
  /* ICMP errors as transport errors (drain_errors).  Best effort: a
   * socket without them only learns of a dead peer by timer B / F.  A v6
   * socket also sends to v4-mapped peers, whose errors are ICMPv4. */
  (void)setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof one);
  if (ss.ss_family == AF_INET6)
    (void)setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof one);
#endif
  if (rt->cfg.recv_buffer > 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rt->cfg.recv_buffer, sizeof(int)) != 0)
    goto fail;
  if (rt->cfg.send_buffer > 0 &&
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &rt->cfg.send_buffer, sizeof(int)) != 0)
    goto fail;
  if (bind(fd, (struct sockaddr *)&ss, sipkit__addr_len((struct sockaddr *)&ss)) != 0)
    goto fail;
  socklen_t sl = sizeof ua->local;
  if (getsockname(fd, (struct sockaddr *)&ua->local, &sl) != 0)
    goto fail;
  rx *r = malloc(sizeof *r);
  if (!r) {
    close(fd);
    return SIPKIT_ENO_MEMORY;
  }
  r->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (r->fd < 0) {
    free(r);
    goto fail;
  }
  ua->rbuf = (char *)r;
  uv_udp_init(rt->loop, &ua->udp);
  ua->udp.data = ua;
  int rc = uv_udp_open(&ua->udp, fd), polling = 0;
  if (rc == 0)
    rc = uv_poll_init(rt->loop, &r->poll, r->fd);
  if (rc == 0) {
    polling = 1;
    r->poll.data = ua;
    rc = uv_poll_start(&r->poll, UV_READABLE, on_readable);
  }
  if (rc != 0) {
    if (sys_err)
      *sys_err = rc;
    if (polling)
      rx_close(ua);
    else
      close(r->fd); /* ua->rbuf goes with ua */
    ua->closing = 2; /* the close callback frees ua, the caller must not */
    uv_close((uv_handle_t *)&ua->udp, sipkit__ua_free_cb);
    return SIPKIT_EIO;
  }
  return SIPKIT_EOK;
fail:
  if (sys_err)
    *sys_err = -errno;
  if (fd >= 0)
    close(fd);
  return SIPKIT_EIO;
}

void sipkit__udp_close(sipkit_ua *ua) {
  if (ua->closing && ua->rbuf)
    rx_close(ua); /* sipkit_ua_close: the UDP handle closes next */
  while (!sipkit__list_empty(&ua->delayed)) {
    delayed *d = SIPKIT__CONTAINER(ua->delayed.next, delayed, link);
    sipkit__list_del(&d->link);
    uv_timer_stop(&d->h);
    uv_close((uv_handle_t *)&d->h, sipkit__close_free);
  }
}

int sipkit_ua_fd(const sipkit_ua *ua) {
  uv_os_fd_t fd;
  if (!ua || uv_fileno((const uv_handle_t *)&ua->udp, &fd) != 0)
    return -1;
  return fd;
}
