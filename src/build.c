/* build.c - the message builder (sipkit_build.h): every line is composed
 * in a scratch line, checked against the grammar of its rule (the
 * machine, or a line the machine accepted before, or a form valid by
 * construction from checked parts) and only then appended to the output,
 * so a refused value never reaches the output; the finished message is
 * parsed back as the last check (framing, limits, numbers, mandatory
 * headers; the lines' values again only when the caller wants the
 * parse). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "internal.h"
#include "strcat.h"
#include "sipkit_build.h"

enum { ST_EMPTY, ST_STARTED, ST_FINISHED };

/* ------------------------------------------------------------------ */
/* Output and errors                                                   */

static int hard_error(const sipkit_builder *b) {
  return b->code != SIPKIT_EOK && b->code != SIPKIT_EBUFFER_TOO_SMALL;
}

/* Record a hard error (it replaces a soft BUFFER_TOO_SMALL). */
static int fail(sipkit_builder *b, int code, size_t off, const char *rule) {
  if (hard_error(b))
    return b->code;
  b->code = code;
  b->err.code = code;
  b->err.offset = (uint32_t)off;
  b->err.line = 1;
  b->err.column = (uint32_t)off + 1;
  b->err.rule = rule ? rule : "";
  return code;
}

static void out(sipkit_builder *b, const char *p, size_t n) {
  b->need += n;
  if (b->code == SIPKIT_EBUFFER_TOO_SMALL)
    return; /* only counting from here on */
  if (b->len + n > b->cap) {
    if (!b->dynamic_) {
      b->code = SIPKIT_EBUFFER_TOO_SMALL;
      b->err.code = SIPKIT_EBUFFER_TOO_SMALL;
      b->err.offset = (uint32_t)b->len;
      b->err.rule = "";
      return;
    }
    /* one allocation for most messages (a request or response with SDP
     * is 500-900 bytes); a kept message is shrunk to fit by its owner */
    size_t ncap = b->cap ? b->cap : 1024;
    while (ncap < b->len + n)
      ncap *= 2;
    char *nb = realloc(b->buf, ncap);
    if (!nb) {
      b->need -= n;
      fail(b, SIPKIT_ENO_MEMORY, b->len, "");
      return;
    }
    b->buf = nb;
    b->cap = ncap;
  }
  if (n)
    memcpy(b->buf + b->len, p, n);
  b->len += n;
}

void sipkit_builder_init(sipkit_builder *b, char *buf, size_t cap) {
  memset(b, 0, sizeof *b);
  b->buf = buf;
  b->cap = buf ? cap : 0;
  b->err.rule = "";
}

void sipkit_builder_init_dynamic(sipkit_builder *b) {
  sipkit_builder_init(b, NULL, 0);
  b->dynamic_ = 1;
}

void sipkit_builder_free(sipkit_builder *b) {
  if (b->dynamic_)
    free(b->buf);
  b->buf = NULL;
  b->cap = b->len = b->need = 0;
}

/* ------------------------------------------------------------------ */
/* Scratch lines                                                       */

typedef struct line {
  size_t n;
  int over;
  char s[SIPKIT_MAX_HEADER_LINE];
} line;

static void put(line *l, const char *p, size_t n) {
  if (n > sizeof l->s - l->n) {
    l->over = 1;
    return;
  }
  if (n)
    memcpy(l->s + l->n, p, n);
  l->n += n;
}

static void puts_(line *l, const char *s) { put(l, s, strlen(s)); }

static void putu(line *l, unsigned long v) {
  char tmp[20];
  put(l, tmp, sipkit__utoa(tmp, v));
}

static int is_token_char(unsigned char ch) { return sipkit__cls[ch] & SIPKIT__C_TOKEN; }

/* The end of the run of token chars from s + i, before s + n. */
static size_t token_run(const char *s, size_t i, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  /* four bytes a test: tags, branches and Call-IDs are 8 to 40 bytes */
  while (i + 4 <= n && (sipkit__cls[u[i]] & sipkit__cls[u[i + 1]] & sipkit__cls[u[i + 2]] &
                        sipkit__cls[u[i + 3]] & SIPKIT__C_TOKEN))
    i += 4;
  while (i < n && is_token_char(u[i]))
    i++;
  return i;
}

static int is_token(const char *p, size_t n) { return n && token_run(p, 0, n) == n; }

/* First CR, LF or NUL in [p, p+n), or n. */
static size_t find_ctl(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
      return i;
  return n;
}

/* First CR or LF in [p, p+n), or n.  Every header line goes through
 * here: libc's memchr beats a byte loop on lines of tens of bytes. */
static size_t find_crlf(const char *p, size_t n) {
  const char *cr = memchr(p, '\r', n);
  const char *lf = memchr(p, '\n', cr ? (size_t)(cr - p) : n);
  return lf ? (size_t)(lf - p) : cr ? (size_t)(cr - p) : n;
}

/* Lines that passed the grammar recently.  A UA writes the same lines
 * over and over (its Contact, Allow, Content-Type, the Via, From, Call-ID
 * and CSeq of a request copied into each of its responses), and running
 * the grammar machine over them cost a tenth of building a response.  The
 * verdict depends only on the header id and the bytes, so a byte-identical
 * line seen valid before is valid.  Two-way sets picked by a hash of the
 * line: direct-mapped, two of a call's dozen lines landed in one slot in
 * about half of the port choices of callcost.sh, and evicted each other in
 * every call.  Per thread, so builders on other threads never race on it. */
