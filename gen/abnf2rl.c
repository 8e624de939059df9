/*
 * gen/abnf2rl.c -- sipkit's grammar generator (host tool, portable C99, libc only).
 *
 *   abnf2rl rules   -o OUT.rl [--unroll NAME=N]... [--overlay FILE.rl] FILE.abnf...
 *       ABNF (RFC 5234 + RFC 7405 %s/%i) -> Ragel 6.10 definitions, one per rule,
 *       in dependency order, inside "%%{ machine sip_rules; ... }%%".
 *
 *   abnf2rl headers -t headers.tsv [--ids IDS.h] [--table TABLE.c [--table-h TABLE.h]]
 *                   [--names HNAMES.rl] [--dict FUZZ.dict]
 *       headers.tsv -> C enum, C name table (+ its header), Ragel header-name
 *       machines and a libFuzzer dictionary.
 *
 *   abnf2rl skips --dot MACHINE.dot --name PREFIX --action NAME -o OUT.h [--c GEN.c]
 *       Ragel's state graph (ragel -V -p) -> run-skip tables: for each state,
 *       the bytes on which it loops to itself with no action but NAME.
 *
 * Every output starts with a "GENERATED ... DO NOT EDIT" comment that quotes the
 * command line (argv as given); nothing else varies, so output is byte-stable.
 * Outputs are written to "<path>.tmp" and renamed into place.
 * Errors go to stderr as "file:line: message" and the exit status is 1.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EM_DASH "\xe2\x80\x94"
#define REP_INF UINT_MAX

/* ------------------------------------------------------------------ utilities */

static const char *progname = "abnf2rl";
static char *cmdline; /* argv joined with spaces */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static int nerrors;
static void err_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    nerrors++;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("%s: out of memory", progname);
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) die("%s: out of memory", progname);
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

/* growable string */
typedef struct { char *s; size_t n, cap; } Buf;

static void bput(Buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2 + 64;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}
static void bputs(Buf *b, const char *s) { bput(b, s, strlen(s)); }
static void bprintf(Buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) die("%s: internal: format overflow", progname);
    bput(b, tmp, (size_t)n);
}

/* read a whole file, drop CRs that precede LF */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    Buf b = {0, 0, 0};
    char chunk[65536];
    size_t n, i, j;
    if (!f) die("%s: cannot open %s", progname, path);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) bput(&b, chunk, n);
    if (ferror(f)) die("%s: cannot read %s", progname, path);
    fclose(f);
    if (!b.s) bput(&b, "", 0);
    for (i = j = 0; i < b.n; i++)
        if (!(b.s[i] == '\r' && b.s[i + 1] == '\n')) b.s[j++] = b.s[i];
    b.s[j] = 0;
    return b.s;
}

