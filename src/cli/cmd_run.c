/* cmd_run.c - `sipkit run [OPTIONS] SCRIPT.lua [ARGS...]`
 *
 * Runs a Lua script as the main task of sipkit.run (lua/sipkit.lua): the
 * script may call sipkit.sleep, open user agents and spawn tasks at its
 * top level, and it sees `arg` and `...` as under lua5.4.  Lua itself lives
 * in lua/lsipkit.c (sipkit_lua_run); this file only handles options so the
 * CLI never includes a Lua header.
 *
 * Evidence of the run (--trace, --pcap, --ladder, --ladder-html) comes from
 * the runtime's trace hook through a sipkit_tap (sipkit_capture.h), wired
 * by the binding's hooks (sipkit_lua.h): configure sets the runtime options
 * (socket buffers, T1, fault injection) before each runtime exists,
 * on_rt_new attaches the tap.  Outputs are finished exactly once, however
 * the run ends: the script returns, calls os.exit (atexit), or the process
 * gets SIGINT / SIGTERM (a libuv signal handle on the runtime's loop, so
 * the handler runs outside signal context).
 *
 * Exit status: 0 when the script returned, 1 after a Lua error (message
 * and traceback on stderr), 2 for usage errors and an unreadable script,
 * 128+N after signal N.
 */
#define _GNU_SOURCE /* fopencookie, for --trace-prefix */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "cli.h"
#include "sipkit_capture.h"
#include "sipkit_ladder.h"
#include "sipkit_lua.h"
#include "sipkit_rt.h"

/* Ladders keep every datagram in memory; beyond this many the rest are
 * counted as lost (a long load run under --ladder). */
#define RUN_MAX_LADDER_EVENTS 200000u

static void run_usage(FILE *out) {
  fprintf(out,
          "usage: " CLI_PROG " run [OPTIONS] SCRIPT.lua [ARGS...]\n"
          "\n"
          "Run a Lua 5.4 call-flow script with the sipkit module preloaded\n"
          "(local sipkit = require \"sipkit\").  The script is the main task of\n"
          "sipkit.run: it may call sipkit.sleep, sipkit.spawn and open user\n"
          "agents (sipkit.ua) at its top level.  ARGS are the script's `arg[1..]`\n"
          "and its `...`; arg[0] is SCRIPT.lua, as with lua5.4.  The run ends\n"
          "when the script returns; tasks it spawned that are still waiting\n"
          "are dropped and user agents are closed.\n"
          "\n"
          "options:\n"
          "  -h, --help         show this help\n"
          "  --trace[=FILE]     write every datagram sent and received as a\n"
          "                     readable block (time, direction, local and\n"
          "                     remote address, message) to stderr, or to FILE\n"
          "                     ('--trace FILE' also works when FILE does not\n"
          "                     end in .lua; '-' is stderr)\n"
          "  --trace-prefix STR start each trace line with STR (several\n"
          "                     processes tracing to one terminal)\n"
          "  --pcap FILE        write every datagram to a pcap file (Ethernet,\n"
          "                     IPv4/IPv6 and UDP headers with the real\n"
          "                     addresses) for Wireshark, tshark, sngrep\n"
          "  --ladder           after the run, print a ladder diagram of each\n"
          "                     call to stdout (colour on a terminal unless\n"
          "                     NO_COLOR is set)\n"
          "  --ladder-html FILE after the run, write all calls as one\n"
          "                     self-contained HTML file (inline SVG)\n"
          "  --loss P           drop each datagram with probability P (0..1),\n"
          "                     sent and received alike\n"
          "  --dup P            send / deliver each datagram twice with\n"
          "                     probability P\n"
          "  --delay P[:MS]     delay each datagram by MS ms (default 100)\n"
          "                     with probability P\n"
          "  --seed N           seed of the fault-injection generator\n"
          "                     (default 0); same seed, same decisions\n"
          "  --buffer BYTES     SO_RCVBUF and SO_SNDBUF of every socket (K and\n"
          "                     M suffixes: 4M; default 4M, capped by the kernel\n"
          "                     at net.core.rmem_max / wmem_max; 0: the system's)\n"
          "  --t1 MS            SIP timer T1 (default 500)\n"
          "  --max-transactions N  live transactions before new requests get\n"
          "                     503 (default 20000; an INVITE transaction\n"
          "                     lives 32 s after its 2xx, so a server taking\n"
          "                     more than ~600 calls/s needs more)\n"
          "  --max-dialogs N    live dialogs, likewise (default 20000)\n"
          "  --stats            when the run ends, print the runtime's counters\n"
          "                     (datagrams, retransmissions, injected drops ...)\n"
          "                     as one line on stderr\n"
          "  --                 end of options (for a script whose name starts\n"
          "                     with '-')\n"
          "\n"
          "Fault injection draws once per datagram and direction from a\n"
          "splitmix64 stream: loss, then dup, then delay; P values must add up\n"
          "to at most 1.  Dropped datagrams appear in the trace as \"dropped\".\n"
          "\n"
          "The same module works from stock lua5.4: `make install` puts\n"
          "sipkit.so in PREFIX/lib/lua/5.4/, or set\n"
          "LUA_CPATH='build/lua/?.so;;' in the source tree.\n"
          "\n"
          "Exit status: 0 the script returned (or called os.exit(0)), 1 a Lua\n"
          "error (message and traceback on stderr), 2 usage error or a script\n"
          "that cannot be read, 128+N stopped by signal N (the trace, capture\n"
          "and ladders are still written).\n");
}