#define VALID_SETS 64u
#define VALID_MAX 160u /* longer lines are always checked */
typedef struct valid_slot {
  uint16_t id;
  uint16_t len; /* 0: empty */
  char s[VALID_MAX];
} valid_slot;
typedef struct valid_set {
  valid_slot way[2];
  unsigned victim; /* the way the next line replaces: the one not hit last */
} valid_set;
static _Thread_local valid_set valid_cache[VALID_SETS];

/* A URI (Request-URI or addr-spec) without a headers part that the URI
 * machine accepted: cached under this id, above every header id. */
#define VALID_URI_ID 0xffffu

/* The set of a line (NULL: not cached): a collision only costs a run of
 * the grammar, the bytes are compared. */
static valid_set *valid_set_of(unsigned id, const char *s, size_t n) {
  if (n == 0 || n > VALID_MAX)
    return NULL;
  return &valid_cache[(sipkit__hash((uint64_t)id << 32 | n, s, n) >> 32) % VALID_SETS];
}

static int valid_holds(valid_set *v, unsigned id, const char *s, size_t n) {
  if (!v)
    return 0;
  for (unsigned i = 0; i < 2; i++)
    if (v->way[i].len == n && v->way[i].id == id && !memcmp(v->way[i].s, s, n)) {
      v->victim = i ^ 1;
      return 1;
    }
  return 0;
}

static void valid_remember(valid_set *v, unsigned id, const char *s, size_t n) {
  if (!v)
    return;
  valid_slot *w = &v->way[v->victim];
  v->victim ^= 1;
  w->id = (uint16_t)id;
  w->len = (uint16_t)n;
  memcpy(w->s, s, n);
}

/* The grammar machine over a whole line "Name: value" (no CRLF): 0, or 1
 * with c's error set. */
static int vm_line(struct sipkit__ctx *c, int id, const char *s, size_t n) {
  c->base = (sipkit__ptr)s;
  c->end = c->base + n;
  return sipkit__vm_validate(c, id, c->base, c->end);
}

/* From, To and Via end in *( SEMI generic-param ) (to-param, from-param,
 * via-extension), so a line of one of them that the grammar accepts still
 * passes with ";token" or ";token=token" appended.  The tags and branches
 * that make each call's lines differ sit in such a tail: checking the rest
 * once (it is the same in every call) and the tail by a scan skips the
 * grammar machine.  Returns where the tail of s[0..n) starts: the first ';'
 * of a run of ";token[=token]" that ends the line, or n when there is none
 * (or the line is of another header). */
/* The start of the run of token chars that ends at s + i. */
static size_t token_run_back(const char *s, size_t i) {
  const unsigned char *u = (const unsigned char *)s;
  while (i >= 4 && (sipkit__cls[u[i - 1]] & sipkit__cls[u[i - 2]] & sipkit__cls[u[i - 3]] &
                    sipkit__cls[u[i - 4]] & SIPKIT__C_TOKEN))
    i -= 4;
  while (i > 0 && is_token_char(u[i - 1]))
    i--;
  return i;
}

size_t sipkit__build_param_tail(int id, const char *s, size_t n) {
  if (id != SIPKIT_HDR_FROM && id != SIPKIT_HDR_TO && id != SIPKIT_HDR_VIA)
    return n;
  size_t i = n, start = n;
  /* backwards over "name" or "name=value", one param at a time */
  while (i > 0) {
    size_t e = i;
    i = token_run_back(s, i);
    if (i == e)
      break;
    if (i > 0 && s[i - 1] == '=') {
      size_t e2 = --i;
      i = token_run_back(s, i);
      if (i == e2)
        break;
    }
    if (i == 0 || s[i - 1] != ';')
      break;
    start = --i;
  }
  return start;
}

/* callid = word [ "@" word ] (RFC 3261 §25.1), for a value of token
 * chars: the generated Call-IDs and most received ones.  1: valid. */
int sipkit__build_call_id_ok(const char *s, size_t n) {
  size_t at = token_run(s, 0, n);
  if (at < n && (s[at] != '@' || token_run(s, at + 1, n) < n))
    return 0;
  return n && at != 0 && at + 1 != n;
}

/* "CSeq: " 1*DIGIT SP token, as the builder writes a CSeq line, is CSeq =
 * 1*DIGIT LWS Method: Method is every token (extension-method is the
 * tokens the other methods are not).  1: the line s[0..n) is of that
 * form.  Its number, new in each request, would only churn the cache. */
int sipkit__build_cseq_ok(const char *s, size_t n) {
  static const char name[] = "CSeq: ";
  size_t i = sizeof name - 1, digits;
  if (n <= i || memcmp(s, name, i))
    return 0;
  for (digits = i; i < n && (unsigned)(s[i] - '0') < 10u; i++)
    ;
  if (i == digits || i + 1 >= n || s[i] != ' ')
    return 0;
  return is_token(s + i + 1, n - i - 1);
}

/* Check the line s[0..n) ("Name: value", no CRLF) against the rule of id;
 * its first clean bytes are known to hold no CR or LF.  Errors are
 * recorded at off + their offset in the line.  A line seen valid before,
 * or valid by the scans above, needs no grammar machine; and no line-end
 * search either: the cache only keeps lines that passed it, and the scans
 * accept no CR or LF. */
