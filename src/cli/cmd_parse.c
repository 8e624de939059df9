/* cmd_parse.c - `sipkit parse [--stream] [--lenient-lf] [--json] FILE...`
 *
 * Datagram mode (default): each file is one message, parsed with
 * sipkit_parse, and gives one line "FILE: ok" or "FILE: error ...".
 *
 * Stream mode (--stream): each file is the byte stream of one TCP
 * connection.  sipkit_parse_stream is called on the bytes not yet consumed
 * until they run out; each message gives one line "FILE#N: ...".  Offsets,
 * lines and columns in stream-mode errors count from the start of that
 * message (its leading CRLF keep-alives included).  A tail that is not a
 * whole message is an error; trailing CRLF keep-alives are not.  After an
 * error the stream cannot be resynchronised, so the rest is skipped.
 *
 * With --json the same results are written as one JSON array with an
 * object per message (see README.md, "The CLI").
 */
#include <stdlib.h>
#include <string.h>

#include "sipkit.h"
#include "cli.h"

#define PARSE_MAX_HEADERS SIPKIT_MAX_HEADERS /* 256: the largest capacity */

typedef struct parse_ctx {
  unsigned flags; /* SIPKIT_PARSE_* */
  int stream;
  int json;
  int rejected;    /* some message was rejected */
  int bad_span;    /* the library returned a span outside the buffer */
  sipkit_header *headers;
  cli_json w;
} parse_ctx;

/* Where the current result comes from: file name and, in stream mode, the
 * 1-based message number (0 in datagram mode). */
typedef struct source {
  const char *path;
  unsigned index;
} source;

static void parse_usage(FILE *out) {
  fprintf(out,
          "usage: " CLI_PROG " parse [--stream] [--lenient-lf] [--json] FILE...\n"
          "\n"
          "Parse each FILE ('-' is standard input) as one SIP message and print\n"
          "'FILE: ok' or 'FILE: error NAME at OFFSET (LINE:COL): reason [rule]'.\n"
          "\n"
          "  --stream      treat each FILE as a TCP byte stream holding any number\n"
          "                of messages (Content-Length required); one result per\n"
          "                message, labelled FILE#1, FILE#2, ...\n"
          "  --lenient-lf  accept lines ending in a bare LF (default: CRLF only)\n"
          "  --json        print the parsed structure as a JSON array instead\n"
          "  -h, --help    show this help\n"
          "\n"
          "Exit status: 0 every message parsed, 1 one was rejected, 2 usage or\n"
          "I/O error (a file is missing, unreadable or larger than %u MiB).\n",
          CLI_MAX_FILE_SIZE / (1024u * 1024u));
}

/* ---------------------------------------------------------------- helpers */

static int span_ok(sipkit_span s, size_t len) {
  return s.off <= len && s.len <= len - s.off;
}

static void print_label(const source *src) {
  fputs(src->path, stdout);
  if (src->index > 0)
    printf("#%u", src->index);
}

/* 1-based line and byte column of offset off in buf. */
static void line_col(const char *buf, size_t off, uint32_t *line,
                     uint32_t *col) {
  size_t i, start = 0;
  uint32_t l = 1;
  for (i = 0; i < off; i++)
    if (buf[i] == '\n') {
      l++;
      start = i + 1;
    }
  *line = l;
  *col = (uint32_t)(off - start + 1);
}

static const char *scheme_name(int scheme) {
  switch (scheme) {
  case SIPKIT_SCHEME_SIP: return "sip";
  case SIPKIT_SCHEME_SIPS: return "sips";
  case SIPKIT_SCHEME_TEL: return "tel";
  case SIPKIT_SCHEME_OTHER: return "other";
  default: return "none";
  }
}

static const char *host_type_name(int type) {
  switch (type) {
  case SIPKIT_HOST_NAME: return "name";
  case SIPKIT_HOST_IPV4: return "ipv4";
  case SIPKIT_HOST_IPV6: return "ipv6";
  default: return "none";
  }
}

