/* ladder.c - ladder diagrams of SIP calls (sipkit_ladder.h).
 *
 * Two steps: build a model (calls keyed by Call-ID, each with its columns
 * and messages, every message parsed once), then render it as text or as
 * HTML + SVG.  The model keeps indexes into the caller's events, never
 * copies of the messages.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sipkit_ladder.h"

/* ---------------------------------------------------------------- model */

#define LABEL_MAX 40
#define PARTY_MAX 96

enum msg_kind { K_REQ, K_1XX, K_2XX, K_ERR, K_BAD };

typedef struct lmsg {
  size_t ev;            /* index into the events */
  int src, dst;         /* columns */
  int status;           /* 0 for requests */
  int method;           /* sipkit_method (requests) */
  int cseq_method;      /* sipkit_method of CSeq */
  int kind;             /* enum msg_kind */
  char label[LABEL_MAX];
} lmsg;

typedef char addr_name[SIPKIT_ADDR_STRLEN];

typedef struct lcall {
  char *call_id;        /* NULL: the "(no Call-ID)" group */
  size_t call_id_len;
  char from[PARTY_MAX], to[PARTY_MAX];
  lmsg *m;
  size_t n, cap;
  addr_name *cols;
  int ncols, capcols;
  uint64_t t0, t1;
  char outcome[64];
} lcall;

typedef struct model {
  lcall *calls;
  size_t n, cap;
  size_t *slots;        /* hash of Call-ID -> call index + 1 */
  size_t nslots;
  int oom;
} model;

static uint64_t hash_bytes(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 1099511628211ull;
  }
  return h;
}

static int slots_grow(model *md) {
  size_t ns = md->nslots ? md->nslots * 2 : 64, i;
  size_t *s = calloc(ns, sizeof *s);
  if (s == NULL)
    return -1;
  for (i = 0; i < md->n; i++) {
    lcall *c = &md->calls[i];
    size_t j = (size_t)hash_bytes(c->call_id ? c->call_id : "", c->call_id_len) & (ns - 1);
    while (s[j] != 0)
      j = (j + 1) & (ns - 1);
    s[j] = i + 1;
  }
  free(md->slots);
  md->slots = s;
  md->nslots = ns;
  return 0;
}

/* The call for this Call-ID (id NULL: the no-Call-ID group), created at
 * its first message. */
static lcall *call_for(model *md, const char *id, size_t len) {
  size_t j;
  lcall *c;
  if (id == NULL)
    len = 0;
  if (md->nslots == 0 || (md->n + 1) * 2 > md->nslots)
    if (slots_grow(md) != 0)
      return NULL;
  j = (size_t)hash_bytes(id ? id : "", len) & (md->nslots - 1);
  while (md->slots[j] != 0) {
    c = &md->calls[md->slots[j] - 1];
    if ((c->call_id == NULL) == (id == NULL) && c->call_id_len == len &&
        (len == 0 || memcmp(c->call_id, id, len) == 0))
      return c;
    j = (j + 1) & (md->nslots - 1);
  }
  if (md->n == md->cap) {
    size_t nc = md->cap ? md->cap * 2 : 16;
    lcall *calls = realloc(md->calls, nc * sizeof *calls);
    if (calls == NULL)
      return NULL;
    md->calls = calls;
    md->cap = nc;
  }
  c = &md->calls[md->n];
  memset(c, 0, sizeof *c);
  if (id != NULL) {
    c->call_id = malloc(len + 1);
    if (c->call_id == NULL)
      return NULL;
    memcpy(c->call_id, id, len);
    c->call_id[len] = '\0';
    c->call_id_len = len;
  }
  md->slots[j] = ++md->n;
  return c;
}