/* write atomically: path.tmp then rename */
static void write_out(const char *path, const Buf *b)
{
    size_t n = strlen(path) + 5;
    char *tmp = xmalloc(n);
    FILE *f;
    snprintf(tmp, n, "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (!f) die("%s: cannot create %s", progname, tmp);
    if (fwrite(b->s, 1, b->n, f) != b->n || fclose(f) != 0) {
        remove(tmp);
        die("%s: cannot write %s", progname, tmp);
    }
    if (rename(tmp, path) != 0) {
        remove(tmp);
        die("%s: cannot rename %s to %s", progname, tmp, path);
    }
    free(tmp);
}

/* ------------------------------------------------------------------ ABNF model */

enum { N_ALT, N_CAT, N_REP, N_OPT, N_REF, N_STR, N_RANGE, N_SEQ, N_PROSE, N_EPS };

typedef struct Node Node;
struct Node {
    int kind;
    int line;
    Node **kids;
    int nkids;
    unsigned lo, hi;   /* N_REP min/max (hi == REP_INF: unbounded); N_RANGE bounds */
    char *text;        /* N_REF name, N_STR literal, N_PROSE text */
    int cs;            /* N_STR: case-sensitive (%s) */
    unsigned *vals;    /* N_SEQ values */
    int nvals;
    int ref;           /* N_REF: resolved rule index */
};

typedef struct {
    char *name;        /* canonical ABNF spelling (of the "=" definition) */
    char *rname;       /* Ragel identifier */
    const char *file;
    int line;
    Node *body;        /* NULL for overlay-only rules */
    int order;         /* emission tie-break: definition order */
    int sub;           /* sub-order for unrolled levels */
    /* overlay */
    int overlay;       /* 1: body replaced / defined by the overlay */
    char *otext, *ocomment;
    const char *ofile;
    int oline;
    int generated;     /* unrolled level */
    int unrolled_from; /* index of the rule an unrolled level belongs to, or -1 */
    int *deps;
    int ndeps;
    char *attach;      /* action embeddings from '#@ attach' lines of the machine file */
} Rule;

static Rule *rules;
static int nrules, caprules;

static int find_rule(const char *name) /* case-insensitive ABNF name */
{
    int i;
    for (i = 0; i < nrules; i++)
        if (!rules[i].generated && rules[i].name && ieq(rules[i].name, name)) return i;
    return -1;
}

static int find_rname(const char *rname)
{
    int i;
    for (i = 0; i < nrules; i++)
        if (rules[i].rname && strcmp(rules[i].rname, rname) == 0) return i;
    return -1;
}

static int new_rule(void)
{
    if (nrules == caprules) {
        caprules = caprules ? caprules * 2 : 256;
        rules = xrealloc(rules, (size_t)caprules * sizeof *rules);
    }
    memset(&rules[nrules], 0, sizeof rules[nrules]);
    rules[nrules].unrolled_from = -1;
    return nrules++;
}

static Node *node(int kind, int line)
{
    Node *n = xmalloc(sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->line = line;
    n->ref = -1;
    return n;
}

static void add_kid(Node *p, Node *k)
{
    p->kids = xrealloc(p->kids, (size_t)(p->nkids + 1) * sizeof *p->kids);
    p->kids[p->nkids++] = k;
}

/* Ragel keywords and builtin machines: ABNF rules with these names get "abnf_". */
static const char *const ragel_reserved[] = {
    /* builtin machines */
    "any", "ascii", "extend", "alpha", "digit", "alnum", "lower", "upper", "xdigit",
    "cntrl", "graph", "print", "punct", "space", "zlen", "empty", "null",
    /* keywords (Ragel 6.10 lexer) */
    "when", "inwhen", "outwhen", "eof", "err", "lerr", "to", "from", "export", "import",
    "action", "machine", "include", "write", "access", "variable", "getkey", "alphtype",
    "prepush", "postpop", "range", "exec", "data", "init", "noend", "noerror",
    "nofinal", "noprefix", "contained", "main",
    NULL
};

static int is_reserved(const char *s)
{
    int i;
    for (i = 0; ragel_reserved[i]; i++)
        if (strcmp(ragel_reserved[i], s) == 0) return 1;
    return 0;
}

static char *ragel_name(const char *abnf)
{
    char *r = xstrdup(abnf), *p, *out;
    size_t n;
    for (p = r; *p; p++)
        if (*p == '-') *p = '_';
    if (!is_reserved(r)) return r;
    n = strlen(r) + 6;
    out = xmalloc(n);
    snprintf(out, n, "abnf_%s", r);
    free(r);
    return out;
}

/* ------------------------------------------------------------------ ABNF parser */

typedef struct {
    const char *file;
    const char *s;   /* whole file */
    size_t p;        /* position */
    int line;
    int rule_line;
} Lex;

/* Skip white space, comments and rule continuations.  Returns 0 when the rule ends
 * (newline not followed by WSP, or end of file). */
static int skip_cwsp(Lex *L)
{
    for (;;) {
        char c = L->s[L->p];
        if (c == ' ' || c == '\t') { L->p++; continue; }
        if (c == ';') {
            while (L->s[L->p] && L->s[L->p] != '\n') L->p++;
            continue;
        }
        if (c == '\n') {
            char d = L->s[L->p + 1];
            if (d == ' ' || d == '\t') { L->p++; L->line++; continue; }
            return 0;
        }
        if (c == 0) return 0;
        return 1;
    }
}

static int is_name_start(int c) { return isalpha(c) != 0; }
static int is_name_char(int c) { return isalnum(c) || c == '-'; }

static Node *parse_alt(Lex *L, Rule *r);

static unsigned parse_uint(Lex *L, int base, int *ok)
{
    unsigned long v = 0;
    int n = 0;
    for (;;) {
        int c = (unsigned char)L->s[L->p], d;
        if (base == 16 && isxdigit(c)) d = isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
        else if (base == 10 && isdigit(c)) d = c - '0';
        else if (base == 2 && (c == '0' || c == '1')) d = c - '0';
        else break;
        v = v * (unsigned long)base + (unsigned long)d;
        if (v > 0xFFFFFFul) { *ok = 0; return 0; }
        L->p++;
        n++;
    }
    *ok = n > 0;
    return (unsigned)v;
}

static Node *parse_element(Lex *L, Rule *r)
{
    char c = L->s[L->p];
    int line = L->line;
    Node *n;
    if (is_name_start((unsigned char)c)) {
        size_t b = L->p;
        while (is_name_char((unsigned char)L->s[L->p])) L->p++;
        n = node(N_REF, line);
        n->text = xstrndup(L->s + b, L->p - b);
        return n;
    }
    if (c == '(' || c == '[') {
        char close = c == '(' ? ')' : ']';
        Node *inner;
        L->p++;
        if (!skip_cwsp(L)) {
            err_at(L->file, line, "unbalanced '%c' in rule '%s' (not closed before the rule ends)", c, r->name);
            return NULL;
        }
        inner = parse_alt(L, r);
        if (!inner) return NULL;
        if (!skip_cwsp(L) || L->s[L->p] != close) {
            if (L->s[L->p] == ')' || L->s[L->p] == ']')
                err_at(L->file, L->line, "unbalanced brackets in rule '%s': '%c' opened at line %d closed by '%c'",
                       r->name, c, line, L->s[L->p]);
            else
                err_at(L->file, line, "unbalanced '%c' in rule '%s' (not closed before the rule ends)", c, r->name);
            return NULL;
        }
        L->p++;
        if (c == '(') return inner;
        n = node(N_OPT, line);
        add_kid(n, inner);
        return n;
    }
    if (c == '"' || (c == '%' && (L->s[L->p + 1] == 's' || L->s[L->p + 1] == 'S' || L->s[L->p + 1] == 'i' ||
                                  L->s[L->p + 1] == 'I') && L->s[L->p + 2] == '"')) {
        int cs = 0;
        size_t b;
        if (c == '%') {
            cs = L->s[L->p + 1] == 's' || L->s[L->p + 1] == 'S';
            L->p += 2;
        }
        L->p++;
        b = L->p;
        while (L->s[L->p] && L->s[L->p] != '"' && L->s[L->p] != '\n') {
            unsigned char ch = (unsigned char)L->s[L->p];
            if (ch < 0x20 || ch > 0x7e) {
                err_at(L->file, line, "bad character 0x%02X in quoted string in rule '%s'", ch, r->name);
                return NULL;
            }
            L->p++;
        }
        if (L->s[L->p] != '"') {
            err_at(L->file, line, "unterminated quoted string in rule '%s'", r->name);
            return NULL;
        }
        n = node(N_STR, line);
        n->text = xstrndup(L->s + b, L->p - b);
        n->cs = cs;
        L->p++;
        return n;
    }
    if (c == '%') {
        char t = (char)tolower((unsigned char)L->s[L->p + 1]);
        int base = t == 'x' ? 16 : t == 'd' ? 10 : t == 'b' ? 2 : 0, ok;
        unsigned v;
        if (!base) {
            err_at(L->file, line, "bad numeric value in rule '%s' (expected %%x, %%d or %%b)", r->name);
            return NULL;
        }
        L->p += 2;
        v = parse_uint(L, base, &ok);
        if (!ok || v > 0xFF) {
            err_at(L->file, line, "bad numeric value in rule '%s' (digits missing or value above 0xFF)", r->name);
            return NULL;
        }
        if (L->s[L->p] == '-') {
            unsigned hi;
            L->p++;
            hi = parse_uint(L, base, &ok);
            if (!ok || hi > 0xFF || hi < v) {
                err_at(L->file, line, "bad numeric range in rule '%s'", r->name);
                return NULL;
            }
            n = node(N_RANGE, line);
            n->lo = v;
            n->hi = hi;
            return n;
        }
        n = node(N_SEQ, line);
        n->vals = xmalloc(sizeof(unsigned));
        n->vals[n->nvals++] = v;
        while (L->s[L->p] == '.') {
            L->p++;
            v = parse_uint(L, base, &ok);
            if (!ok || v > 0xFF) {
                err_at(L->file, line, "bad numeric value in rule '%s'", r->name);
                return NULL;
            }
            n->vals = xrealloc(n->vals, (size_t)(n->nvals + 1) * sizeof(unsigned));
            n->vals[n->nvals++] = v;
        }
        return n;
    }
    if (c == '<') {
        size_t b = ++L->p;
        while (L->s[L->p] && L->s[L->p] != '>' && L->s[L->p] != '\n') L->p++;
        if (L->s[L->p] != '>') {
            err_at(L->file, line, "unterminated prose value in rule '%s'", r->name);
            return NULL;
        }
        n = node(N_PROSE, line);
        n->text = xstrndup(L->s + b, L->p - b);
        L->p++;
        return n;
    }
    if (c == ')' || c == ']')
        err_at(L->file, line, "unbalanced brackets in rule '%s': unexpected '%c'", r->name, c);
    else if (c == 0 || c == '\n')
        err_at(L->file, line, "bad syntax in rule '%s': element expected before the end of the rule", r->name);
    else
        err_at(L->file, line, "bad syntax in rule '%s' at '%c'", r->name, c);
    return NULL;
}

static Node *parse_rep(Lex *L, Rule *r)
{
    int line = L->line, has = 0, ok;
    unsigned lo = 1, hi = 1;
    Node *e, *n;
    if (isdigit((unsigned char)L->s[L->p]) || L->s[L->p] == '*') {
        has = 1;
        if (isdigit((unsigned char)L->s[L->p])) {
            lo = parse_uint(L, 10, &ok);
            if (!ok) { err_at(L->file, line, "bad repetition in rule '%s'", r->name); return NULL; }
            hi = lo;
        } else
            lo = 0;
        if (L->s[L->p] == '*') {
            L->p++;
            if (isdigit((unsigned char)L->s[L->p])) {
                hi = parse_uint(L, 10, &ok);
                if (!ok || hi < lo) { err_at(L->file, line, "bad repetition in rule '%s'", r->name); return NULL; }
            } else
                hi = REP_INF;
        }
    }
    e = parse_element(L, r);
    if (!e || !has) return e;
    n = node(N_REP, line);
    n->lo = lo;
    n->hi = hi;
    add_kid(n, e);
    return n;
}

static Node *parse_cat(Lex *L, Rule *r)
{
    Node *cat = node(N_CAT, L->line), *e;
    for (;;) {
        char c;
        e = parse_rep(L, r);
        if (!e) return NULL;
        add_kid(cat, e);
        if (!skip_cwsp(L)) break;
        c = L->s[L->p];
        if (c == '/' || c == ')' || c == ']') break;
    }
    if (cat->nkids == 1) return cat->kids[0];
    return cat;
}

static Node *parse_alt(Lex *L, Rule *r)
{
    Node *alt = node(N_ALT, L->line), *c;
    for (;;) {
        c = parse_cat(L, r);
        if (!c) return NULL;
        add_kid(alt, c);
        if (!skip_cwsp(L) || L->s[L->p] != '/') break;
        L->p++;
        if (!skip_cwsp(L)) {
            err_at(L->file, L->line, "bad syntax in rule '%s': alternative expected after '/'", r->name);
            return NULL;
        }
    }
    if (alt->nkids == 1) return alt->kids[0];
    return alt;
}

static int rule_order;

static void parse_abnf_file(const char *path)
{
    Lex L;
    L.file = path;
    L.s = read_file(path);
    L.p = 0;
    L.line = 1;
    while (L.s[L.p]) {
        size_t b = L.p, e;
        int incr = 0, idx, line = L.line;
        char *name;
        Node *body;
        Rule tmp;
        char c = L.s[L.p];
        if (c == '\n') { L.p++; L.line++; continue; }
        if (c == ' ' || c == '\t' || c == ';') {
            /* blank or comment line; anything else indented is a stray continuation */
            while (L.s[L.p] == ' ' || L.s[L.p] == '\t') L.p++;
            if (L.s[L.p] == ';' || L.s[L.p] == '\n' || L.s[L.p] == 0) {
                while (L.s[L.p] && L.s[L.p] != '\n') L.p++;
                continue;
            }
            err_at(path, L.line, "bad syntax: continuation line outside a rule (rules start in column 1)");
            while (L.s[L.p] && L.s[L.p] != '\n') L.p++;
            continue;
        }
        if (!is_name_start((unsigned char)c)) {
            err_at(path, L.line, "bad syntax: rule name expected at '%c'", c);
            while (L.s[L.p] && L.s[L.p] != '\n') L.p++;
            continue;
        }
        while (is_name_char((unsigned char)L.s[L.p])) L.p++;
        e = L.p;
        name = xstrndup(L.s + b, e - b);
        while (L.s[L.p] == ' ' || L.s[L.p] == '\t') L.p++;
        if (L.s[L.p] != '=') {
            err_at(path, line, "bad syntax: '=' or '=/' expected after rule name '%s'", name);
            while (L.s[L.p] && L.s[L.p] != '\n') L.p++;
            continue;
        }
        L.p++;
        if (L.s[L.p] == '/') { incr = 1; L.p++; }
        memset(&tmp, 0, sizeof tmp);
        tmp.name = name;
        tmp.file = path;
        tmp.line = line;
        L.rule_line = line;
        body = NULL;
        if (!skip_cwsp(&L))
            err_at(path, line, "bad syntax: rule '%s' has no elements", name);
        else {
            body = parse_alt(&L, &tmp);
            if (body && skip_cwsp(&L)) {
                char x = L.s[L.p];
                if (x == ')' || x == ']')
                    err_at(path, L.line, "unbalanced brackets in rule '%s': unexpected '%c'", name, x);
                else
                    err_at(path, L.line, "bad syntax in rule '%s' at '%c'", name, x);
                body = NULL;
            }
        }
        /* resynchronise: skip to the end of this rule */
        while (L.s[L.p]) {
            if (L.s[L.p] == '\n') {
                if (L.s[L.p + 1] == ' ' || L.s[L.p + 1] == '\t') { L.p++; L.line++; continue; }
                break;
            }
            L.p++;
        }
        if (!body) continue;
        idx = find_rule(name);
        if (incr) {
            Node *alt;
            int i;
            if (idx < 0) {
                err_at(path, line, "incremental alternative '%s =/' for a rule that is not defined before", name);
                continue;
            }
            alt = rules[idx].body;
            if (alt->kind != N_ALT) {
                Node *a = node(N_ALT, alt->line);
                add_kid(a, alt);
                alt = a;
            }
            if (body->kind == N_ALT)
                for (i = 0; i < body->nkids; i++) add_kid(alt, body->kids[i]);
            else
                add_kid(alt, body);
            rules[idx].body = alt;
            continue;
        }
        if (idx >= 0) {
            err_at(path, line, "duplicate definition of rule '%s' (first defined at %s:%d)", name,
                   rules[idx].file, rules[idx].line);
            continue;
        }
        idx = new_rule();
        rules[idx] = tmp;
        rules[idx].unrolled_from = -1;
        rules[idx].body = body;
        rules[idx].rname = ragel_name(name);
        rules[idx].order = rule_order++;
    }
}


/* ------------------------------------------------------------------ '#@' directives */

/* A hand-written machine file (grammar/NAME.rl) says in Ragel comments what
 * it needs from the grammar:
 *   #@ root RULE...                 emit RULE and what it needs
 *   #@ value HEADER...              derive HEADER-value: HEADER's rule after HCOLON
 *   #@ attach RULE EMBEDDING...     append action embeddings to RULE's definition
 *   #@ include FILE                 read FILE's directives too (relative to this file)
 *   #@ ragel FLAGS                  (read by the Makefile: ragel code style)
 *   #@ in RULE... use NEW for OLD   as in the overlay, for this machine only
 * The overlay may say
 *   #@ in RULE... use NEW for OLD   in those rules, reference NEW where the ABNF says OLD
 */
typedef struct { char *rule, *text; const char *file; int line; } Attach;
typedef struct { char **in; int nin; char *use, *for_; const char *file; int line; int machine; } Rewrite;

static Attach *attaches;
static int nattaches;
static char **dir_roots, **dir_values;
static int ndir_roots, ndir_values;
static Rewrite *rewrites;
static int nrewrites;
static int directive_is_machine;
static void overlay_directive(const char *path, int line, const char *text);

static char **split_words(const char *s, int *n)
{
    char **v = NULL;
    *n = 0;
    for (;;) {
        const char *b;
        while (*s == ' ' || *s == '\t') s++;
        if (!*s || *s == '\n') break;
        b = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n') s++;
        v = xrealloc(v, (size_t)(*n + 1) * sizeof *v);
        v[(*n)++] = xstrndup(b, (size_t)(s - b));
    }
    return v;
}

static void read_directives(const char *path, int depth)
{
    const char *s, *p;
    int line = 1;
    if (depth > 4) die("%s: #@ include nested too deeply at %s", progname, path);
    s = read_file(path);
    for (p = s; *p; line++) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p), off = 0;
        char *l = xstrndup(p, n);
        p += n + (e ? 1 : 0);
        while (l[off] == ' ' || l[off] == '\t') off++;
        if (strncmp(l + off, "#@", 2) == 0) {
            int nw, i;
            char **w = split_words(l + off + 2, &nw);
            if (nw == 0) err_at(path, line, "empty #@ directive");
            else if (strcmp(w[0], "root") == 0)
                for (i = 1; i < nw; i++) {
                    dir_roots = xrealloc(dir_roots, (size_t)(ndir_roots + 1) * sizeof *dir_roots);
                    dir_roots[ndir_roots++] = w[i];
                }
            else if (strcmp(w[0], "value") == 0)
                for (i = 1; i < nw; i++) {
                    dir_values = xrealloc(dir_values, (size_t)(ndir_values + 1) * sizeof *dir_values);
                    dir_values[ndir_values++] = w[i];
                }
            else if (strcmp(w[0], "attach") == 0) {
                Buf t = {0, 0, 0};
                if (nw < 3) err_at(path, line, "#@ attach RULE EMBEDDING... expected");
                for (i = 2; i < nw; i++) {
                    if (i > 2) bputs(&t, " ");
                    bputs(&t, w[i]);
                }
                attaches = xrealloc(attaches, (size_t)(nattaches + 1) * sizeof *attaches);
                attaches[nattaches].rule = nw > 1 ? w[1] : xstrdup("");
                attaches[nattaches].text = t.s ? t.s : xstrdup("");
                attaches[nattaches].file = path;
                attaches[nattaches].line = line;
                nattaches++;
            } else if (strcmp(w[0], "include") == 0 && nw == 2) {
                const char *slash = strrchr(path, '/');
                Buf f = {0, 0, 0};
                if (slash) bput(&f, path, (size_t)(slash - path) + 1);
                bputs(&f, w[1]);
                read_directives(f.s, depth + 1);
            } else if (strcmp(w[0], "in") == 0) {
                directive_is_machine = 1;
                overlay_directive(path, line, l + off + 2);
                directive_is_machine = 0;
            } else if (strcmp(w[0], "ragel") == 0) {
                /* for the Makefile */
            } else
                err_at(path, line, "unknown directive '#@ %s'", w[0]);
        }
        free(l);
    }
}

