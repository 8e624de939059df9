/* test_battery.c - the bad-input battery (/work/shared/battery.md, rows F, S,
 * H, N, U, T, M, A that concern the parser) as data: tests/battery/cases.tsv,
 * read at run time from the repository root, one cmocka test per row.
 * Run from the repository root; an optional argument runs only the rows whose
 * name ("F08#3") contains it.  BATTERY_SHOW=1 prints what each row got.
 *
 * cases.tsv
 * ---------
 * Lines starting with '#' and blank lines are comments.
 *
 *   @def NAME <TAB> EXPR          a macro, usable as $NAME in later EXPRs
 *   ID <TAB> MODE <TAB> EXPR <TAB> EXPECT <TAB> CHECKS <TAB> WHY
 *
 * ID     the battery id (F08, H02, ...); rows with one id are numbered F08#1..
 * MODE   ','-separated: dgram | stream | uri | unescape (what to call), or a
 *        body / layer row (see "Layer rows" below), then
 *        strict (default) | lenient (SIPKIT_PARSE_LENIENT_LF), nochecks
 *        (SIPKIT_PARSE_NO_CHECKS), cap=N (header array capacity, default
 *        128), xfail (the row is known to fail: WHY says why; a row that
 *        passes while marked xfail fails, so the mark gets removed)
 * EXPR   the input: a sequence of
 *          "..."        bytes, C escapes: \r \n \t \0 \\ \" \xNN
 *          $NAME        a macro
 *          {"..."*N}    the string repeated N times
 *          {"..."*=N}   the string repeated until the whole input is N bytes
 *                       (at most one per row; the repeated part is cut to fit)
 *        separated by spaces.
 * EXPECT the error name (sipkit_err_name: OK, CONTENT_LENGTH, ...); for
 *        unescape rows the returned length or -1
 * CHECKS space-separated key=value ('-' for none).  Numbers may be written
 *        N, len (input length), len-N, #NAME (length of macro NAME), or
 *        @"..." (offset of the first occurrence of those bytes in the input),
 *        @"..."+N (N bytes after it).
 *        Strings, and the bytes in @"...", are C-escaped and hold no space
 *        (write \x20): CHECKS is split at spaces.
 *          off= line= col=      error position
 *          cl= nocl body= size= consumed= headers= status= method= mf=
 *          cseq= expires=       message fields (body = body length)
 *          hdr:NAME=STR         value of the first header found by that name
 *          count:NAME=N         entries found by that name (find + next)
 *          validate:NAME=CODE   sipkit_header_validate on the first such header
 *          ruri.port= ruri.has_port= ruri.host= ruri.user= ruri.scheme=
 *          via.host= via.port= via.received= via.branch= to.tag= from.tag=
 *          port= has_port= host= user= scheme= host_type= params=  (uri rows)
 *          out=STR              unescape output
 *          rule=STR             error rule (sipkit_error.rule, any row kind)
 *        Layer rows (below) add their own keys.
 * WHY    the source (battery row, RFC) and, where sipkit chose, why.
 *
 * Every dgram row is parsed three times: in an exact-size malloc'd buffer
 * (ASan in `make battery-asan` sees any over-read), flush against a
 * PROT_NONE page after it, and starting right after a PROT_NONE page; the
 * three results must agree.  Every stream row is also fed byte by byte into
 * the same buffer (growing length) and must end with the same result.
 *
 * Layer rows
 * ----------
 *   sdp            sipkit_sdp_parse on the input as an SDP body.  Keys:
 *                  media= (num_media), m0.port= m0.ports= m0.formats=
 *                  m0.rtpmap_bad= (format 0) m0.conn=STR c.addrtype=STR
 *                  m1.conn=STR (m1 = second media)
 *   multipart:P    sipkit_multipart_parse of the input as the body with the
 *                  Content-Type params P (C escapes, no ',' - write \x2c).
 *                  The buffer is P followed by the body (the body ends at
 *                  the buffer end / guard page); off=, len and @"..." are
 *                  relative to the body, poff= is an offset in P.  Keys:
 *                  parts= p0.body=STR p1.body=STR ... pN.ctype=STR
 *                  pN.cid=STR pN.headers= (number of fields), deep=N (levels
 *                  split below the body by sipkit_multipart_parse_part,
 *                  following the first multipart part each time) and
 *                  deeprule=STR (why the next level stopped)
 *   dtmf-relay     sipkit_dtmf_relay_parse; dtmf: sipkit_dtmf_parse.  Keys:
 *                  signal=C duration=
 *   challenge:www | challenge:proxy          sipkit_auth_parse_challenge
 *   credentials:authz | credentials:proxy    sipkit_auth_parse_credentials
 *                  on the whole input as the header value.  Keys: realm=STR
 *                  nonce=STR username=STR response=STR alg= qop= stale=
 *   authpick       parse as a datagram, then sipkit_auth_challenge_pick
 *                  over its WWW-Authenticate headers (keys as challenge:)
 *   txnkey         parse as a datagram (the parse error when it fails),
 *                  then sipkit_txn_key_make: EXPECT is its code.  Keys:
 *                  the message keys, key.valid= key.rfc3261= key.branch=
 *                  (length) key.from_tag= (length)
 *   build          parse as a datagram (nochecks applies), then
 *                  sipkit_build_response(400, to_tag "x") and
 *                  sipkit_builder_finish in a dynamic builder: EXPECT is
 *                  the builder's code (the parse error when parsing fails).
 *                  Keys: outcount:NAME=N, out:NAME=STR (first such header
 *                  of the built message, parsed back)
 *
 * Besides the table, C loops cut valid messages at every offset (F04, S05,
 * F12), and N06 drives the transaction timers with T1 = 0 and 2^32-1. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "sipkit.h"
#include "sipkit_auth.h"
#include "sipkit_body.h"
#include "sipkit_build.h"
#include "sipkit_sdp.h"
#include "sipkit_txn.h"

#define CASES "tests/battery/cases.tsv"

/* ------------------------------------------------------------------ */
/* guard pages                                                         */

typedef struct guard { char *base; size_t size, page; } guard;

