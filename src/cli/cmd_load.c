/* cmd_load.c - `sipkit load SCRIPT.lua --rate R --calls N ... [-- ARGS]`
 *
 * Load generation: the script's flow function runs once per call, each
 * call in a coroutine of its own, started at R calls/s.  The driver is Lua
 * (lua/sipkit/load.lua, embedded in the module and run as the main task
 * through sipkit_lua_run_module); this file checks the options, passes
 * them on as KEY=VALUE strings, sets the runtime options (socket buffers,
 * T1) through the binding's configure hook, and for --workers N forks N
 * processes, each running the driver on a share of the rate and the
 * calls, with one pipe per worker back to this process, which runs the
 * driver's aggregate mode to print the sums.
 *
 * Exit status: 0 every call succeeded, 1 a call failed (or a Lua error),
 * 2 usage error.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "sipkit_lua.h"
#include "sipkit_rt.h"

#define LOAD_MAX_WORKERS 64
#define LOAD_MAX_ARGS 64
/* Live transactions and dialogs per process.  An INVITE client
 * transaction lives 32 s (64*T1) after its 2xx (RFC 6026 Accepted), so
 * the runtime's default of 20000 caps a generator near 600 calls/s. */
#define LOAD_DEFAULT_MAX 1000000

static void load_usage(FILE *out) {
  fprintf(out,
          "usage: " CLI_PROG " load SCRIPT.lua [OPTIONS] [-- SCRIPT ARGS...]\n"
          "\n"
          "Generate load: run the flow of SCRIPT.lua once per call, each call in\n"
          "its own coroutine, started at RATE calls per second (paced from the\n"
          "loop clock), until --calls or --duration is reached; then wait for\n"
          "the calls in progress and print a report.\n"
          "\n"
          "options:\n"
          "  -h, --help            show this help\n"
          "  --rate R              calls started per second (default 10); calls due\n"
          "                        under 5 ms apart start together, in 5 ms passes\n"
          "  --calls N             stop starting calls after N\n"
          "  --duration S          stop starting calls after S seconds\n"
          "                        (at least one of --calls and --duration)\n"
          "  --concurrency C       at most C calls in progress at a time\n"
          "  --max-unanswered N    hold new calls while more than N requests wait\n"
          "                        for their first response: a peer that falls\n"
          "                        behind gets time to catch up instead of\n"
          "                        retransmissions (default: the calls of 0.4 x T1\n"
          "                        at the rate, 200 ms: 2,400 at 12,000 calls/s; at\n"
          "                        least 100; 0: no limit)\n"
          "  --rate-increase X     add X calls/s to the rate every --rate-interval\n"
          "  --rate-interval S     seconds between increases (default 10)\n"
          "  --rate-max R          stop increasing at R calls/s\n"
          "  --stats-csv FILE      a header row, then one CSV row per interval and\n"
          "                        one for the last (partial) interval:\n"
          "                        elapsed_s,started,active,succeeded,failed,\n"
          "                        interval_rate,average_rate,retransmissions,\n"
          "                        rt_p50_ms,rt_p90_ms,rt_p99_ms\n"
          "  --stats-interval S    interval of the live line and CSV (default 1)\n"
          "  --quiet               no live statistics line (it is shown only on\n"
          "                        a terminal anyway, on stderr)\n"
          "  --workers N           fork N processes, each with RATE/N and N-th of\n"
          "                        the calls and concurrency; reports are summed\n"
          "  --buffer BYTES        SO_RCVBUF and SO_SNDBUF of every socket (K and\n"
          "                        M suffixes: 4M; default 4M, capped by the kernel\n"
          "                        at net.core.rmem_max / wmem_max; 0: the system's)\n"
          "  --t1 MS               SIP timer T1 (default 500)\n"
          "  --max-transactions N  live transactions per process (default 1000000;\n"
          "                        an INVITE transaction lives 32 s after its 2xx)\n"
          "  --max-dialogs N       live dialogs per process (default 1000000)\n"
          "  --                    the rest are the script's arguments\n"
          "\n"
          "The script, loaded with arg[-1] == \"sipkit load\" and its arguments\n"
          "as arg[1..] and ..., returns a flow function or a table\n"
          "  { setup = function(args, info) return ctx end,   -- once (optional)\n"
          "    flow = function(ctx, n, t) return true end,    -- each call\n"
          "    teardown = function(ctx) end }                 -- optional\n"
          "A call succeeded when flow returns true; false, nil, err or an error\n"
          "is a failure.  t:invite(ua, uri, opts) is ua:invite timed (the\n"
          "INVITE -> final response time in the report); t:record(seconds)\n"
          "adds a time measured by the flow.  info.reuseport is true with\n"
          "--workers (a fixed BIND port is then shared with SO_REUSEPORT).\n"
          "\n"
          "Report (stdout): \"calls started: N\", \"calls succeeded: N\",\n"
          "\"calls failed: N\", average rate, retransmissions (the runtime's\n"
          "counter), INVITE->final response time p50/p90/p99, and the most\n"
          "common failure reasons.\n"
          "\n"
          "example:\n"
          "  " CLI_PROG " run lua/examples/uas.lua 127.0.0.1:5080 &\n"
          "  " CLI_PROG " load lua/examples/uac.lua --rate 50 --calls 200 -- sip:bob@127.0.0.1:5080\n"
          "\n"
          "Exit status: 0 every call succeeded, 1 a call failed or the script\n"
          "raised an error, 2 usage error or a script that cannot be read.\n");
}