static int column_of(lcall *c, const struct sockaddr *sa) {
  addr_name a;
  int i;
  sipkit_addr_format(sa, a, sizeof a);
  for (i = 0; i < c->ncols; i++)
    if (strcmp(c->cols[i], a) == 0)
      return i;
  if (c->ncols == c->capcols) {
    int nc = c->capcols ? c->capcols * 2 : 4;
    addr_name *cols = realloc(c->cols, (size_t)nc * sizeof *cols);
    if (cols == NULL)
      return -1;
    c->cols = cols;
    c->capcols = nc;
  }
  memcpy(c->cols[c->ncols], a, sizeof a);
  return c->ncols++;
}

/* Copy at most cap-1 bytes of s; bytes outside printable ASCII become '?'
 * (a terminal must not see them; the HTML view escapes the original). */
static void copy_clean(char *dst, size_t cap, const char *s, size_t len) {
  size_t i;
  if (len > cap - 1)
    len = cap - 1;
  for (i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    dst[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
  }
  dst[len] = '\0';
}

static int only_blank(const char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (p[i] != '\r' && p[i] != '\n' && p[i] != ' ')
      return 0;
  return 1;
}

/* A Call-ID line in bytes that did not parse: "Call-ID:" or "i:" at the
 * start of a line, value up to the line end, trimmed. */
static const char *find_call_id(const char *p, size_t n, size_t *len) {
  size_t i = 0;
  while (i < n) {
    size_t e = i, v;
    while (e < n && p[e] != '\n')
      e++;
    if ((e - i > 8 && strncasecmp(p + i, "call-id", 7) == 0 && (v = i + 7)) ||
        (e - i > 2 && (p[i] == 'i' || p[i] == 'I') && (v = i + 1))) {
      while (v < e && (p[v] == ' ' || p[v] == '\t'))
        v++;
      if (v < e && p[v] == ':') {
        size_t b = v + 1, t = e;
        while (b < t && (p[b] == ' ' || p[b] == '\t'))
          b++;
        while (t > b && (p[t - 1] == '\r' || p[t - 1] == ' ' || p[t - 1] == '\t'))
          t--;
        if (t > b) {
          *len = t - b;
          return p + b;
        }
      }
    }
    i = e + 1;
  }
  return NULL;
}

static void party(char *dst, const char *buf, const sipkit_addr *a) {
  if (a == NULL)
    dst[0] = '\0';
  else
    copy_clean(dst, PARTY_MAX, SIPKIT_SPAN_PTR(buf, a->uri.all), a->uri.all.len);
}

static int add_msg(model *md, const sipkit_dgram *ev, size_t i, sipkit_msg *msg) {
  const sipkit_dgram *d = &ev[i];
  const char *id = NULL;
  size_t idlen = 0;
  int ok = sipkit_parse(msg, d->bytes, d->len, 0, NULL) == SIPKIT_EOK;
  lcall *c;
  lmsg *m;

  if (ok && msg->call_id.len > 0) {
    id = SIPKIT_SPAN_PTR(d->bytes, msg->call_id);
    idlen = msg->call_id.len;
  } else if (!ok) {
    id = find_call_id(d->bytes, d->len, &idlen);
  }
  c = call_for(md, id, idlen);
  if (c == NULL)
    return -1;
  if (c->n == c->cap) {
    size_t nc = c->cap ? c->cap * 2 : 16;
    lmsg *nm = realloc(c->m, nc * sizeof *nm);
    if (nm == NULL)
      return -1;
    c->m = nm;
    c->cap = nc;
  }
  m = &c->m[c->n];
  memset(m, 0, sizeof *m);
  m->ev = i;
  m->src = column_of(c, sipkit_dgram_src(d));
  m->dst = column_of(c, sipkit_dgram_dst(d));
  if (m->src < 0 || m->dst < 0)
    return -1;
  if (c->n == 0)
    c->t0 = d->time_us;
  c->t1 = d->time_us;
  c->n++;
  if (!ok) {
    m->kind = K_BAD;
    strcpy(m->label, "malformed");
    return 0;
  }
  if (c->from[0] == '\0' && c->to[0] == '\0') {
    party(c->from, d->bytes, msg->from);
    party(c->to, d->bytes, msg->to);
  }
  m->status = msg->status;
  m->method = msg->method;
  m->cseq_method = msg->cseq ? msg->cseq->method : SIPKIT_METHOD_OTHER;
  if (msg->status == 0) {
    m->kind = K_REQ;
    copy_clean(m->label, sizeof m->label, SIPKIT_SPAN_PTR(d->bytes, msg->method_name),
               msg->method_name.len);
  } else {
    char reason[LABEL_MAX];
    copy_clean(reason, sizeof reason, SIPKIT_SPAN_PTR(d->bytes, msg->reason), msg->reason.len);
    m->kind = msg->status < 200 ? K_1XX : msg->status < 300 ? K_2XX : K_ERR;
    snprintf(m->label, sizeof m->label, "%d%s%.34s", msg->status, reason[0] ? " " : "", reason);
  }
  return 0;
}

static void outcome(lcall *c) {
  const lmsg *first_req = NULL, *inv_ok = NULL, *inv_final = NULL, *final = NULL;
  int cancel = 0, bye = 0, parsed = 0;
  size_t i;
  for (i = 0; i < c->n; i++) {
    const lmsg *m = &c->m[i];
    if (m->kind == K_BAD)
      continue;
    parsed = 1;
    if (m->kind == K_REQ) {
      if (first_req == NULL)
        first_req = m;
      cancel |= m->method == SIPKIT_METHOD_CANCEL;
      bye |= m->method == SIPKIT_METHOD_BYE;
      continue;
    }
    if (m->status < 200)
      continue;
    if (m->cseq_method == SIPKIT_METHOD_INVITE) {
      if (m->status < 300 && inv_ok == NULL)
        inv_ok = m;
      inv_final = m;
    }
    if (first_req != NULL && m->cseq_method == first_req->method)
      final = m;
  }
  if (!parsed)
    snprintf(c->outcome, sizeof c->outcome, "malformed");
  else if (first_req != NULL && first_req->method == SIPKIT_METHOD_INVITE) {
    if (inv_ok != NULL)
      snprintf(c->outcome, sizeof c->outcome, bye ? "completed: %s, BYE" : "established: %s (no BYE)",
               inv_ok->label);
    else if (cancel && (inv_final == NULL || inv_final->status == 487))
      snprintf(c->outcome, sizeof c->outcome, "cancelled");
    else if (inv_final != NULL)
      snprintf(c->outcome, sizeof c->outcome, "failed: %s", inv_final->label);
    else
      snprintf(c->outcome, sizeof c->outcome, "no final response");
  } else if (first_req != NULL && final != NULL)
    snprintf(c->outcome, sizeof c->outcome, "%s: %s", final->status < 300 ? "completed" : "failed",
             final->label);
  else if (first_req != NULL)
    snprintf(c->outcome, sizeof c->outcome, "no final response");
  else
    snprintf(c->outcome, sizeof c->outcome, "incomplete (no request seen)");
}

static void model_free(model *md) {
  size_t i;
  for (i = 0; i < md->n; i++) {
    free(md->calls[i].call_id);
    free(md->calls[i].m);
    free(md->calls[i].cols);
  }
  free(md->calls);
  free(md->slots);
  memset(md, 0, sizeof *md);
}

static int model_build(model *md, const sipkit_dgram *ev, size_t n) {
  sipkit_header *hdrs;
  sipkit_msg msg;
  size_t i;
  memset(md, 0, sizeof *md);
  hdrs = malloc(SIPKIT_MAX_HEADERS * sizeof *hdrs);
  if (hdrs == NULL)
    return SIPKIT_ENO_MEMORY;
  sipkit_msg_init(&msg, hdrs, SIPKIT_MAX_HEADERS);
  for (i = 0; i < n; i++) {
    if (ev[i].bytes == NULL || only_blank(ev[i].bytes, ev[i].len))
      continue;
    if (add_msg(md, ev, i, &msg) != 0) {
      free(hdrs);
      model_free(md);
      return SIPKIT_ENO_MEMORY;
    }
  }
  free(hdrs);
  for (i = 0; i < md->n; i++)
    outcome(&md->calls[i]);
  return SIPKIT_EOK;
}

/* Seconds since the call's first message, "%.3f" rounded half up in
 * integers (no floating-point surprises in exact outputs). */
typedef struct reltime {
  char s[32];
} reltime;

static reltime rel_s(const lcall *c, uint64_t t) {
  reltime r;
  uint64_t ms = t >= c->t0 ? (t - c->t0 + 500) / 1000 : (c->t0 - t + 500) / 1000;
  snprintf(r.s, sizeof r.s, "%s%llu.%03u", t >= c->t0 ? "" : "-", (unsigned long long)(ms / 1000),
           (unsigned)(ms % 1000));
  return r;
}

static int is_dropped(int dir) {
  return dir == SIPKIT_DGRAM_DROPPED_SEND || dir == SIPKIT_DGRAM_DROPPED_RECV;
}

/* ---------------------------------------------------------------- text */

#define TIME_W 9   /* "   0.000 " */
#define EDGE 11    /* room for half a column name at either side */
#define MAX_GAP 40
#define MIN_GAP 10

static const char *kind_color(int kind) {
  switch (kind) {
  case K_REQ: return "\033[36m";
  case K_1XX: return "\033[33m";
  case K_2XX: return "\033[32m";
  case K_ERR: return "\033[31m";
  default: return "\033[35m";
  }
}

/* Write row[0..len) without trailing spaces, colouring [c0, c1). */
static void emit_row(FILE *out, const char *row, int len, int c0, int c1, const char *color) {
  while (len > 0 && row[len - 1] == ' ')
    len--;
  if (color == NULL || c0 >= c1 || c0 >= len) {
    fprintf(out, "%.*s\n", len, row);
    return;
  }
  if (c1 > len)
    c1 = len;
  fprintf(out, "%.*s%s%.*s\033[0m%.*s\n", c0, row, color, c1 - c0, row + c0, len - c1, row + c1);
}

static void put_text(char *row, int rowlen, int at, const char *s, int len) {
  int i;
  for (i = 0; i < len; i++)
    if (at + i >= 0 && at + i < rowlen)
      row[at + i] = s[i];
}

static void lanes(char *row, int rowlen, const int *x, int ncols) {
  int i;
  memset(row, ' ', (size_t)rowlen);
  for (i = 0; i < ncols; i++)
    row[x[i]] = '|';
}

static void print_clean_line(FILE *out, const char *prefix, const char *s, size_t len, int width,
                             int bold) {
  char buf[256];
  int room = width - (int)strlen(prefix);
  copy_clean(buf, sizeof buf, s, len);
  if (room < 8)
    room = 8;
  if ((int)strlen(buf) > room) {
    buf[room - 3] = '\0';
    strcat(buf, "...");
  }
  fprintf(out, "%s%s%s%s\n", bold ? "\033[1m" : "", prefix, buf, bold ? "\033[0m" : "");
}

static int text_call(FILE *out, const sipkit_dgram *ev, const lcall *c, size_t num, size_t total,
                     int width, int color) {
  int n = c->ncols, gap, i, rowlen, legend = 0;
  int *x = malloc((size_t)n * sizeof *x);
  char *row;
  char prefix[64];
  size_t k;

  if (x == NULL)
    return SIPKIT_ENO_MEMORY;
  if (n > 1) {
    gap = (width - 1 - TIME_W - 2 * EDGE) / (n - 1);
    if (gap > MAX_GAP)
      gap = MAX_GAP;
    if (gap < MIN_GAP)
      gap = MIN_GAP;
  } else {
    gap = MAX_GAP;
  }
  for (i = 0; i < n; i++) {
    int len = (int)strlen(c->cols[i]);
    x[i] = TIME_W + EDGE + i * gap;
    if (len > 2 * EDGE + 1 || (n > 1 && len > gap - 1))
      legend = 1;
  }
  rowlen = x[n - 1] + EDGE + 1 + LABEL_MAX + 16; /* self-messages write past the last lane */
  row = malloc((size_t)rowlen);
  if (row == NULL) {
    free(x);
    return SIPKIT_ENO_MEMORY;
  }

  snprintf(prefix, sizeof prefix, "Call %zu/%zu: ", num, total);
  if (c->call_id != NULL)
    print_clean_line(out, prefix, c->call_id, c->call_id_len, width, color);
  else
    print_clean_line(out, prefix, "(no Call-ID)", 12, width, color);
  if (c->from[0] || c->to[0]) {
    print_clean_line(out, "  From: ", c->from, strlen(c->from), width, 0);
    print_clean_line(out, "  To:   ", c->to, strlen(c->to), width, 0);
  }
  fprintf(out, "  %s%s%s (%zu message%s, %s s)\n", color ? "\033[1m" : "", c->outcome,
          color ? "\033[0m" : "", c->n, c->n == 1 ? "" : "s", rel_s(c, c->t1).s);
  if (legend)
    for (i = 0; i < n; i++)
      fprintf(out, "  %c = %s\n", 'A' + (i % 26), c->cols[i]);
  fputc('\n', out);

  /* column names, centred on their lanes */
  memset(row, ' ', (size_t)rowlen);
  for (i = 0; i < n; i++) {
    if (legend) {
      row[x[i]] = (char)('A' + (i % 26));
    } else {
      int len = (int)strlen(c->cols[i]);
      put_text(row, rowlen, x[i] - len / 2, c->cols[i], len);
    }
  }
  emit_row(out, row, rowlen, 0, 0, NULL);
  lanes(row, rowlen, x, n);
  emit_row(out, row, rowlen, 0, 0, NULL);

  for (k = 0; k < c->n; k++) {
    const lmsg *m = &c->m[k];
    const sipkit_dgram *d = &ev[m->ev];
    char label[LABEL_MAX + 16], t[32];
    int lo, hi, room, len, c0, c1;
    int drop = is_dropped(d->dir);

    lanes(row, rowlen, x, n);
    snprintf(t, sizeof t, "%8s", rel_s(c, d->time_us).s);
    put_text(row, rowlen, 0, t, (int)strlen(t) < TIME_W ? (int)strlen(t) : TIME_W - 1);
    snprintf(label, sizeof label, "%s%s", m->label, drop ? " (lost)" : "");
    len = (int)strlen(label);
    if (m->src == m->dst) { /* to itself: a stub to the right of the lane */
      lo = x[m->src];
      put_text(row, rowlen, lo + 1, "<>", 2);
      put_text(row, rowlen, lo + 4, label, len);
      c0 = lo + 1;
      c1 = lo + 4 + len;
    } else {
      int p;
      lo = x[m->src < m->dst ? m->src : m->dst];
      hi = x[m->src < m->dst ? m->dst : m->src];
      for (p = lo + 1; p < hi; p++)
        row[p] = '-';
      if (m->src < m->dst)
        row[hi - 1] = drop ? 'x' : '>';
      else
        row[lo + 1] = drop ? 'x' : '<';
      room = hi - lo - 7; /* head, a dash each side, a space each side */
      if (len > room) {
        len = room > 0 ? room : 0;
        while (len > 1 && label[len - 2] == ' ')
          len--;
        if (len > 0)
          label[len - 1] = '~';
      }
      if (len > 0) {
        int at = lo + 1 + (hi - lo - 1 - len) / 2;
        row[at - 1] = ' ';
        put_text(row, rowlen, at, label, len);
        row[at + len] = ' ';
      }
      c0 = lo + 1;
      c1 = hi;
    }
    emit_row(out, row, rowlen, c0, c1, color ? (drop ? "\033[2m" : kind_color(m->kind)) : NULL);
  }
  fputc('\n', out);
  free(row);
  free(x);
  return SIPKIT_EOK;
}

int sipkit_ladder_text(FILE *out, const sipkit_dgram *ev, size_t n, const sipkit_ladder_opts *o) {
  model md;
  int rc, width = o != NULL && o->width > 0 ? (int)o->width : 80;
  int color = o != NULL && o->color;
  size_t i;

  if (width < 40)
    width = 40;
  rc = model_build(&md, ev, n);
  if (rc != SIPKIT_EOK)
    return rc;
  if (md.n == 0)
    fprintf(out, "no SIP messages\n");
  for (i = 0; i < md.n && rc == SIPKIT_EOK; i++)
    rc = text_call(out, ev, &md.calls[i], i + 1, md.n, width, color);
  model_free(&md);
  if (rc == SIPKIT_EOK && ferror(out))
    rc = SIPKIT_EIO;
  return rc;
}

/* ---------------------------------------------------------------- HTML */

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  size_t need, i;
  unsigned char c = p[0];
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    need = 2;
  else if (c >= 0xe0 && c <= 0xef)
    need = 3;
  else if (c >= 0xf0 && c <= 0xf4)
    need = 4;
  else
    return 0;
  if (n < need)
    return 0;
  for (i = 1; i < need; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || /* overlong, surrogates */
      (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
    return 0;
  return need;
}

/* HTML-escape text for element content and quoted attribute values:
 * & < > " ' as entities; CR before LF dropped; other control bytes,
 * DEL and bytes that are not valid UTF-8 as the visible text \xNN. */
static void html_esc(FILE *out, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    size_t l;
    switch (c) {
    case '&': fputs("&amp;", out); i++; continue;
    case '<': fputs("&lt;", out); i++; continue;
    case '>': fputs("&gt;", out); i++; continue;
    case '"': fputs("&quot;", out); i++; continue;
    case '\'': fputs("&#39;", out); i++; continue;
    default: break;
    }
    if (c == '\r' && i + 1 < n && p[i + 1] == '\n') {
      i++;
      continue;
    }
    if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) {
      putc(c, out);
      i++;
      continue;
    }
    l = c >= 0x80 ? utf8_len(p + i, n - i) : 0;
    if (l > 0) {
      fwrite(p + i, 1, l, out);
      i += l;
    } else {
      fprintf(out, "\\x%02x", c);
      i++;
    }
  }
}