/* ------------------------------------------------------------------ */
/* Options                                                             */

typedef struct run_opts {
  const char *trace_path;   /* NULL: no trace; "-": stderr */
  const char *trace_prefix; /* NULL: none */
  const char *pcap_path;
  const char *html_path;
  int ladder;
  double loss, dup, delay;
  uint32_t delay_ms;
  uint64_t seed;
  long buffer;              /* -1: not given (CLI_DEFAULT_BUFFER); 0: the system default */
  uint32_t t1;              /* 0: default */
  int stats;                /* print the runtime's counters at its end */
  uint32_t max_txn;         /* 0: default */
  uint32_t max_dlg;         /* 0: default */
} run_opts;

/* Fields shared with cmd_load.c through cli.h (cli_rt_opts). */
static int parse_prob(const char *opt, const char *s, double *out) {
  char *end;
  double v;
  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0)) {
    fprintf(stderr, CLI_PROG ": %s: '%s' is not a probability between 0 and 1\n", opt, s);
    return -1;
  }
  *out = v;
  return 0;
}

int cli_parse_uint(const char *opt, const char *s, uint64_t max, uint64_t *out) {
  char *end;
  unsigned long long v;
  errno = 0;
  if (s[0] < '0' || s[0] > '9') {
    fprintf(stderr, CLI_PROG ": %s: '%s' is not a number\n", opt, s);
    return -1;
  }
  v = strtoull(s, &end, 10);
  if (errno || *end != '\0' || v > max) {
    fprintf(stderr, CLI_PROG ": %s: '%s' is not a number up to %llu\n", opt, s,
            (unsigned long long)max);
    return -1;
  }
  *out = v;
  return 0;
}

void cli_config_buffer(long buffer, struct sipkit_rt_config *cfg) {
  if (buffer < 0)
    buffer = CLI_DEFAULT_BUFFER;
  if (buffer > 0) {
    cfg->recv_buffer = (int)buffer;
    cfg->send_buffer = (int)buffer;
  }
}

int cli_parse_bytes(const char *opt, const char *s, long *out) {
  char *end;
  unsigned long long v;
  unsigned long long mul = 1;
  errno = 0;
  if (s[0] < '0' || s[0] > '9') {
    fprintf(stderr, CLI_PROG ": %s: '%s' is not a size in bytes\n", opt, s);
    return -1;
  }
  v = strtoull(s, &end, 10);
  if (*end == 'k' || *end == 'K') {
    mul = 1024;
    end++;
  } else if (*end == 'm' || *end == 'M') {
    mul = 1024 * 1024;
    end++;
  }
  if (errno || *end != '\0' || v > (1ull << 30) / mul) {
    fprintf(stderr, CLI_PROG ": %s: '%s' is not a size up to 1G (e.g. 65536, 512K, 4M)\n",
            opt, s);
    return -1;
  }
  *out = (long)(v * mul);
  return 0;
}

