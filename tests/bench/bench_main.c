/* bench_main.c - driver of the parser benchmark (`make bench`).
 *
 *   bench [--iters N] [--rounds R] [--only sipkit|sofia|osip] [--verify-only] [CORPUS_DIR]
 *
 * Loads the files listed in CORPUS_DIR/expected.tsv (default
 * tests/bench/corpus), checks that every line ends in CRLF, parses each
 * message once with each parser and compares the extracted fields with
 * expected.tsv (any mismatch: print it, exit 1).  Then, per parser, runs R
 * rounds (default 9) of N iterations over the whole corpus, interleaving the
 * parsers round by round, and reports each parser's best round: ns/message
 * (wall clock), MB/s (10^6 bytes) and heap allocations/message.  Without
 * --iters, N is chosen so that one round takes about 0.1 s.
 *
 * Heap allocations are counted by defining malloc/calloc/realloc/free here,
 * forwarding to glibc's __libc_* entry points: the executable's definitions
 * interpose on the shared libraries' calls too (sofia-sip, osip, libc).
 * Nothing here asserts on speed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* ------------------------------------------------------------------ */
/* Allocation counter                                                  */

#define BENCH_EXPORT __attribute__((visibility("default")))

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);

static unsigned long long bench_allocs; /* malloc + calloc + realloc calls */

BENCH_EXPORT void *malloc(size_t size) {
  bench_allocs++;
  return __libc_malloc(size);
}

BENCH_EXPORT void *calloc(size_t n, size_t size) {
  bench_allocs++;
  return __libc_calloc(n, size);
}

BENCH_EXPORT void *realloc(void *p, size_t size) {
  bench_allocs++;
  return __libc_realloc(p, size);
}

BENCH_EXPORT void free(void *p) { __libc_free(p); }

/* ------------------------------------------------------------------ */
/* Corpus                                                              */

enum {
  F_STATUS, F_METHOD, F_RURI_HOST, F_VIA_BRANCH, F_FROM_TAG, F_TO_TAG,
  F_CALL_ID, F_CSEQ_NUM, F_CSEQ_METHOD, F_CONTENT_LENGTH, F_CONTACT_USER,
  F_CONTACT_HOST, F_CONTACT_PORT, F__COUNT
};

static const char *const field_names[F__COUNT] = {
  "status", "method", "ruri_host", "via_branch", "from_tag", "to_tag",
  "call_id", "cseq_num", "cseq_method", "content_length", "contact_user",
  "contact_host", "contact_port"
};

#define MAX_MSGS 64

struct bench_msg {
  char file[256];
  char *buf;
  size_t len;
  char expect[F__COUNT][BENCH_STR];
};

static struct bench_msg msgs[MAX_MSGS];
static size_t num_msgs;
static size_t corpus_bytes;

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long n;

  if (!f)
    return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
      (buf = malloc((size_t)n + 1)) != NULL) {
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
      free(buf);
      buf = NULL;
    } else {
      buf[n] = '\0';
      *len = (size_t)n;
    }
  }
  fclose(f);
  return buf;
}

/* Split one TSV line in place; returns the number of columns. */
static size_t split_tabs(char *line, char **cols, size_t max) {
  size_t n = 0;
  cols[n++] = line;
  for (char *p = line; *p && n < max; p++)
    if (*p == '\t') {
      *p = '\0';
      cols[n++] = p + 1;
    }
  return n;
}