/* The structured member of sipkit_header.u that a parsed header fills,
 * keyed by canonical name so that this file does not depend on the
 * spelling of the generated enum. */
enum value_kind { KIND_NONE, KIND_VIA, KIND_ADDR, KIND_CSEQ, KIND_CTYPE, KIND_NUMBER };

static enum value_kind kind_of(int id) {
  static const struct {
    const char *name;
    enum value_kind kind;
  } kinds[] = {
      {"Via", KIND_VIA},           {"From", KIND_ADDR},
      {"To", KIND_ADDR},           {"Contact", KIND_ADDR},
      {"Route", KIND_ADDR},        {"Record-Route", KIND_ADDR},
      {"Reply-To", KIND_ADDR},     {"CSeq", KIND_CSEQ},
      {"Content-Type", KIND_CTYPE}, {"Content-Length", KIND_NUMBER},
      {"Max-Forwards", KIND_NUMBER}, {"Expires", KIND_NUMBER},
  };
  const char *name = sipkit_hdr_name(id);
  size_t i;
  if (name == NULL)
    return KIND_NONE;
  for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(name, kinds[i].name) == 0)
      return kinds[i].kind;
  return KIND_NONE;
}

/* ---------------------------------------------------------------- JSON */

typedef struct json_msg {
  parse_ctx *ctx;
  const char *buf;
  size_t len;
} json_msg;

/* A span as a string; null (and a warning) if it lies outside the buffer. */
static void j_span(json_msg *m, const char *key, sipkit_span s) {
  if (!span_ok(s, m->len)) {
    m->ctx->bad_span = 1;
    cli_json_null(&m->ctx->w, key);
    return;
  }
  cli_json_string(&m->ctx->w, key, SIPKIT_SPAN_PTR(m->buf, s), s.len);
}

/* Optional spans are omitted when empty. */
static void j_opt(json_msg *m, const char *key, sipkit_span s) {
  if (s.len > 0)
    j_span(m, key, s);
}

static void j_flag(json_msg *m, const char *key, int v) {
  if (v)
    cli_json_bool(&m->ctx->w, key, 1);
}

static void j_uri(json_msg *m, const char *key, const sipkit_uri *u) {
  cli_json *w = &m->ctx->w;
  cli_json_begin_object(w, key);
  j_span(m, "all", u->all);
  cli_json_cstring(w, "scheme", scheme_name(u->scheme));
  j_opt(m, "user", u->user);
  j_opt(m, "password", u->password);
  j_opt(m, "host", u->host);
  if (u->host_type != SIPKIT_HOST_NONE)
    cli_json_cstring(w, "host_type", host_type_name(u->host_type));
  if (u->has_port)
    cli_json_uint(w, "port", u->port);
  j_opt(m, "params", u->params);
  j_opt(m, "headers", u->headers);
  j_opt(m, "transport", u->transport);
  j_opt(m, "user_param", u->user_param);
  j_opt(m, "method", u->method);
  j_opt(m, "maddr", u->maddr);
  j_opt(m, "ttl", u->ttl);
  j_flag(m, "lr", u->lr);
  cli_json_end_object(w);
}

static void j_via(json_msg *m, const sipkit_via *v) {
  cli_json *w = &m->ctx->w;
  cli_json_begin_object(w, "via");
  j_span(m, "protocol", v->protocol);
  j_span(m, "transport", v->transport);
  j_span(m, "host", v->host);
  cli_json_cstring(w, "host_type", host_type_name(v->host_type));
  if (v->has_port)
    cli_json_uint(w, "port", v->port);
  j_opt(m, "branch", v->branch);
  j_opt(m, "received", v->received);
  if (v->has_rport)
    j_span(m, "rport", v->rport); /* "" for a valueless ;rport */
  j_opt(m, "maddr", v->maddr);
  j_opt(m, "ttl", v->ttl);
  j_opt(m, "params", v->params);
  cli_json_end_object(w);
}