static void overlay_directive(const char *path, int line, const char *text)
{
    int nw, i, u = -1;
    char **w = split_words(text, &nw);
    for (i = 0; i < nw; i++)
        if (strcmp(w[i], "use") == 0) { u = i; break; }
    if (nw < 6 || strcmp(w[0], "in") != 0 || u < 2 || u + 4 != nw || strcmp(w[u + 2], "for") != 0) {
        err_at(path, line, "overlay: '#@ in RULE... use NEW for OLD' expected");
        return;
    }
    rewrites = xrealloc(rewrites, (size_t)(nrewrites + 1) * sizeof *rewrites);
    rewrites[nrewrites].in = w + 1;
    rewrites[nrewrites].nin = u - 1;
    rewrites[nrewrites].use = w[u + 1];
    rewrites[nrewrites].for_ = w[u + 3];
    rewrites[nrewrites].file = path;
    rewrites[nrewrites].line = line;
    rewrites[nrewrites].machine = directive_is_machine;
    nrewrites++;
}

/* ------------------------------------------------------------------ overlay parser */

/* Scan Ragel text; call back for every identifier that names a machine (not an action,
 * not inside strings, character classes, action/C blocks or comments). */
typedef void (*ident_fn)(const char *id, size_t n, void *ctx);

static void scan_ragel_idents(const char *s, size_t len, ident_fn fn, void *ctx)
{
    size_t i = 0;
    int prev_when = 0;
    while (i < len) {
        char c = s[i];
        if (c == '"' || c == '\'') {
            i++;
            while (i < len && s[i] != c) { if (s[i] == '\\') i++; i++; }
            i++;
            if (i < len && s[i] == 'i') i++;
            continue;
        }
        if (c == '[') {
            i++;
            while (i < len && s[i] != ']') { if (s[i] == '\\') i++; i++; }
            i++;
            continue;
        }
        if (c == '#') { while (i < len && s[i] != '\n') i++; continue; }
        if (c == '{') {
            int depth = 1;
            i++;
            while (i < len && depth) {
                if (s[i] == '{') depth++;
                else if (s[i] == '}') depth--;
                else if (s[i] == '"' || s[i] == '\'') {
                    char q = s[i++];
                    while (i < len && s[i] != q) { if (s[i] == '\\') i++; i++; }
                }
                i++;
            }
            continue;
        }
        if (isdigit((unsigned char)c)) { while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_')) i++; continue; }
        if (isalpha((unsigned char)c) || c == '_') {
            size_t b = i, k;
            int action = 0;
            while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_')) i++;
            /* look back over white space for an action-embedding operator */
            k = b;
            while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t' || s[k - 1] == '\n')) k--;
            if (k > 0) {
                char p1 = s[k - 1], p2 = k > 1 ? s[k - 2] : 0, p3 = k > 2 ? s[k - 3] : 0;
                if (p1 == '@' || p1 == '$' || p1 == '%') action = 1;
                else if (p1 == '>') action = !(p2 == ':' || (p2 == '>' && p3 == ':'));
                else if (p1 == '<') action = 1;
                else if (strchr("~*/!^", p1) && p2 && strchr(">@$%<", p2)) action = !(p2 == '>' && p3 == ':');
            }
            if (prev_when) action = 1;
            prev_when = (i - b == 4 && strncmp(s + b, "when", 4) == 0) ||
                        (i - b == 6 && strncmp(s + b, "inwhen", 6) == 0) ||
                        (i - b == 7 && strncmp(s + b, "outwhen", 7) == 0);
            if (!action && !prev_when) fn(s + b, i - b, ctx);
            continue;
        }
        i++;
    }
}

static void parse_overlay(const char *path)
{
    const char *s = read_file(path);
    size_t p = 0;
    int line = 1;
    Buf comment = {0, 0, 0};
    while (s[p]) {
        size_t b = p, nb, ne, tb, te;
        int dline, idx, depth;
        char *name;
        while (s[p] == ' ' || s[p] == '\t') p++;
        if (s[p] == '\n' || s[p] == 0) { /* blank line: a comment block not followed by a definition is dropped */
            comment.n = 0;
            if (comment.s) comment.s[0] = 0;
            if (s[p]) { p++; line++; }
            continue;
        }
        if (s[p] == '#' && s[p + 1] == '@') {
            size_t d = p + 2;
            while (s[p] && s[p] != '\n') p++;
            {
                char *t = xstrndup(s + d, p - d);
                overlay_directive(path, line, t);
                free(t);
            }
            if (s[p]) { p++; line++; }
            continue;
        }
        if (s[p] == '#') {
            while (s[p] && s[p] != '\n') p++;
            bput(&comment, s + b, p - b);
            bputs(&comment, "\n");
            if (s[p]) { p++; line++; }
            continue;
        }
        dline = line;
        if (!(isalpha((unsigned char)s[p]) || s[p] == '_')) {
            err_at(path, line, "overlay: definition 'name = ... ;' expected");
            return;
        }
        nb = p;
        while (isalnum((unsigned char)s[p]) || s[p] == '_') p++;
        ne = p;
        while (s[p] == ' ' || s[p] == '\t' || s[p] == '\n') { if (s[p] == '\n') line++; p++; }
        if (s[p] != '=' || s[p + 1] == '=') {
            err_at(path, dline, "overlay: '=' expected after '%.*s' (only 'name = ... ;' definitions are allowed)",
                   (int)(ne - nb), s + nb);
            return;
        }
        p++;
        tb = p;
        depth = 0;
        for (;;) {
            char c = s[p];
            if (c == 0) { err_at(path, dline, "overlay: definition of '%.*s' not terminated by ';'", (int)(ne - nb), s + nb); return; }
            if (c == '\n') line++;
            if (c == '"' || c == '\'' || c == '[') {
                char q = c == '[' ? ']' : c;
                p++;
                while (s[p] && s[p] != q && s[p] != '\n') { if (s[p] == '\\' && s[p + 1]) p++; p++; }
                if (s[p] != q) { err_at(path, line, "overlay: unterminated %c in '%.*s'", c, (int)(ne - nb), s + nb); return; }
                p++;
                continue;
            }
            if (c == '#' && depth == 0) { while (s[p] && s[p] != '\n') p++; continue; }
            if (c == '{') depth++;
            if (c == '}') depth--;
            if (c == ';' && depth == 0) break;
            p++;
        }
        te = p;
        p++;
        while (s[p] == ' ' || s[p] == '\t') p++;
        if (s[p] == '#') while (s[p] && s[p] != '\n') p++;
        if (s[p] && s[p] != '\n') { err_at(path, line, "overlay: text after ';' (one definition per line group)"); return; }
        if (s[p]) { p++; line++; }
        while (tb < te && isspace((unsigned char)s[tb])) tb++;
        while (te > tb && isspace((unsigned char)s[te - 1])) te--;
        name = xstrndup(s + nb, ne - nb);
        idx = find_rname(name);
        if (idx >= 0 && rules[idx].overlay) {
            err_at(path, dline, "overlay: duplicate definition of '%s' (first at %s:%d)", name, rules[idx].ofile, rules[idx].oline);
            continue;
        }
        if (idx < 0) {
            if (is_reserved(name)) { err_at(path, dline, "overlay: '%s' is a Ragel keyword or builtin", name); continue; }
            idx = new_rule();
            rules[idx].name = NULL;
            rules[idx].rname = name;
            rules[idx].file = path;
            rules[idx].line = dline;
            rules[idx].order = rule_order++;
        }
        rules[idx].overlay = 1;
        rules[idx].otext = xstrndup(s + tb, te - tb);
        rules[idx].ocomment = xstrdup(comment.s ? comment.s : "");
        rules[idx].ofile = path;
        rules[idx].oline = dline;
        comment.n = 0;
        if (comment.s) comment.s[0] = 0;
    }
}

/* ------------------------------------------------------------------ resolution, unrolling */

static void add_dep(Rule *r, int d)
{
    int i;
    for (i = 0; i < r->ndeps; i++)
        if (r->deps[i] == d) return;
    r->deps = xrealloc(r->deps, (size_t)(r->ndeps + 1) * sizeof(int));
    r->deps[r->ndeps++] = d;
}

static void resolve(Node *n, int ri)
{
    int i;
    if (!n) return;
    if (n->kind == N_REF && n->ref < 0) {
        int idx = find_rule(n->text);
        if (idx < 0) { /* a name the overlay adds (Ragel spelling of the ABNF name) */
            char *rn = ragel_name(n->text);
            idx = find_rname(rn);
            if (idx >= 0 && !(rules[idx].overlay && !rules[idx].name)) idx = -1;
            free(rn);
        }
        if (idx < 0) {
            err_at(rules[ri].file, n->line, "undefined rule '%s' referenced in rule '%s'", n->text, rules[ri].name);
            return;
        }
        n->ref = idx;
    }
    if (n->kind == N_PROSE && !rules[ri].overlay)
        err_at(rules[ri].file, n->line, "prose value <%s> in rule '%s' cannot be translated; replace the rule in the overlay",
               n->text, rules[ri].name);
    for (i = 0; i < n->nkids; i++) resolve(n->kids[i], ri);
}

static void collect_deps(Node *n, Rule *r)
{
    int i;
    if (!n) return;
    if (n->kind == N_REF && n->ref >= 0) add_dep(r, n->ref);
    for (i = 0; i < n->nkids; i++) collect_deps(n->kids[i], r);
}

struct ovl_ctx { Rule *r; int self; };
static void ovl_ident(const char *id, size_t n, void *vctx)
{
    struct ovl_ctx *ctx = vctx;
    char *name = xstrndup(id, n);
    int idx = find_rname(name);
    if (idx >= 0) add_dep(ctx->r, idx);
    free(name);
}

static int refs_rule(Node *n, int target)
{
    int i;
    if (!n) return 0;
    if (n->kind == N_REF && n->ref == target) return 1;
    for (i = 0; i < n->nkids; i++)
        if (refs_rule(n->kids[i], target)) return 1;
    return 0;
}

/* copy of n with references to `self` replaced by `repl` (-1: removed -> NULL = empty language) */
static Node *subst(Node *n, int self, int repl)
{
    Node *c;
    int i;
    if (n->kind == N_REF && n->ref == self) {
        if (repl < 0) return NULL;
        c = node(N_REF, n->line);
        c->text = n->text;
        c->ref = repl;
        return c;
    }
    c = node(n->kind, n->line);
    *c = *n;
    c->kids = NULL;
    c->nkids = 0;
    for (i = 0; i < n->nkids; i++) {
        Node *k = subst(n->kids[i], self, repl);
        if (k) add_kid(c, k);
        else if (n->kind == N_CAT) return NULL;
        else if (n->kind == N_REP && n->lo > 0) return NULL;
        else if (n->kind == N_REP || n->kind == N_OPT) return node(N_EPS, n->line);
    }
    if (n->kind == N_ALT && c->nkids == 0) return NULL;
    if (n->kind == N_ALT && c->nkids == 1) return c->kids[0];
    return c;
}

static void unroll(const char *spec)
{
    const char *eq = strchr(spec, '=');
    char *name, *end;
    long depth;
    int idx, k, prev;
    if (!eq) die("%s: --unroll expects NAME=N, got '%s'", progname, spec);
    name = xstrndup(spec, (size_t)(eq - spec));
    depth = strtol(eq + 1, &end, 10);
    if (*end || depth < 1 || depth > 64) die("%s: --unroll %s: depth must be 1..64", progname, spec);
    idx = find_rule(name);
    if (idx < 0) idx = find_rname(name);
    if (idx < 0 || !rules[idx].body) die("%s: --unroll %s: no ABNF rule named '%s'", progname, spec, name);
    if (rules[idx].overlay)
        die("%s: --unroll %s: rule '%s' is replaced by the overlay; drop the --unroll", progname, spec, name);
    if (!refs_rule(rules[idx].body, idx))
        die("%s: --unroll %s: rule '%s' is not self-recursive", progname, spec, name);
    prev = -1;
    for (k = 1; k <= depth; k++) {
        int d;
        char buf[256];
        Rule *r;
        snprintf(buf, sizeof buf, "%s_d%d", rules[idx].rname, k);
        if (find_rname(buf) >= 0) die("%s: --unroll %s: name '%s' is taken", progname, spec, buf);
        d = new_rule();
        r = &rules[d];
        r->rname = xstrdup(buf);
        r->name = NULL;
        r->file = rules[idx].file;
        r->line = rules[idx].line;
        r->order = rules[idx].order;
        r->sub = k;
        r->generated = 1;
        r->unrolled_from = idx;
        r->body = subst(rules[idx].body, idx, prev);
        if (!r->body)
            die("%s:%d: recursive rule '%s' has no non-recursive alternative; it cannot be unrolled",
                rules[idx].file, rules[idx].line, rules[idx].name);
        prev = d;
    }
    {
        Node *n = node(N_REF, rules[idx].line);
        n->text = rules[prev].rname;
        n->ref = prev;
        rules[idx].body = n;
        rules[idx].sub = (int)depth + 1;
        rules[idx].unrolled_from = (int)depth; /* reuse: remember depth for the comment */
    }
    free(name);
}

/* ------------------------------------------------------------------ ordering (Tarjan + stable Kahn) */

static int *t_index, *t_low, *t_onstack, *t_stack, t_sp, t_counter, *t_comp, t_ncomp;

static void tarjan(int v)
{
    int i;
    t_index[v] = t_low[v] = t_counter++;
    t_stack[t_sp++] = v;
    t_onstack[v] = 1;
    for (i = 0; i < rules[v].ndeps; i++) {
        int w = rules[v].deps[i];
        if (t_index[w] < 0) {
            tarjan(w);
            if (t_low[w] < t_low[v]) t_low[v] = t_low[w];
        } else if (t_onstack[w] && t_index[w] < t_low[v])
            t_low[v] = t_index[w];
    }
    if (t_low[v] == t_index[v]) {
        int w;
        do {
            w = t_stack[--t_sp];
            t_onstack[w] = 0;
            t_comp[w] = t_ncomp;
        } while (w != v);
        t_ncomp++;
    }
}

static const char *disp_name(int i) { return rules[i].name ? rules[i].name : rules[i].rname; }

static int before(int a, int b) /* tie-break: file order, then unroll level */
{
    if (rules[a].order != rules[b].order) return rules[a].order < rules[b].order;
    return rules[a].sub < rules[b].sub;
}

static int *order_rules(void)
{
    int i, j, n = nrules, *out = xmalloc((size_t)n * sizeof(int)), nout = 0, cycles = 0;
    int *emitted = xmalloc((size_t)n * sizeof(int));
    t_index = xmalloc((size_t)n * sizeof(int));
    t_low = xmalloc((size_t)n * sizeof(int));
    t_onstack = xmalloc((size_t)n * sizeof(int));
    t_stack = xmalloc((size_t)n * sizeof(int));
    t_comp = xmalloc((size_t)n * sizeof(int));
    for (i = 0; i < n; i++) t_index[i] = -1, t_onstack[i] = 0, emitted[i] = 0;
    t_sp = t_counter = t_ncomp = 0;
    for (i = 0; i < n; i++)
        if (t_index[i] < 0) tarjan(i);
    /* report every cycle once */
    for (i = 0; i < n; i++) {
        int size = 0, self = 0, first = -1;
        for (j = 0; j < n; j++)
            if (t_comp[j] == t_comp[i]) {
                size++;
                if (first < 0 || before(j, first)) first = j;
            }
        for (j = 0; j < rules[i].ndeps; j++)
            if (rules[i].deps[j] == i) self = 1;
        if (first != i || (size == 1 && !self)) continue;
        cycles++;
        if (size == 1) {
            err_at(rules[i].file, rules[i].line, "recursive rule '%s' (cycle: %s -> %s); use --unroll %s=N or replace it in the overlay",
                   disp_name(i), disp_name(i), disp_name(i), disp_name(i));
        } else {
            /* shortest cycle through `first` by BFS inside the component */
            int *par = xmalloc((size_t)n * sizeof(int)), *q = xmalloc((size_t)n * sizeof(int)), qh = 0, qt = 0, last = -1;
            Buf msg = {0, 0, 0};
            int *path = xmalloc((size_t)(n + 1) * sizeof(int)), np = 0, k;
            for (j = 0; j < n; j++) par[j] = -2;
            par[first] = -1;
            q[qt++] = first;
            while (qh < qt && last < 0) {
                int v = q[qh++];
                for (k = 0; k < rules[v].ndeps; k++) {
                    int w = rules[v].deps[k];
                    if (t_comp[w] != t_comp[first]) continue;
                    if (w == first) { last = v; break; }
                    if (par[w] == -2) { par[w] = v; q[qt++] = w; }
                }
            }
            for (k = last; k >= 0; k = par[k]) path[np++] = k;
            for (k = np - 1; k >= 0; k--) { bputs(&msg, disp_name(path[k])); bputs(&msg, " -> "); }
            bputs(&msg, disp_name(first));
            err_at(rules[first].file, rules[first].line, "cycle between rules: %s (only self-recursion can be unrolled)", msg.s);
            free(par); free(q); free(path); free(msg.s);
        }
    }
    if (cycles) return NULL;
    /* stable topological order: repeatedly emit the earliest rule whose deps are all emitted */
    while (nout < n) {
        int best = -1;
        for (i = 0; i < n; i++) {
            int ok = !emitted[i];
            for (j = 0; ok && j < rules[i].ndeps; j++)
                if (!emitted[rules[i].deps[j]]) ok = 0;
            if (ok && (best < 0 || before(i, best))) best = i;
        }
        if (best < 0) die("%s: internal error: no rule ready", progname);
        emitted[best] = 1;
        out[nout++] = best;
    }
    free(emitted);
    return out;
}

/* ------------------------------------------------------------------ Ragel emission */

static int is_compound(const Node *n) { return n->kind == N_ALT || n->kind == N_CAT || (n->kind == N_SEQ && n->nvals > 1); }

static void emit_node(Buf *b, const Node *n, int top);

static void emit_atom(Buf *b, const Node *n)
{
    if (is_compound(n)) {
        if (n->kind == N_SEQ) { emit_node(b, n, 0); return; } /* already parenthesised */
        bputs(b, "( ");
        emit_node(b, n, 1);
        bputs(b, " )");
    } else
        emit_node(b, n, 0);
}

static void emit_node(Buf *b, const Node *n, int top)
{
    int i;
    const char *s;
    switch (n->kind) {
    case N_ALT:
    case N_CAT:
        if (!top) bputs(b, "( ");
        for (i = 0; i < n->nkids; i++) {
            if (i) bputs(b, n->kind == N_ALT ? " | " : " . ");
            if (is_compound(n->kids[i])) emit_atom(b, n->kids[i]);
            else emit_node(b, n->kids[i], 0);
        }
        if (!top) bputs(b, " )");
        break;
    case N_REP: {
        const Node *k = n->kids[0];
        if (n->hi == 0) { bputs(b, "zlen"); break; }
        if (n->kind == N_REP && n->lo == 1 && n->hi == 1) { emit_node(b, k, top); break; }
        /* repetition applies to an atom: parenthesise compounds and dotted sequences */
        if (is_compound(k) || k->kind == N_REP || k->kind == N_OPT) {
            if (k->kind == N_SEQ) emit_node(b, k, 0);
            else { bputs(b, "( "); emit_node(b, k, 1); bputs(b, " )"); }
        } else
            emit_node(b, k, 0);
        if (n->lo == 0 && n->hi == REP_INF) bputs(b, "*");
        else if (n->lo == 1 && n->hi == REP_INF) bputs(b, "+");
        else if (n->lo == 0 && n->hi == 1) bputs(b, "?");
        else if (n->hi == REP_INF) bprintf(b, "{%u,}", n->lo);
        else if (n->lo == n->hi) bprintf(b, "{%u}", n->lo);
        else if (n->lo == 0) bprintf(b, "{,%u}", n->hi);
        else bprintf(b, "{%u,%u}", n->lo, n->hi);
        break;
    }
    case N_OPT:
        bputs(b, "( ");
        emit_node(b, n->kids[0], 1);
        bputs(b, " )?");
        break;
    case N_REF:
        bputs(b, rules[n->ref].rname);
        break;
    case N_STR: {
        int letters = 0;
        if (!n->text[0]) { bputs(b, "zlen"); break; }
        bputs(b, "\"");
        for (s = n->text; *s; s++) {
            if (*s == '\\' || *s == '"') bputs(b, "\\");
            if (isalpha((unsigned char)*s)) letters = 1;
            bput(b, s, 1);
        }
        bputs(b, letters && !n->cs ? "\"i" : "\"");
        break;
    }
    case N_RANGE:
        if (n->lo == n->hi) bprintf(b, "0x%02X", n->lo);
        else bprintf(b, "0x%02X..0x%02X", n->lo, n->hi);
        break;
    case N_SEQ:
        if (n->nvals == 1) { bprintf(b, "0x%02X", n->vals[0]); break; }
        bputs(b, "(");
        for (i = 0; i < n->nvals; i++) bprintf(b, "%s0x%02X", i ? " . " : " ", n->vals[i]);
        bputs(b, " )");
        break;
    case N_EPS:
        bputs(b, "zlen");
        break;
    case N_PROSE:
        bputs(b, "zlen"); /* unreachable: prose is rejected unless the rule is replaced */
        break;
    }
}

static void emit_header(Buf *b, const char *open, const char *pre, const char *close)
{
    bprintf(b, "%s GENERATED by gen/abnf2rl " EM_DASH " DO NOT EDIT.\n", open);
    bprintf(b, "%s Command: %s\n", pre, cmdline);
    bprintf(b, "%s Edit the inputs named in the command and regenerate (see gen/README.md).\n", pre);
    if (close) bprintf(b, "%s\n", close);
}

static void wrap_alt(Buf *out, const char *line, size_t indent)
{
    /* break a long top-level union at " | " (depth 0, outside strings) */
    int depth = 0, instr = 0;
    const char *s;
    for (s = line; *s; s++) {
        if (instr) {
            if (*s == '\\' && s[1]) { bput(out, s, 2); s++; continue; }
            if (*s == '"') instr = 0;
            bput(out, s, 1);
            continue;
        }
        if (*s == '"') instr = 1;
        if (*s == '(') depth++;
        if (*s == ')') depth--;
        if (depth == 0 && s[0] == ' ' && s[1] == '|' && s[2] == ' ') {
            size_t k;
            bputs(out, "\n");
            for (k = 0; k < indent; k++) bputs(out, " ");
            bputs(out, "| ");
            s += 2;
            continue;
        }
        bput(out, s, 1);
    }
}


static int lookup_any(const char *name)
{
    int idx = find_rule(name);
    if (idx < 0) {
        char *rn = ragel_name(name);
        idx = find_rname(rn);
        free(rn);
    }
    return idx;
}

/* The overlay's rewrites first, then the machine file's, which may rewrite
 * what the overlay put in. */
static void apply_rewrites(void)
{
    int i, j, pass;
    for (pass = 0; pass < 2; pass++)
    for (i = 0; i < nrewrites; i++) {
        Rewrite *w = &rewrites[i];
        if (w->machine != pass) continue;
        int old = lookup_any(w->for_), neu = lookup_any(w->use);
        if (old < 0 || neu < 0) {
            err_at(w->file, w->line, "overlay: #@ in: no rule '%s'", old < 0 ? w->for_ : w->use);
            continue;
        }
        for (j = 0; j < w->nin; j++) {
            int r = find_rule(w->in[j]);
            if (r < 0 || !rules[r].body) {
                err_at(w->file, w->line, "overlay: #@ in: no ABNF rule '%s'", w->in[j]);
                continue;
            }
            if (!refs_rule(rules[r].body, old)) {
                err_at(w->file, w->line, "overlay: #@ in: rule '%s' does not reference '%s'", w->in[j], w->for_);
                continue;
            }
            rules[r].body = subst(rules[r].body, old, neu);
        }
    }
}

/* HEADER-value: the elements of HEADER's rule after HCOLON, so that a value
 * machine starts where the frame machine leaves the header name. */
static void derive_values(void)
{
    int i, k, hcolon = find_rule("HCOLON");
    for (i = 0; i < ndir_values; i++) {
        int h = find_rule(dir_values[i]), idx;
        Node *body, *cat;
        Buf name = {0, 0, 0};
        if (h < 0 || !rules[h].body) { err_at("#@ value", 0, "no ABNF rule '%s'", dir_values[i]); continue; }
        body = rules[h].body;
        for (k = 0; body->kind == N_CAT && k < body->nkids; k++)
            if (body->kids[k]->kind == N_REF && body->kids[k]->ref == hcolon) break;
        if (body->kind != N_CAT || k >= body->nkids - 1) {
            err_at(rules[h].file, rules[h].line, "#@ value: rule '%s' is not 'names HCOLON value'", dir_values[i]);
            continue;
        }
        bprintf(&name, "%s-value", rules[h].name);
        if (find_rule(name.s) >= 0) continue;
        if (k == body->nkids - 2) {
            body = body->kids[k + 1];
        } else {
            cat = node(N_CAT, rules[h].line);
            for (k = k + 1; k < rules[h].body->nkids; k++) add_kid(cat, rules[h].body->kids[k]);
            body = cat;
        }
        idx = new_rule();
        rules[idx].name = name.s;
        rules[idx].rname = ragel_name(name.s);
        rules[idx].file = rules[h].file;
        rules[idx].line = rules[h].line;
        rules[idx].body = body;
        rules[idx].order = rule_order++;
    }
}

static void apply_attaches(void)
{
    int i;
    for (i = 0; i < nattaches; i++) {
        Attach *a = &attaches[i];
        int idx = lookup_any(a->rule);
        Buf t = {0, 0, 0};
        if (idx < 0) { err_at(a->file, a->line, "#@ attach: no rule '%s'", a->rule); continue; }
        if (rules[idx].attach) { bputs(&t, rules[idx].attach); bputs(&t, " "); }
        bputs(&t, a->text);
        rules[idx].attach = t.s;
    }
}

static void cmd_rules(int argc, char **argv)
{
    const char *out = NULL, *overlay = NULL, *machine = "sip_rules";
    const char **roots = xmalloc((size_t)argc * sizeof(char *));
    int nroots = 0, *keep;
    const char **files = xmalloc((size_t)argc * sizeof(char *));
    const char **unrolls = xmalloc((size_t)argc * sizeof(char *));
    int nfiles = 0, nunroll = 0, i, *order, emitted = 0, replaced = 0, added = 0;
    Buf b = {0, 0, 0};
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out = argv[++i];
        else if (strcmp(argv[i], "--unroll") == 0 && i + 1 < argc) unrolls[nunroll++] = argv[++i];
        else if (strncmp(argv[i], "--unroll=", 9) == 0) unrolls[nunroll++] = argv[i] + 9;
        else if (strcmp(argv[i], "--machine") == 0 && i + 1 < argc) machine = argv[++i];
        else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) roots[nroots++] = argv[++i];
        else if (strcmp(argv[i], "--rl") == 0 && i + 1 < argc) read_directives(argv[++i], 0);
        else if (strcmp(argv[i], "--overlay") == 0 && i + 1 < argc) {
            if (overlay) die("%s: only one --overlay", progname);
            overlay = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1])
            die("%s: rules: unknown or incomplete option '%s' (try --help)", progname, argv[i]);
        else
            files[nfiles++] = argv[i];
    }
    if (!out) die("%s: rules: -o OUT.rl is required (try --help)", progname);
    if (!nfiles) die("%s: rules: no ABNF input files (try --help)", progname);
    for (i = 0; i < nfiles; i++) parse_abnf_file(files[i]);
    if (nerrors) exit(1);
    /* Ragel names must be unique too (e.g. "a-b" vs an overlay "a_b" is handled by find_rname) */
    for (i = 0; i < nrules; i++) {
        int j;
        for (j = 0; j < i; j++)
            if (strcmp(rules[i].rname, rules[j].rname) == 0)
                err_at(rules[i].file, rules[i].line, "rule '%s' maps to Ragel name '%s', already used by '%s' (%s:%d)",
                       rules[i].name, rules[i].rname, rules[j].name, rules[j].file, rules[j].line);
    }
    if (overlay) parse_overlay(overlay);
    if (nerrors) exit(1);
    {
        int n0 = nrules;
        for (i = 0; i < n0; i++)
            if (rules[i].body && !rules[i].overlay) resolve(rules[i].body, i);
    }
    if (nerrors) exit(1);
    for (i = 0; i < nunroll; i++) unroll(unrolls[i]);
    apply_rewrites();
    derive_values();
    apply_attaches();
    if (nerrors) exit(1);
    if (ndir_roots) {
        roots = xrealloc(roots, (size_t)(nroots + ndir_roots) * sizeof *roots);
        for (i = 0; i < ndir_roots; i++) roots[nroots++] = dir_roots[i];
    }
    for (i = 0; i < nrules; i++) {
        if (rules[i].overlay) {
            struct ovl_ctx ctx;
            ctx.r = &rules[i];
            ctx.self = i;
            scan_ragel_idents(rules[i].otext, strlen(rules[i].otext), ovl_ident, &ctx);
        } else
            collect_deps(rules[i].body, &rules[i]);
    }
    order = order_rules();
    if (!order || nerrors) exit(1);
    /* --root: keep only what the roots need (transitively) */
    keep = xmalloc((size_t)nrules * sizeof(int));
    for (i = 0; i < nrules; i++) keep[i] = nroots == 0;
    for (i = 0; i < nroots; i++) {
        int r = find_rule(roots[i]);
        if (r < 0) r = find_rname(roots[i]);
        if (r < 0) die("%s: --root %s: no such rule", progname, roots[i]);
        keep[r] = 1;
    }
    for (i = nrules - 1; i >= 0; i--) { /* reverse dependency order: users before their deps */
        int j, v = order[i];
        if (keep[v])
            for (j = 0; j < rules[v].ndeps; j++) keep[rules[v].deps[j]] = 1;
    }

    emit_header(&b, "/*", " *", " */");
    bputs(&b, "%%{\n");
    bprintf(&b, "  machine %s;\n\n", machine);
    bputs(&b, "  # One definition per ABNF rule, in dependency order (Ragel needs define-before-use).\n");
    bputs(&b, "  # Mapping: name-with-dashes -> name_with_dashes (Ragel keywords/builtins get abnf_),\n");
    bputs(&b, "  # \"x\" -> \"x\"i, %s\"x\" -> \"x\", %xNN -> 0xNN, *x -> x*, 1*x -> x+, n*m -> {n,m}, [x] -> (x)?.\n");
    bputs(&b, "  # The ABNF is IETF code components (RFC 5234, RFC 3261 and extensions), reusable under\n");
    bputs(&b, "  # the Simplified BSD Licence with attribution: see the headers of the input files.\n");
    for (i = 0; i < nrules; i++) {
        Rule *r = &rules[order[i]];
        Buf line = {0, 0, 0};
        if (!keep[order[i]]) continue;
        bputs(&b, "\n");
        if (r->overlay) {
            if (r->name) {
                bprintf(&b, "  # %s (%s:%d) " EM_DASH " replaced by overlay %s:%d\n", r->name, r->file, r->line, r->ofile, r->oline);
                replaced++;
            } else {
                bprintf(&b, "  # overlay %s:%d\n", r->ofile, r->oline);
                added++;
            }
            if (r->ocomment[0]) {
                const char *s = r->ocomment;
                while (*s) {
                    const char *e = strchr(s, '\n');
                    while (*s == ' ' || *s == '\t') s++;
                    bputs(&b, "  ");
                    bput(&b, s, (size_t)(e - s) + 1);
                    s = e + 1;
                }
            }
            if (r->attach)
                bprintf(&b, "  %s = ( %s ) %s;\n", r->rname, r->otext, r->attach);
            else
                bprintf(&b, "  %s = %s;\n", r->rname, r->otext);
            emitted++;
            continue;
        }
        if (r->generated)
            bprintf(&b, "  # %s (%s:%d) unrolled, level %d: %s\n", rules[r->unrolled_from].name, r->file, r->line, r->sub,
                    r->sub == 1 ? "recursive alternative removed" : "recursion replaced by the level below");
        else if (r->sub)
            bprintf(&b, "  # %s (%s:%d) unrolled to depth %d: nesting deeper than %d is rejected\n", r->name, r->file, r->line,
                    r->sub - 1, r->sub - 1);
        else
            bprintf(&b, "  # %s (%s:%d)\n", r->name, r->file, r->line);
        emit_node(&line, r->body, 1);
        bprintf(&b, "  %s =", r->rname);
        if (r->attach) {
            bprintf(&b, " ( %s ) %s", line.s, r->attach);
        } else if (line.n > 100 && r->body->kind == N_ALT) {
            bputs(&b, "\n      ");
            wrap_alt(&b, line.s, 4);
        } else {
            bputs(&b, " ");
            bputs(&b, line.s);
        }
        bputs(&b, ";\n");
        free(line.s);
        emitted++;
    }
    bprintf(&b, "\n  # %d rules emitted (%d replaced by the overlay, %d added by the overlay).\n", emitted, replaced, added);
    bputs(&b, "}%%\n");
    write_out(out, &b);
}