static void html_escs(FILE *out, const char *s) { html_esc(out, s, strlen(s)); }

static const char html_css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222;background:#fff}"
    "table{border-collapse:collapse;margin-bottom:1.5em}"
    "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}"
    "th{background:#f0f0f0}td.n{text-align:right}"
    "section{margin:1.5em 0;border-top:2px solid #ddd}"
    ".ladder{overflow-x:auto}svg{font:12px monospace}"
    "svg .lane{stroke:#999;stroke-dasharray:4 3}svg .addr{font-weight:bold;text-anchor:middle}"
    "svg .t{fill:#666}svg a{cursor:pointer}svg a:hover text{text-decoration:underline}"
    "svg .req{stroke:#0a5d8f;fill:#0a5d8f}svg .r1xx{stroke:#9a6a00;fill:#9a6a00}"
    "svg .r2xx{stroke:#137333;fill:#137333}svg .rerr{stroke:#b3261e;fill:#b3261e}"
    "svg .bad{stroke:#8e24aa;fill:#8e24aa}svg .lost line{stroke-dasharray:6 4}"
    "svg text.lbl{stroke:none;text-anchor:middle}"
    "details{margin:2px 0}details>summary{cursor:pointer;font-family:monospace}"
    "details[open]>summary{font-weight:bold}"
    "pre{background:#f7f7f7;border:1px solid #ddd;padding:6px;margin:4px 0 8px 1.5em;"
    "white-space:pre-wrap;word-break:break-all}"
    ".ok{color:#137333}.fail{color:#b3261e}";