static int check_line(sipkit_builder *b, int id, const char *s, size_t n, size_t clean,
                      size_t off) {
  const char *rule = sipkit__hdr_info[id].rule;
  size_t k = n; /* where a ;token[=token] tail starts */
  valid_set *head = NULL;
  if (id == SIPKIT_HDR_CALL_ID) {
    if (n > sizeof "Call-ID: " - 1 && !memcmp(s, "Call-ID: ", sizeof "Call-ID: " - 1) &&
        sipkit__build_call_id_ok(s + sizeof "Call-ID: " - 1, n - (sizeof "Call-ID: " - 1)))
      return SIPKIT_EOK;
  } else if (id == SIPKIT_HDR_CSEQ) {
    if (sipkit__build_cseq_ok(s, n))
      return SIPKIT_EOK;
  } else {
    k = sipkit__build_param_tail(id, s, n);
    if (k < n) {
      head = valid_set_of((unsigned)id, s, k);
      if (valid_holds(head, (unsigned)id, s, k))
        return SIPKIT_EOK;
    }
  }
  valid_set *whole = valid_set_of((unsigned)id, s, n);
  if (valid_holds(whole, (unsigned)id, s, n))
    return SIPKIT_EOK;
  size_t bad = clean + find_crlf(s + clean, n - clean);
  if (bad < n) /* the grammar allows folds; a builder never writes one */
    return fail(b, SIPKIT_EINVALID_VALUE, off + bad, rule);
  struct sipkit__ctx c = {0};
  if (k < n && !vm_line(&c, id, s, k)) {
    valid_remember(head, (unsigned)id, s, k);
    return SIPKIT_EOK;
  }
  c = (struct sipkit__ctx){0};
  if (vm_line(&c, id, s, n))
    return fail(b, SIPKIT_EINVALID_VALUE, off + c.err_off,
                c.err_rule && *c.err_rule ? c.err_rule : rule);
  valid_remember(whole, (unsigned)id, s, n);
  return SIPKIT_EOK;
}

/* Append the header line l ("Name: value", no CRLF) with its CRLF
 * (written after l->n); valid: known to match the rule of id, else it is
 * checked first.  Its first clean bytes are known to hold no CR or LF. */
static int commit_line(sipkit_builder *b, int id, line *l, size_t clean, int valid) {
  if (hard_error(b)) /* sticky: every line goes through here */
    return b->code;
  if (l->over)
    return fail(b, SIPKIT_ELINE_TOO_LONG, sizeof l->s, sipkit__hdr_info[id].rule);
  if (!valid && check_line(b, id, l->s, l->n, clean, 0))
    return b->code;
  if (l->n + 2 <= sizeof l->s) { /* one copy: the CRLF joins the line */
    memcpy(l->s + l->n, "\r\n", 2);
    out(b, l->s, l->n + 2);
  } else {
    out(b, l->s, l->n);
    out(b, "\r\n", 2);
  }
  return b->code;
}

static int commit_from(sipkit_builder *b, int id, line *l, size_t clean) {
  return commit_line(b, id, l, clean, 0);
}

static int commit(sipkit_builder *b, int id, line *l) { return commit_from(b, id, l, 0); }

int sipkit__builder_recheck(sipkit_builder *b, int id, size_t off, size_t n) {
  if (hard_error(b))
    return b->code;
  if (n > SIPKIT_MAX_HEADER_LINE)
    return fail(b, SIPKIT_ELINE_TOO_LONG, off + SIPKIT_MAX_HEADER_LINE, sipkit__hdr_info[id].rule);
  return check_line(b, id, b->buf + off, n, 0, off);
}

static int check_header_call(sipkit_builder *b) {
  if (hard_error(b))
    return b->code;
  if (b->state_ != ST_STARTED)
    return fail(b, SIPKIT_EARGUMENT, b->len, "");
  return SIPKIT_EOK;
}

/* CR, LF and NUL (injection), and SP, HTAB, '<' and '>', which would end
 * a URI inside a line (name-addr). */
static const unsigned char uri_stop[256] = {
    [0] = 1, ['\r'] = 1, ['\n'] = 1, [' '] = 1, ['\t'] = 1, ['<'] = 1, ['>'] = 1,
};

/* Check a URI with the URI machine; off is where it starts in the line
 * (for the error offset).  Returns 0 or the code recorded. */
static int check_uri(sipkit_builder *b, const char *uri, size_t n, size_t off,
                     const char *rule, int request_uri) {
  valid_set *v = valid_set_of(VALID_URI_ID, uri, n);
  if (valid_holds(v, VALID_URI_ID, uri, n))
    return SIPKIT_EOK; /* the same bytes passed below, without headers */
  size_t i = 0;
  while (i < n && !uri_stop[(unsigned char)uri[i]])
    i++;
  if (!n || i < n) {
    size_t bad = find_ctl(uri, n); /* a CR, LF or NUL is named before any other byte */
    return fail(b, SIPKIT_EINVALID_VALUE, off + (bad < n ? bad : i), rule);
  }
  struct sipkit__ctx c = {0};
  sipkit_uri u;
  c.base = (sipkit__ptr)uri;
  c.end = c.base + n;
  if (sipkit__vm_uri(&c, &u, c.base, c.end))
    return fail(b, SIPKIT_EINVALID_VALUE, off + c.err_off,
                c.err_rule && *c.err_rule ? c.err_rule : rule);
  if (request_uri && u.headers.len)
    return fail(b, SIPKIT_EINVALID_VALUE, off + u.headers.off - 1, rule);
  if (!u.headers.len)
    valid_remember(v, VALID_URI_ID, uri, n);
  return SIPKIT_EOK;
}

/* ------------------------------------------------------------------ */
/* Start lines                                                         */