/* where: 0 = flush against a PROT_NONE page after it, 1 = right after one */
static const char *guard_place(guard *g, const char *src, size_t n, int where) {
  g->page = (size_t)sysconf(_SC_PAGESIZE);
  size_t pages = (n + g->page - 1) / g->page;
  if (pages == 0) pages = 1;
  g->size = pages * g->page;
  g->base = mmap(NULL, g->size + 2 * g->page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(g->base != MAP_FAILED);
  assert_int_equal(mprotect(g->base, g->page, PROT_NONE), 0);
  assert_int_equal(mprotect(g->base + g->page + g->size, g->page, PROT_NONE), 0);
  char *p = where == 0 ? g->base + g->page + g->size - n : g->base + g->page;
  if (n) memcpy(p, src, n);
  return p;
}
static void guard_free(guard *g) { munmap(g->base, g->size + 2 * g->page); }

/* ------------------------------------------------------------------ */
/* the table                                                           */

typedef struct bytes { char *p; size_t n; } bytes;

typedef struct macro { char *name; bytes val; } macro;
static macro *macros;
static size_t n_macros;

typedef struct row {
  char name[32];
  int line;
  char *id, *mode, *expr, *expect, *checks, *why;
} row;

static void die(int line, const char *fmt, const char *arg) {
  fprintf(stderr, CASES ":%d: ", line);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  exit(2);
}

static const bytes *find_macro(const char *name, size_t len) {
  for (size_t i = 0; i < n_macros; i++)
    if (strlen(macros[i].name) == len && memcmp(macros[i].name, name, len) == 0)
      return &macros[i].val;
  return NULL;
}

static void put(bytes *b, const char *p, size_t n) {
  b->p = realloc(b->p, b->n + n + 1);
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* C-style escapes from s up to an unescaped `stop` (or NUL when stop is 0);
 * returns the position of the stop character. */
static const char *unescape_c(const char *s, char stop, bytes *out, int line) {
  while (*s && *s != stop) {
    char c = *s++;
    if (c == '\\') {
      char e = *s++;
      switch (e) {
      case 'r': c = '\r'; break;
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case '0': c = '\0'; break;
      case '\\': c = '\\'; break;
      case '"': c = '"'; break;
      case 'x': {
        int h = hexval(s[0]), l = h < 0 ? -1 : hexval(s[1]);
        if (l < 0) die(line, "bad \\x escape near %s", s - 2);
        c = (char)(h * 16 + l);
        s += 2;
        break;
      }
      default: die(line, "unknown escape near %s", s - 2);
      }
    }
    put(out, &c, 1);
  }
  if (stop && *s != stop) die(line, "unterminated string: %s", s);
  return s;
}

/* EXPR -> bytes */
static bytes expand(const char *s, int line) {
  bytes out = {NULL, 0}, pad = {NULL, 0};
  size_t pad_at = (size_t)-1, pad_to = 0;
  put(&out, "", 0);
  while (*s) {
    if (*s == ' ') { s++; continue; }
    if (*s == '"') {
      s = unescape_c(s + 1, '"', &out, line) + 1;
    } else if (*s == '$') {
      const char *e = ++s;
      while ((*e >= 'A' && *e <= 'Z') || (*e >= '0' && *e <= '9') || *e == '_') e++;
      const bytes *m = find_macro(s, (size_t)(e - s));
      if (!m) die(line, "unknown macro near $%s", s);
      put(&out, m->p, m->n);
      s = e;
    } else if (*s == '{' && s[1] == '"') {
      bytes unit = {NULL, 0};
      put(&unit, "", 0);
      s = unescape_c(s + 2, '"', &unit, line) + 1;
      if (*s++ != '*') die(line, "expected * in repetition near %s", s - 1);
      int to_total = *s == '=';
      if (to_total) s++;
      char *end;
      unsigned long n = strtoul(s, &end, 10);
      if (end == s || *end != '}') die(line, "bad repetition count near %s", s);
      s = end + 1;
      if (to_total) {
        if (pad_at != (size_t)-1) die(line, "two {...*=N} in one row%s", "");
        pad_at = out.n;
        pad_to = n;
        pad = unit;
      } else {
        for (unsigned long i = 0; i < n; i++) put(&out, unit.p, unit.n);
        free(unit.p);
      }
    } else {
      die(line, "bad input expression near: %s", s);
    }
  }
  if (pad_at != (size_t)-1) {
    if (out.n > pad_to || pad.n == 0) die(line, "{...*=N}: the rest is already longer than N%s", "");
    size_t need = pad_to - out.n;
    bytes full = {NULL, 0};
    put(&full, out.p, pad_at);
    while (need > 0) {
      size_t k = need < pad.n ? need : pad.n;
      put(&full, pad.p, k);
      need -= k;
    }
    put(&full, out.p + pad_at, out.n - pad_at);
    free(out.p);
    free(pad.p);
    out = full;
  }
  return out;
}

static row *rows;
static size_t n_rows;

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  memcpy(p, s, n);
  return p;
}

static void load(void) {
  FILE *f = fopen(CASES, "r");
  if (!f) { perror(CASES " (run from the repository root)"); exit(2); }
  char *buf = NULL;
  size_t cap = 0;
  ssize_t n;
  int line = 0;
  while ((n = getline(&buf, &cap, f)) >= 0) {
    line++;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    if (n == 0 || buf[0] == '#') continue;
    char *col[6] = {0};
    int nc = 0;
    for (char *p = buf; nc < 6;) {
      col[nc++] = p;
      char *t = strchr(p, '\t');
      if (!t) break;
      *t = '\0';
      p = t + 1;
    }
    if (strcmp(col[0], "@def") == 0) {
      if (nc < 3) die(line, "@def needs NAME and EXPR%s", "");
      macros = realloc(macros, (n_macros + 1) * sizeof *macros);
      macros[n_macros].val = expand(col[2], line);
      macros[n_macros].name = xstrdup(col[1]);
      n_macros++;
      continue;
    }
    if (nc < 6) die(line, "a row needs 6 tab-separated columns: %s", col[0]);
    rows = realloc(rows, (n_rows + 1) * sizeof *rows);
    row *r = &rows[n_rows++];
    r->line = line;
    r->id = xstrdup(col[0]);
    r->mode = xstrdup(col[1]);
    r->expr = xstrdup(col[2]);
    r->expect = xstrdup(col[3]);
    r->checks = xstrdup(col[4]);
    r->why = xstrdup(col[5]);
    int k = 1;
    for (size_t i = 0; i + 1 < n_rows; i++)
      if (strcmp(rows[i].id, r->id) == 0) k++;
    snprintf(r->name, sizeof r->name, "%s#%d", r->id, k);
  }
  free(buf);
  fclose(f);
}

static int code_by_name(const char *name) {
  for (int c = 0; c <= 64; c++) {
    const char *n = sipkit_err_name(c);
    if (n && strcmp(n, name) == 0) return c;
  }
  return -1;
}

static int has_mode(const row *r, const char *word) {
  size_t n = strlen(word);
  for (const char *p = r->mode; *p;) {
    const char *e = strchr(p, ',');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l == n && memcmp(p, word, n) == 0) return 1;
    if (!e) break;
    p = e + 1;
  }
  return 0;
}
/* the value after "key" (e.g. "multipart:") in MODE, up to ',' */
static const char *mode_arg(const row *r, const char *key, char *out, size_t cap) {
  const char *p = strstr(r->mode, key);
  if (!p) return NULL;
  p += strlen(key);
  size_t n = strcspn(p, ",");
  if (n >= cap) n = cap - 1;
  memcpy(out, p, n);
  out[n] = '\0';
  return out;
}
static int is_msg_row(const row *r) {
  return !has_mode(r, "uri") && !has_mode(r, "unescape") && !strstr(r->mode, "multipart:") &&
         !has_mode(r, "sdp") && !has_mode(r, "dtmf-relay") && !has_mode(r, "dtmf") &&
         !strstr(r->mode, "challenge:") && !strstr(r->mode, "credentials:") &&
         !has_mode(r, "txnkey") && !has_mode(r, "build") && !has_mode(r, "authpick");
}
static long mode_num(const row *r, const char *key, long dflt) {
  const char *p = strstr(r->mode, key);
  return p ? strtol(p + strlen(key), NULL, 10) : dflt;
}

