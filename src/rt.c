/* rt.c - the runtime: loop, clock, the timer heap (embedder timers and
 * the UA core's), statistics, trace hook, the error-reply cap and
 * deterministic fault injection. */
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

static void reaper_fired(sipkit__tnode *n) {
  sipkit__ua_reap(SIPKIT__CONTAINER(n, sipkit_rt, reaper));
}

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
  sipkit__list_init(&rt->txn_graves);
  sipkit__list_init(&rt->dlg_graves);
  sipkit__list_init(&rt->srv_graves);
  if (sipkit__timer_register(rt, &rt->reaper) != SIPKIT_EOK) {
    free(rt);
    return SIPKIT_ENO_MEMORY;
  }
  if (loop) {
    rt->loop = loop;
  } else {
    if (uv_loop_init(&rt->own_loop) != 0) {
      free(rt->heap);
      free(rt);
      return SIPKIT_ENO_MEMORY;
    }
    rt->loop = &rt->own_loop;
    rt->own = 1;
  }
  uv_timer_init(rt->loop, &rt->tick);
  *out = rt;
  return SIPKIT_EOK;
}

void sipkit__close_free(uv_handle_t *h) { free(h->data); }

/* On an embedder's loop the runtime goes with its tick handle, once
 * libuv is done with it. */
static void tick_closed(uv_handle_t *h) {
  sipkit_rt *rt = SIPKIT__CONTAINER(h, sipkit_rt, tick);
  if (!rt->own)
    free(rt);
}

void sipkit_rt_free(sipkit_rt *rt) {
  if (!rt)
    return;
  while (!sipkit__list_empty(&rt->uas)) {
    sipkit_ua *ua = SIPKIT__CONTAINER(rt->uas.next, sipkit_ua, link);
    sipkit_ua_close(ua);
  }
  while (!sipkit__list_empty(&rt->timers))
    sipkit_timer_cancel(SIPKIT__CONTAINER(rt->timers.next, sipkit_timer, link));
  sipkit__ua_reap(rt); /* no callback of ours is running: nothing reads them */
  free(rt->heap);
  rt->heap = NULL;
  rt->heap_len = rt->heap_cap = 0;
  uv_close((uv_handle_t *)&rt->tick, tick_closed);
  if (rt->own) {
    /* Close callbacks free the handles; they run on the next turns. */
    uv_run(rt->loop, UV_RUN_DEFAULT);
    uv_loop_close(rt->loop);
    free(rt);
  }
}

void *sipkit_rt_loop(sipkit_rt *rt) { return rt ? rt->loop : NULL; }

int sipkit_rt_run(sipkit_rt *rt, int mode) {
  uv_run_mode m = mode == SIPKIT_RT_RUN_ONCE     ? UV_RUN_ONCE
                  : mode == SIPKIT_RT_RUN_NOWAIT ? UV_RUN_NOWAIT
                                                 : UV_RUN_DEFAULT;
  if (!rt)
    return 0;
  rt->run_once = m == UV_RUN_ONCE;
  int alive = uv_run(rt->loop, m);
  rt->run_once = 0;
  return alive;
}

void sipkit_rt_stop(sipkit_rt *rt) {
  if (rt)
    uv_stop(rt->loop);
}

uint64_t sipkit__now(sipkit_rt *rt) { return uv_now(rt->loop) + rt->skew; }

uint64_t sipkit_rt_now(sipkit_rt *rt) { return rt ? sipkit__now(rt) : 0; }

/* ------------------------------------------------------------------ */
/* The timer heap                                                      */

static void heap_place(sipkit_rt *rt, sipkit__tnode *n, uint32_t i) {
  rt->heap[i] = n;
  n->slot = i + 1;
}

static void heap_up(sipkit_rt *rt, uint32_t i) {
  sipkit__tnode *n = rt->heap[i];
  while (i > 0 && sipkit__timer_before(n, rt->heap[(i - 1) / 2])) {
    heap_place(rt, rt->heap[(i - 1) / 2], i);
    i = (i - 1) / 2;
  }
  heap_place(rt, n, i);
}