int sipkit_builder_request(sipkit_builder *b, const char *method,
                           size_t method_len, const char *uri, size_t uri_len) {
  if (hard_error(b))
    return b->code;
  if (b->state_ != ST_EMPTY || !method || !uri)
    return fail(b, SIPKIT_EARGUMENT, 0, "");
  if (!is_token(method, method_len)) {
    size_t i = 0;
    while (i < method_len && is_token_char((unsigned char)method[i]))
      i++;
    return fail(b, SIPKIT_EINVALID_VALUE, i, "Method");
  }
  if (check_uri(b, uri, uri_len, method_len + 1, "Request-URI", 1))
    return b->code;
  out(b, method, method_len);
  out(b, " ", 1);
  out(b, uri, uri_len);
  out(b, " SIP/2.0\r\n", 10);
  b->state_ = ST_STARTED;
  b->request_ = 1;
  return b->code;
}

static int hexdig(unsigned char ch) {
  return (unsigned)(ch - '0') < 10u || (unsigned)((ch | 0x20) - 'a') < 6u;
}

/* Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII /
 * UTF8-CONT / SP / HTAB); returns the offset of the first bad byte or n. */
static size_t reason_bad(const char *r, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)r[i];
    if (ch >= 0x80 || ch == ' ' || ch == '\t' ||
        (unsigned)(ch - '0') < 10u || (unsigned)((ch | 0x20) - 'a') < 26u ||
        strchr(";/?:@&=+$,-_.!~*'()", ch) != NULL) {
      if (!ch)
        return i;
      continue;
    }
    if (ch == '%' && i + 2 < n && hexdig((unsigned char)r[i + 1]) &&
        hexdig((unsigned char)r[i + 2])) {
      i += 2;
      continue;
    }
    return i;
  }
  return n;
}

int sipkit_builder_response(sipkit_builder *b, int status, const char *reason,
                            size_t reason_len) {
  char sl[16];
  if (hard_error(b))
    return b->code;
  if (b->state_ != ST_EMPTY)
    return fail(b, SIPKIT_EARGUMENT, 0, "");
  if (status < 100 || status > 699)
    return fail(b, SIPKIT_EINVALID_VALUE, 8, "Status-Code");
  if (!reason) {
    reason = sipkit_reason_phrase(status);
    reason_len = strlen(reason);
  }
  size_t bad = reason_bad(reason, reason_len);
  if (bad < reason_len)
    return fail(b, SIPKIT_EINVALID_VALUE, 12 + bad, "Reason-Phrase");
  memcpy(sl, "SIP/2.0 ", 8); /* status is 100..699: three digits */
  sl[8] = (char)('0' + status / 100);
  sl[9] = (char)('0' + status / 10 % 10);
  sl[10] = (char)('0' + status % 10);
  sl[11] = ' ';
  sl[12] = '\0';
  out(b, sl, 12);
  out(b, reason, reason_len);
  out(b, "\r\n", 2);
  b->state_ = ST_STARTED;
  b->request_ = 0;
  return b->code;
}

/* ------------------------------------------------------------------ */
/* Headers                                                             */

static void put_name(line *l, int id) {
  put(l, sipkit__hdr_info[id].name, sipkit__hdr_info[id].name_len);
  put(l, ": ", 2);
}

int sipkit_builder_header(sipkit_builder *b, int id, const char *value,
                          size_t value_len) {
  line l;
  if (check_header_call(b))
    return b->code;
  if (id <= SIPKIT_HDR_OTHER || id >= SIPKIT_HDR__COUNT ||
      id == SIPKIT_HDR_CONTENT_LENGTH || (!value && value_len))
    return fail(b, SIPKIT_EARGUMENT, b->len, "");
  l.n = 0;
  l.over = 0;
  put_name(&l, id);
  put(&l, value, value_len);
  return commit(b, id, &l);
}

int sipkit_builder_header_raw(sipkit_builder *b, const char *name,
                              size_t name_len, const char *value,
                              size_t value_len) {
  line l;
  if (check_header_call(b))
    return b->code;
  if (!name || (!value && value_len))
    return fail(b, SIPKIT_EARGUMENT, b->len, "");
  if (!is_token(name, name_len)) {
    size_t i = 0;
    while (i < name_len && is_token_char((unsigned char)name[i]))
      i++;
    return fail(b, SIPKIT_EINVALID_VALUE, i, "header-name");
  }
  int id = sipkit_hdr_lookup(name, name_len);
  if (id == SIPKIT_HDR_CONTENT_LENGTH)
    return fail(b, SIPKIT_EARGUMENT, b->len, "");
  l.n = 0;
  l.over = 0;
  put(&l, name, name_len);
  put(&l, ": ", 2);
  put(&l, value, value_len);
  return commit(b, id, &l);
}

/* 1 when the line sipkit_builder_addr writes is valid by construction,
 * its URI having passed check_uri: "Name: " [DQUOTE display DQUOTE SP]
 * "<" addr-spec ">" params is a name-addr, the whole value of a Contact,
 * Route or Record-Route line and the start of a From or To line.  An
 * ASCII display-name is quoted-string: each byte is qdtext or written as
 * a quoted-pair (the display loop); UTF8-NONASCII is left to the grammar.
 * From and To end in *( SEMI generic-param ) (sipkit__build_param_tail),
 * so params of ";token[=token]" only keep them valid. */
static int addr_line_valid(int id, const char *display, size_t display_len, const char *params,
                           size_t params_len) {
  switch (id) {
  case SIPKIT_HDR_FROM: case SIPKIT_HDR_TO:
    if (params_len && sipkit__build_param_tail(id, params, params_len) != 0)
      return 0;
    break;
  case SIPKIT_HDR_CONTACT: case SIPKIT_HDR_ROUTE: case SIPKIT_HDR_RECORD_ROUTE:
    if (params_len)
      return 0;
    break;
  default:
    return 0;
  }
  for (size_t i = 0; i < display_len; i++)
    if ((unsigned char)display[i] >= 0x80)
      return 0;
  return 1;
}