/* ------------------------------------------------------------------ headers mode */

typedef struct {
    char *name, *compact, *rfc, *rule, *ident, *upper;
    int eager, list, line;
} Hdr;

static char *hdr_ident(const char *name, int upper)
{
    char *s = xstrdup(name), *p;
    for (p = s; *p; p++) {
        if (*p == '-' || *p == '.' || *p == '!' || *p == '%' || *p == '*' || *p == '+' || *p == '`' || *p == '\'' || *p == '~')
            *p = '_';
        else if (upper)
            *p = (char)toupper((unsigned char)*p);
    }
    return s;
}

static int is_token_char(int c) { return isalnum(c) || (c && strchr("-.!%*_+`'~", c)); }

static void c_string(Buf *b, const char *s)
{
    bputs(b, "\"");
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') bputs(b, "\\");
        bput(b, s, 1);
    }
    bputs(b, "\"");
}

static void dict_entry(Buf *b, const char *s)
{
    bputs(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\' || c == '"') bprintf(b, "\\%c", c);
        else if (c < 0x20 || c > 0x7e) bprintf(b, "\\x%02x", c);
        else bput(b, s, 1);
    }
    bputs(b, "\"\n");
}

static const char *const fuzz_methods[] = {
    "INVITE", "ACK", "OPTIONS", "BYE", "CANCEL", "REGISTER", /* RFC 3261 */
    "PRACK", "UPDATE", "REFER", "SUBSCRIBE", "NOTIFY", "MESSAGE", "INFO", NULL
};
static const char *const fuzz_fixed[] = {
    "SIP/2.0", "SIP/2.0/UDP ", "SIP/2.0/TCP ", "SIP/2.0/TLS ", "\r\n", "\r\n ", "\r\n\r\n", ": ", ", ", ";",
    ";branch=z9hG4bK", ";tag=", ";lr", ";received=", ";rport", ";maddr=", ";ttl=", ";transport=",
    ";user=phone", ";expires=", ";q=", "sip:", "sips:", "tel:", "<", ">", "@", "\"", "[", "]", "::",
    "Digest ", "username=", "realm=", "nonce=", "uri=", "response=", "algorithm=", "qop=",
    NULL
};