/* ------------------------------------------------------------------ */
/* running a row                                                       */

typedef struct result {
  int rc;
  sipkit_error err;
  sipkit_msg msg;
  size_t consumed;
  long ulen;      /* unescape */
  char uout[256];
  sipkit_uri uri;
  /* layer rows */
  size_t base;    /* multipart: length of the params before the body */
  sipkit_sdp *sdp;
  sipkit_part *parts;
  size_t nparts;
  long deep;
  const char *deeprule;
  sipkit_dtmf dtmf;
  sipkit_challenge ch;
  sipkit_credentials cr;
  sipkit_txn_key key;
  char *bout;     /* build: the message built (malloc'd) */
  size_t boutlen;
  sipkit_msg omsg;
} result;

static sipkit_header H[3][SIPKIT_MAX_HEADERS];
static sipkit_header HO[3][256];
static sipkit_sdp SDPS[3];
static sipkit_part PARTS[3][SIPKIT_MAX_PARTS];
static bytes cur_params; /* multipart rows: the params (prefix of the buffer) */

static void run_layer(const row *r, const char *buf, size_t len, result *res, int slot,
                      unsigned flags, size_t cap) {
  char arg[64];
  if (mode_arg(r, "multipart:", arg, sizeof arg)) {
    res->base = cur_params.n;
    res->parts = PARTS[slot];
    sipkit_span params = {0, (uint32_t)cur_params.n};
    sipkit_span body = {(uint32_t)cur_params.n, (uint32_t)(len - cur_params.n)};
    res->rc = sipkit_multipart_parse(buf, body, params, res->parts, SIPKIT_MAX_PARTS,
                                     &res->nparts, &res->err);
    res->deep = 0;
    res->deeprule = "";
    if (res->rc == SIPKIT_EOK) {
      static sipkit_part lv[2][SIPKIT_MAX_PARTS];
      const sipkit_part *ps = res->parts;
      size_t np = res->nparts;
      for (int d = 0; d < 8; d++) {
        const sipkit_part *mp = NULL;
        for (size_t i = 0; i < np && !mp; i++)
          if (ps[i].is_multipart) mp = &ps[i];
        if (!mp) break;
        size_t nn = 0;
        sipkit_error e;
        memset(&e, 0, sizeof e);
        if (sipkit_multipart_parse_part(buf, mp, lv[d & 1], SIPKIT_MAX_PARTS, &nn, &e) !=
            SIPKIT_EOK) {
          res->deeprule = e.rule ? e.rule : "";
          break;
        }
        res->deep++;
        ps = lv[d & 1];
        np = nn;
      }
    }
  } else if (has_mode(r, "sdp")) {
    res->sdp = &SDPS[slot];
    res->rc = sipkit_sdp_parse(res->sdp, buf, len, &res->err);
  } else if (has_mode(r, "dtmf-relay")) {
    res->rc = sipkit_dtmf_relay_parse(&res->dtmf, buf, len, &res->err);
  } else if (has_mode(r, "dtmf")) {
    res->rc = sipkit_dtmf_parse(&res->dtmf, buf, len, &res->err);
  } else if (mode_arg(r, "challenge:", arg, sizeof arg)) {
    sipkit_span v = {0, (uint32_t)len};
    int id = strcmp(arg, "proxy") == 0 ? SIPKIT_HDR_PROXY_AUTHENTICATE : SIPKIT_HDR_WWW_AUTHENTICATE;
    res->rc = sipkit_auth_parse_challenge(&res->ch, id, buf, v, &res->err);
  } else if (mode_arg(r, "credentials:", arg, sizeof arg)) {
    sipkit_span v = {0, (uint32_t)len};
    int id = strcmp(arg, "proxy") == 0 ? SIPKIT_HDR_PROXY_AUTHORIZATION : SIPKIT_HDR_AUTHORIZATION;
    res->rc = sipkit_auth_parse_credentials(&res->cr, id, buf, v, &res->err);
  } else if (has_mode(r, "authpick")) {
    sipkit_msg_init(&res->msg, H[slot], cap);
    res->rc = sipkit_parse(&res->msg, buf, len, flags, &res->err);
    if (res->rc != SIPKIT_EOK) return;
    res->rc = sipkit_auth_challenge_pick(&res->ch, &res->msg, buf, SIPKIT_HDR_WWW_AUTHENTICATE,
                                         &res->err);
  } else if (has_mode(r, "txnkey") || has_mode(r, "build")) {
    sipkit_msg_init(&res->msg, H[slot], cap);
    res->rc = sipkit_parse(&res->msg, buf, len, flags, &res->err);
    if (res->rc != SIPKIT_EOK) return;
    if (has_mode(r, "txnkey")) {
      res->rc = sipkit_txn_key_make(&res->key, &res->msg, buf);
      return;
    }
    sipkit_builder b;
    sipkit_builder_init_dynamic(&b);
    sipkit_str tag = {"x", 1};
    sipkit_build_response(&b, &res->msg, buf, 400, NULL, 0, tag);
    sipkit_msg_init(&res->omsg, HO[slot], 256);
    res->rc = sipkit_builder_finish(&b, NULL, 0, &res->omsg);
    if (res->rc != SIPKIT_EOK) {
      res->err = b.err;
    } else {
      res->bout = malloc(b.len);
      memcpy(res->bout, b.buf, b.len);
      res->boutlen = b.len;
    }
    sipkit_builder_free(&b);
  } else {
    die(r->line, "unknown mode %s", r->mode);
  }
}