int sipkit_builder_addr(sipkit_builder *b, int id, const char *display,
                        size_t display_len, const char *uri, size_t uri_len,
                        const char *params, size_t params_len) {
  line l;
  if (check_header_call(b))
    return b->code;
  if (id <= SIPKIT_HDR_OTHER || id >= SIPKIT_HDR__COUNT || !uri ||
      (!display && display_len) || (!params && params_len))
    return fail(b, SIPKIT_EARGUMENT, b->len, "");
  l.n = 0;
  l.over = 0;
  put_name(&l, id);
  if (display) {
    size_t bad = find_ctl(display, display_len);
    if (bad < display_len)
      return fail(b, SIPKIT_EINVALID_VALUE, l.n + 1 + bad, "display-name");
    put(&l, "\"", 1);
    for (size_t i = 0; i < display_len; i++) {
      unsigned char ch = (unsigned char)display[i];
      /* qdtext, else a quoted-pair (RFC 3261 §25.1) */
      if (ch == '"' || ch == '\\' || ch == 0x7f || (ch < 0x20 && ch != '\t'))
        put(&l, "\\", 1);
      put(&l, display + i, 1);
    }
    put(&l, "\" ", 2);
  }
  put(&l, "<", 1);
  if (check_uri(b, uri, uri_len, l.n, "addr-spec", 0))
    return b->code;
  put(&l, uri, uri_len);
  put(&l, ">", 1);
  if (params_len) {
    size_t bad = find_ctl(params, params_len);
    if (bad < params_len)
      return fail(b, SIPKIT_EINVALID_VALUE, l.n + bad,
                  sipkit__hdr_info[id].rule);
    put(&l, params, params_len);
  }
  return commit_line(b, id, &l, 0, addr_line_valid(id, display, display_len, params, params_len));
}

int sipkit_builder_finish(sipkit_builder *b, const char *body, size_t body_len,
                          sipkit_msg *msg) {
  line l;
  if (hard_error(b))
    return b->code;
  if (b->state_ != ST_STARTED || (!body && body_len))
    return fail(b, SIPKIT_EARGUMENT, b->len, "");
  l.n = 0;
  l.over = 0;
  puts_(&l, "Content-Length: ");
  putu(&l, (unsigned long)body_len);
  puts_(&l, "\r\n\r\n");
  out(b, l.s, l.n);
  out(b, body, body_len);
  b->state_ = ST_FINISHED;
  if (b->code)
    return b->code; /* BUFFER_TOO_SMALL: b->need is the whole size */

  /* The last check: the parser must accept exactly these bytes. */
  sipkit_header stack_hdrs[SIPKIT_MAX_HEADERS];
  sipkit_msg local;
  sipkit_error e;
  if (!msg) {
    msg = &local;
    sipkit_msg_init(msg, stack_hdrs, SIPKIT_MAX_HEADERS);
  }
  /* Without a msg to fill, the lines the grammar checked as they were
   * written are not checked again: the parse frames and counts them */
  unsigned flags = b->parse_flags | (msg == &local ? SIPKIT__PARSE_BUILT : 0);
  int rc = sipkit_parse(msg, b->buf, b->len, flags, &e);
  if (rc == SIPKIT_EOK && msg->size != b->len)
    rc = SIPKIT_EBODY_TRUNCATED, e.offset = msg->size, e.rule = "message-body";
  if (rc != SIPKIT_EOK) {
    fail(b, rc, e.offset, e.rule);
    b->err = e;
    b->err.code = rc;
  }
  return b->code;
}

/* ------------------------------------------------------------------ */
/* Reason phrases (IANA "Response Codes", RFC 3261 §21 and extensions)  */

static const struct {
  short code;
  const char *phrase;
} reasons[] = {
    {100, "Trying"},
    {180, "Ringing"},
    {181, "Call Is Being Forwarded"},
    {182, "Queued"},
    {183, "Session Progress"},
    {199, "Early Dialog Terminated"},         /* RFC 6228 */
    {200, "OK"},
    {202, "Accepted"},                        /* RFC 3265 (deprecated by 6665) */
    {204, "No Notification"},                 /* RFC 5839 */
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Moved Temporarily"},
    {305, "Use Proxy"},
    {380, "Alternative Service"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {410, "Gone"},
    {412, "Conditional Request Failed"},      /* RFC 3903 */
    {413, "Request Entity Too Large"},
    {414, "Request-URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Unsupported URI Scheme"},
    {417, "Unknown Resource-Priority"},       /* RFC 4412 */
    {420, "Bad Extension"},
    {421, "Extension Required"},
    {422, "Session Interval Too Small"},      /* RFC 4028 */
    {423, "Interval Too Brief"},
    {424, "Bad Location Information"},        /* RFC 6442 */
    {425, "Bad Alert Message"},               /* RFC 8876 */
    {428, "Use Identity Header"},             /* RFC 8224 */
    {429, "Provide Referrer Identity"},       /* RFC 3892 */
    {430, "Flow Failed"},                     /* RFC 5626 */
    {433, "Anonymity Disallowed"},            /* RFC 5079 */
    {436, "Bad Identity Info"},               /* RFC 8224 */
    {437, "Unsupported Credential"},          /* RFC 8224 */
    {438, "Invalid Identity Header"},         /* RFC 8224 */
    {439, "First Hop Lacks Outbound Support"}, /* RFC 5626 */
    {440, "Max-Breadth Exceeded"},            /* RFC 5393 */
    {469, "Bad Info Package"},                /* RFC 6086 */
    {470, "Consent Needed"},                  /* RFC 5360 */
    {480, "Temporarily Unavailable"},
    {481, "Call/Transaction Does Not Exist"},
    {482, "Loop Detected"},
    {483, "Too Many Hops"},
    {484, "Address Incomplete"},
    {485, "Ambiguous"},
    {486, "Busy Here"},
    {487, "Request Terminated"},
    {488, "Not Acceptable Here"},
    {489, "Bad Event"},                       /* RFC 6665 */
    {491, "Request Pending"},
    {493, "Undecipherable"},
    {494, "Security Agreement Required"},     /* RFC 3329 */
    {500, "Server Internal Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Server Time-out"},
    {505, "Version Not Supported"},
    {513, "Message Too Large"},
    {555, "Push Notification Service Not Supported"}, /* RFC 8599 */
    {580, "Precondition Failure"},            /* RFC 3312 */
    {600, "Busy Everywhere"},
    {603, "Decline"},
    {604, "Does Not Exist Anywhere"},
    {606, "Not Acceptable"},
    {607, "Unwanted"},                        /* RFC 8197 */
    {608, "Rejected"},                        /* RFC 8688 */
};

const char *sipkit_reason_phrase(int status) {
  size_t lo = 0, hi = sizeof reasons / sizeof reasons[0];
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (reasons[mid].code == status)
      return reasons[mid].phrase;
    if (reasons[mid].code < status)
      lo = mid + 1;
    else
      hi = mid;
  }
  return "";
}