static void heap_down(sipkit_rt *rt, uint32_t i) {
  sipkit__tnode *n = rt->heap[i];
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= rt->heap_len)
      break;
    if (c + 1 < rt->heap_len && sipkit__timer_before(rt->heap[c + 1], rt->heap[c]))
      c++;
    if (!sipkit__timer_before(rt->heap[c], n))
      break;
    heap_place(rt, rt->heap[c], i);
    i = c;
  }
  heap_place(rt, n, i);
}

/* Take n (armed) out of the heap; 1 when it was the earliest. */
static int heap_remove(sipkit_rt *rt, sipkit__tnode *n) {
  uint32_t i = n->slot - 1;
  n->slot = 0;
  sipkit__tnode *last = rt->heap[--rt->heap_len];
  if (last != n) {
    rt->heap[i] = last;
    heap_up(rt, i);
    heap_down(rt, last->slot - 1);
  }
  return i == 0;
}

static void heap_push(sipkit_rt *rt, sipkit__tnode *n) {
  rt->heap[rt->heap_len++] = n;
  heap_up(rt, rt->heap_len - 1);
}

static int armed(const sipkit__tnode *n) { return n->slot || n->lane; }

/* The lane of this wait, an empty one given to it, or NULL. */
static sipkit__lane *lane_of(sipkit_rt *rt, uint64_t wait) {
  sipkit__lane *empty = NULL;
  for (unsigned i = 0; i < SIPKIT__LANES; i++) {
    sipkit__lane *l = &rt->lanes[i];
    if (!l->first) {
      if (!empty)
        empty = l;
    } else if (l->wait == wait) {
      return l;
    }
  }
  if (empty)
    empty->wait = wait;
  return empty;
}

/* Disarm n; 1 when the heap's first node changed. */
static int disarm(sipkit_rt *rt, sipkit__tnode *n) {
  if (!n->lane)
    return n->slot && heap_remove(rt, n);
  sipkit__lane *l = &rt->lanes[n->lane - 1];
  int first = 0;
  n->lane = 0;
  if (n->lnext)
    n->lnext->lprev = n->lprev;
  else
    l->last = n->lprev;
  if (n->lprev) {
    n->lprev->lnext = n->lnext;
  } else {
    /* the lane's first, the one in the heap: its successor takes its place */
    l->first = n->lnext;
    first = heap_remove(rt, n);
    if (l->first) {
      heap_push(rt, l->first);
      first |= l->first->slot == 1;
    }
  }
  n->lprev = n->lnext = NULL;
  return first;
}

static void tick_fired(uv_timer_t *h);

/* The libuv timer follows the earliest node; with none it stops, so an
 * idle runtime does not keep the loop alive. */
static void tick_set(sipkit_rt *rt) {
  if (!rt->heap_len) {
    uv_timer_stop(&rt->tick);
    return;
  }
  uint64_t now = sipkit__now(rt), due = rt->heap[0]->due;
  uv_timer_start(&rt->tick, tick_fired, due > now ? due - now : 0, 0);
}

/* One pass: every node due now that was armed before the pass, in heap
 * order.  A node armed by a callback of this pass (seq from pass on)
 * waits for the next pass, which libuv runs right after this one when it
 * is due already. */
static void tick_fired(uv_timer_t *h) {
  sipkit_rt *rt = SIPKIT__CONTAINER(h, sipkit_rt, tick);
  uint64_t now = sipkit__now(rt);
  uint32_t pass = rt->seq;
  int fired = 0;
  rt->firing = 1;
  while (rt->heap_len) {
    sipkit__tnode *n = rt->heap[0];
    if (n->due > now || (int32_t)(n->seq - pass) >= 0)
      break;
    disarm(rt, n);
    n->fire(n);
    fired |= n != &rt->reaper;
  }
  rt->firing = 0;
  tick_set(rt);
  /* A callback may have made work for the embedder (a Lua task woken),
   * which libuv cannot see: sipkit_rt_run(ONCE) returns after this turn
   * instead of waiting in the poll for the next event. */
  if (fired && rt->run_once)
    uv_stop(rt->loop);
}