static void run_once(const row *r, const char *buf, size_t len, result *res, int slot) {
  unsigned flags = (has_mode(r, "lenient") ? SIPKIT_PARSE_LENIENT_LF : 0) |
                   (has_mode(r, "nochecks") ? SIPKIT_PARSE_NO_CHECKS : 0);
  size_t cap = (size_t)mode_num(r, "cap=", SIPKIT_DEFAULT_HEADERS);
  free(res->bout);
  memset(res, 0, sizeof *res);
  if (!is_msg_row(r) && !has_mode(r, "uri") && !has_mode(r, "unescape")) {
    run_layer(r, buf, len, res, slot, flags, cap);
  } else if (has_mode(r, "uri")) {
    sipkit_span all = {0, (uint32_t)len};
    res->rc = sipkit_uri_parse(&res->uri, buf, all, &res->err);
  } else if (has_mode(r, "unescape")) {
    res->ulen = sipkit_unescape(buf, len, res->uout, sizeof res->uout);
    res->rc = 0;
  } else if (has_mode(r, "stream")) {
    sipkit_msg_init(&res->msg, H[slot], cap);
    res->rc = sipkit_parse_stream(&res->msg, buf, len, flags, &res->consumed, &res->err);
  } else {
    sipkit_msg_init(&res->msg, H[slot], cap);
    res->rc = sipkit_parse(&res->msg, buf, len, flags, &res->err);
  }
}

/* the same stream, fed one byte more each call into the same buffer */
static void run_bytewise(const row *r, const char *buf, size_t len, result *res) {
  unsigned flags = has_mode(r, "lenient") ? SIPKIT_PARSE_LENIENT_LF : 0;
  size_t cap = (size_t)mode_num(r, "cap=", SIPKIT_DEFAULT_HEADERS);
  memset(res, 0, sizeof *res);
  sipkit_msg_init(&res->msg, H[2], cap);
  for (size_t k = 0; k <= len; k++) {
    res->rc = sipkit_parse_stream(&res->msg, buf, k, flags, &res->consumed, &res->err);
    if (res->rc != SIPKIT_EINCOMPLETE && res->rc != SIPKIT_EEMPTY) return;
  }
}

typedef struct ctx {
  const row *r;
  const char *buf;
  size_t len;
  result *res;
  char why[512]; /* first mismatch */
  size_t skip;   /* multipart: the params before the body */
} ctx;

static void fail_with(ctx *c, const char *fmt, ...) {
  if (c->why[0]) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->why, sizeof c->why, fmt, ap);
  va_end(ap);
}

static long memfind(const char *h, size_t hn, const char *n, size_t nn) {
  if (nn == 0 || nn > hn) return -1;
  for (size_t i = 0; i + nn <= hn; i++)
    if (memcmp(h + i, n, nn) == 0) return (long)i;
  return -1;
}

/* a number in CHECKS */
static long num(ctx *c, const char *v) {
  if (strcmp(v, "len") == 0) return (long)(c->len - c->skip);
  if (strncmp(v, "len-", 4) == 0) return (long)(c->len - c->skip) - strtol(v + 4, NULL, 10);
  if (v[0] == '#') {
    const bytes *m = find_macro(v + 1, strlen(v + 1));
    if (!m) die(c->r->line, "unknown macro in check: %s", v);
    return (long)m->n;
  }
  if (v[0] == '@') {
    bytes b = {NULL, 0};
    put(&b, "", 0);
    const char *q = unescape_c(v + 2, '"', &b, c->r->line);
    long at = memfind(c->buf + c->skip, c->len - c->skip, b.p, b.n);
    free(b.p);
    if (at < 0) die(c->r->line, "@\"...\" not found in the input: %s", v);
    if (q[1] == '+') at += strtol(q + 2, NULL, 10);
    return at;
  }
  char *end;
  long n = strtol(v, &end, 10);
  if (end == v || *end) die(c->r->line, "bad number in check: %s", v);
  return n;
}

static void check_num(ctx *c, const char *key, long got, const char *want) {
  long w = num(c, want);
  if (got != w) fail_with(c, "%s: got %ld, want %ld (%s)", key, got, w, want);
}

static void check_str(ctx *c, const char *key, const char *base, sipkit_span s, const char *want) {
  bytes b = {NULL, 0};
  put(&b, "", 0);
  unescape_c(want, 0, &b, c->r->line);
  if (s.len != b.n || (b.n && memcmp(base + s.off, b.p, b.n) != 0))
    fail_with(c, "%s: got \"%.*s\", want \"%s\"", key, (int)s.len, base + s.off, want);
  free(b.p);
}

static const sipkit_header *find_hdr(ctx *c, const char *name) {
  return sipkit_msg_find(&c->res->msg, c->buf, name, strlen(name));
}

