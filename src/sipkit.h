/* sipkit.h - public API of the sipkit SIP parser core.
 *
 * The parser is zero-copy and never allocates: the caller owns the message
 * struct and the header array, and every field is a span (offset, length)
 * into the caller's buffer.  Input is (buf, len): the parser never reads
 * past len, never writes to buf and never needs a NUL terminator.
 *
 * Include only this file; it pulls in the generated header-id enum.
 */
#ifndef SIPKIT_H
#define SIPKIT_H

#include <stddef.h>
#include <stdint.h>

#include "sipkit_hdr_ids.h" /* generated from grammar/headers.tsv */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SIPKIT_API __attribute__((visibility("default")))
#else
#define SIPKIT_API
#endif

#define SIPKIT_VERSION "0.1.0"

/* ------------------------------------------------------------------ */
/* Limits.  Each is enforced with its own error code; override with -D */

#ifndef SIPKIT_MAX_MSG_SIZE
#define SIPKIT_MAX_MSG_SIZE 65535u /* largest UDP payload; default cap */
#endif
#ifndef SIPKIT_MAX_HEADER_LINE
#define SIPKIT_MAX_HEADER_LINE 8192u /* one header line, folds included */
#endif
#ifndef SIPKIT_MAX_VIAS
#define SIPKIT_MAX_VIAS 64u /* RFC 4475 longreq carries 34 */
#endif
#ifndef SIPKIT_MAX_DIGITS
#define SIPKIT_MAX_DIGITS 10u /* any decimal number; no value ever wraps */
#endif
/* The header limit is the capacity of the caller's array (128 is a good
 * default, SIPKIT_MAX_HEADERS is the largest accepted capacity). */
#ifndef SIPKIT_MAX_HEADERS
#define SIPKIT_MAX_HEADERS 256u
#endif
#define SIPKIT_DEFAULT_HEADERS 128u

/* ------------------------------------------------------------------ */
/* Errors: one list, stable names, numbers never reused.               */

#define SIPKIT_ERRNO_MAP(XX)                                                   \
  XX(0, OK, "success")                                                         \
  XX(1, INCOMPLETE, "message is incomplete; more bytes are needed")            \
  XX(2, EMPTY, "no message: input is empty or only CRLF keep-alives")          \
  XX(3, START_LINE, "malformed request line or status line")                   \
  XX(4, VERSION, "unsupported SIP version (only SIP/2.0)")                     \
  XX(5, STATUS_CODE, "status code is not three digits in 100..699")                           \
  XX(6, REQUEST_URI, "malformed Request-URI")                                  \
  XX(7, HEADER_NAME, "malformed header name")                                  \
  XX(8, HEADER_LINE, "malformed header line (bad byte, bare CR or missing colon)") \
  XX(9, HEADER_VALUE, "header value does not match its grammar rule")          \
  XX(10, BARE_LF, "line ends in LF without CR (strict mode)")                  \
  XX(11, NUMBER_TOO_LONG, "number has more digits than allowed")               \
  XX(12, NUMBER_RANGE, "number out of the range its field allows")             \
  XX(13, CONTENT_LENGTH, "invalid Content-Length")                             \
  XX(14, BODY_TRUNCATED, "Content-Length is larger than the body received")    \
  XX(15, DUPLICATE_HEADER, "header that may appear once appears again")        \
  XX(16, MISSING_HEADER, "mandatory header is missing")                        \
  XX(17, CSEQ_METHOD, "CSeq method does not match the request method")         \
  XX(18, MSG_TOO_LARGE, "message exceeds the maximum message size")            \
  XX(19, TOO_MANY_HEADERS, "more headers than the header array holds")         \
  XX(20, LINE_TOO_LONG, "header line exceeds the maximum line length")         \
  XX(21, TOO_MANY_VIAS, "more Via values than allowed")                        \
  XX(22, URI, "malformed URI")                                                 \
  XX(23, URI_HEADERS, "Request-URI carries URI headers (?...)")                \
  XX(24, NO_CONTENT_LENGTH, "stream message without Content-Length")           \
  XX(25, ARGUMENT, "invalid argument")                                         \
  XX(26, HEADERS_END, "header section not terminated by an empty line")        \
  XX(27, BUFFER_TOO_SMALL, "output buffer too small")                          \
  XX(28, INVALID_VALUE, "value does not match its grammar rule")               \
  XX(29, SDP, "malformed SDP")                                                 \
  XX(30, SDP_LIMIT, "SDP exceeds a limit (lines, media, formats)")             \
  XX(31, AUTH, "malformed digest challenge or credentials")                    \
  XX(32, AUTH_ALGORITHM, "unsupported digest algorithm")                       \
  XX(33, NO_MEMORY, "out of memory")                                           \
  XX(34, IO, "socket or system call failed")                                   \
  XX(35, LIMIT, "a runtime limit was reached (transactions, dialogs)")         \
  XX(36, STATE, "operation not allowed in the current state")