static void j_addr(json_msg *m, const sipkit_addr *a) {
  cli_json *w = &m->ctx->w;
  cli_json_begin_object(w, "addr");
  if (a->star) {
    cli_json_bool(w, "star", 1);
  } else {
    if (a->display.len > 0 || a->display_quoted)
      j_span(m, "display", a->display);
    j_flag(m, "display_quoted", a->display_quoted);
    j_flag(m, "angle", a->angle);
    j_uri(m, "uri", &a->uri);
  }
  j_opt(m, "tag", a->tag);
  j_opt(m, "q", a->q);
  j_opt(m, "expires", a->expires);
  j_opt(m, "params", a->params);
  cli_json_end_object(w);
}

static void j_header(json_msg *m, const sipkit_header *h) {
  cli_json *w = &m->ctx->w;
  const char *canon = sipkit_hdr_name(h->id);
  enum value_kind kind = h->parsed ? kind_of(h->id) : KIND_NONE;

  cli_json_begin_object(w, NULL);
  if (canon != NULL && canon[0] != '\0')
    cli_json_cstring(w, "id", canon);
  else
    cli_json_null(w, "id");
  j_span(m, "name", h->name);
  j_span(m, "value", h->value);
  cli_json_uint(w, "element", h->element);
  cli_json_bool(w, "parsed", h->parsed);
  switch (kind) {
  case KIND_VIA:
    j_via(m, &h->u.via);
    break;
  case KIND_ADDR:
    j_addr(m, &h->u.addr);
    break;
  case KIND_CSEQ:
    cli_json_begin_object(w, "cseq");
    cli_json_uint(w, "num", h->u.cseq.num);
    j_span(m, "method", h->u.cseq.method_name);
    cli_json_end_object(w);
    break;
  case KIND_CTYPE:
    cli_json_begin_object(w, "ctype");
    j_span(m, "type", h->u.ctype.type);
    j_span(m, "subtype", h->u.ctype.subtype);
    j_opt(m, "params", h->u.ctype.params);
    cli_json_end_object(w);
    break;
  case KIND_NUMBER:
    cli_json_uint(w, "number", h->u.number);
    break;
  case KIND_NONE:
    break;
  }
  cli_json_end_object(w);
}

static void j_source(parse_ctx *ctx, const source *src) {
  cli_json_cstring(&ctx->w, "file", src->path);
  if (src->index > 0)
    cli_json_uint(&ctx->w, "message", src->index);
}

static void json_ok(parse_ctx *ctx, const source *src, const char *buf,
                    size_t len, const sipkit_msg *msg) {
  cli_json *w = &ctx->w;
  json_msg m = {ctx, buf, len};
  uint32_t i;

  cli_json_begin_object(w, NULL);
  j_source(ctx, src);
  cli_json_bool(w, "ok", 1);
  cli_json_uint(w, "size", msg->size);
  cli_json_begin_object(w, "start_line");
  if (msg->status != 0) {
    cli_json_cstring(w, "type", "response");
    j_span(&m, "version", msg->version);
    cli_json_int(w, "status", msg->status);
    j_span(&m, "reason", msg->reason);
  } else {
    cli_json_cstring(w, "type", "request");
    j_span(&m, "method", msg->method_name);
    j_span(&m, "request_uri", msg->request_uri);
    j_span(&m, "version", msg->version);
    j_uri(&m, "uri", &msg->ruri);
  }
  cli_json_end_object(w);
  cli_json_begin_array(w, "headers");
  for (i = 0; i < msg->num_headers && i < PARSE_MAX_HEADERS; i++)
    j_header(&m, &msg->headers[i]);
  cli_json_end_array(w);
  cli_json_begin_object(w, "body");
  if (!span_ok(msg->body, len))
    ctx->bad_span = 1;
  cli_json_uint(w, "offset", msg->body.off);
  cli_json_uint(w, "length", msg->body.len);
  if (span_ok(msg->body, len))
    cli_json_body(w, buf, msg);
  cli_json_end_object(w);
  cli_json_end_object(w);
}

/* ---------------------------------------------------------------- results */