/* --delay P[:MS] */
static int parse_delay(const char *s, double *p, uint32_t *ms) {
  char buf[64];
  char *colon;
  uint64_t v;
  if (strlen(s) >= sizeof buf) {
    fprintf(stderr, CLI_PROG ": --delay: '%s' is too long\n", s);
    return -1;
  }
  strcpy(buf, s);
  colon = strchr(buf, ':');
  if (colon) {
    *colon = '\0';
    if (cli_parse_uint("--delay", colon + 1, 600000, &v) != 0)
      return -1;
    *ms = (uint32_t)v;
  }
  return parse_prob("--delay", buf, p);
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ------------------------------------------------------------------ */
/* Hooks: runtime options and the tap                                  */

typedef struct run_signal {
  uv_signal_t h;
  int open;
} run_signal;

typedef struct run_state {
  run_opts o;
  sipkit_tap tap;
  sipkit_evlog log;
  FILE *trace_file;      /* fopen'd trace (not stderr) */
  FILE *trace_out;       /* what the trace capture writes to */
  int need_log;
  int finished;
  int status;            /* exit status of a run ended by a signal */
  run_signal sigs[2];
  sipkit_rt *rt;         /* the runtime the signals are caught on (for --stats) */
} run_state;

static run_state *g_run; /* for atexit: os.exit() from the script */

static void run_finish(run_state *s);

static void print_stats(sipkit_rt *rt) {
  sipkit_rt_stats st;
  sipkit_rt_get_stats(rt, &st);
  fprintf(stderr,
          CLI_PROG " run: stats: datagrams_in=%llu datagrams_out=%llu retransmissions=%llu "
          "injected_drops=%llu injected_dups=%llu injected_delays=%llu malformed=%llu "
          "txn_timeouts=%llu transport_errors=%llu\n",
          (unsigned long long)st.datagrams_in, (unsigned long long)st.datagrams_out,
          (unsigned long long)st.retransmissions, (unsigned long long)st.injected_drops,
          (unsigned long long)st.injected_dups, (unsigned long long)st.injected_delays,
          (unsigned long long)st.malformed, (unsigned long long)st.txn_timeouts,
          (unsigned long long)st.transport_errors);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)h;
  if (!g_run)
    return;
  fprintf(stderr, CLI_PROG " run: %s, stopping\n", signum == SIGINT ? "interrupted" : "terminated");
  fflush(stdout);
  if (g_run->o.stats && g_run->rt)
    print_stats(g_run->rt); /* _exit below: hook_rt_free never runs */
  run_finish(g_run);
  _exit(128 + signum);
}

static void hook_configure(void *data, sipkit_rt_config *cfg) {
  run_state *s = (run_state *)data;
  cli_config_buffer(s->o.buffer, cfg);
  if (s->o.t1 > 0)
    cfg->txn.t1 = s->o.t1;
  if (s->o.max_txn > 0)
    cfg->max_transactions = s->o.max_txn;
  if (s->o.max_dlg > 0)
    cfg->max_dialogs = s->o.max_dlg;
  cfg->seed = s->o.seed;
  cfg->drop_send = cfg->drop_recv = s->o.loss;
  cfg->dup_send = cfg->dup_recv = s->o.dup;
  cfg->delay_send = cfg->delay_recv = s->o.delay;
  if (s->o.delay_ms > 0)
    cfg->delay_ms = s->o.delay_ms;
}