int sipkit__timer_register(sipkit_rt *rt, sipkit__tnode *n) {
  memset(n, 0, sizeof *n);
  if (rt->nodes == rt->heap_cap) {
    uint32_t cap = rt->heap_cap ? rt->heap_cap * 2 : 64;
    sipkit__tnode **heap = realloc(rt->heap, cap * sizeof *heap);
    if (!heap)
      return SIPKIT_ENO_MEMORY;
    rt->heap = heap;
    rt->heap_cap = cap;
  }
  rt->nodes++;
  return SIPKIT_EOK;
}

void sipkit__timer_drop(sipkit_rt *rt, sipkit__tnode *n) {
  sipkit__timer_stop(rt, n);
  rt->nodes--;
  /* give back what a burst of calls grew, keeping room for twice the rest */
  if (rt->heap_cap > 64 && rt->nodes < rt->heap_cap / 4) {
    sipkit__tnode **heap = realloc(rt->heap, rt->heap_cap / 2 * sizeof *heap);
    if (heap) {
      rt->heap = heap;
      rt->heap_cap /= 2;
    }
  }
}

void sipkit__timer_arm(sipkit_rt *rt, sipkit__tnode *n, uint64_t due,
                       void (*fire)(sipkit__tnode *n)) {
  uint64_t now = sipkit__now(rt);
  int was_first = armed(n) && disarm(rt, n);
  n->due = due > now ? due : now;
  n->fire = fire;
  n->seq = rt->seq++;
  sipkit__lane *l = lane_of(rt, n->due - now);
  if (l && !l->last) {
    l->first = l->last = n;
    n->lane = (uint8_t)(l - rt->lanes + 1);
    heap_push(rt, n);
  } else if (l && l->last->due <= n->due) {
    /* after the lane's last in (due, seq) order: it waits off the heap */
    n->lane = (uint8_t)(l - rt->lanes + 1);
    n->lprev = l->last;
    l->last->lnext = n;
    l->last = n;
  } else {
    heap_push(rt, n);
  }
  if ((was_first || n->slot == 1) && !rt->firing)
    tick_set(rt);
}

void sipkit__timer_stop(sipkit_rt *rt, sipkit__tnode *n) {
  if (armed(n) && disarm(rt, n) && !rt->firing)
    tick_set(rt);
}

void sipkit__bury(sipkit_rt *rt, sipkit__link *grave, sipkit__link *l) {
  sipkit__list_add(grave, l);
  if (!armed(&rt->reaper))
    sipkit__timer_arm(rt, &rt->reaper, 0, reaper_fired);
}

/* ------------------------------------------------------------------ */
/* Embedder timers                                                     */

static void timer_fired(sipkit__tnode *n) {
  sipkit_timer *t = SIPKIT__CONTAINER(n, sipkit_timer, node);
  sipkit__list_del(&t->link);
  t->cb(t->data);
  sipkit__timer_drop(t->rt, &t->node);
  free(t);
}

sipkit_timer *sipkit_rt_timer(sipkit_rt *rt, uint64_t after_ms, void (*cb)(void *data),
                              void *data) {
  if (!rt || !cb)
    return NULL;
  sipkit_timer *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  if (sipkit__timer_register(rt, &t->node) != SIPKIT_EOK) {
    free(t);
    return NULL;
  }
  t->rt = rt;
  t->cb = cb;
  t->data = data;
  uint64_t now = sipkit__now(rt);
  sipkit__timer_arm(rt, &t->node, after_ms > UINT64_MAX - now ? UINT64_MAX : now + after_ms,
                    timer_fired);
  sipkit__list_add(&rt->timers, &t->link);
  return t;
}

void sipkit_timer_cancel(sipkit_timer *t) {
  if (!t)
    return;
  sipkit__list_del(&t->link);
  sipkit__timer_drop(t->rt, &t->node);
  free(t);
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