static void report_ok(parse_ctx *ctx, const source *src, const char *buf,
                      size_t len, const sipkit_msg *msg) {
  if (ctx->json) {
    json_ok(ctx, src, buf, len, msg);
    return;
  }
  print_label(src);
  fputs(": ok\n", stdout);
}

/* reason overrides the library's text (used for the CLI's own errors). */
static void report_error(parse_ctx *ctx, const source *src, const char *buf,
                         size_t len, const sipkit_error *err,
                         const char *reason) {
  char small[512];
  char *text = small;
  const char *rule = err->rule != NULL ? err->rule : "";
  int n;

  ctx->rejected = 1;
  if (reason != NULL) {
    n = snprintf(small, sizeof small, "error %s at %lu (%lu:%lu): %s",
                 sipkit_err_name(err->code), (unsigned long)err->offset,
                 (unsigned long)err->line, (unsigned long)err->column, reason);
  } else {
    n = sipkit_error_format(err, buf, len, small, sizeof small);
    if (n >= (int)sizeof small) {
      text = malloc((size_t)n + 1);
      if (text == NULL ||
          sipkit_error_format(err, buf, len, text, (size_t)n + 1) != n) {
        free(text);
        text = small; /* keep the truncated text */
      }
    }
  }
  if (n < 0)
    snprintf(small, sizeof small, "error %s", sipkit_err_name(err->code));

  if (ctx->json) {
    cli_json *w = &ctx->w;
    cli_json_begin_object(w, NULL);
    j_source(ctx, src);
    cli_json_bool(w, "ok", 0);
    cli_json_begin_object(w, "error");
    cli_json_int(w, "code", err->code);
    cli_json_cstring(w, "name", sipkit_err_name(err->code));
    cli_json_uint(w, "offset", err->offset);
    cli_json_uint(w, "line", err->line);
    cli_json_uint(w, "column", err->column);
    cli_json_cstring(w, "rule", rule);
    cli_json_cstring(w, "reason",
                     reason != NULL ? reason : sipkit_strerror(err->code));
    cli_json_cstring(w, "text", text);
    cli_json_end_object(w);
    cli_json_end_object(w);
  } else {
    print_label(src);
    fputs(": ", stdout);
    fputs(text, stdout);
    fputc('\n', stdout);
  }
  if (text != small)
    free(text);
}

static void init_error(sipkit_error *err) {
  memset(err, 0, sizeof *err);
  err->rule = "";
}

/* An error found by the CLI itself, at the end of buf[0..len). */
static void report_at_end(parse_ctx *ctx, const source *src, const char *buf,
                          size_t len, int code, const char *reason) {
  sipkit_error err;
  init_error(&err);
  err.code = code;
  err.offset = (uint32_t)len;
  line_col(buf, len, &err.line, &err.column);
  report_error(ctx, src, buf, len, &err, reason);
}

/* ---------------------------------------------------------------- parsing */

static void parse_datagram(parse_ctx *ctx, const char *path, const char *buf,
                           size_t len) {
  source src = {path, 0};
  sipkit_msg msg;
  sipkit_error err;
  int rc;

  init_error(&err);
  sipkit_msg_init(&msg, ctx->headers, PARSE_MAX_HEADERS);
  rc = sipkit_parse(&msg, buf, len, ctx->flags, &err);
  if (rc == SIPKIT_EOK)
    report_ok(ctx, &src, buf, len, &msg);
  else {
    err.code = rc;
    report_error(ctx, &src, buf, len, &err, NULL);
  }
}

static int only_crlf(const char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (p[i] != '\r' && p[i] != '\n')
      return 0;
  return 1;
}