typedef enum sipkit_errno {
#define SIPKIT_XX_ENUM(num, name, desc) SIPKIT_E##name = num,
  SIPKIT_ERRNO_MAP(SIPKIT_XX_ENUM)
#undef SIPKIT_XX_ENUM
} sipkit_errno;

/* Where and why a parse failed. */
typedef struct sipkit_error {
  int code;            /* sipkit_errno */
  uint32_t offset;     /* byte offset of the offending byte */
  uint32_t line;       /* 1-based */
  uint32_t column;     /* 1-based, in bytes */
  const char *rule;    /* ABNF rule that failed ("Request-Line", "via-parm", ...) or "" */
} sipkit_error;

SIPKIT_API const char *sipkit_err_name(int code);  /* "HEADER_VALUE" */
SIPKIT_API const char *sipkit_strerror(int code);  /* one-line description */

/* Format "error NAME at OFFSET (LINE:COL): reason [rule] near "…"": the
 * excerpt is at most 16 bytes of buf from the offset, escaped (\r, \n,
 * \xNN); it is left out when buf is NULL.  Returns the length that was
 * needed (snprintf semantics). */
SIPKIT_API int sipkit_error_format(const sipkit_error *err, const char *buf,
                                   size_t len, char *out, size_t cap);

/* ------------------------------------------------------------------ */
/* Spans                                                               */

/* Offset and length into the parsed buffer.  A span with len 0 is absent
 * (or empty); fields that can be present yet empty carry a flag. */
typedef struct sipkit_span {
  uint32_t off;
  uint32_t len;
} sipkit_span;

#define SIPKIT_SPAN_PTR(buf, s) ((const char *)(buf) + (s).off)

/* ------------------------------------------------------------------ */
/* Methods                                                             */

#define SIPKIT_METHOD_MAP(XX)                                                  \
  XX(0, OTHER) XX(1, INVITE) XX(2, ACK) XX(3, OPTIONS) XX(4, BYE)              \
  XX(5, CANCEL) XX(6, REGISTER) XX(7, PRACK) XX(8, SUBSCRIBE) XX(9, NOTIFY)    \
  XX(10, PUBLISH) XX(11, INFO) XX(12, REFER) XX(13, MESSAGE) XX(14, UPDATE)

typedef enum sipkit_method {
#define SIPKIT_XX_ENUM(num, name) SIPKIT_METHOD_##name = num,
  SIPKIT_METHOD_MAP(SIPKIT_XX_ENUM)
#undef SIPKIT_XX_ENUM
} sipkit_method;

SIPKIT_API const char *sipkit_method_name(int method); /* "INVITE"; "" for OTHER */
/* Methods are case-sensitive (RFC 3261 §7.1): "invite" is OTHER. */
SIPKIT_API int sipkit_method_lookup(const char *name, size_t len);

/* ------------------------------------------------------------------ */
/* URIs                                                                */

enum sipkit_uri_scheme {
  SIPKIT_SCHEME_NONE = 0,
  SIPKIT_SCHEME_SIP,
  SIPKIT_SCHEME_SIPS,
  SIPKIT_SCHEME_TEL,
  SIPKIT_SCHEME_OTHER /* any other absoluteURI */
};

enum sipkit_host_type {
  SIPKIT_HOST_NONE = 0,
  SIPKIT_HOST_NAME,
  SIPKIT_HOST_IPV4,
  SIPKIT_HOST_IPV6 /* host span includes the brackets */
};

typedef struct sipkit_uri {
  sipkit_span all;       /* the whole URI */
  sipkit_span user;      /* sip/sips user part (escaped as written); tel: the number */
  sipkit_span password;
  sipkit_span host;
  sipkit_span params;    /* uri-parameters after the first ';', raw */
  sipkit_span headers;   /* after '?', raw */
  sipkit_span transport; /* values of the well-known uri-parameters */
  sipkit_span user_param;
  sipkit_span method;
  sipkit_span maddr;
  sipkit_span ttl;
  uint32_t port;         /* 0 when absent */
  uint8_t scheme;        /* enum sipkit_uri_scheme */
  uint8_t host_type;     /* enum sipkit_host_type */
  uint8_t lr;            /* ;lr present */
  uint8_t has_port;
} sipkit_uri;