/* Slots of the generated header-name hash (a power of two, more than twice
 * the names plus compact forms it may hold). */
#define HDR_HASH_SIZE 256

static void cmd_headers(int argc, char **argv)
{
    const char *tsv = NULL, *ids = NULL, *table = NULL, *table_h = NULL, *names = NULL, *dict = NULL;
    char *text, *line, *next, *th = NULL;
    Hdr *h = NULL;
    int nh = 0, ln = 0, i, j;
    for (i = 2; i < argc; i++) {
        const char **dst = NULL;
        if (strcmp(argv[i], "-t") == 0) dst = &tsv;
        else if (strcmp(argv[i], "--ids") == 0) dst = &ids;
        else if (strcmp(argv[i], "--table") == 0) dst = &table;
        else if (strcmp(argv[i], "--table-h") == 0) dst = &table_h;
        else if (strcmp(argv[i], "--names") == 0) dst = &names;
        else if (strcmp(argv[i], "--dict") == 0) dst = &dict;
        if (!dst || i + 1 >= argc) die("%s: headers: unknown or incomplete option '%s' (try --help)", progname, argv[i]);
        *dst = argv[++i];
    }
    if (!tsv) die("%s: headers: -t headers.tsv is required (try --help)", progname);
    if (table && !table_h) {
        size_t n = strlen(table);
        th = xmalloc(n + 3);
        strcpy(th, table);
        if (n > 2 && strcmp(th + n - 2, ".c") == 0) th[n - 1] = 'h';
        else strcat(th, ".h");
        table_h = th;
    }
    text = read_file(tsv);
    for (line = text; line && *line; line = next) {
        char *f[7];
        int nf = 0;
        char *p;
        ln++;
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (line[0] == '#' || line[0] == 0) continue;
        f[nf++] = line;
        for (p = line; *p; p++)
            if (*p == '\t') {
                *p = 0;
                if (nf == 7) break;
                f[nf++] = p + 1;
            }
        if (nf != 6) { err_at(tsv, ln, "malformed row: %d tab-separated columns, expected 6 (name compact rfc mode list rule)", nf); continue; }
        for (j = 0; j < 6; j++)
            if (!f[j][0]) break;
        if (j < 6) { err_at(tsv, ln, "malformed row: column %d is empty", j + 1); continue; }
        for (p = f[0]; *p && is_token_char((unsigned char)*p); p++) {}
        if (*p || strlen(f[0]) > 255) { err_at(tsv, ln, "malformed row: header name '%s' is not a token", f[0]); continue; }
        if (strcmp(f[1], "-") != 0 && !(isalpha((unsigned char)f[1][0]) && f[1][1] == 0)) {
            err_at(tsv, ln, "malformed row: compact form '%s' must be one letter or -", f[1]);
            continue;
        }
        if (strcmp(f[3], "eager") != 0 && strcmp(f[3], "lazy") != 0) { err_at(tsv, ln, "malformed row: mode '%s' must be eager or lazy", f[3]); continue; }
        if (strcmp(f[4], "list") != 0 && strcmp(f[4], "one") != 0) { err_at(tsv, ln, "malformed row: '%s' must be list or one", f[4]); continue; }
        for (p = f[5]; *p && (isalnum((unsigned char)*p) || *p == '-'); p++) {}
        if (*p || !isalpha((unsigned char)f[5][0])) { err_at(tsv, ln, "malformed row: rule '%s' is not an ABNF rule name", f[5]); continue; }
        for (p = f[2]; *p; p++)
            if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) break;
        if (*p) { err_at(tsv, ln, "malformed row: rfc column contains '\"', '\\' or a control character"); continue; }
        h = xrealloc(h, (size_t)(nh + 1) * sizeof *h);
        h[nh].name = xstrdup(f[0]);
        h[nh].compact = strcmp(f[1], "-") == 0 ? NULL : xstrdup(f[1]);
        h[nh].rfc = xstrdup(f[2]);
        h[nh].eager = strcmp(f[3], "eager") == 0;
        h[nh].list = strcmp(f[4], "list") == 0;
        h[nh].rule = xstrdup(f[5]);
        h[nh].ident = hdr_ident(f[0], 0);
        h[nh].upper = hdr_ident(f[0], 1);
        h[nh].line = ln;
        for (j = 0; j < nh; j++) {
            if (ieq(h[j].name, h[nh].name))
                err_at(tsv, ln, "duplicate header name '%s' (first at line %d)", h[nh].name, h[j].line);
            else if (strcmp(h[j].upper, h[nh].upper) == 0)
                err_at(tsv, ln, "header '%s' maps to the same identifier SIPKIT_HDR_%s as '%s' (line %d)", h[nh].name, h[nh].upper,
                       h[j].name, h[j].line);
            if (h[nh].compact && h[j].compact && ieq(h[j].compact, h[nh].compact))
                err_at(tsv, ln, "duplicate compact form '%s' of '%s' (already the compact form of '%s', line %d)", h[nh].compact,
                       h[nh].name, h[j].name, h[j].line);
            if (h[nh].compact && ieq(h[j].name, h[nh].compact))
                err_at(tsv, ln, "compact form '%s' of '%s' equals the name of header '%s' (line %d)", h[nh].compact, h[nh].name,
                       h[j].name, h[j].line);
            if (h[j].compact && ieq(h[j].compact, h[nh].name))
                err_at(tsv, ln, "header name '%s' equals the compact form of '%s' (line %d)", h[nh].name, h[j].name, h[j].line);
        }
        if (h[nh].compact && ieq(h[nh].compact, h[nh].name))
            err_at(tsv, ln, "compact form '%s' equals the header name", h[nh].compact);
        nh++;
    }
    if (nerrors) exit(1);
    if (nh == 0) { err_at(tsv, ln, "no header rows"); exit(1); }
    if (nh > 254) { err_at(tsv, ln, "too many headers (%d; ids are uint8_t-sized)", nh); exit(1); }
    if (2 * nh >= HDR_HASH_SIZE) { err_at(tsv, ln, "too many headers (%d) for the %d-slot name hash", nh, HDR_HASH_SIZE); exit(1); }

    if (ids) {
        Buf b = {0, 0, 0};
        emit_header(&b, "/*", " *", " */");
        bputs(&b, "#ifndef SIPKIT_HDR_IDS_H\n#define SIPKIT_HDR_IDS_H\n\n");
        bputs(&b, "enum sipkit_hdr_id {\n    SIPKIT_HDR_OTHER = 0,\n");
        for (i = 0; i < nh; i++) bprintf(&b, "    SIPKIT_HDR_%s = %d,\n", h[i].upper, i + 1);
        bputs(&b, "    SIPKIT_HDR__COUNT\n};\n\n");
        bprintf(&b, "#define SIPKIT_HDR_COUNT_KNOWN %d\n\n#endif /* SIPKIT_HDR_IDS_H */\n", nh);
        write_out(ids, &b);
    }
    if (table) {
        Buf b = {0, 0, 0}, c = {0, 0, 0};
        const char *base = ids ? ids : "sipkit_hdr_ids.h", *s;
        for (s = base; *s; s++)
            if (*s == '/') base = s + 1;
        emit_header(&b, "/*", " *", " */");
        bputs(&b, "#ifndef SIPKIT_HDR_TABLE_H\n#define SIPKIT_HDR_TABLE_H\n\n#include <stdint.h>\n\n");
        bprintf(&b, "#include \"%s\"\n\n", base);
        bputs(&b, "/* One entry per enum sipkit_hdr_id; index 0 (SIPKIT_HDR_OTHER) has name \"\". */\n");
        bputs(&b, "struct sipkit__hdr_info {\n"
                  "    const char *name;  /* canonical spelling */\n"
                  "    uint8_t name_len;\n"
                  "    char compact;      /* compact form, or 0 */\n"
                  "    uint8_t eager;     /* parsed in the one pass */\n"
                  "    uint8_t list;      /* comma-separated list value */\n"
                  "    const char *rfc;   /* defining RFC and section */\n"
                  "    const char *rule;  /* ABNF rule of the whole header */\n"
                  "};\n\n");
        bputs(&b, "extern const struct sipkit__hdr_info sipkit__hdr_info[SIPKIT_HDR__COUNT];\n\n");
        {
            int kmax = 16;
            for (i = 0; i < nh; i++)
                while ((int)strlen(h[i].name) > kmax) kmax += 16;
            bputs(&b, "/* Header-name lookup for the frame's fast path: every name and compact form\n"
                      " * in an open-addressed hash (linear probing; id 0 ends a probe run).  A key\n"
                      " * holds the name with its letters lowercased and, in fold[], 0x20 at each\n"
                      " * letter, so (byte | fold) == lower is an exact ASCII case-insensitive match\n"
                      " * of any byte.  A name shorter than 16 bytes is followed in lower[] by the\n"
                      " * \":\" that ends it on the line and then by 0xff in both arrays, which any\n"
                      " * byte matches: 16 bytes read from a name's start match all 16 exactly when\n"
                      " * they hold that name and its colon. */\n");
            bprintf(&b, "#define SIPKIT__HDR_HASH_SIZE %d\n", HDR_HASH_SIZE);
            bprintf(&b, "#define SIPKIT__HDR_KEY_MAX %d /* the longest name, rounded up to 16 */\n\n", kmax);
        }
        bputs(&b, "struct sipkit__hdr_key {\n"
                  "    unsigned char lower[SIPKIT__HDR_KEY_MAX]; /* zero padded */\n"
                  "    unsigned char fold[SIPKIT__HDR_KEY_MAX];\n"
                  "};\n\n"
                  "struct sipkit__hdr_slot {\n"
                  "    uint8_t id;  /* enum sipkit_hdr_id; 0: empty slot */\n"
                  "    uint8_t len;\n"
                  "    uint8_t key; /* index in sipkit__hdr_keys */\n"
                  "};\n\n");
        bputs(&b, "/* Slot of s[0..n), n >= 1, before probing; (byte | 0x20) folds case. */\n"
                  "static inline unsigned sipkit__hdr_hash(const unsigned char *s, unsigned n)\n"
                  "{\n"
                  "    return ((s[0] | 0x20u) * 7u + (s[n - 1] | 0x20u) * 5u + n * 3u) & (SIPKIT__HDR_HASH_SIZE - 1);\n"
                  "}\n\n");
        bputs(&b, "extern const struct sipkit__hdr_slot sipkit__hdr_slots[SIPKIT__HDR_HASH_SIZE];\n"
                  "extern const struct sipkit__hdr_key sipkit__hdr_keys[];\n\n"
                  "#endif /* SIPKIT_HDR_TABLE_H */\n");
        write_out(table_h, &b);
        {
            const char *hb = table_h;
            for (s = table_h; *s; s++)
                if (*s == '/') hb = s + 1;
            emit_header(&c, "/*", " *", " */");
            bprintf(&c, "#include \"%s\"\n\n", hb);
        }
        bputs(&c, "const struct sipkit__hdr_info sipkit__hdr_info[SIPKIT_HDR__COUNT] = {\n");
        bputs(&c, "    /* SIPKIT_HDR_OTHER */ { \"\", 0, 0, 0, 0, \"\", \"extension-header\" },\n");
        for (i = 0; i < nh; i++) {
            bprintf(&c, "    /* SIPKIT_HDR_%s */ { ", h[i].upper);
            c_string(&c, h[i].name);
            bprintf(&c, ", %d, ", (int)strlen(h[i].name));
            if (h[i].compact) bprintf(&c, "'%c'", h[i].compact[0]);
            else bputs(&c, "0");
            bprintf(&c, ", %d, %d, ", h[i].eager, h[i].list);
            c_string(&c, h[i].rfc);
            bputs(&c, ", ");
            c_string(&c, h[i].rule);
            bputs(&c, " },\n");
        }
        bputs(&c, "};\n");
        {
            /* the same hash as sipkit__hdr_hash() in the generated header */
            int slot_id[HDR_HASH_SIZE] = {0}, slot_key[HDR_HASH_SIZE] = {0}, nk = 0;
            bputs(&c, "\nconst struct sipkit__hdr_key sipkit__hdr_keys[] = {\n");
            for (i = 0; i < 2 * nh; i++) {
                const char *k = i < nh ? h[i].name : h[i - nh].compact;
                unsigned n, hv;
                if (!k) continue;
                n = (unsigned)strlen(k);
                hv = (((unsigned char)k[0] | 0x20u) * 7u + ((unsigned char)k[n - 1] | 0x20u) * 5u + n * 3u) & (HDR_HASH_SIZE - 1);
                while (slot_id[hv]) hv = (hv + 1) & (HDR_HASH_SIZE - 1);
                slot_id[hv] = (i < nh ? i : i - nh) + 1;
                slot_key[hv] = nk++;
                bputs(&c, "    { \"");
                for (j = 0; k[j]; j++) bprintf(&c, "%c", tolower((unsigned char)k[j]));
                if (n < 16) {
                    bputs(&c, ":");
                    for (j = (int)n + 1; j < 16; j++) bputs(&c, "\\xff");
                }
                bputs(&c, "\", \"");
                for (j = 0; k[j]; j++) bputs(&c, isalpha((unsigned char)k[j]) ? "\\x20" : "\\0");
                if (n < 16) {
                    bputs(&c, "\\0");
                    for (j = (int)n + 1; j < 16; j++) bputs(&c, "\\xff");
                }
                bprintf(&c, "\" }, /* %d: %s */\n", nk - 1, k);
            }
            bputs(&c, "};\n\nconst struct sipkit__hdr_slot sipkit__hdr_slots[SIPKIT__HDR_HASH_SIZE] = {\n");
            for (i = 0; i < HDR_HASH_SIZE; i++)
                if (slot_id[i])
                    bprintf(&c, "    [%d] = { SIPKIT_HDR_%s, %d, %d },\n", i, h[slot_id[i] - 1].upper,
                            (int)strlen(slot_key[i] < nh ? h[slot_id[i] - 1].name : h[slot_id[i] - 1].compact), slot_key[i]);
            bputs(&c, "};\n");
        }
        write_out(table, &c);
    }
    if (names) {
        Buf b = {0, 0, 0}, l = {0, 0, 0};
        emit_header(&b, "/*", " *", " */");
        bputs(&b, "%%{\n  machine sip_hnames;\n\n");
        bputs(&b, "  # hn_<Name>: the header name or its compact form (case-insensitive); the leaving\n"
                  "  # action sets the C variable hdr_id (enum sipkit_hdr_id, gen/c/sipkit_hdr_ids.h).\n");
        for (i = 0; i < nh; i++) {
            bprintf(&b, "  hn_%s = ( \"%s\"i", h[i].ident, h[i].name);
            if (h[i].compact) bprintf(&b, " | \"%s\"i", h[i].compact);
            bprintf(&b, " ) %%{ hdr_id = SIPKIT_HDR_%s; };\n", h[i].upper);
        }
        bputs(&b, "\n  # Every known name, with actions.\n  known_header_name =\n");
        for (i = 0; i < nh; i++) bprintf(&b, "      %s hn_%s\n", i ? "|" : " ", h[i].ident);
        bputs(&b, "      ;\n\n  # Every known name and compact form, without actions\n"
                  "  # (subtract from token for extension headers: token - known_header_name_plain).\n"
                  "  known_header_name_plain = (\n");
        for (i = 0; i < nh; i++) {
            bprintf(&b, "      %s \"%s\"i", i ? "|" : " ", h[i].name);
            if (h[i].compact) bprintf(&b, " | \"%s\"i", h[i].compact);
            bputs(&b, "\n");
        }
        bprintf(&b, "      );\n\n  # %d known headers.\n}%%%%\n", nh);
        write_out(names, &b);
        free(l.s);
    }
    if (dict) {
        Buf b = {0, 0, 0};
        char tmp[300];
        emit_header(&b, "#", "#", NULL);
        bputs(&b, "# libFuzzer / AFL dictionary: header names and compact forms, methods, separators.\n");
        for (i = 0; i < nh; i++) {
            snprintf(tmp, sizeof tmp, "%s:", h[i].name);
            dict_entry(&b, tmp);
            if (h[i].compact) {
                snprintf(tmp, sizeof tmp, "%s:", h[i].compact);
                dict_entry(&b, tmp);
            }
        }
        for (i = 0; fuzz_methods[i]; i++) {
            snprintf(tmp, sizeof tmp, "%s ", fuzz_methods[i]);
            dict_entry(&b, tmp);
        }
        for (i = 0; fuzz_fixed[i]; i++) dict_entry(&b, fuzz_fixed[i]);
        write_out(dict, &b);
    }
    free(th);
}