static void hook_rt_new(void *data, sipkit_rt *rt) {
  run_state *s = (run_state *)data;
  static const int signums[2] = {SIGINT, SIGTERM};
  int i;
  if (s->tap.trace || s->tap.pcap || s->tap.log)
    sipkit_rt_set_trace(rt, sipkit_tap_trace, &s->tap);
  for (i = 0; i < 2; i++) {
    run_signal *g = &s->sigs[i];
    if (g->open)
      continue; /* one runtime at a time catches them */
    if (uv_signal_init((uv_loop_t *)sipkit_rt_loop(rt), &g->h) != 0)
      continue;
    g->open = 1;
    s->rt = rt;
    uv_signal_start(&g->h, on_signal, signums[i]);
    uv_unref((uv_handle_t *)&g->h); /* never keeps the loop alive */
  }
}

static void hook_rt_free(void *data, sipkit_rt *rt) {
  run_state *s = (run_state *)data;
  int i;
  if (s->o.stats)
    print_stats(rt);
  if (s->rt == rt)
    s->rt = NULL;
  for (i = 0; i < 2; i++) {
    if (!s->sigs[i].open)
      continue;
    /* closed before sipkit_rt_free, which runs the loop until handles are closed */
    uv_close((uv_handle_t *)&s->sigs[i].h, NULL);
    s->sigs[i].open = 0;
  }
  if (s->tap.trace)
    sipkit_capture_flush(s->tap.trace);
  if (s->tap.pcap)
    sipkit_capture_flush(s->tap.pcap);
}

/* Trace lines get a prefix: the trace writes to a stream whose lines come
 * here; each goes out with its prefix in one write, so lines of other
 * processes sharing the terminal never land inside one of ours. */
static ssize_t prefix_write(void *cookie, const char *buf, size_t len) {
  run_state *s = (run_state *)cookie;
  static char line[8192];
  static size_t used;
  size_t i;
  FILE *out = s->trace_file ? s->trace_file : stderr;
  for (i = 0; i < len; i++) {
    if (used == 0) {
      size_t p = strlen(s->o.trace_prefix);
      if (p > sizeof line / 2)
        p = sizeof line / 2;
      memcpy(line, s->o.trace_prefix, p);
      used = p;
    }
    line[used++] = buf[i];
    if (buf[i] == '\n' || used == sizeof line) {
      fwrite(line, 1, used, out);
      fflush(out);
      used = 0;
    }
  }
  return (ssize_t)len;
}

static int run_open_outputs(run_state *s) {
  char err[256];
  if (s->o.trace_path) {
    if (strcmp(s->o.trace_path, "-") != 0) {
      s->trace_file = fopen(s->o.trace_path, "w");
      if (!s->trace_file) {
        fprintf(stderr, CLI_PROG ": %s: %s\n", s->o.trace_path, strerror(errno));
        return -1;
      }
    }
    s->trace_out = s->trace_file ? s->trace_file : stderr;
    if (s->o.trace_prefix) {
      cookie_io_functions_t io = {NULL, prefix_write, NULL, NULL};
      FILE *f = fopencookie(s, "w", io);
      if (!f) {
        fprintf(stderr, CLI_PROG ": --trace-prefix: %s\n", strerror(errno));
        return -1;
      }
      s->trace_out = f;
    }
    /* line-buffered: a trace is readable while the run goes on (tail -f) */
    setvbuf(s->trace_out, NULL, _IOLBF, 0);
    if (sipkit_capture_open_trace(&s->tap.trace, s->trace_out) != SIPKIT_EOK) {
      fprintf(stderr, CLI_PROG ": --trace: out of memory\n");
      return -1;
    }
  }
  if (s->o.pcap_path &&
      sipkit_capture_open_pcap(&s->tap.pcap, s->o.pcap_path, err, sizeof err) != SIPKIT_EOK) {
    fprintf(stderr, CLI_PROG ": %s: %s\n", s->o.pcap_path, err);
    return -1;
  }
  if (s->o.ladder || s->o.html_path) {
    sipkit_evlog_init(&s->log);
    s->log.max_events = RUN_MAX_LADDER_EVENTS;
    s->tap.log = &s->log;
    s->need_log = 1;
  }
  return 0;
}

/* Close the captures and draw the ladders; once, whatever ended the run.
 * Returns 0, or -1 when an output could not be written. */