/* Parse a URI on its own (sip, sips, tel, other absoluteURI) from
 * buf[span]; spans in *uri are offsets into buf. */
SIPKIT_API int sipkit_uri_parse(sipkit_uri *uri, const char *buf,
                                sipkit_span span, sipkit_error *err);

/* Undo %HH escapes once (never recursively).  Writes at most cap bytes;
 * returns the decoded length, or -1 if a '%' is not followed by two hex
 * digits or the output does not fit. */
SIPKIT_API long sipkit_unescape(const char *src, size_t len, char *out,
                                size_t cap);

/* ------------------------------------------------------------------ */
/* Structured header values                                            */

typedef struct sipkit_via {
  sipkit_span protocol;  /* "SIP/2.0" */
  sipkit_span transport; /* "UDP" */
  sipkit_span host;      /* sent-by host, IPv6 with brackets */
  sipkit_span branch, received, rport, maddr, ttl;
  sipkit_span params;    /* all via-params, raw, after the first ';' */
  uint32_t port;         /* 0 when absent */
  uint8_t host_type;
  uint8_t has_rport;     /* ;rport present, with or without a value */
  uint8_t has_port;
  uint8_t pad;
} sipkit_via;

/* name-addr / addr-spec with header parameters: From, To, Contact, Route,
 * Record-Route, Reply-To. */
typedef struct sipkit_addr {
  sipkit_span display;   /* display-name; for a quoted one, inside the quotes, escapes kept */
  sipkit_uri uri;
  sipkit_span tag;       /* From/To ;tag= */
  sipkit_span q;         /* Contact ;q= */
  sipkit_span expires;   /* Contact ;expires= */
  sipkit_span params;    /* header params after the URI, raw, after the first ';' */
  uint8_t star;          /* Contact: * */
  uint8_t display_quoted;
  uint8_t angle;         /* URI was inside < > */
  uint8_t pad;
} sipkit_addr;

typedef struct sipkit_cseq {
  uint32_t num;          /* < 2^31 (RFC 3261 §8.1.1.5) */
  int method;            /* sipkit_method */
  sipkit_span method_name;
} sipkit_cseq;

typedef struct sipkit_ctype {
  sipkit_span type, subtype, params;
} sipkit_ctype;

/* ------------------------------------------------------------------ */
/* Headers                                                             */

/* One entry per header value: a line "Via: a, b" gives two entries with
 * the same name span.  Headers parsed in the one pass (eager in
 * headers.tsv) have parsed = 1 and the matching union member filled. */
typedef struct sipkit_header {
  sipkit_span name;      /* as written ("v", "VIA") */
  sipkit_span value;     /* this value, LWS trimmed at both ends, may contain folds */
  uint16_t id;           /* sipkit_hdr_id; SIPKIT_HDR_OTHER for unknown names */
  uint8_t parsed;
  uint8_t element;       /* 0 for the first value on its line, 1, 2, ... after commas */
  union {
    sipkit_via via;       /* Via */
    sipkit_addr addr;     /* From To Contact Route Record-Route */
    sipkit_cseq cseq;     /* CSeq */
    uint32_t number;      /* Content-Length Max-Forwards Expires */
    sipkit_ctype ctype;   /* Content-Type */
  } u;
} sipkit_header;

/* Header name ⇄ id (long and compact forms, case-insensitive). */
SIPKIT_API int sipkit_hdr_lookup(const char *name, size_t len);
SIPKIT_API const char *sipkit_hdr_name(int id);   /* canonical, "" for OTHER */
SIPKIT_API char sipkit_hdr_compact(int id);       /* 'v', or 0 */

/* ------------------------------------------------------------------ */
/* Messages                                                            */