/* ------------------------------------------------------------------ skips */

/* One byte of a Ragel dot label at *sp: 'c', '\x' escapes, SP, or a decimal
 * number.  Returns -1 when the item is something else (DEF, EOF, ...). */
static int dot_byte(const char **sp)
{
    const char *s = *sp;
    int v;
    if (s[0] == '\'' && s[1] == '\\' && s[2] && s[3] == '\'') {
        switch (s[2]) {
        case 'n': v = 10; break;
        case 'r': v = 13; break;
        case 't': v = 9; break;
        case 'v': v = 11; break;
        case 'f': v = 12; break;
        case 'b': v = 8; break;
        case 'a': v = 7; break;
        case '0': v = 0; break;
        case '\\': v = '\\'; break;
        case '\'': v = '\''; break;
        case '"': v = '"'; break;
        default: return -1;
        }
        *sp = s + 4;
        return v;
    }
    if (s[0] == '\'' && s[1] && s[2] == '\'') {
        *sp = s + 3;
        return (unsigned char)s[1];
    }
    if (s[0] == 'S' && s[1] == 'P') {
        *sp = s + 2;
        return ' ';
    }
    if (isdigit((unsigned char)s[0])) {
        v = 0;
        while (isdigit((unsigned char)*s) && v < 1000) v = v * 10 + (*s++ - '0');
        if (v > 255) return -1;
        *sp = s;
        return v;
    }
    return -1;
}

