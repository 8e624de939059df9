/* rt.c - the runtime: loop, clock, embedder timers, statistics, trace
 * hook, the error-reply cap and deterministic fault injection. */
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

void sipkit_rt_config_default(sipkit_rt_config *cfg) {
  if (!cfg)
    return;
  memset(cfg, 0, sizeof *cfg);
  sipkit_txn_config_default(&cfg->txn);
  cfg->max_transactions = 20000;
  cfg->max_dialogs = 20000;
  cfg->max_datagram = 65507;
  cfg->error_replies_per_sec = 200;
  cfg->retry_after = 5;
  cfg->delay_ms = 100;
}

/* splitmix64 (Steele, Lea, Flood 2014): tiny, full-period, and its output
 * for a given seed is a published sequence, so tests can pin it. */
static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int prob_ok(double p) { return p >= 0.0 && p <= 1.0; }

int sipkit_rt_new(sipkit_rt **out, void *loop, const sipkit_rt_config *cfg) {
  sipkit_rt_config def;
  if (!out)
    return SIPKIT_EARGUMENT;
  *out = NULL;
  if (!cfg) {
    sipkit_rt_config_default(&def);
    cfg = &def;
  }
  sipkit_txn t;
  if (sipkit_txn_init(&t, SIPKIT_TXN_INVITE_CLIENT, &cfg->txn, 0) != SIPKIT_EOK)
    return SIPKIT_EARGUMENT;
  if (!prob_ok(cfg->drop_send) || !prob_ok(cfg->drop_recv) || !prob_ok(cfg->dup_send) ||
      !prob_ok(cfg->dup_recv) || !prob_ok(cfg->delay_send) || !prob_ok(cfg->delay_recv) ||
      cfg->drop_send + cfg->dup_send + cfg->delay_send > 1.0 ||
      cfg->drop_recv + cfg->dup_recv + cfg->delay_recv > 1.0 || cfg->max_datagram == 0)
    return SIPKIT_EARGUMENT;
  if (cfg->user_agent && strlen(cfg->user_agent) >= sizeof ((sipkit_rt *)0)->user_agent)
    return SIPKIT_EARGUMENT;
  sipkit_rt *rt = calloc(1, sizeof *rt);
  if (!rt)
    return SIPKIT_ENO_MEMORY;
  rt->cfg = *cfg;
  strcpy(rt->user_agent, cfg->user_agent ? cfg->user_agent : "sipkit/" SIPKIT_VERSION);
  rt->cfg.user_agent = rt->user_agent;
  /* Two streams so that what is sent does not change what is received. */
  rt->rng[0] = cfg->seed;
  rt->rng[1] = cfg->seed ^ 0x5851f42d4c957f2dull;
  sipkit__list_init(&rt->timers);
  sipkit__list_init(&rt->uas);
  if (loop) {
    rt->loop = loop;
  } else {
    if (uv_loop_init(&rt->own_loop) != 0) {
      free(rt);
      return SIPKIT_ENO_MEMORY;
    }
    rt->loop = &rt->own_loop;
    rt->own = 1;
  }
  *out = rt;
  return SIPKIT_EOK;
}

void sipkit__close_free(uv_handle_t *h) { free(h->data); }

void sipkit_rt_free(sipkit_rt *rt) {
  if (!rt)
    return;
  while (!sipkit__list_empty(&rt->uas)) {
    sipkit_ua *ua = SIPKIT__CONTAINER(rt->uas.next, sipkit_ua, link);
    sipkit_ua_close(ua);
  }
  while (!sipkit__list_empty(&rt->timers))
    sipkit_timer_cancel(SIPKIT__CONTAINER(rt->timers.next, sipkit_timer, link));
  if (rt->own) {
    /* Close callbacks free the handles; they run on the next turns. */
    uv_run(rt->loop, UV_RUN_DEFAULT);
    uv_loop_close(rt->loop);
  }
  free(rt);
}

void *sipkit_rt_loop(sipkit_rt *rt) { return rt ? rt->loop : NULL; }