typedef struct sipkit_msg {
  /* read-only after a parse */
  int status;              /* 100..699 for responses, 0 for requests */
  int method;              /* sipkit_method (requests) */
  sipkit_span method_name; /* raw method token */
  sipkit_span reason;      /* reason phrase (may be empty) */
  sipkit_span version;     /* "SIP/2.0" */
  sipkit_span request_uri;
  sipkit_uri ruri;         /* parsed Request-URI */
  sipkit_span body;
  uint32_t size;           /* bytes that make up the message (start line .. end of body) */
  uint32_t content_length; /* valid when has_content_length */
  uint8_t has_content_length;
  uint8_t pad[3];
  uint32_t max_forwards;   /* valid when the header is present */
  uint32_t expires;
  /* quick access to the eagerly parsed headers (NULL when absent) */
  const sipkit_via *via;   /* top Via */
  const sipkit_addr *from;
  const sipkit_addr *to;
  const sipkit_addr *contact; /* first Contact */
  const sipkit_cseq *cseq;
  const sipkit_ctype *content_type;
  sipkit_span call_id;
  /* caller-owned header array */
  sipkit_header *headers;
  uint32_t num_headers;
  uint32_t max_headers;
  uint16_t first[SIPKIT_HDR__COUNT]; /* index + 1 of the first entry per id, 0 = absent */
  /* private */
  const char *buf_;        /* the buffer of the last parse */
  uint32_t scan_from_;     /* stream mode: where to resume the end-of-headers search */
} sipkit_msg;

/* Parse options (flags). */
enum {
  SIPKIT_PARSE_LENIENT_LF = 1u << 0, /* accept bare LF line ends (grammar/lenient.abnf) */
  SIPKIT_PARSE_NO_CHECKS = 1u << 1   /* skip the non-grammar checks (mandatory headers, CSeq method) */
};

/* Prepare msg to use the caller's header array (capacity max_headers). */
SIPKIT_API void sipkit_msg_init(sipkit_msg *msg, sipkit_header *headers,
                                size_t max_headers);

/* Datagram framing (one UDP packet).  Without Content-Length the body is
 * the rest of the datagram; bytes after Content-Length are ignored
 * (msg->size tells where the message ends).  Returns SIPKIT_EOK or an
 * error code; err (may be NULL) gets the details. */
SIPKIT_API int sipkit_parse(sipkit_msg *msg, const char *buf, size_t len,
                            unsigned flags, sipkit_error *err);

/* Stream framing (TCP).  Returns SIPKIT_EINCOMPLETE when more bytes are
 * needed (call again with the same buf grown, msg unchanged in between),
 * SIPKIT_EOK with *consumed = bytes of this message (leading CRLFs
 * included), or an error.  Content-Length is mandatory. */
SIPKIT_API int sipkit_parse_stream(sipkit_msg *msg, const char *buf,
                                   size_t len, unsigned flags,
                                   size_t *consumed, sipkit_error *err);

/* First entry with this id, and the next one after h with h's id. */
SIPKIT_API const sipkit_header *sipkit_msg_header(const sipkit_msg *msg,
                                                  int id);
SIPKIT_API const sipkit_header *sipkit_msg_header_next(const sipkit_msg *msg,
                                                       const sipkit_header *h);
/* First entry with this name (long or compact, case-insensitive; unknown
 * names compare the raw name). */
SIPKIT_API const sipkit_header *sipkit_msg_find(const sipkit_msg *msg,
                                                const char *buf,
                                                const char *name,
                                                size_t name_len);

/* Copy a value with every fold (CRLF or LF followed by SP/HT) and its
 * surrounding whitespace replaced by one SP.  Returns the unfolded length
 * (which may exceed cap: nothing past cap is written). */
SIPKIT_API size_t sipkit_unfold(const char *buf, sipkit_span value, char *out,
                                size_t cap);

/* Check the whole header line h belongs to against the full ABNF rule of
 * its header (RFC 3261 §25 and the extensions in grammar/); for a header
 * kept as a raw span this is its only check.  Unknown headers are checked
 * against extension-header.  h is an entry of msg, parsed from buf. */
SIPKIT_API int sipkit_header_validate(const sipkit_msg *msg, const char *buf,
                                      const sipkit_header *h, sipkit_error *err);

/* Iterate over ';'-separated generic parameters of a raw params span
 * (quoted-string aware).  Start with *pos = 0; returns 1 and sets name and
 * value (value.len 0 when valueless) while there is one, else 0. */
SIPKIT_API int sipkit_param_next(const char *buf, sipkit_span params,
                                 uint32_t *pos, sipkit_span *name,
                                 sipkit_span *value);

#ifdef __cplusplus
}
#endif
#endif /* SIPKIT_H */
