/* bench.h - shared declarations of the parser benchmark (`make bench`).
 *
 * Every adapter parses one whole message from (buf, len) and copies the
 * same fields into a struct bench_fields, so each parser does the same
 * extraction work after its parse.  Absent values are normalised the way
 * tests/bench/corpus/expected.tsv writes them: empty string, number 0.
 */
#ifndef SIPKIT_BENCH_H
#define SIPKIT_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BENCH_STR 128 /* every string field; longer values are an error */

struct bench_fields {
  int status;                   /* 100..699, 0 for requests */
  uint32_t cseq_num;
  uint32_t content_length;      /* 0 when absent */
  uint32_t contact_port;        /* 0 when absent */
  char method[BENCH_STR];       /* request method, "" for responses */
  char ruri_host[BENCH_STR];    /* Request-URI host, "" for responses */
  char via_branch[BENCH_STR];   /* top Via ;branch= */
  char from_tag[BENCH_STR];
  char to_tag[BENCH_STR];
  char call_id[BENCH_STR];
  char cseq_method[BENCH_STR];
  char contact_user[BENCH_STR]; /* first Contact's URI */
  char contact_host[BENCH_STR];
};

/* Parse buf[0..len) and fill *out.  Returns 0, or -1 when the parser
 * rejects the message or a value does not fit in its field. */
typedef int (*bench_parse_fn)(const char *buf, size_t len,
                              struct bench_fields *out);

/* Adapters (bench_sipkit.c, bench_sofia.c, bench_osip.c).  init runs once
 * before any parse (may be NULL). */
struct bench_parser {
  const char *name;
  int (*init)(void);
  bench_parse_fn parse;
};

extern const struct bench_parser bench_parser_sipkit;
extern const struct bench_parser bench_parser_sofia;
extern const struct bench_parser bench_parser_osip;

/* Copy len bytes of src as a NUL-terminated string; -1 if it does not fit.
 * src may be NULL only with len 0. */
static inline int bench_copy(char dst[BENCH_STR], const char *src, size_t len) {
  if (len >= BENCH_STR)
    return -1;
  if (len)
    memcpy(dst, src, len);
  dst[len] = '\0';
  return 0;
}

/* Same for a NUL-terminated C string; NULL means absent (""). */
static inline int bench_copy_str(char dst[BENCH_STR], const char *src) {
  return bench_copy(dst, src, src ? strlen(src) : 0);
}

/* Decimal string to uint32 (NULL or "" -> 0); -1 on junk or overflow. */
static inline int bench_u32(uint32_t *dst, const char *s) {
  uint64_t v = 0;
  *dst = 0;
  if (!s)
    return 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    v = v * 10 + (uint64_t)(*s - '0');
    if (v > UINT32_MAX)
      return -1;
  }
  *dst = (uint32_t)v;
  return 0;
}

#endif /* SIPKIT_BENCH_H */