/* ------------------------------------------------------------------ */
/* Random identifiers                                                  */

/* Random bytes come from a pool refilled by one getrandom(2) per 4 KiB
 * rather than one per identifier (a call needs several: branches, tags,
 * Call-ID).  The pool is its own anonymous page marked MADV_WIPEONFORK: a
 * forked child (sipkit load --workers) finds it zeroed, so its `avail`
 * reads 0 and it refills from the kernel instead of repeating its
 * parent's bytes.  Where the kernel lacks MADV_WIPEONFORK (before Linux
 * 4.14) every identifier reads getrandom(2) directly, as before. */
#define RANDOM_POOL_PAGE 4096u
typedef struct random_pool {
  size_t avail; /* unread bytes at the end of `bytes`; 0 after a fork */
  unsigned char bytes[RANDOM_POOL_PAGE - sizeof(size_t)];
} random_pool;

static pthread_mutex_t random_lock = PTHREAD_MUTEX_INITIALIZER;
static random_pool *random_pool_page; /* NULL until first use */
static int random_pool_off;           /* 1: no MADV_WIPEONFORK, read directly */

static int random_fill(unsigned char *r, size_t nbytes) {
  size_t got = 0;
  while (got < nbytes) {
    ssize_t n = getrandom(r + got, nbytes - got, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    got += (size_t)n;
  }
  return 0;
}

/* nbytes (at most 16) random bytes into r; -1 when the kernel gives none. */
static int random_bytes(unsigned char *r, size_t nbytes) {
  int rc = 0;
  pthread_mutex_lock(&random_lock);
  if (!random_pool_page && !random_pool_off) {
    void *p = mmap(NULL, RANDOM_POOL_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
#ifdef MADV_WIPEONFORK
    if (p != MAP_FAILED && madvise(p, RANDOM_POOL_PAGE, MADV_WIPEONFORK) != 0) {
      munmap(p, RANDOM_POOL_PAGE);
      p = MAP_FAILED;
    }
#else
    if (p != MAP_FAILED) {
      munmap(p, RANDOM_POOL_PAGE);
      p = MAP_FAILED;
    }
#endif
    if (p == MAP_FAILED)
      random_pool_off = 1;
    else
      random_pool_page = p;
  }
  random_pool *pool = random_pool_page;
  if (!pool) {
    rc = random_fill(r, nbytes);
  } else {
    if (pool->avail < nbytes) {
      rc = random_fill(pool->bytes, sizeof pool->bytes);
      pool->avail = rc == 0 ? sizeof pool->bytes : 0;
    }
    if (rc == 0) {
      /* bytes are handed out from the end and wiped, so none is used twice */
      pool->avail -= nbytes;
      memcpy(r, pool->bytes + pool->avail, nbytes);
      memset(pool->bytes + pool->avail, 0, nbytes);
    }
  }
  pthread_mutex_unlock(&random_lock);
  return rc;
}

/* The two hex digits of every byte: one load and one store a byte. */
#define HEX2(b) "0123456789abcdef"[(b) >> 4], "0123456789abcdef"[(b) & 15]
#define HEX2_16(b) HEX2(b), HEX2(b + 1), HEX2(b + 2), HEX2(b + 3), HEX2(b + 4), HEX2(b + 5), \
                   HEX2(b + 6), HEX2(b + 7), HEX2(b + 8), HEX2(b + 9), HEX2(b + 10),      \
                   HEX2(b + 11), HEX2(b + 12), HEX2(b + 13), HEX2(b + 14), HEX2(b + 15)
static const char hex_pairs[512] = {
    HEX2_16(0x00), HEX2_16(0x10), HEX2_16(0x20), HEX2_16(0x30), HEX2_16(0x40), HEX2_16(0x50),
    HEX2_16(0x60), HEX2_16(0x70), HEX2_16(0x80), HEX2_16(0x90), HEX2_16(0xa0), HEX2_16(0xb0),
    HEX2_16(0xc0), HEX2_16(0xd0), HEX2_16(0xe0), HEX2_16(0xf0)};
#undef HEX2_16
#undef HEX2

static int random_hex(char *out, size_t nbytes) {
  unsigned char r[16];
  if (random_bytes(r, nbytes) < 0)
    return -1;
  for (size_t i = 0; i < nbytes; i++)
    memcpy(out + 2 * i, hex_pairs + 2 * r[i], 2);
  out[2 * nbytes] = '\0';
  return (int)(2 * nbytes);
}

int sipkit_gen_branch(char *out, size_t cap) {
  if (!out || cap < SIPKIT_BRANCH_SIZE)
    return -1;
  memcpy(out, "z9hG4bK", 7);
  return random_hex(out + 7, 16) < 0 ? -1 : 39;
}

int sipkit_gen_tag(char *out, size_t cap) {
  if (!out || cap < SIPKIT_TAG_SIZE)
    return -1;
  return random_hex(out, 8);
}

int sipkit_gen_call_id(char *out, size_t cap) {
  if (!out || cap < SIPKIT_CALL_ID_SIZE)
    return -1;
  return random_hex(out, 16);
}

/* ------------------------------------------------------------------ */
/* RFC 3261 helpers                                                    */

/* Copy one header entry of a parsed message (value unfolded). */
static int copy_value(sipkit_builder *b, int id, const char *buf,
                      const sipkit_header *h, const char *suffix,
                      size_t suffix_len) {
  line l;
  l.n = 0;
  l.over = 0;
  put_name(&l, id);
  size_t room = sizeof l.s - l.n;
  const char *v = buf + h->value.off;
  size_t n, clean = 0;
  /* A value without a line end has no fold: it is copied as is, which is
   * what sipkit_unfold would write, without its byte-by-byte pass; and
   * commit need not look for a line end in it again. */
  if (!memchr(v, '\n', h->value.len) && !memchr(v, '\r', h->value.len)) {
    n = h->value.len;
    if (n <= room)
      memcpy(l.s + l.n, v, n);
    clean = l.n + n;
  } else {
    n = sipkit_unfold(buf, h->value, l.s + l.n, room);
  }
  if (n > room)
    l.over = 1;
  else
    l.n += n;
  put(&l, suffix, suffix_len);
  return commit_from(b, id, &l, l.over ? 0 : clean);
}

static int copy_all(sipkit_builder *b, const sipkit_msg *m, const char *buf,
                    int id) {
  for (const sipkit_header *h = sipkit_msg_header(m, id); h;
       h = sipkit_msg_header_next(m, h))
    if (copy_value(b, id, buf, h, NULL, 0) && hard_error(b))
      return b->code;
  return b->code;
}

static int copy_first(sipkit_builder *b, const sipkit_msg *m, const char *buf,
                      int id) {
  const sipkit_header *h = sipkit_msg_header(m, id);
  if (!h)
    return fail(b, SIPKIT_EMISSING_HEADER, b->len, sipkit__hdr_info[id].rule);
  return copy_value(b, id, buf, h, NULL, 0);
}

static int cseq_line(sipkit_builder *b, uint32_t num, const char *method,
                     size_t method_len) {
  line l;
  l.n = 0;
  l.over = 0;
  put_name(&l, SIPKIT_HDR_CSEQ);
  putu(&l, num);
  put(&l, " ", 1);
  put(&l, method, method_len);
  return commit(b, SIPKIT_HDR_CSEQ, &l);
}

static int dialog_creating(const sipkit_msg *req, int status) {
  if (status < 101 || status > 299)
    return 0;
  return req->method == SIPKIT_METHOD_INVITE ||
         req->method == SIPKIT_METHOD_SUBSCRIBE ||
         req->method == SIPKIT_METHOD_REFER ||
         req->method == SIPKIT_METHOD_NOTIFY;
}

int sipkit_build_response(sipkit_builder *b, const sipkit_msg *req,
                          const char *buf, int status, const char *reason,
                          size_t reason_len, sipkit_str to_tag) {
  char tag[SIPKIT_TAG_SIZE];
  if (!req || !buf || req->status || !req->to || !req->from || !req->cseq)
    return fail(b, SIPKIT_EARGUMENT, 0, "");
  if (sipkit_builder_response(b, status, reason, reason_len) && hard_error(b))
    return b->code;
  copy_all(b, req, buf, SIPKIT_HDR_VIA);
  if (dialog_creating(req, status))
    copy_all(b, req, buf, SIPKIT_HDR_RECORD_ROUTE);
  copy_first(b, req, buf, SIPKIT_HDR_FROM);
  const sipkit_header *to = sipkit_msg_header(req, SIPKIT_HDR_TO);
  if (status != 100 && !req->to->tag.len) {
    line suffix;
    suffix.n = 0;
    suffix.over = 0;
    if (!to_tag.p) {
      if (sipkit_gen_tag(tag, sizeof tag) < 0)
        return fail(b, SIPKIT_EARGUMENT, b->len, "tag-param");
      to_tag.p = tag;
      to_tag.len = strlen(tag);
    }
    puts_(&suffix, ";tag=");
    put(&suffix, to_tag.p, to_tag.len < 256 ? to_tag.len : 256);
    copy_value(b, SIPKIT_HDR_TO, buf, to, suffix.s, suffix.n);
  } else {
    copy_value(b, SIPKIT_HDR_TO, buf, to, NULL, 0);
  }
  copy_first(b, req, buf, SIPKIT_HDR_CALL_ID);
  copy_first(b, req, buf, SIPKIT_HDR_CSEQ);
  if (status == 100)
    copy_all(b, req, buf, SIPKIT_HDR_TIMESTAMP);
  return b->code;
}

static int start_from_request(sipkit_builder *b, const char *method,
                              const sipkit_msg *req, const char *buf) {
  if (sipkit_builder_request(b, method, strlen(method),
                             buf + req->request_uri.off, req->request_uri.len) &&
      hard_error(b))
    return b->code;
  copy_first(b, req, buf, SIPKIT_HDR_VIA); /* the top Via only */
  sipkit_builder_header(b, SIPKIT_HDR_MAX_FORWARDS, "70", 2);
  copy_all(b, req, buf, SIPKIT_HDR_ROUTE);
  copy_first(b, req, buf, SIPKIT_HDR_FROM);
  return b->code;
}

int sipkit_build_ack_non2xx(sipkit_builder *b, const sipkit_msg *invite,
                            const char *ibuf, const sipkit_msg *resp,
                            const char *rbuf) {
  if (!invite || !ibuf || !resp || !rbuf || invite->status ||
      invite->method != SIPKIT_METHOD_INVITE || resp->status < 300 ||
      !invite->cseq)
    return fail(b, SIPKIT_EARGUMENT, 0, "");
  start_from_request(b, "ACK", invite, ibuf);
  copy_first(b, resp, rbuf, SIPKIT_HDR_TO);
  copy_first(b, invite, ibuf, SIPKIT_HDR_CALL_ID);
  cseq_line(b, invite->cseq->num, "ACK", 3);
  return b->code;
}

int sipkit_build_cancel(sipkit_builder *b, const sipkit_msg *req,
                        const char *buf) {
  if (!req || !buf || req->status || !req->cseq ||
      req->method == SIPKIT_METHOD_ACK || req->method == SIPKIT_METHOD_CANCEL)
    return fail(b, SIPKIT_EARGUMENT, 0, "");
  start_from_request(b, "CANCEL", req, buf);
  copy_first(b, req, buf, SIPKIT_HDR_TO);
  copy_first(b, req, buf, SIPKIT_HDR_CALL_ID);
  cseq_line(b, req->cseq->num, "CANCEL", 6);
  return b->code;
}

/* The URI of a route value ("<sip:p1;lr>" or "Name <...>;params"). */
static sipkit_str route_uri(sipkit_str r) {
  sipkit_str u = r;
  const char *lt = memchr(r.p, '<', r.len);
  if (lt) {
    const char *gt = memchr(lt, '>', r.len - (size_t)(lt - r.p));
    if (gt) {
      u.p = lt + 1;
      u.len = (size_t)(gt - lt - 1);
    }
  }
  return u;
}

int sipkit_build_in_dialog(sipkit_builder *b, const sipkit_dialog_view *d,
                           sipkit_str method, uint32_t cseq,
                           sipkit_str via_sent, sipkit_str branch) {
  char br[SIPKIT_BRANCH_SIZE];
  line l;
  if (!d || !method.p || !via_sent.p || !d->remote_target.p ||
      !d->call_id.p || !d->local_uri.p || !d->remote_uri.p ||
      (d->route_count && !d->route_set))
    return fail(b, SIPKIT_EARGUMENT, 0, "");
  int strict = 0;
  sipkit_str ruri = d->remote_target;
  if (d->route_count) {
    sipkit_str first = route_uri(d->route_set[0]);
    struct sipkit__ctx c = {0};
    sipkit_uri u;
    c.base = (sipkit__ptr)first.p;
    c.end = c.base + first.len;
    if (!first.len || sipkit__vm_uri(&c, &u, c.base, c.end))
      return fail(b, SIPKIT_EINVALID_VALUE, 0, "Route");
    if (!sipkit__uri_loose(&u, first.p)) { /* §12.2.1.1 strict routing */
      strict = 1;
      ruri = first;
      if (u.headers.len)
        ruri.len = u.headers.off - 1; /* strip "?headers" */
    }
  }
  if (sipkit_builder_request(b, method.p, method.len, ruri.p, ruri.len) &&
      hard_error(b))
    return b->code;
  if (!branch.p) {
    if (sipkit_gen_branch(br, sizeof br) < 0)
      return fail(b, SIPKIT_EARGUMENT, b->len, "branch");
    branch.p = br;
    branch.len = strlen(br);
  }
  l.n = 0;
  l.over = 0;
  put_name(&l, SIPKIT_HDR_VIA);
  put(&l, via_sent.p, via_sent.len);
  puts_(&l, ";branch=");
  put(&l, branch.p, branch.len);
  commit(b, SIPKIT_HDR_VIA, &l);
  sipkit_builder_header(b, SIPKIT_HDR_MAX_FORWARDS, "70", 2);
  for (size_t i = strict ? 1 : 0; i < d->route_count; i++)
    sipkit_builder_header(b, SIPKIT_HDR_ROUTE, d->route_set[i].p,
                          d->route_set[i].len);
  if (strict)
    sipkit_builder_addr(b, SIPKIT_HDR_ROUTE, NULL, 0, d->remote_target.p,
                        d->remote_target.len, NULL, 0);
  l.n = 0;
  l.over = 0;
  if (d->local_tag.len) {
    puts_(&l, ";tag=");
    put(&l, d->local_tag.p, d->local_tag.len);
  }
  sipkit_builder_addr(b, SIPKIT_HDR_FROM, NULL, 0, d->local_uri.p,
                      d->local_uri.len, l.s, l.n);
  l.n = 0;
  if (d->remote_tag.len) {
    puts_(&l, ";tag=");
    put(&l, d->remote_tag.p, d->remote_tag.len);
  }
  sipkit_builder_addr(b, SIPKIT_HDR_TO, NULL, 0, d->remote_uri.p,
                      d->remote_uri.len, l.s, l.n);
  sipkit_builder_header(b, SIPKIT_HDR_CALL_ID, d->call_id.p, d->call_id.len);
  cseq_line(b, cseq ? cseq : d->local_cseq + 1, method.p, method.len);
  return b->code;
}
