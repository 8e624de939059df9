/* json.c - a small streaming JSON writer for `sipkit parse --json`.
 *
 * SIP bytes are not guaranteed to be UTF-8 (and a rejected message can hold
 * anything), so strings are escaped byte-exactly: valid UTF-8 sequences
 * pass through, control bytes and DEL use the short escapes or \u00XX, and
 * each byte of an invalid sequence becomes \u00XX (its Latin-1 reading).
 * The output is therefore always valid JSON, whatever the input.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

/* Length of the valid UTF-8 sequence starting at s (n bytes available),
 * or 0 if the bytes there are not valid UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  unsigned char lo = 0x80, hi = 0xBF;
  size_t need, i;

  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    need = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0)
      lo = 0xA0; /* overlong */
    else if (c == 0xED)
      hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0)
      lo = 0x90; /* overlong */
    else if (c == 0xF4)
      hi = 0x8F; /* above U+10FFFF */
  } else
    return 0;
  if (n < need)
    return 0;
  if (s[1] < lo || s[1] > hi)
    return 0;
  for (i = 2; i < need; i++)
    if (s[i] < 0x80 || s[i] > 0xBF)
      return 0;
  return need;
}

void cli_json_escape(FILE *out, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;

  while (i < len) {
    unsigned char c = p[i];
    size_t n;
    switch (c) {
    case '"': fputs("\\\"", out); i++; continue;
    case '\\': fputs("\\\\", out); i++; continue;
    case '\b': fputs("\\b", out); i++; continue;
    case '\f': fputs("\\f", out); i++; continue;
    case '\n': fputs("\\n", out); i++; continue;
    case '\r': fputs("\\r", out); i++; continue;
    case '\t': fputs("\\t", out); i++; continue;
    default: break;
    }
    if (c < 0x20 || c == 0x7F) {
      fprintf(out, "\\u%04x", c);
      i++;
      continue;
    }
    n = utf8_len(p + i, len - i);
    if (n == 0) {
      fprintf(out, "\\u%04x", c);
      i++;
      continue;
    }
    fwrite(p + i, 1, n, out);
    i += n;
  }
}

void cli_json_init(cli_json *w, FILE *out) {
  memset(w, 0, sizeof *w);
  w->out = out;
}

static void indent(cli_json *w) {
  int i;
  fputc('\n', w->out);
  for (i = 0; i < w->depth; i++)
    fputs("  ", w->out);
}

/* Separator, newline and indentation before a value, then "key": . */
static void prefix(cli_json *w, const char *key) {
  if (w->depth > 0) {
    if (w->count[w->depth]++ > 0)
      fputc(',', w->out);
    indent(w);
  } else if (w->count[0]++ > 0) {
    fputc('\n', w->out); /* several top-level values: one per line */
  }
  if (key != NULL) {
    fputc('"', w->out);
    cli_json_escape(w->out, key, strlen(key));
    fputs("\": ", w->out);
  }
}

static void open_container(cli_json *w, const char *key, char bracket) {
  prefix(w, key);
  fputc(bracket, w->out);
  /* Nesting is fixed by the callers' code (never by the input) and is
   * about 7 levels; the clamp only keeps a future mistake in bounds. */
  if (w->depth + 1 < CLI_JSON_MAX_DEPTH)
    w->depth++;
  w->count[w->depth] = 0;
}

static void close_container(cli_json *w, char bracket) {
  uint32_t n = w->count[w->depth];
  if (w->depth > 0)
    w->depth--;
  if (n > 0)
    indent(w);
  fputc(bracket, w->out);
  if (w->depth == 0)
    fputc('\n', w->out);
}

void cli_json_begin_object(cli_json *w, const char *key) {
  open_container(w, key, '{');
}

void cli_json_end_object(cli_json *w) { close_container(w, '}'); }

void cli_json_begin_array(cli_json *w, const char *key) {
  open_container(w, key, '[');
}

void cli_json_end_array(cli_json *w) { close_container(w, ']'); }

void cli_json_string(cli_json *w, const char *key, const char *s, size_t len) {
  prefix(w, key);
  fputc('"', w->out);
  cli_json_escape(w->out, s, len);
  fputc('"', w->out);
}

void cli_json_cstring(cli_json *w, const char *key, const char *s) {
  cli_json_string(w, key, s, strlen(s));
}

void cli_json_uint(cli_json *w, const char *key, uint64_t v) {
  prefix(w, key);
  fprintf(w->out, "%" PRIu64, v);
}

void cli_json_int(cli_json *w, const char *key, int64_t v) {
  prefix(w, key);
  fprintf(w->out, "%" PRId64, v);
}

void cli_json_bool(cli_json *w, const char *key, int v) {
  prefix(w, key);
  fputs(v ? "true" : "false", w->out);
}

void cli_json_null(cli_json *w, const char *key) {
  prefix(w, key);
  fputs("null", w->out);
}