static int load_corpus(const char *dir) {
  char path[1024];
  size_t tsv_len, ncol;
  char *tsv, *line, *next;
  char *cols[32];
  int colidx[F__COUNT + 1]; /* [F__COUNT] is the "file" column */

  snprintf(path, sizeof path, "%s/expected.tsv", dir);
  if (!(tsv = read_file(path, &tsv_len))) {
    fprintf(stderr, "bench: cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  line = tsv;
  next = strchr(line, '\n');
  if (next)
    *next++ = '\0';
  ncol = split_tabs(line, cols, 32);
  for (int f = 0; f <= F__COUNT; f++) {
    const char *want = f == F__COUNT ? "file" : field_names[f];
    colidx[f] = -1;
    for (size_t c = 0; c < ncol; c++)
      if (strcmp(cols[c], want) == 0)
        colidx[f] = (int)c;
    if (colidx[f] < 0) {
      fprintf(stderr, "bench: %s: no column '%s'\n", path, want);
      return -1;
    }
  }
  for (line = next; line && *line; line = next) {
    struct bench_msg *m;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    if (line[0] == '\0' || line[0] == '#')
      continue;
    if (num_msgs == MAX_MSGS) {
      fprintf(stderr, "bench: more than %d messages\n", MAX_MSGS);
      return -1;
    }
    if (split_tabs(line, cols, 32) != ncol) {
      fprintf(stderr, "bench: %s: row '%s' has the wrong number of columns\n", path, line);
      return -1;
    }
    m = &msgs[num_msgs++];
    snprintf(m->file, sizeof m->file, "%s", cols[colidx[F__COUNT]]);
    for (int f = 0; f < F__COUNT; f++)
      snprintf(m->expect[f], BENCH_STR, "%s", cols[colidx[f]]);
    snprintf(path, sizeof path, "%s/%s", dir, m->file);
    if (!(m->buf = read_file(path, &m->len))) {
      fprintf(stderr, "bench: cannot read %s: %s\n", path, strerror(errno));
      return -1;
    }
    /* SIP needs CRLF: a bare LF means the fixture was damaged (git autocrlf, editor). */
    for (size_t i = 0; i < m->len; i++)
      if (m->buf[i] == '\n' && (i == 0 || m->buf[i - 1] != '\r')) {
        fprintf(stderr, "bench: %s: bare LF at offset %zu (CRLF lost?)\n", path, i);
        return -1;
      }
    corpus_bytes += m->len;
  }
  free(tsv);
  if (num_msgs == 0) {
    fprintf(stderr, "bench: %s lists no messages\n", dir);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* Verification                                                        */

static void field_string(const struct bench_fields *b, int f, char out[BENCH_STR]) {
  switch (f) {
  case F_STATUS: snprintf(out, BENCH_STR, "%d", b->status); break;
  case F_METHOD: snprintf(out, BENCH_STR, "%s", b->method); break;
  case F_RURI_HOST: snprintf(out, BENCH_STR, "%s", b->ruri_host); break;
  case F_VIA_BRANCH: snprintf(out, BENCH_STR, "%s", b->via_branch); break;
  case F_FROM_TAG: snprintf(out, BENCH_STR, "%s", b->from_tag); break;
  case F_TO_TAG: snprintf(out, BENCH_STR, "%s", b->to_tag); break;
  case F_CALL_ID: snprintf(out, BENCH_STR, "%s", b->call_id); break;
  case F_CSEQ_NUM: snprintf(out, BENCH_STR, "%u", (unsigned)b->cseq_num); break;
  case F_CSEQ_METHOD: snprintf(out, BENCH_STR, "%s", b->cseq_method); break;
  case F_CONTENT_LENGTH: snprintf(out, BENCH_STR, "%u", (unsigned)b->content_length); break;
  case F_CONTACT_USER: snprintf(out, BENCH_STR, "%s", b->contact_user); break;
  case F_CONTACT_HOST: snprintf(out, BENCH_STR, "%s", b->contact_host); break;
  case F_CONTACT_PORT: snprintf(out, BENCH_STR, "%u", (unsigned)b->contact_port); break;
  default: out[0] = '\0';
  }
}

/* Parse every message once and compare; returns the number of failures. */
static int verify(const struct bench_parser *p) {
  int failures = 0;
  for (size_t i = 0; i < num_msgs; i++) {
    struct bench_fields b;
    char got[BENCH_STR];
    memset(&b, 0x5a, sizeof b); /* stale values must not pass */
    if (p->parse(msgs[i].buf, msgs[i].len, &b) != 0) {
      fprintf(stderr, "MISMATCH %s %s: parse failed (rejected, or a value longer than %d bytes)\n",
              p->name, msgs[i].file, BENCH_STR - 1);
      failures++;
      continue;
    }
    for (int f = 0; f < F__COUNT; f++) {
      field_string(&b, f, got);
      if (strcmp(got, msgs[i].expect[f]) != 0) {
        fprintf(stderr, "MISMATCH %s %s %s: expected '%s' got '%s'\n", p->name,
                msgs[i].file, field_names[f], msgs[i].expect[f], got);
        failures++;
      }
    }
  }
  return failures;
}

/* ------------------------------------------------------------------ */
/* Timing                                                              */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static volatile uint32_t sink;

/* One round: iters passes over the corpus.  Returns elapsed ns or 0 on a parse failure. */
static uint64_t run_round(const struct bench_parser *p, unsigned long iters) {
  struct bench_fields b;
  uint32_t acc = 0;
  uint64_t t0 = now_ns();
  for (unsigned long it = 0; it < iters; it++)
    for (size_t i = 0; i < num_msgs; i++) {
      if (p->parse(msgs[i].buf, msgs[i].len, &b) != 0)
        return 0;
      acc += b.cseq_num + (uint32_t)b.status + (uint8_t)b.via_branch[0];
    }
  uint64_t t1 = now_ns();
  sink += acc;
  return t1 > t0 ? t1 - t0 : 1;
}

struct result {
  const struct bench_parser *p;
  unsigned long iters;
  uint64_t best_ns;
  unsigned long long allocs; /* during the last round */
  double ns_per_msg, mb_per_s, allocs_per_msg;
};

/* Without --iters: about 0.1 s per round, from the best of three
 * 10-iteration trials. */
static int calibrate(struct result *r, unsigned long iters) {
  if (iters == 0) {
    uint64_t t = UINT64_MAX;
    for (int k = 0; k < 3; k++) {
      uint64_t tk = run_round(r->p, 10);
      if (tk == 0)
        return -1;
      if (tk < t)
        t = tk;
    }
    iters = (unsigned long)(100000000.0 / ((double)t / 10.0));
    if (iters < 10)
      iters = 10;
  }
  r->iters = iters;
  r->best_ns = UINT64_MAX;
  return 0;
}

static int one_round(struct result *r) {
  unsigned long long a0 = bench_allocs;
  uint64_t t = run_round(r->p, r->iters);
  r->allocs = bench_allocs - a0;
  if (t == 0)
    return -1;
  if (t < r->best_ns)
    r->best_ns = t;
  return 0;
}

static void finish(struct result *r) {
  double msgs_run = (double)r->iters * (double)num_msgs;
  r->ns_per_msg = (double)r->best_ns / msgs_run;
  r->mb_per_s = (double)corpus_bytes * (double)r->iters / ((double)r->best_ns / 1e9) / 1e6;
  r->allocs_per_msg = (double)r->allocs / msgs_run;
}

/* Warn when other work competes for the CPUs: wall-clock figures then
 * depend on scheduling (instructions from callgrind do not). */
static void load_note(void) {
  FILE *f = fopen("/proc/loadavg", "r");
  double load;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (!f)
    return;
  if (fscanf(f, "%lf", &load) == 1 && cpus > 0 && load > (double)cpus - 0.5)
    printf("note: load average %.2f on %ld CPUs: wall-clock figures are unreliable; "
           "compare instr/msg\n", load, cpus);
  fclose(f);
}

/* ------------------------------------------------------------------ */

static const struct {
  const char *key;
  const struct bench_parser *p;
} parsers[] = {
#ifndef BENCH_NO_SIPKIT
  {"sipkit", &bench_parser_sipkit},
#endif
  {"sofia", &bench_parser_sofia},
  {"osip", &bench_parser_osip},
};
#define NUM_PARSERS (sizeof parsers / sizeof parsers[0])

static void usage(void) {
  fprintf(stderr,
          "usage: bench [--iters N] [--rounds R] [--only sipkit|sofia|osip] [--verify-only] "
          "[CORPUS_DIR]\n");
}

int main(int argc, char **argv) {
  const char *dir = "tests/bench/corpus";
  const char *only = NULL;
  unsigned long iters = 0;
  unsigned rounds = 9;
  int verify_only = 0, failures = 0, selected = 0;
  struct result res[NUM_PARSERS];
  size_t nres = 0;

  for (int i = 1; i < argc; i++) {
    char *end;
    if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
      iters = strtoul(argv[++i], &end, 10);
      if (*end || iters == 0) { usage(); return 2; }
    } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
      rounds = (unsigned)strtoul(argv[++i], &end, 10);
      if (*end || rounds == 0) { usage(); return 2; }
    } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else if (strcmp(argv[i], "--verify-only") == 0) {
      verify_only = 1;
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      usage();
      return 0;
    } else if (argv[i][0] == '-') {
      usage();
      return 2;
    } else {
      dir = argv[i];
    }
  }
  if (only) {
    for (size_t k = 0; k < NUM_PARSERS; k++)
      selected += strcmp(parsers[k].key, only) == 0;
    if (!selected) {
      fprintf(stderr, "bench: unknown or not built parser '%s'\n", only);
      return 2;
    }
  }
  if (load_corpus(dir) != 0)
    return 1;

  /* Initialise and verify every selected parser before timing any. */
  for (size_t k = 0; k < NUM_PARSERS; k++) {
    const struct bench_parser *p = parsers[k].p;
    int f;
    if (only && strcmp(parsers[k].key, only) != 0)
      continue;
    if (p->init && p->init() != 0) {
      fprintf(stderr, "bench: %s: initialisation failed\n", p->name);
      return 1;
    }
    f = verify(p);
    failures += f;
    if (verify_only || f)
      printf("verify %-10s %s (%zu messages, %d field mismatches)\n", p->name,
             f ? "FAILED" : "ok", num_msgs, f);
  }
  if (failures) {
    fprintf(stderr, "bench: field verification failed; figures of a parser that extracts "
                    "wrong fields are meaningless\n");
    return 1;
  }
  if (verify_only)
    return 0;

  /* Rounds are interleaved (sipkit, sofia, osip, sipkit, ...) so that a
   * change in machine load affects every parser alike. */
  for (size_t k = 0; k < NUM_PARSERS; k++) {
    if (only && strcmp(parsers[k].key, only) != 0)
      continue;
    res[nres].p = parsers[k].p;
    if (calibrate(&res[nres], iters) != 0) {
      fprintf(stderr, "bench: %s: a parse failed while timing\n", parsers[k].p->name);
      return 1;
    }
    nres++;
  }
  for (unsigned round = 0; round < rounds; round++)
    for (size_t k = 0; k < nres; k++)
      if (one_round(&res[k]) != 0) {
        fprintf(stderr, "bench: %s: a parse failed while timing\n", res[k].p->name);
        return 1;
      }
  for (size_t k = 0; k < nres; k++)
    finish(&res[k]);

  printf("corpus: %zu messages, %zu bytes (mean %.0f) from %s; best of %u interleaved rounds\n",
         num_msgs, corpus_bytes, (double)corpus_bytes / (double)num_msgs, dir, rounds);
  printf("%-10s %10s %10s %10s %11s\n", "parser", "iters", "ns/msg", "MB/s", "allocs/msg");
  for (size_t k = 0; k < nres; k++)
    printf("%-10s %10lu %10.1f %10.1f %11.2f\n", res[k].p->name, res[k].iters,
           res[k].ns_per_msg, res[k].mb_per_s, res[k].allocs_per_msg);

  const struct result *sk = NULL, *so = NULL;
  for (size_t k = 0; k < nres; k++) {
    if (strcmp(res[k].p->name, "sipkit") == 0) sk = &res[k];
    if (strcmp(res[k].p->name, "sofia-sip") == 0) so = &res[k];
  }
  if (sk && so)
    printf("ratio: sipkit is %.2fx the speed of sofia-sip (%.1f vs %.1f ns/msg)\n",
           so->ns_per_msg / sk->ns_per_msg, sk->ns_per_msg, so->ns_per_msg);
  load_note();
  return 0;
}