static void parse_stream(parse_ctx *ctx, const char *path, const char *buf,
                         size_t len) {
  source src = {path, 1};
  size_t pos = 0;

  for (;;) {
    const char *p = buf + pos;
    size_t n = len - pos;
    size_t consumed = 0;
    sipkit_msg msg;
    sipkit_error err;
    int rc;

    if (only_crlf(p, n)) {
      /* End of stream; keep-alives after the last message are fine, but a
       * stream without any message is reported like an empty datagram. */
      if (src.index == 1)
        report_at_end(ctx, &src, p, n, SIPKIT_EEMPTY,
                      sipkit_strerror(SIPKIT_EEMPTY));
      return;
    }
    init_error(&err);
    sipkit_msg_init(&msg, ctx->headers, PARSE_MAX_HEADERS);
    rc = sipkit_parse_stream(&msg, p, n, ctx->flags, &consumed, &err);
    if (rc == SIPKIT_EINCOMPLETE) {
      report_at_end(ctx, &src, p, n, SIPKIT_EINCOMPLETE,
                    "incomplete message at end of input");
      return;
    }
    if (rc != SIPKIT_EOK) {
      err.code = rc;
      report_error(ctx, &src, p, n, &err, NULL);
      return;
    }
    if (consumed == 0 || consumed > n) {
      /* Would loop forever or read past the end: a library bug. */
      fprintf(stderr,
              CLI_PROG ": %s#%u: internal error: parser consumed %lu of %lu "
              "bytes\n",
              path, src.index, (unsigned long)consumed, (unsigned long)n);
      ctx->rejected = 1;
      return;
    }
    report_ok(ctx, &src, p, n, &msg);
    pos += consumed;
    src.index++;
  }
}

/* ---------------------------------------------------------------- command */

int cli_cmd_parse(int argc, char **argv) {
  parse_ctx ctx;
  int i, nfiles = 0, io_error = 0, options_done = 0;

  memset(&ctx, 0, sizeof ctx);
  /* Options first, anywhere before "--"; the files are handled after. */
  for (i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
      nfiles++;
    } else if (strcmp(a, "--") == 0) {
      options_done = 1;
    } else if (strcmp(a, "--stream") == 0) {
      ctx.stream = 1;
    } else if (strcmp(a, "--lenient-lf") == 0) {
      ctx.flags |= SIPKIT_PARSE_LENIENT_LF;
    } else if (strcmp(a, "--json") == 0) {
      ctx.json = 1;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      parse_usage(stdout);
      return CLI_EXIT_OK;
    } else {
      fprintf(stderr, CLI_PROG " parse: unknown option '%s'\n", a);
      fprintf(stderr, "Try '" CLI_PROG " parse --help'.\n");
      return CLI_EXIT_USAGE;
    }
  }
  if (nfiles == 0) {
    fprintf(stderr, CLI_PROG " parse: no input files\n");
    parse_usage(stderr);
    return CLI_EXIT_USAGE;
  }

  ctx.headers = calloc(PARSE_MAX_HEADERS, sizeof *ctx.headers);
  if (ctx.headers == NULL) {
    fprintf(stderr, CLI_PROG ": out of memory\n");
    return CLI_EXIT_USAGE;
  }
  cli_json_init(&ctx.w, stdout);
  if (ctx.json)
    cli_json_begin_array(&ctx.w, NULL);

  options_done = 0;
  for (i = 0; i < argc; i++) {
    const char *a = argv[i];
    cli_file f;
    if (!options_done && strcmp(a, "--") == 0) {
      options_done = 1;
      continue;
    }
    if (!options_done && a[0] == '-' && a[1] != '\0')
      continue; /* an option, handled above */
    /* Keep stdout and stderr in order when both go to one terminal. */
    fflush(stdout);
    if (cli_file_read(&f, a) != 0) {
      io_error = 1;
      continue;
    }
    if (ctx.stream)
      parse_stream(&ctx, a, f.data, f.len);
    else
      parse_datagram(&ctx, a, f.data, f.len);
    cli_file_free(&f);
  }

  if (ctx.json)
    cli_json_end_array(&ctx.w);
  free(ctx.headers);
  if (ctx.bad_span)
    fprintf(stderr,
            CLI_PROG ": internal error: the parser returned a span outside "
            "the input (shown as null)\n");
  if (io_error || ctx.bad_span)
    return CLI_EXIT_USAGE;
  return ctx.rejected ? CLI_EXIT_REJECTED : CLI_EXIT_OK;
}