static void check_one(ctx *c, char *kv) {
  char *eq = strchr(kv, '=');
  const char *v = eq ? eq + 1 : "";
  if (eq) *eq = '\0';
  const char *k = kv;
  result *res = c->res;
  const sipkit_msg *m = &res->msg;
  const char *b = c->buf;
#define IS(x) (strcmp(k, x) == 0)
  if (IS("off")) check_num(c, k, (long)res->err.offset - (long)c->skip, v);
  else if (IS("poff")) check_num(c, k, res->err.offset, v);
  else if (IS("rule")) {
    sipkit_span s = {0, res->err.rule ? (uint32_t)strlen(res->err.rule) : 0};
    check_str(c, k, res->err.rule ? res->err.rule : "", s, v);
  }
  /* sdp rows */
  else if (IS("media")) check_num(c, k, res->sdp->num_media, v);
  else if (strncmp(k, "m0.", 3) == 0 || strncmp(k, "m1.", 3) == 0) {
    uint32_t i = (uint32_t)(k[1] - '0');
    if (i >= res->sdp->num_media) { fail_with(c, "%s: no such media", k); return; }
    const sipkit_sdp_media *md = &res->sdp->media[i];
    const char *f = k + 3;
    if (!strcmp(f, "port")) check_num(c, k, md->port, v);
    else if (!strcmp(f, "ports")) check_num(c, k, md->num_ports, v);
    else if (!strcmp(f, "formats")) check_num(c, k, md->num_formats, v);
    else if (!strcmp(f, "rtpmap_bad")) check_num(c, k, md->formats[0].rtpmap_bad, v);
    else if (!strcmp(f, "conn")) check_str(c, k, b, md->conn.address, v);
    else die(c->r->line, "unknown check %s", k);
  } else if (IS("c.addrtype")) check_str(c, k, b, res->sdp->conn.addrtype, v);
  /* multipart rows */
  else if (IS("parts")) check_num(c, k, (long)res->nparts, v);
  else if (IS("deep")) check_num(c, k, res->deep, v);
  else if (IS("deeprule")) {
    sipkit_span s = {0, (uint32_t)strlen(res->deeprule)};
    check_str(c, k, res->deeprule, s, v);
  } else if (k[0] == 'p' && k[1] >= '0' && k[1] <= '9' && k[2] == '.') {
    size_t i = (size_t)(k[1] - '0');
    if (i >= res->nparts) { fail_with(c, "%s: no such part", k); return; }
    const sipkit_part *pt = &res->parts[i];
    const char *f = k + 3;
    if (!strcmp(f, "body")) check_str(c, k, b, pt->body, v);
    else if (!strcmp(f, "ctype")) check_str(c, k, b, pt->content_type, v);
    else if (!strcmp(f, "cid")) check_str(c, k, b, pt->content_id, v);
    else if (!strcmp(f, "headers")) check_num(c, k, pt->num_headers, v);
    else die(c->r->line, "unknown check %s", k);
  }
  /* dtmf rows */
  else if (IS("signal")) {
    if (res->dtmf.signal != v[0] || v[1]) fail_with(c, "signal: got '%c', want %s", res->dtmf.signal, v);
  } else if (IS("duration")) check_num(c, k, res->dtmf.duration, v);
  /* auth rows */
  else if (IS("realm")) check_str(c, k, b, (strstr(c->r->mode, "challenge:") || has_mode(c->r, "authpick")) ? res->ch.realm : res->cr.realm, v);
  else if (IS("nonce")) check_str(c, k, b, (strstr(c->r->mode, "challenge:") || has_mode(c->r, "authpick")) ? res->ch.nonce : res->cr.nonce, v);
  else if (IS("username")) check_str(c, k, b, res->cr.username, v);
  else if (IS("response")) check_str(c, k, b, res->cr.response, v);
  else if (IS("alg")) check_num(c, k, (strstr(c->r->mode, "challenge:") || has_mode(c->r, "authpick")) ? res->ch.algorithm : res->cr.algorithm, v);
  else if (IS("qop")) check_num(c, k, (strstr(c->r->mode, "challenge:") || has_mode(c->r, "authpick")) ? res->ch.qop_offered : res->cr.qop, v);
  else if (IS("stale")) check_num(c, k, res->ch.stale, v);
  /* txnkey rows */
  else if (IS("key.valid")) check_num(c, k, res->key.valid, v);
  else if (IS("key.rfc3261")) check_num(c, k, res->key.rfc3261, v);
  else if (IS("key.branch")) check_num(c, k, res->key.branch_len, v);
  else if (IS("key.from_tag")) check_num(c, k, res->key.from_tag_len, v);
  /* build rows */
  else if (strncmp(k, "outcount:", 9) == 0 || strncmp(k, "out:", 4) == 0) {
    if (!res->bout) { fail_with(c, "%s: nothing built", k); return; }
    int cnt = k[3] == 'c';
    const char *name = k + (cnt ? 9 : 4);
    const sipkit_header *h = sipkit_msg_find(&res->omsg, res->bout, name, strlen(name));
    if (cnt) {
      long n = 0;
      for (; h; h = sipkit_msg_header_next(&res->omsg, h)) n++;
      check_num(c, k, n, v);
    } else if (!h) fail_with(c, "%s: header not in the built message", k);
    else check_str(c, k, res->bout, h->value, v);
  }
  else if (IS("line")) check_num(c, k, res->err.line, v);
  else if (IS("col")) check_num(c, k, res->err.column, v);
  else if (IS("cl")) {
    if (!m->has_content_length) fail_with(c, "cl: no Content-Length");
    check_num(c, k, m->content_length, v);
  } else if (IS("nocl")) {
    if (m->has_content_length) fail_with(c, "nocl: has Content-Length %u", m->content_length);
  } else if (IS("body")) check_num(c, k, m->body.len, v);
  else if (IS("size")) check_num(c, k, m->size, v);
  else if (IS("consumed")) check_num(c, k, (long)res->consumed, v);
  else if (IS("headers")) check_num(c, k, m->num_headers, v);
  else if (IS("status")) check_num(c, k, m->status, v);
  else if (IS("method")) check_num(c, k, m->method, v);
  else if (IS("mf")) check_num(c, k, m->max_forwards, v);
  else if (IS("expires")) check_num(c, k, m->expires, v);
  else if (IS("cseq")) {
    if (!m->cseq) fail_with(c, "cseq: none");
    else check_num(c, k, m->cseq->num, v);
  } else if (strncmp(k, "hdr:", 4) == 0) {
    const sipkit_header *h = find_hdr(c, k + 4);
    if (!h) fail_with(c, "%s: header not found", k);
    else check_str(c, k, b, h->value, v);
  } else if (strncmp(k, "count:", 6) == 0) {
    long n = 0;
    for (const sipkit_header *h = find_hdr(c, k + 6); h; h = sipkit_msg_header_next(m, h)) n++;
    check_num(c, k, n, v);
  } else if (strncmp(k, "validate:", 9) == 0) {
    const sipkit_header *h = find_hdr(c, k + 9);
    if (!h) { fail_with(c, "%s: header not found", k); return; }
    sipkit_error e;
    int rc = sipkit_header_validate(&c->res->msg, b, h, &e);
    if (rc != code_by_name(v))
      fail_with(c, "%s: got %s, want %s", k, sipkit_err_name(rc), v);
  } else if (strncmp(k, "ruri.", 5) == 0) {
    const char *f = k + 5;
    if (!strcmp(f, "port")) check_num(c, k, m->ruri.port, v);
    else if (!strcmp(f, "has_port")) check_num(c, k, m->ruri.has_port, v);
    else if (!strcmp(f, "scheme")) check_num(c, k, m->ruri.scheme, v);
    else if (!strcmp(f, "host")) check_str(c, k, b, m->ruri.host, v);
    else if (!strcmp(f, "user")) check_str(c, k, b, m->ruri.user, v);
    else die(c->r->line, "unknown check %s", k);
  } else if (strncmp(k, "via.", 4) == 0) {
    if (!m->via) { fail_with(c, "%s: no Via", k); return; }
    const char *f = k + 4;
    if (!strcmp(f, "port")) check_num(c, k, m->via->port, v);
    else if (!strcmp(f, "host")) check_str(c, k, b, m->via->host, v);
    else if (!strcmp(f, "received")) check_str(c, k, b, m->via->received, v);
    else if (!strcmp(f, "branch")) check_str(c, k, b, m->via->branch, v);
    else die(c->r->line, "unknown check %s", k);
  } else if (IS("to.tag") || IS("from.tag")) {
    const sipkit_addr *a = k[0] == 't' ? m->to : m->from;
    if (!a) fail_with(c, "%s: header absent", k);
    else check_str(c, k, b, a->tag, v);
  } else if (IS("port")) check_num(c, k, res->uri.port, v);
  else if (IS("has_port")) check_num(c, k, res->uri.has_port, v);
  else if (IS("scheme")) check_num(c, k, res->uri.scheme, v);
  else if (IS("host_type")) check_num(c, k, res->uri.host_type, v);
  else if (IS("host")) check_str(c, k, b, res->uri.host, v);
  else if (IS("user")) check_str(c, k, b, res->uri.user, v);
  else if (IS("params")) check_str(c, k, b, res->uri.params, v);
  else if (IS("out")) {
    sipkit_span s = {0, res->ulen > 0 ? (uint32_t)res->ulen : 0};
    check_str(c, k, res->uout, s, v);
  } else die(c->r->line, "unknown check %s", k);
#undef IS
}