int sipkit_rt_run(sipkit_rt *rt, int mode) {
  uv_run_mode m = mode == SIPKIT_RT_RUN_ONCE     ? UV_RUN_ONCE
                  : mode == SIPKIT_RT_RUN_NOWAIT ? UV_RUN_NOWAIT
                                                 : UV_RUN_DEFAULT;
  return rt ? uv_run(rt->loop, m) : 0;
}

void sipkit_rt_stop(sipkit_rt *rt) {
  if (rt)
    uv_stop(rt->loop);
}

uint64_t sipkit__now(sipkit_rt *rt) { return uv_now(rt->loop) + rt->skew; }

uint64_t sipkit_rt_now(sipkit_rt *rt) { return rt ? sipkit__now(rt) : 0; }

static void timer_fired(uv_timer_t *h) {
  sipkit_timer *t = h->data;
  sipkit__list_del(&t->link);
  uv_close((uv_handle_t *)&t->h, sipkit__close_free);
  t->cb(t->data);
}

sipkit_timer *sipkit_rt_timer(sipkit_rt *rt, uint64_t after_ms, void (*cb)(void *data),
                              void *data) {
  if (!rt || !cb)
    return NULL;
  sipkit_timer *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->rt = rt;
  t->cb = cb;
  t->data = data;
  uv_timer_init(rt->loop, &t->h);
  t->h.data = t;
  uv_timer_start(&t->h, timer_fired, after_ms, 0);
  sipkit__list_add(&rt->timers, &t->link);
  return t;
}

void sipkit_timer_cancel(sipkit_timer *t) {
  if (!t)
    return;
  sipkit__list_del(&t->link);
  uv_timer_stop(&t->h);
  uv_close((uv_handle_t *)&t->h, sipkit__close_free);
}

void sipkit_rt_set_trace(sipkit_rt *rt, sipkit_trace_fn fn, void *data) {
  if (!rt)
    return;
  rt->trace = fn;
  rt->trace_data = data;
}

void sipkit_rt_get_stats(sipkit_rt *rt, sipkit_rt_stats *st) {
  if (rt && st)
    *st = rt->st;
}

int sipkit_rt_fault_next(sipkit_rt *rt, int receive) {
  return rt ? sipkit__fault(rt, receive) : SIPKIT_RT_FAULT_NONE;
}

int sipkit__fault(sipkit_rt *rt, int receive) {
  double drop = receive ? rt->cfg.drop_recv : rt->cfg.drop_send;
  double dup = receive ? rt->cfg.dup_recv : rt->cfg.dup_send;
  double delay = receive ? rt->cfg.delay_recv : rt->cfg.delay_send;
  if (drop <= 0 && dup <= 0 && delay <= 0)
    return SIPKIT_RT_FAULT_NONE; /* no draw: the stream only moves when faults are on */
  /* 53 high bits give a uniform double in [0, 1). */
  double u = (double)(splitmix64(&rt->rng[receive ? 1 : 0]) >> 11) * 0x1.0p-53;
  if (u < drop)
    return SIPKIT_RT_FAULT_DROP;
  if (u < drop + dup)
    return SIPKIT_RT_FAULT_DUP;
  if (u < drop + dup + delay)
    return SIPKIT_RT_FAULT_DELAY;
  return SIPKIT_RT_FAULT_NONE;
}

void sipkit__trace(sipkit_rt *rt, int dir, const struct sockaddr *local,
                   const struct sockaddr *remote, const char *bytes, size_t len) {
  if (!rt->trace)
    return;
  uv_timeval64_t tv;
  uint64_t us = 0;
  if (uv_gettimeofday(&tv) == 0)
    us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
  rt->trace(rt->trace_data, dir, us, local, remote, bytes, len);
}

int sipkit__cap_allows(sipkit_rt *rt) {
  uint64_t sec = uv_now(rt->loop) / 1000u;
  if (sec != rt->cap_second) {
    rt->cap_second = sec;
    rt->cap_count = 0;
  }
  if (rt->cap_count >= rt->cfg.error_replies_per_sec) {
    rt->st.replies_capped++;
    return 0;
  }
  rt->cap_count++;
  return 1;
}