typedef struct load_opts {
  double rate, duration, rate_increase, rate_interval, rate_max, interval;
  uint64_t calls, concurrency, workers, max_unanswered;
  int have_calls, have_duration, have_concurrency, have_rate_max, have_max_unanswered;
  const char *csv;
  int quiet;
  long buffer;
  uint32_t t1;
  uint64_t max_txn, max_dlg;
} load_opts;

static int parse_pos(const char *opt, const char *s, double *out) {
  char *end;
  double v;
  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s || *end != '\0' || !(v > 0.0) || !isfinite(v) || v > 1e7) {
    fprintf(stderr, CLI_PROG ": %s: '%s' is not a positive number\n", opt, s);
    return -1;
  }
  *out = v;
  return 0;
}

static void hook_configure(void *data, sipkit_rt_config *cfg) {
  const load_opts *o = (const load_opts *)data;
  cli_config_buffer(o->buffer, cfg);
  if (o->t1 > 0)
    cfg->txn.t1 = o->t1;
  cfg->max_transactions = (uint32_t)o->max_txn;
  cfg->max_dialogs = (uint32_t)o->max_dlg;
}

/* The driver's arguments: KEY=VALUE strings in bufs, then "--", then the
 * script's arguments. */
typedef struct arglist {
  char *argv[LOAD_MAX_ARGS + 256];
  char bufs[LOAD_MAX_ARGS][300];
  int n, nb;
} arglist;