/* The bytes of label (chars [" / " actions]) into set; 0 when the label has
 * an action other than act or an item dot_byte cannot read. */
static int dot_label(const char *label, const char *act, unsigned char *set)
{
    char chars[4096];
    const char *slash = NULL, *s;
    for (s = label; (s = strstr(s, " / ")) != NULL; s++) slash = s;
    if (slash) {
        const char *a = slash + 3;
        size_t n = strlen(act);
        if (strncmp(a, act, n) != 0 || a[n] != 0) return 0;
    }
    s = label;
    if ((size_t)((slash ? slash : label + strlen(label)) - label) >= sizeof chars) return 0;
    memcpy(chars, label, (size_t)((slash ? slash : label + strlen(label)) - label));
    chars[(slash ? slash : label + strlen(label)) - label] = 0;
    s = chars;
    while (*s) {
        int a = dot_byte(&s), b;
        if (a < 0) return 0;
        b = a;
        if (s[0] == '.' && s[1] == '.') {
            s += 2;
            if ((b = dot_byte(&s)) < a) return 0;
        }
        for (; a <= b; a++) set[a] = 1;
        if (s[0] == ',' && s[1] == ' ') s += 2;
        else if (*s) return 0;
    }
    return 1;
}

static void cmd_skips(int argc, char **argv)
{
    const char *dot = NULL, *name = NULL, *act = NULL, *out = NULL, *gc = NULL;
    char *text, *line, *next;
    int i, j, nstates = 0, ncls = 0;
    unsigned char (*set)[256] = NULL, (*cls)[256] = NULL;
    char *bad = NULL;
    int *id;
    Buf b = {0, 0, 0};
    for (i = 2; i < argc; i++) {
        const char **dst = NULL;
        if (strcmp(argv[i], "--dot") == 0) dst = &dot;
        else if (strcmp(argv[i], "--name") == 0) dst = &name;
        else if (strcmp(argv[i], "--action") == 0) dst = &act;
        else if (strcmp(argv[i], "-o") == 0) dst = &out;
        else if (strcmp(argv[i], "--c") == 0) dst = &gc;
        if (!dst || i + 1 >= argc) die("%s: skips: unknown or incomplete option '%s' (try --help)", progname, argv[i]);
        *dst = argv[++i];
    }
    if (!dot || !name || !act || !out) die("%s: skips: --dot, --name, --action and -o are required", progname);
    text = read_file(dot);
    /* pass 1: the number of states */
    for (line = text; *line; line = next) {
        int x, y;
        next = strchr(line, '\n');
        next = next ? next + 1 : line + strlen(line);
        if (sscanf(line, " %d -> %d [", &x, &y) == 2) {
            if (x + 1 > nstates) nstates = x + 1;
            if (y + 1 > nstates) nstates = y + 1;
        }
    }
    if (nstates == 0) die("%s: %s: no transitions", progname, dot);
    set = xmalloc((size_t)nstates * sizeof *set);
    memset(set, 0, (size_t)nstates * sizeof *set);
    bad = xmalloc((size_t)nstates);
    memset(bad, 0, (size_t)nstates);
    id = xmalloc((size_t)nstates * sizeof *id);
    /* pass 2: self-loops; a state with any self-loop we cannot take whole is
     * left out (skipping is optional, so leaving a state out is always exact) */
    for (line = text; *line; line = next) {
        int x, y, n = 0;
        char label[4096], *q;
        const char *l;
        next = strchr(line, '\n');
        next = next ? next + 1 : line + strlen(line);
        if (sscanf(line, " %d -> %d [ label = \"%n", &x, &y, &n) < 2 || n == 0 || x != y) continue;
        for (l = line + n, q = label; *l && *l != '\n' && !(*l == '"' && l[-1] != '\\') && q < label + sizeof label - 1; l++) {
            if (*l == '\\' && (l[1] == '"' || l[1] == '\\')) l++;
            *q++ = *l;
        }
        *q = 0;
        {
            unsigned char one[256] = {0};
            if (!dot_label(label, act, one)) bad[x] = 1;
            else for (j = 0; j < 256; j++) set[x][j] |= one[j];
        }
    }
    /* distinct byte sets: class 0 = no skip */
    cls = xmalloc((size_t)(nstates + 1) * sizeof *cls);
    memset(cls[0], 0, sizeof cls[0]);
    ncls = 1;
    for (i = 0; i < nstates; i++) {
        int cnt = 0;
        id[i] = 0;
        for (j = 0; j < 256; j++) cnt += set[i][j];
        if (bad[i] || cnt < 2) continue;
        for (j = 1; j < ncls && memcmp(cls[j], set[i], 256) != 0; j++) {}
        if (j == ncls) memcpy(cls[ncls++], set[i], 256);
        id[i] = j;
    }
    if (ncls > 255) die("%s: %s: too many skip classes (%d)", progname, dot, ncls);
    /* --c: the skip action must be the last action of every transition it is
     * on, right before the goto to its target state */
    if (gc) {
        char *ctext = read_file(gc), *l2, *nx;
        char pat[200];
        int lineno = 0;
        snprintf(pat, sizeof pat, "%s_skip_state[", name);
        for (l2 = ctext; *l2; l2 = nx) {
            char *hit;
            lineno++;
            nx = strchr(l2, '\n');
            nx = nx ? nx + 1 : l2 + strlen(l2);
            if ((hit = strstr(l2, pat)) != NULL && hit < nx) {
                int st = atoi(hit + strlen(pat)), tgt = -1;
                char *g = nx;
                while (*g && strncmp(g, "#line", 5) == 0) {
                    char *e2 = strchr(g, '\n');
                    g = e2 ? e2 + 1 : g + strlen(g);
                }
                if (sscanf(g, " goto st%d;", &tgt) != 1 || tgt != st)
                    die("%s:%d: the %s action is not the last action before 'goto st%d;'", gc, lineno, act, st);
            }
        }
        free(ctext);
    }
    emit_header(&b, "/*", " *", " */");
    bprintf(&b, "/* Run skips for machine %s: %s_skip_state[s] is the class of the bytes on\n"
                " * which state s loops to itself with no action but %s (0: none), and\n"
                " * %s_skip_cls[k][byte] is 1 for the bytes of class k.  Skipping such a run\n"
                " * in state s is exactly what the machine would do with it. */\n", name, name, act, name);
    bprintf(&b, "static const unsigned char %s_skip_state[%d] = {", name, nstates);
    for (i = 0; i < nstates; i++) bprintf(&b, "%s%d", i == 0 ? "\n    " : i % 32 ? ", " : ",\n    ", id[i]);
    bprintf(&b, "\n};\n\nstatic const unsigned char %s_skip_cls[%d][256] = {\n", name, ncls);
    for (i = 0; i < ncls; i++) {
        bputs(&b, "    {");
        for (j = 0; j < 256; j++) bprintf(&b, "%s%d", j == 0 ? "" : j % 64 ? "," : ",\n     ", cls[i][j]);
        bputs(&b, "},\n");
    }
    bputs(&b, "};\n");
    write_out(out, &b);
    free(text);
    free(set);
    free(cls);
    free(bad);
    free(id);
}

