/* strcat.h - composing short strings without snprintf (sipkit__ internal,
 * core and runtime alike; libc only).
 *
 * A UA writes a few numbers and joined strings into every message (the
 * status line, Content-Length, Via, Contact, CSeq); glibc's snprintf
 * costs some hundreds of instructions per call for what is a memcpy and a
 * digit loop.  Like snprintf, the text is cut to fit cap - 1 bytes and
 * NUL-terminated (when cap > 0), and len counts what was asked for. */
#ifndef SIPKIT_STRCAT_H
#define SIPKIT_STRCAT_H

#include <stddef.h>
#include <string.h>

/* Decimal digits of v into out (at least 20 bytes, no NUL); the count. */
static inline size_t sipkit__utoa(char *out, unsigned long v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  return n;
}

typedef struct sipkit__str_out {
  char *p;
  size_t cap;
  size_t len;
} sipkit__str_out;

static inline sipkit__str_out sipkit__str_start(char *p, size_t cap) {
  sipkit__str_out o = {p, cap, 0};
  if (cap)
    p[0] = '\0';
  return o;
}

static inline void sipkit__str_mem(sipkit__str_out *o, const char *s, size_t n) {
  if (o->cap && o->len < o->cap - 1) {
    size_t room = o->cap - 1 - o->len;
    memcpy(o->p + o->len, s, n < room ? n : room);
    o->p[o->len + (n < room ? n : room)] = '\0';
  }
  o->len += n;
}

static inline void sipkit__str_cat(sipkit__str_out *o, const char *s) {
  sipkit__str_mem(o, s, strlen(s));
}

static inline void sipkit__str_uint(sipkit__str_out *o, unsigned long v) {
  char d[20];
  sipkit__str_mem(o, d, sipkit__utoa(d, v));
}

#endif