/* Opens the message named by the URL fragment (#mC-K), so the SVG arrows,
 * which are links, show the text on click; works on load too. */
static const char html_js[] =
    "(function(){function show(){var id=decodeURIComponent(location.hash.slice(1));"
    "var e=id&&document.getElementById(id);"
    "if(e&&e.tagName==='DETAILS'){e.open=true;e.scrollIntoView({block:'nearest'});}}"
    "window.addEventListener('hashchange',show);show();})();";

static int script_hash(char *out, size_t cap) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (cap < 45 || EVP_Digest(html_js, sizeof html_js - 1, md, &mdlen, EVP_sha256(), NULL) != 1)
    return -1;
  EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
  return 0;
}

static const char *kind_class(int kind) {
  switch (kind) {
  case K_REQ: return "req";
  case K_1XX: return "r1xx";
  case K_2XX: return "r2xx";
  case K_ERR: return "rerr";
  default: return "bad";
  }
}

#define SVG_LEFT 80   /* time column */
#define SVG_EDGE 120  /* half a column name */
#define SVG_GAP 240
#define SVG_TOP 50
#define SVG_ROW 30

static void html_call(FILE *out, const sipkit_dgram *ev, const lcall *c, size_t num) {
  int w = SVG_LEFT + 2 * SVG_EDGE + (c->ncols - 1) * SVG_GAP;
  int h = SVG_TOP + (int)c->n * SVG_ROW + 20, i;
  size_t k;

  fprintf(out, "<section id=\"call-%zu\">\n<h2>Call %zu: ", num, num);
  if (c->call_id != NULL)
    html_esc(out, c->call_id, c->call_id_len);
  else
    fputs("(no Call-ID)", out);
  fputs("</h2>\n<p>", out);
  fprintf(out, "<span class=\"%s\">", strncmp(c->outcome, "completed", 9) == 0 ? "ok" : "fail");
  html_escs(out, c->outcome);
  fprintf(out, "</span>, %zu message%s in %s s</p>\n", c->n, c->n == 1 ? "" : "s",
          rel_s(c, c->t1).s);
  fprintf(out,
          "<div class=\"ladder\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
          "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
          w, h, w, h);
  for (i = 0; i < c->ncols; i++) {
    int x = SVG_LEFT + SVG_EDGE + i * SVG_GAP;
    fprintf(out, "<text class=\"addr\" x=\"%d\" y=\"20\">", x);
    html_escs(out, c->cols[i]);
    fprintf(out, "</text><line class=\"lane\" x1=\"%d\" y1=\"30\" x2=\"%d\" y2=\"%d\"/>\n", x, x,
            h - 5);
  }
  for (k = 0; k < c->n; k++) {
    const lmsg *m = &c->m[k];
    const sipkit_dgram *d = &ev[m->ev];
    int y = SVG_TOP + (int)k * SVG_ROW + 10;
    int x1 = SVG_LEFT + SVG_EDGE + m->src * SVG_GAP, x2 = SVG_LEFT + SVG_EDGE + m->dst * SVG_GAP;
    int drop = is_dropped(d->dir);
    fprintf(out, "<text class=\"t\" x=\"4\" y=\"%d\">%s</text>", y + 4, rel_s(c, d->time_us).s);
    fprintf(out, "<a href=\"#m%zu-%zu\"><g class=\"msg %s%s\">", num, k + 1, kind_class(m->kind),
            drop ? " lost" : "");
    if (x1 == x2) { /* to itself: a loop to the right */
      fprintf(out, "<path fill=\"none\" d=\"M%d %d h40 v10 h-34\"/>", x1, y - 5);
      fprintf(out, "<path d=\"M%d %d l8 -4 v8 z\"/>", x1, y + 5);
      fprintf(out, "<text class=\"lbl\" x=\"%d\" y=\"%d\">", x1 + 80, y - 8);
    } else {
      int dir = x2 > x1 ? 1 : -1;
      fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", x1, y, x2 - dir * 8, y);
      if (drop)
        fprintf(out, "<path d=\"M%d %d l-8 -8 m0 8 l8 -8\"/>", x2 - dir * 4 + 4, y + 4);
      else
        fprintf(out, "<path d=\"M%d %d l%d -5 v10 z\"/>", x2, y, -dir * 10);
      fprintf(out, "<text class=\"lbl\" x=\"%d\" y=\"%d\">", (x1 + x2) / 2, y - 5);
    }
    html_escs(out, m->label);
    if (drop)
      fputs(" (lost)", out);
    fputs("</text></g></a>\n", out);
  }
  fputs("</svg></div>\n<div class=\"msgs\">\n", out);
  for (k = 0; k < c->n; k++) {
    const lmsg *m = &c->m[k];
    const sipkit_dgram *d = &ev[m->ev];
    char src[SIPKIT_ADDR_STRLEN], dst[SIPKIT_ADDR_STRLEN];
    sipkit_addr_format(sipkit_dgram_src(d), src, sizeof src);
    sipkit_addr_format(sipkit_dgram_dst(d), dst, sizeof dst);
    fprintf(out, "<details id=\"m%zu-%zu\"><summary>%zu. %s s ", num, k + 1, k + 1,
            rel_s(c, d->time_us).s);
    html_escs(out, src);
    fputs(" &rarr; ", out);
    html_escs(out, dst);
    fputs(" ", out);
    html_escs(out, m->label);
    fprintf(out, " (%zu bytes, %s)</summary><pre class=\"text\">", d->len,
            sipkit_dgram_dir_name(d->dir));
    html_esc(out, d->bytes, d->len);
    fputs("</pre></details>\n", out);
  }
  fputs("</div>\n</section>\n", out);
}