/* ------------------------------------------------------------------ main */

static const char usage[] =
    "usage:\n"
    "  abnf2rl rules   -o OUT.rl [--unroll NAME=N]... [--overlay OVERLAY.rl]\n"
    "                  [--machine NAME] [--root RULE]... FILE.abnf...\n"
    "  abnf2rl headers -t HEADERS.tsv [--ids IDS.h] [--table TABLE.c [--table-h TABLE.h]]\n"
    "                  [--names HNAMES.rl] [--dict FUZZ.dict]\n"
    "  abnf2rl skips   --dot MACHINE.dot --name PREFIX --action NAME -o OUT.h [--c GEN.c]\n"
    "  abnf2rl --help\n"
    "\n"
    "rules: translate ABNF (RFC 5234, RFC 7405 %s/%i) to Ragel 6.10 definitions, one per rule,\n"
    "  in dependency order inside '%%{ machine sip_rules; ... }%%'.  Files are read in order;\n"
    "  'name =/ ...' adds alternatives to an earlier rule.  Names map '-' -> '_'; Ragel\n"
    "  keywords and builtins get the prefix 'abnf_'.\n"
    "  --unroll NAME=N   unroll the self-recursive rule NAME into NAME_d1..NAME_dN\n"
    "                    (d1 without the recursive alternative); nesting deeper than N\n"
    "                    is rejected by the generated machine.\n"
    "  --machine NAME    Ragel machine name of the output (default sip_rules).\n"
    "  --root RULE       emit only RULE and what it needs (repeatable; default: all).\n"
    "  --overlay FILE    Ragel definitions 'name = ... ;' (with '#' comment lines) that\n"
    "                    replace the ABNF rule of the same Ragel name or add a new one.\n"
    "  Errors (undefined or duplicate rule, unbalanced bracket, prose value, recursion,\n"
    "  bad syntax) are printed as 'file:line: message'; the exit status is then 1.\n"
    "\n"
    "headers: read the header table (columns: name compact rfc eager|lazy list|one rule)\n"
    "  and write the C id enum, the C info table (and its .h, by default TABLE.c -> TABLE.h),\n"
    "  the Ragel header-name machines and a fuzzing dictionary.\n"
    "\n"
    "Outputs start with a 'GENERATED ... DO NOT EDIT' comment quoting the command line and\n"
    "are written atomically (OUT.tmp, then rename).\n";

int main(int argc, char **argv)
{
    Buf c = {0, 0, 0};
    int i;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    for (i = 0; i < argc; i++) {
        if (i) bputs(&c, " ");
        bputs(&c, argv[i]);
    }
    cmdline = c.s;
    if (strcmp(argv[1], "rules") == 0) cmd_rules(argc, argv);
    else if (strcmp(argv[1], "headers") == 0) cmd_headers(argc, argv);
    else if (strcmp(argv[1], "skips") == 0) cmd_skips(argc, argv);
    else {
        fprintf(stderr, "%s: unknown mode '%s'\n%s", progname, argv[1], usage);
        return 1;
    }
    return 0;
}