/* returns "" when the row behaves as the table says, else the first mismatch */
static void evaluate(ctx *c) {
  const row *r = c->r;
  result *res = c->res;
  if (has_mode(r, "unescape")) {
    long want = strcmp(r->expect, "OK") == 0 ? -2 : num(c, r->expect);
    if (want != -2 && res->ulen != want) fail_with(c, "unescape: got %ld, want %ld", res->ulen, want);
  } else {
    int want = code_by_name(r->expect);
    if (want < 0) die(r->line, "unknown expected code %s", r->expect);
    if (res->rc != want) {
      char out[300] = "";
      if (res->rc != SIPKIT_EOK && !has_mode(r, "build") && !has_mode(r, "txnkey"))
        sipkit_error_format(&res->err, c->buf, c->len, out, sizeof out);
      else if (res->rc != SIPKIT_EOK && res->err.rule)
        snprintf(out, sizeof out, "(rule %s, offset %u)", res->err.rule, res->err.offset);
      fail_with(c, "got %s, want %s %s", sipkit_err_name(res->rc), r->expect, out);
      return;
    }
  }
  if (strcmp(r->checks, "-") == 0) return;
  char *copy = xstrdup(r->checks);
  for (char *t = strtok(copy, " "); t; t = strtok(NULL, " ")) check_one(c, t);
  free(copy);
}

static int same_result(const result *a, const result *b) {
  if (a->rc != b->rc || a->ulen != b->ulen) return 0;
  if (a->nparts != b->nparts || a->deep != b->deep || a->boutlen != b->boutlen) return 0;
  if (a->bout && memcmp(a->bout, b->bout, a->boutlen) != 0) return 0;
  if (a->rc == SIPKIT_EOK || a->rc == SIPKIT_EINCOMPLETE)
    return a->consumed == b->consumed && a->msg.size == b->msg.size &&
           a->msg.num_headers == b->msg.num_headers;
  return a->err.offset == b->err.offset && a->err.line == b->err.line &&
         a->err.column == b->err.column;
}

static void test_row(void **state) {
  const row *r = *state;
  bytes in = expand(r->expr, r->line);
  static result res[3];
  char parg[256];
  free(cur_params.p);
  cur_params.p = NULL;
  cur_params.n = 0;
  if (mode_arg(r, "multipart:", parg, sizeof parg)) {
    /* the buffer is params + body: the body ends at the buffer's end */
    put(&cur_params, "", 0);
    unescape_c(parg, 0, &cur_params, r->line);
    bytes both = {NULL, 0};
    put(&both, cur_params.p, cur_params.n);
    put(&both, in.p, in.n);
    free(in.p);
    in = both;
  }
  /* exact-size heap buffer */
  char *heap = malloc(in.n ? in.n : 1);
  memcpy(heap, in.p, in.n);
  run_once(r, heap, in.n, &res[0], 0);
  /* guard pages after and before */
  for (int where = 0; where < 2; where++) {
    guard g;
    const char *gb = guard_place(&g, in.p, in.n, where);
    run_once(r, gb, in.n, &res[1], 1);
    guard_free(&g);
    if (!same_result(&res[0], &res[1])) {
      print_error("%s (line %d): heap and guard-page parses differ: %s vs %s\n", r->name,
                  r->line, sipkit_err_name(res[0].rc), sipkit_err_name(res[1].rc));
      fail();
    }
  }
  if (has_mode(r, "stream")) {
    run_bytewise(r, heap, in.n, &res[2]);
    if (!same_result(&res[0], &res[2])) {
      print_error("%s (line %d): byte-by-byte stream gives %s (consumed %zu), one shot %s (consumed %zu)\n",
                  r->name, r->line, sipkit_err_name(res[2].rc), res[2].consumed,
                  sipkit_err_name(res[0].rc), res[0].consumed);
      fail();
    }
  }
  if (res[0].rc != SIPKIT_EOK && !has_mode(r, "unescape") && !has_mode(r, "uri") &&
      !has_mode(r, "build") && !has_mode(r, "txnkey") && !has_mode(r, "authpick")) {
    /* (build, txnkey and authpick errors carry no input position) */
    assert_int_equal(res[0].err.code, res[0].rc);
    assert_true(res[0].err.offset <= in.n);
    assert_true(res[0].err.line >= 1 && res[0].err.column >= 1);
  }
  free(res[1].bout);
  res[1].bout = NULL;
  free(res[2].bout);
  res[2].bout = NULL;
  ctx c = {r, heap, in.n, &res[0], "", cur_params.n};
  evaluate(&c);
  if (getenv("BATTERY_SHOW")) {
    char out[300] = "";
    if (res[0].rc != SIPKIT_EOK && !has_mode(r, "unescape") && !has_mode(r, "build") &&
        !has_mode(r, "txnkey"))
      sipkit_error_format(&res[0].err, heap, in.n, out, sizeof out);
    fprintf(stderr, "SHOW %s line %d: %s off=%u consumed=%zu ulen=%ld %s | %s\n", r->name,
            r->line, sipkit_err_name(res[0].rc), res[0].err.offset, res[0].consumed,
            res[0].ulen, out, c.why[0] ? c.why : "as expected");
  }
  int xfail = has_mode(r, "xfail");
  free(res[0].bout);
  res[0].bout = NULL;
  free(heap);
  free(in.p);
  if (c.why[0] && !xfail) {
    print_error("%s (line %d): %s\n  why: %s\n", r->name, r->line, c.why, r->why);
    fail();
  }
  if (!c.why[0] && xfail) {
    print_error("%s (line %d): marked xfail but passes: remove the mark\n", r->name, r->line);
    fail();
  }
  if (xfail) print_message("%s: xfail (%s): %s\n", r->name, c.why, r->why);
}