static int run_finish_outputs(run_state *s) {
  int bad = 0;
  if (s->tap.trace && sipkit_capture_close(s->tap.trace) != SIPKIT_EOK) {
    fprintf(stderr, CLI_PROG ": --trace: write error\n");
    bad = 1;
  }
  s->tap.trace = NULL;
  if (s->trace_out && s->trace_out != stderr && s->trace_out != s->trace_file)
    fclose(s->trace_out); /* the prefix stream */
  if (s->trace_file && fclose(s->trace_file) != 0) {
    fprintf(stderr, CLI_PROG ": %s: write error\n", s->o.trace_path);
    bad = 1;
  }
  s->trace_file = s->trace_out = NULL;
  if (s->tap.pcap && sipkit_capture_close(s->tap.pcap) != SIPKIT_EOK) {
    fprintf(stderr, CLI_PROG ": %s: write error\n", s->o.pcap_path);
    bad = 1;
  }
  s->tap.pcap = NULL;
  if (s->need_log) {
    s->tap.log = NULL;
    if (s->log.lost)
      fprintf(stderr, CLI_PROG " run: ladders: %llu datagrams not kept (limit %u)\n",
              (unsigned long long)s->log.lost, RUN_MAX_LADDER_EVENTS);
    if (s->o.ladder) {
      sipkit_ladder_opts lo;
      memset(&lo, 0, sizeof lo);
      lo.color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
      fflush(stdout);
      if (s->log.count == 0)
        printf("(no SIP messages)\n");
      else if (sipkit_ladder_text(stdout, s->log.ev, s->log.count, &lo) != SIPKIT_EOK)
        bad = 1;
      fflush(stdout);
    }
    if (s->o.html_path) {
      FILE *f = fopen(s->o.html_path, "w");
      if (!f) {
        fprintf(stderr, CLI_PROG ": %s: %s\n", s->o.html_path, strerror(errno));
        bad = 1;
      } else {
        int rc = sipkit_ladder_html(f, s->log.ev, s->log.count, NULL);
        if (fclose(f) != 0 || rc != SIPKIT_EOK) {
          fprintf(stderr, CLI_PROG ": %s: write error\n", s->o.html_path);
          bad = 1;
        }
      }
    }
    sipkit_evlog_free(&s->log);
    s->need_log = 0;
  }
  return bad ? -1 : 0;
}

static void run_finish(run_state *s) {
  if (s->finished)
    return;
  s->finished = 1;
  if (run_finish_outputs(s) != 0)
    s->status = CLI_EXIT_USAGE;
}

static void run_atexit(void) {
  if (g_run)
    run_finish(g_run);
}

/* ------------------------------------------------------------------ */