static void add_kv(arglist *a, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_kv(arglist *a, const char *key, const char *fmt, ...) {
  va_list ap;
  char *b = a->bufs[a->nb++];
  int k = snprintf(b, sizeof a->bufs[0], "%s=", key);
  va_start(ap, fmt);
  vsnprintf(b + k, sizeof a->bufs[0] - (size_t)k, fmt, ap);
  va_end(ap);
  a->argv[a->n++] = b;
}

/* Options common to the single run and each worker; share k of n. */
static void build_args(arglist *a, const load_opts *o, uint64_t k, uint64_t n) {
  a->n = a->nb = 0;
  add_kv(a, "rate", "%.17g", o->rate / (double)n);
  if (o->have_calls)
    add_kv(a, "calls", "%llu", (unsigned long long)(o->calls / n + (k < o->calls % n)));
  if (o->have_duration)
    add_kv(a, "duration", "%.17g", o->duration);
  if (o->have_concurrency) {
    uint64_t c = o->concurrency / n + (k < o->concurrency % n);
    add_kv(a, "concurrency", "%llu", (unsigned long long)(c ? c : 1));
  }
  if (o->have_max_unanswered) {
    uint64_t u = o->max_unanswered / n + (k < o->max_unanswered % n);
    if (o->max_unanswered && !u)
      u = 1; /* 0 means no limit: a worker's share of a small limit is 1 */
    add_kv(a, "max_unanswered", "%llu", (unsigned long long)u);
  }
  if (o->rate_increase > 0) {
    add_kv(a, "rate_increase", "%.17g", o->rate_increase / (double)n);
    add_kv(a, "rate_interval", "%.17g", o->rate_interval);
  }
  if (o->have_rate_max)
    add_kv(a, "rate_max", "%.17g", o->rate_max / (double)n);
  add_kv(a, "interval", "%.17g", o->interval);
  if (o->t1 > 0)
    add_kv(a, "t1", "%u", (unsigned)o->t1);
  add_kv(a, "workers", "%llu", (unsigned long long)n);
  add_kv(a, "worker", "%llu", (unsigned long long)(k + 1));
}

static void add_script_args(arglist *a, int nargs, char **args) {
  int i;
  a->argv[a->n++] = (char *)"--";
  for (i = 0; i < nargs && a->n < (int)(sizeof a->argv / sizeof a->argv[0]) - 1; i++)
    a->argv[a->n++] = args[i];
}

static int run_workers(load_opts *o, const char *script, int nargs, char **args) {
  static arglist a;
  pid_t pids[LOAD_MAX_WORKERS];
  int rfd[LOAD_MAX_WORKERS];
  char pipes[LOAD_MAX_WORKERS * 24];
  size_t plen = 0;
  uint64_t n = o->workers, k, j;
  sipkit_lua_hooks hooks;
  int rc, worst = 0;

  memset(&hooks, 0, sizeof hooks);
  hooks.configure = hook_configure;
  hooks.data = o;
  fflush(stdout);
  fflush(stderr);
  for (k = 0; k < n; k++) {
    int fds[2];
    if (pipe(fds) != 0) {
      fprintf(stderr, CLI_PROG " load: pipe: %s\n", strerror(errno));
      return 1;
    }
    pids[k] = fork();
    if (pids[k] < 0) {
      fprintf(stderr, CLI_PROG " load: fork: %s\n", strerror(errno));
      close(fds[0]);
      close(fds[1]);
      n = k;
      worst = 1;
      break;
    }
    if (pids[k] == 0) {
      for (j = 0; j < k; j++)
        close(rfd[j]);
      close(fds[0]);
      build_args(&a, o, k, o->workers);
      add_kv(&a, "mode", "worker");
      add_kv(&a, "report", "/dev/fd/%d", fds[1]);
      add_script_args(&a, nargs, args);
      rc = sipkit_lua_run_module("sipkit.load", script, a.n, a.argv, &hooks);
      exit(rc);
    }
    close(fds[1]);
    rfd[k] = fds[0];
    plen += (size_t)snprintf(pipes + plen, sizeof pipes - plen, "%s/dev/fd/%d",
                             k ? "," : "", fds[0]);
  }
  if (n > 0) {
    build_args(&a, o, 0, 1);
    add_kv(&a, "mode", "aggregate");
    add_kv(&a, "workers", "%llu", (unsigned long long)n);
    add_kv(&a, "pipes", "%s", pipes);
    if (!o->quiet && isatty(STDERR_FILENO))
      add_kv(&a, "live", "1");
    if (o->csv)
      add_kv(&a, "csv", "%s", o->csv);
    add_script_args(&a, 0, NULL);
    hooks.configure = NULL;
    rc = sipkit_lua_run_module("sipkit.load", script, a.n, a.argv, &hooks);
    if (rc > worst)
      worst = rc;
  }
  for (k = 0; k < n; k++) {
    int st;
    close(rfd[k]);
    while (waitpid(pids[k], &st, 0) < 0 && errno == EINTR)
      ;
    if (WIFSIGNALED(st)) {
      fprintf(stderr, CLI_PROG " load: worker %llu killed by signal %d\n",
              (unsigned long long)k + 1, WTERMSIG(st));
      worst = worst > 1 ? worst : 1;
    } else if (WIFEXITED(st) && WEXITSTATUS(st) > 1) {
      fprintf(stderr, CLI_PROG " load: worker %llu exited with status %d\n",
              (unsigned long long)k + 1, WEXITSTATUS(st));
      worst = worst > 1 ? worst : 1;
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == 1 && worst == 0) {
      worst = 1;
    }
  }
  return worst;
}

int cli_cmd_load(int argc, char **argv) {
  static load_opts o;
  static arglist a;
  const char *script = NULL;
  sipkit_lua_hooks hooks;
  int i = 0, nargs = 0;
  char **args = NULL;
  uint64_t v = 1;

  memset(&o, 0, sizeof o);
  o.rate = 10;
  o.rate_interval = 10;
  o.interval = 1;
  o.workers = 1;
  o.buffer = -1; /* not given: CLI_DEFAULT_BUFFER */
  o.max_txn = o.max_dlg = LOAD_DEFAULT_MAX;
  for (; i < argc; i++) {
    const char *x = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                          \
  do {                                                                        \
    if (!next) {                                                              \
      fprintf(stderr, CLI_PROG " load: option '%s' needs a value\n", x);      \
      fprintf(stderr, "Try '" CLI_PROG " load --help'.\n");                   \
      return CLI_EXIT_USAGE;                                                  \
    }                                                                         \
    i++;                                                                      \
  } while (0)
    if (strcmp(x, "--help") == 0 || strcmp(x, "-h") == 0) {
      load_usage(stdout);
      return CLI_EXIT_OK;
    }
    if (strcmp(x, "--") == 0) {
      args = argv + i + 1;
      nargs = argc - i - 1;
      break;
    }
    if (strcmp(x, "--rate") == 0) {
      NEED_VALUE();
      if (parse_pos(x, next, &o.rate) != 0)
        return CLI_EXIT_USAGE;
    } else if (strcmp(x, "--calls") == 0) {
      NEED_VALUE();
      if (cli_parse_uint(x, next, 1000000000, &o.calls) != 0)
        return CLI_EXIT_USAGE;
      o.have_calls = 1;
    } else if (strcmp(x, "--duration") == 0) {
      NEED_VALUE();
      if (parse_pos(x, next, &o.duration) != 0)
        return CLI_EXIT_USAGE;
      o.have_duration = 1;
    } else if (strcmp(x, "--concurrency") == 0) {
      NEED_VALUE();
      if (cli_parse_uint(x, next, 10000000, &o.concurrency) != 0 || o.concurrency == 0) {
        if (o.concurrency == 0)
          fprintf(stderr, CLI_PROG ": --concurrency: must be at least 1\n");
        return CLI_EXIT_USAGE;
      }
      o.have_concurrency = 1;
    } else if (strcmp(x, "--max-unanswered") == 0) {
      NEED_VALUE();
      if (cli_parse_uint(x, next, 100000000, &o.max_unanswered) != 0)
        return CLI_EXIT_USAGE;
      o.have_max_unanswered = 1;
    } else if (strcmp(x, "--rate-increase") == 0) {
      NEED_VALUE();
      if (parse_pos(x, next, &o.rate_increase) != 0)
        return CLI_EXIT_USAGE;
    } else if (strcmp(x, "--rate-interval") == 0) {
      NEED_VALUE();
      if (parse_pos(x, next, &o.rate_interval) != 0)
        return CLI_EXIT_USAGE;
    } else if (strcmp(x, "--rate-max") == 0) {
      NEED_VALUE();
      if (parse_pos(x, next, &o.rate_max) != 0)
        return CLI_EXIT_USAGE;
      o.have_rate_max = 1;
    } else if (strcmp(x, "--stats-csv") == 0) {
      NEED_VALUE();
      o.csv = next;
    } else if (strcmp(x, "--stats-interval") == 0) {
      NEED_VALUE();
      if (parse_pos(x, next, &o.interval) != 0)
        return CLI_EXIT_USAGE;
    } else if (strcmp(x, "--quiet") == 0) {
      o.quiet = 1;
    } else if (strcmp(x, "--workers") == 0) {
      NEED_VALUE();
      if (cli_parse_uint(x, next, LOAD_MAX_WORKERS, &o.workers) != 0 || o.workers == 0) {
        if (o.workers == 0)
          fprintf(stderr, CLI_PROG ": --workers: must be at least 1\n");
        return CLI_EXIT_USAGE;
      }
    } else if (strcmp(x, "--buffer") == 0) {
      NEED_VALUE();
      if (cli_parse_bytes(x, next, &o.buffer) != 0)
        return CLI_EXIT_USAGE;
    } else if (strcmp(x, "--max-transactions") == 0 || strcmp(x, "--max-dialogs") == 0) {
      NEED_VALUE();
      if (cli_parse_uint(x, next, 100000000, &v) != 0 || v == 0) {
        if (v == 0)
          fprintf(stderr, CLI_PROG ": %s: must be at least 1\n", x);
        return CLI_EXIT_USAGE;
      }
      if (x[6] == 't')
        o.max_txn = v;
      else
        o.max_dlg = v;
    } else if (strcmp(x, "--t1") == 0) {
      NEED_VALUE();
      if (cli_parse_uint(x, next, 60000, &v) != 0 || v == 0) {
        if (v == 0)
          fprintf(stderr, CLI_PROG ": --t1: must be at least 1 ms\n");
        return CLI_EXIT_USAGE;
      }
      o.t1 = (uint32_t)v;
    } else if (x[0] == '-' && x[1] != '\0') {
      fprintf(stderr, CLI_PROG " load: unknown option '%s'\n", x);
      fprintf(stderr, "Try '" CLI_PROG " load --help'.\n");
      return CLI_EXIT_USAGE;
    } else if (!script) {
      script = x;
    } else {
      fprintf(stderr, CLI_PROG " load: unexpected argument '%s' (script arguments go after '--')\n", x);
      fprintf(stderr, "Try '" CLI_PROG " load --help'.\n");
      return CLI_EXIT_USAGE;
    }
#undef NEED_VALUE
  }
  if (!script) {
    fprintf(stderr, CLI_PROG " load: no script given\n");
    fprintf(stderr, "Try '" CLI_PROG " load --help'.\n");
    return CLI_EXIT_USAGE;
  }
  if (!o.have_calls && !o.have_duration) {
    fprintf(stderr, CLI_PROG " load: give --calls N or --duration S (or both)\n");
    fprintf(stderr, "Try '" CLI_PROG " load --help'.\n");
    return CLI_EXIT_USAGE;
  }
  if (o.have_rate_max && o.rate_max < o.rate) {
    fprintf(stderr, CLI_PROG " load: --rate-max is below --rate\n");
    return CLI_EXIT_USAGE;
  }
  if (access(script, R_OK) != 0) {
    fprintf(stderr, CLI_PROG ": %s: %s\n", script, strerror(errno));
    return CLI_EXIT_USAGE;
  }
  if (o.have_calls && o.calls < o.workers)
    o.workers = o.calls ? o.calls : 1; /* no idle workers */
  if (o.workers > 1)
    return run_workers(&o, script, nargs, args);

  build_args(&a, &o, 0, 1);
  if (!o.quiet && isatty(STDERR_FILENO))
    add_kv(&a, "live", "1");
  if (o.csv)
    add_kv(&a, "csv", "%s", o.csv);
  add_script_args(&a, nargs, args);
  memset(&hooks, 0, sizeof hooks);
  hooks.configure = hook_configure;
  hooks.data = &o;
  fflush(stdout);
  return sipkit_lua_run_module("sipkit.load", script, a.n, a.argv, &hooks);
}