/* ------------------------------------------------------------------ */
/* every cut of valid messages (F04, S05, F12)                         */

static const char *const cut_msgs[] = {
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "To: \"Bob\" <sip:bob@example.com>\r\n"
    "From: Alice <sip:alice@example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@[2001:db8::10]:5070;transport=tcp>\r\n"
    "Subject: folded\r\n value\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\n",
    "SIP/2.0 180 Ringing\r\n"
    "v: SIP/2.0/TCP h.example.com:5061;branch=z9hG4bKx;received=192.0.2.1\r\n"
    "t: <sip:bob@example.com>;tag=a6c85cf\r\n"
    "f: <sips:alice@example.com>;tag=1928301774\r\n"
    "i: a84b4c76e66710\r\n"
    "CSeq: 1 INVITE\r\n"
    "l: 0\r\n"
    "\r\n",
};

static void test_cut_every_offset(void **state) {
  (void)state;
  static sipkit_header hdrs[SIPKIT_DEFAULT_HEADERS];
  for (size_t i = 0; i < sizeof cut_msgs / sizeof *cut_msgs; i++) {
    const char *full = cut_msgs[i];
    size_t len = strlen(full);
    const char *eoh = strstr(full, "\r\n\r\n");
    size_t head_end = (size_t)(eoh - full) + 4; /* body starts here */
    for (size_t k = 0; k <= len; k++) {
      /* datagram: exact-size heap buffer, then flush against a guard page */
      char *heap = malloc(k ? k : 1);
      memcpy(heap, full, k);
      sipkit_msg m;
      sipkit_error e;
      sipkit_msg_init(&m, hdrs, SIPKIT_DEFAULT_HEADERS);
      int rc = sipkit_parse(&m, heap, k, 0, &e);
      int want = k == 0 ? SIPKIT_EEMPTY
                 : k < head_end ? SIPKIT_EHEADERS_END
                 : k < len ? SIPKIT_EBODY_TRUNCATED : SIPKIT_EOK;
      if (rc != want) {
        char out[300] = "";
        sipkit_error_format(&e, heap, k, out, sizeof out);
        print_error("message %zu cut at %zu/%zu: got %s, want %s: %s\n", i, k, len,
                    sipkit_err_name(rc), sipkit_err_name(want), out);
        fail();
      }
      if (rc != SIPKIT_EOK) assert_true(e.offset <= k);
      guard g;
      const char *gb = guard_place(&g, full, k, 0);
      sipkit_msg_init(&m, hdrs, SIPKIT_DEFAULT_HEADERS);
      assert_int_equal(sipkit_parse(&m, gb, k, 0, &e), rc);
      /* stream: every proper prefix is incomplete, the whole is the message */
      size_t consumed = 0;
      sipkit_msg_init(&m, hdrs, SIPKIT_DEFAULT_HEADERS);
      rc = sipkit_parse_stream(&m, gb, k, 0, &consumed, &e);
      want = k == 0 ? -1 : k < len ? SIPKIT_EINCOMPLETE : SIPKIT_EOK;
      if (k == 0) assert_true(rc == SIPKIT_EINCOMPLETE || rc == SIPKIT_EEMPTY);
      else if (rc != want) {
        print_error("stream message %zu cut at %zu/%zu: got %s, want %s\n", i, k, len,
                    sipkit_err_name(rc), sipkit_err_name(want));
        fail();
      }
      if (rc == SIPKIT_EOK) assert_int_equal(consumed, len);
      guard_free(&g);
      free(heap);
    }
  }
}

/* three pipelined messages plus half of a fourth, split at every offset:
 * consuming them one by one always gives the same three messages (F12) */
static void test_pipelined_every_split(void **state) {
  (void)state;
  static sipkit_header hdrs[SIPKIT_DEFAULT_HEADERS];
  char all[2048];
  size_t l0 = strlen(cut_msgs[0]), l1 = strlen(cut_msgs[1]);
  size_t n = 0;
  memcpy(all + n, cut_msgs[0], l0); n += l0;
  memcpy(all + n, "\r\n", 2); n += 2;          /* keep-alive between messages */
  memcpy(all + n, cut_msgs[1], l1); n += l1;
  memcpy(all + n, cut_msgs[0], l0); n += l0;
  memcpy(all + n, cut_msgs[1], 40); n += 40;   /* half of the next */
  const size_t want_consumed[3] = {l0, 2 + l1, l0};
  for (size_t split = 0; split <= n; split++) {
    /* a reader that got `split` bytes first, then everything */
    size_t pos = 0, have = split;
    int got = 0;
    sipkit_msg m;
    sipkit_error e;
    sipkit_msg_init(&m, hdrs, SIPKIT_DEFAULT_HEADERS);
    for (int guard_iter = 0; guard_iter < 16; guard_iter++) {
      size_t consumed = 0;
      char *heap = malloc(have - pos ? have - pos : 1); /* exact size, moves each time */
      memcpy(heap, all + pos, have - pos);
      int rc = sipkit_parse_stream(&m, heap, have - pos, 0, &consumed, &e);
      free(heap);
      if (rc == SIPKIT_EOK) {
        assert_true(got < 3);
        if (consumed != want_consumed[got]) {
          print_error("split %zu: message %d consumed %zu, want %zu\n", split, got, consumed,
                      want_consumed[got]);
          fail();
        }
        got++;
        pos += consumed;
        sipkit_msg_init(&m, hdrs, SIPKIT_DEFAULT_HEADERS);
        continue;
      }
      if (rc != SIPKIT_EINCOMPLETE && rc != SIPKIT_EEMPTY) {
        print_error("split %zu: message %d: %s\n", split, got, sipkit_err_name(rc));
        fail();
      }
      if (have == n) break;
      have = n; /* the rest arrives; the buffer moved: start the message over */
      sipkit_msg_init(&m, hdrs, SIPKIT_DEFAULT_HEADERS);
    }
    assert_int_equal(got, 3);
  }
}