int cli_cmd_run(int argc, char **argv) {
  static run_state s; /* static: atexit and the signal callback reach it */
  sipkit_lua_hooks hooks;
  int i = 0, rc;
  uint64_t v = 1;

  memset(&s, 0, sizeof s);
  s.o.buffer = -1; /* not given: CLI_DEFAULT_BUFFER */
  for (; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                          \
  do {                                                                        \
    if (!next) {                                                              \
      fprintf(stderr, CLI_PROG " run: option '%s' needs a value\n", a);       \
      fprintf(stderr, "Try '" CLI_PROG " run --help'.\n");                    \
      return CLI_EXIT_USAGE;                                                  \
    }                                                                         \
    i++;                                                                      \
  } while (0)
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      run_usage(stdout);
      return CLI_EXIT_OK;
    }
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(a, "--trace") == 0) {
      /* an optional value: a following argument that is not the script */
      if (next && next[0] != '-' && !ends_with(next, ".lua")) {
        s.o.trace_path = next;
        i++;
      } else if (next && strcmp(next, "-") == 0) {
        s.o.trace_path = "-";
        i++;
      } else {
        s.o.trace_path = "-";
      }
    } else if (strncmp(a, "--trace=", 8) == 0) {
      s.o.trace_path = a[8] ? a + 8 : "-";
    } else if (strcmp(a, "--trace-prefix") == 0) {
      NEED_VALUE();
      s.o.trace_prefix = next;
    } else if (strcmp(a, "--pcap") == 0) {
      NEED_VALUE();
      s.o.pcap_path = next;
    } else if (strcmp(a, "--max-transactions") == 0 || strcmp(a, "--max-dialogs") == 0) {
      NEED_VALUE();
      if (cli_parse_uint(a, next, 100000000, &v) != 0 || v == 0) {
        if (v == 0)
          fprintf(stderr, CLI_PROG ": %s: must be at least 1\n", a);
        return CLI_EXIT_USAGE;
      }
      if (a[6] == 't')
        s.o.max_txn = (uint32_t)v;
      else
        s.o.max_dlg = (uint32_t)v;
    } else if (strcmp(a, "--stats") == 0) {
      s.o.stats = 1;
    } else if (strcmp(a, "--ladder") == 0) {
      s.o.ladder = 1;
    } else if (strcmp(a, "--ladder-html") == 0) {
      NEED_VALUE();
      s.o.html_path = next;
    } else if (strcmp(a, "--loss") == 0) {
      NEED_VALUE();
      if (parse_prob(a, next, &s.o.loss) != 0)
        return CLI_EXIT_USAGE;
    } else if (strcmp(a, "--dup") == 0) {
      NEED_VALUE();
      if (parse_prob(a, next, &s.o.dup) != 0)
        return CLI_EXIT_USAGE;
    } else if (strcmp(a, "--delay") == 0) {
      NEED_VALUE();
      if (parse_delay(next, &s.o.delay, &s.o.delay_ms) != 0)
        return CLI_EXIT_USAGE;
    } else if (strcmp(a, "--seed") == 0) {
      NEED_VALUE();
      if (cli_parse_uint(a, next, UINT64_MAX, &s.o.seed) != 0)
        return CLI_EXIT_USAGE;
    } else if (strcmp(a, "--buffer") == 0) {
      NEED_VALUE();
      if (cli_parse_bytes(a, next, &s.o.buffer) != 0)
        return CLI_EXIT_USAGE;
    } else if (strcmp(a, "--t1") == 0) {
      NEED_VALUE();
      if (cli_parse_uint(a, next, 60000, &v) != 0 || v == 0) {
        if (v == 0)
          fprintf(stderr, CLI_PROG ": --t1: must be at least 1 ms\n");
        return CLI_EXIT_USAGE;
      }
      s.o.t1 = (uint32_t)v;
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, CLI_PROG " run: unknown option '%s'\n", a);
      fprintf(stderr, "Try '" CLI_PROG " run --help'.\n");
      return CLI_EXIT_USAGE;
    } else {
      break;
    }
#undef NEED_VALUE
  }
  if (i >= argc) {
    fprintf(stderr, CLI_PROG " run: no script given\n");
    fprintf(stderr, "Try '" CLI_PROG " run --help'.\n");
    return CLI_EXIT_USAGE;
  }
  if (s.o.loss + s.o.dup + s.o.delay > 1.0) {
    fprintf(stderr, CLI_PROG " run: --loss + --dup + --delay must be at most 1\n");
    return CLI_EXIT_USAGE;
  }
  if (s.o.trace_prefix && !s.o.trace_path)
    s.o.trace_path = "-";
  if (access(argv[i], R_OK) != 0) { /* before creating any output file */
    fprintf(stderr, CLI_PROG ": %s: %s\n", argv[i], strerror(errno));
    return CLI_EXIT_USAGE;
  }
  if (run_open_outputs(&s) != 0) {
    run_finish(&s);
    return CLI_EXIT_USAGE;
  }
  g_run = &s;
  atexit(run_atexit);

  memset(&hooks, 0, sizeof hooks);
  hooks.configure = hook_configure;
  hooks.on_rt_new = hook_rt_new;
  hooks.on_rt_free = hook_rt_free;
  hooks.data = &s;
  fflush(stdout);
  rc = sipkit_lua_run(argv[i], argc - i - 1, argv + i + 1, &hooks);
  fflush(stdout);
  run_finish(&s);
  g_run = NULL;
  if (rc == 0 && s.status != 0)
    rc = s.status;
  return rc;
}