int sipkit_ladder_html(FILE *out, const sipkit_dgram *ev, size_t n, const char *title) {
  model md;
  char hash[64];
  size_t i;
  int rc = model_build(&md, ev, n);

  if (rc != SIPKIT_EOK)
    return rc;
  if (title == NULL)
    title = "sipkit ladder";
  if (script_hash(hash, sizeof hash) != 0) {
    model_free(&md);
    return SIPKIT_ENO_MEMORY;
  }
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", out);
  fprintf(out,
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; script-src 'sha256-%s'\">\n",
          hash);
  fputs("<meta name=\"generator\" content=\"sipkit " SIPKIT_VERSION "\">\n<title>", out);
  html_escs(out, title);
  fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", html_css);
  html_escs(out, title);
  fprintf(out, "</h1>\n<p>%zu call%s. Click an arrow to see its message.</p>\n", md.n,
          md.n == 1 ? "" : "s");
  fputs("<table id=\"summary\">\n<thead><tr><th>Call</th><th>Call-ID</th><th>From</th><th>To</th>"
        "<th>Messages</th><th>Outcome</th><th>Duration (s)</th></tr></thead>\n<tbody>\n",
        out);
  for (i = 0; i < md.n; i++) {
    const lcall *c = &md.calls[i];
    fprintf(out, "<tr><td><a href=\"#call-%zu\">%zu</a></td><td>", i + 1, i + 1);
    if (c->call_id != NULL)
      html_esc(out, c->call_id, c->call_id_len);
    fputs("</td><td>", out);
    html_escs(out, c->from);
    fputs("</td><td>", out);
    html_escs(out, c->to);
    fprintf(out, "</td><td class=\"n\">%zu</td><td class=\"%s\">", c->n,
            strncmp(c->outcome, "completed", 9) == 0 ? "ok" : "fail");
    html_escs(out, c->outcome);
    fprintf(out, "</td><td class=\"n\">%s</td></tr>\n", rel_s(c, c->t1).s);
  }
  fputs("</tbody>\n</table>\n", out);
  for (i = 0; i < md.n; i++)
    html_call(out, ev, &md.calls[i], i + 1);
  fprintf(out, "<script>%s</script>\n</body>\n</html>\n", html_js);
  model_free(&md);
  return ferror(out) ? SIPKIT_EIO : SIPKIT_EOK;
}