/* N06: timers with T1 = 0 or huge: no wrap in the ms arithmetic, no zero
 * period (a busy loop).  The transaction layer is the only one with timers;
 * Session-Expires / Min-SE / Retry-After are not interpreted by sipkit. */
static const sipkit_txn_action *find_start(const sipkit_txn_actions *a, int timer) {
  for (unsigned i = 0; i < a->n; i++)
    if (a->a[i].type == SIPKIT_TXN_ACT_TIMER_START && a->a[i].timer == timer) return &a->a[i];
  return NULL;
}

/* Drive a client transaction with T1 = T2 = t1: the timeout timer at
 * 64*T1, five retransmissions doubling (INVITE) or capped at T2.  Returns
 * "" or the first mismatch. */
static const char *n06_run(int kind, uint32_t t1, char *why, size_t cap) {
  sipkit_txn t;
  sipkit_txn_config cfg;
  sipkit_txn_actions a;
  sipkit_txn_config_default(&cfg);
  cfg.t1 = t1;
  cfg.t2 = t1 > cfg.t2 ? t1 : cfg.t2;
  const uint64_t T1 = t1, T2 = cfg.t2;
  int retx = kind == SIPKIT_TXN_INVITE_CLIENT ? SIPKIT_TXN_TIMER_A : SIPKIT_TXN_TIMER_E;
  int tmo = kind == SIPKIT_TXN_INVITE_CLIENT ? SIPKIT_TXN_TIMER_B : SIPKIT_TXN_TIMER_F;
  why[0] = '\0';
  assert_int_equal(sipkit_txn_init(&t, kind, &cfg, 0), SIPKIT_EOK);
  uint64_t now = 1000;
  assert_int_equal(sipkit_txn_start(&t, "x", 1, now, &a), SIPKIT_EOK);
  const sipkit_txn_action *ta = find_start(&a, retx), *tb = find_start(&a, tmo);
  assert_non_null(ta);
  assert_non_null(tb);
  if (tb->at != now + 64 * T1) {
    snprintf(why, cap, "kind %d T1 %u: timer %s at now+%llu, want now+64*T1 = now+%llu", kind, t1,
             sipkit_txn_timer_name(tmo), (unsigned long long)(tb->at - now),
             (unsigned long long)(64 * T1));
    return why;
  }
  uint64_t at = ta->at, prev_gap = at - now;
  assert_true(prev_gap == T1);
  for (int i = 0; i < 5; i++) {
    now = at;
    assert_int_equal(sipkit_txn_on_timer(&t, retx, now, &a), SIPKIT_EOK);
    ta = find_start(&a, retx);
    if (!ta) break; /* the timeout came first */
    uint64_t gap = ta->at - now;
    uint64_t want = kind == SIPKIT_TXN_INVITE_CLIENT ? prev_gap * 2
                    : prev_gap * 2 < T2 ? prev_gap * 2 : T2;
    if (ta->at <= now || gap != want) {
      snprintf(why, cap, "kind %d T1 %u: retransmission %d: next in %llu ms, want %llu", kind, t1,
               i + 1, (unsigned long long)gap, (unsigned long long)want);
      return why;
    }
    prev_gap = gap;
    at = ta->at;
  }
  return why;
}

static void test_n06_timers(void **state) {
  (void)state;
  sipkit_txn t;
  sipkit_txn_config cfg;
  sipkit_txn_config_default(&cfg);
  cfg.t1 = 0;
  assert_int_equal(sipkit_txn_init(&t, SIPKIT_TXN_INVITE_CLIENT, &cfg, 0), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_txn_init(&t, SIPKIT_TXN_NON_INVITE_CLIENT, &cfg, 0), SIPKIT_EARGUMENT);
  assert_int_equal(sipkit_txn_init(&t, SIPKIT_TXN_INVITE_SERVER, &cfg, 0), SIPKIT_EARGUMENT);
  char why[256];
  /* sane values: exact */
  static const uint32_t ok_t1[] = {1, 500, 60000, 67108863 /* 64*T1 < 2^32 */};
  for (size_t i = 0; i < sizeof ok_t1 / sizeof *ok_t1; i++)
    for (int kind = SIPKIT_TXN_INVITE_CLIENT; kind <= SIPKIT_TXN_NON_INVITE_CLIENT; kind++)
      if (n06_run(kind, ok_t1[i], why, sizeof why)[0]) {
        print_error("n06: %s\n", why);
        fail();
      }
  /* T1 >= 2^26 ms (~18.6 h): 64*T1 and the doubled intervals no longer fit
   * 32 bits; src/txn.c computes them in 64 bits, so they stay exact. */
  static const uint32_t big_t1[] = {67108864, UINT32_MAX};
  for (size_t i = 0; i < sizeof big_t1 / sizeof *big_t1; i++)
    for (int kind = SIPKIT_TXN_INVITE_CLIENT; kind <= SIPKIT_TXN_NON_INVITE_CLIENT; kind++)
      if (n06_run(kind, big_t1[i], why, sizeof why)[0]) {
        print_error("n06: %s\n", why);
        fail();
      }
}

int main(int argc, char **argv) {
  load();
  struct CMUnitTest *tests = calloc(n_rows + 3, sizeof *tests);
  size_t nt = 0;
  for (size_t i = 0; i < n_rows; i++) {
    if (argc > 1 && strstr(rows[i].name, argv[1]) == NULL) continue;
    tests[nt].name = rows[i].name;
    tests[nt].test_func = test_row;
    tests[nt].initial_state = &rows[i];
    nt++;
  }
  if (argc == 1 || strstr("cut_every_offset", argv[1])) {
    tests[nt].name = "cut_every_offset";
    tests[nt++].test_func = test_cut_every_offset;
  }
  if (argc == 1 || strstr("pipelined_every_split", argv[1])) {
    tests[nt].name = "pipelined_every_split";
    tests[nt++].test_func = test_pipelined_every_split;
  }
  if (argc == 1 || strstr("n06_timers", argv[1])) {
    tests[nt].name = "n06_timers";
    tests[nt++].test_func = test_n06_timers;
  }
  int rc = _cmocka_run_group_tests("battery", tests, nt, NULL, NULL);
  free(tests);
  return rc;
}
