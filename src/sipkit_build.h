/* sipkit_build.h - message builder: only what the grammar accepts.
 *
 * A builder writes one message: a start line, header lines and a body.
 * Every line is checked against the same generated grammar machines as the
 * parser before it is committed, and the finished message is parsed back
 * with sipkit_parse() as a last check, so the builder never emits what the
 * parser rejects.  Output is canonical: "Name: value" lines ending in CRLF,
 * Content-Length computed from the body and written last, empty line, body.
 *
 * Strings are (pointer, length) pairs and need no NUL terminator.
 *
 * Errors are sticky: after the first failing call every later call returns
 * the same code and leaves the output alone; b->err says why (code, offset
 * of the offending byte in the line as it would be written, and the ABNF
 * rule, e.g. "Subject", "display-name", "Request-URI").  A value with CR,
 * LF or a NUL the rule does not allow (header injection) gives
 * SIPKIT_EINVALID_VALUE.  The one soft error is SIPKIT_EBUFFER_TOO_SMALL
 * (fixed buffer): the builder keeps checking and counting, writes nothing
 * past cap, and b->need ends as the exact size the message needs.
 */
#ifndef SIPKIT_BUILD_H
#define SIPKIT_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "sipkit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sipkit_builder {
  /* read-only */
  char *buf;             /* output (the caller's, or heap for a dynamic builder) */
  size_t cap;            /* capacity of buf */
  size_t len;            /* bytes written so far (== need unless too small) */
  size_t need;           /* bytes the message needs so far */
  int code;              /* sticky error, SIPKIT_EOK while fine */
  sipkit_error err;      /* details of code */
  /* public: flags for the parse-back check in sipkit_builder_finish() */
  unsigned parse_flags;
  /* private */
  uint8_t dynamic_;
  uint8_t state_;        /* 0 empty, 1 start line written, 2 finished */
  uint8_t request_;
  uint8_t pad_;
} sipkit_builder;

/* Write into the caller's buffer buf[0..cap). */
SIPKIT_API void sipkit_builder_init(sipkit_builder *b, char *buf, size_t cap);
/* Write into a heap buffer that grows as needed (SIPKIT_ENO_MEMORY when it
 * cannot); release it with sipkit_builder_free(). */
SIPKIT_API void sipkit_builder_init_dynamic(sipkit_builder *b);
SIPKIT_API void sipkit_builder_free(sipkit_builder *b);

/* Start line.  Request: Method is a token (rule "Method"), the Request-URI
 * is checked with the URI machine (SIP-URI / SIPS-URI / absoluteURI, no
 * URI headers).  Response: status 100..699; reason NULL means the default
 * phrase of sipkit_reason_phrase() ("" for a code without one). */
SIPKIT_API int sipkit_builder_request(sipkit_builder *b, const char *method,
                                      size_t method_len, const char *uri,
                                      size_t uri_len);
SIPKIT_API int sipkit_builder_response(sipkit_builder *b, int status,
                                       const char *reason, size_t reason_len);

/* One header line "Name: value" with the canonical name of id (long
 * form), checked against the ABNF rule of that header.  Content-Length is
 * refused (SIPKIT_EARGUMENT): finish() computes it. */
SIPKIT_API int sipkit_builder_header(sipkit_builder *b, int id,
                                     const char *value, size_t value_len);
/* A header by name as given (any case, compact forms included); a known
 * name is checked against its header's rule, any other against
 * extension-header (header-name HCOLON header-value). */
SIPKIT_API int sipkit_builder_header_raw(sipkit_builder *b, const char *name,
                                         size_t name_len, const char *value,
                                         size_t value_len);
/* An address header (From, To, Contact, Route, Record-Route, Reply-To,
 * Refer-To): [display-name] <uri> [;params].  The display name is written
 * as a quoted-string with '"' and '\' escaped (display may be NULL); the
 * URI is checked with the URI machine; params (may be NULL) is written
 * after the '>' as given, e.g. ";tag=1928301774". */
SIPKIT_API int sipkit_builder_addr(sipkit_builder *b, int id,
                                   const char *display, size_t display_len,
                                   const char *uri, size_t uri_len,
                                   const char *params, size_t params_len);

/* Content-Length from body_len, the empty line, the body (body may be NULL
 * when body_len is 0); then parse the result back with b->parse_flags.  msg
 * (may be NULL) receives that parse (its header array must hold every
 * header; with NULL a 256-entry array on the stack is used, and the values
 * of Via and the address headers, each checked against its header's rule
 * when written, are not run through their machines again: the verdict is
 * the same).  Returns SIPKIT_EOK with the message in b->buf[0..b->len). */
SIPKIT_API int sipkit_builder_finish(sipkit_builder *b, const char *body,
                                     size_t body_len, sipkit_msg *msg);

/* ------------------------------------------------------------------ */
/* Reason phrases and generated identifiers                            */

/* Default reason phrase of a status code registered by RFC 3261 §21 or an
 * extension RFC (IANA "Response Codes"), "" for any other code. */
SIPKIT_API const char *sipkit_reason_phrase(int status);

/* Sizes including the terminating NUL. */
#define SIPKIT_BRANCH_SIZE 40u  /* "z9hG4bK" + 32 hex digits (128 bits) */
#define SIPKIT_TAG_SIZE 17u     /* 16 hex digits (64 bits) */
#define SIPKIT_CALL_ID_SIZE 33u /* 32 hex digits (128 bits) */

/* Random identifiers from getrandom(2), lower-case hex, NUL-terminated.
 * Return the length written (without the NUL), or -1 when cap is below
 * the size above or the kernel gives no randomness. */
SIPKIT_API int sipkit_gen_branch(char *out, size_t cap);
SIPKIT_API int sipkit_gen_tag(char *out, size_t cap);
SIPKIT_API int sipkit_gen_call_id(char *out, size_t cap);

/* ------------------------------------------------------------------ */
/* RFC 3261 helpers.  Each starts the message in a fresh builder (start
 * line and the headers the section requires); the caller may add headers
 * (Contact, Content-Type, ...) and then calls sipkit_builder_finish(). */

typedef struct sipkit_str {
  const char *p;
  size_t len;
} sipkit_str;

/* Response to the request req parsed from buf (§8.2.6.2): every Via in
 * order, From, To, Call-ID, CSeq.  A To without a tag gets ";tag=" to_tag
 * (to_tag.p NULL: a generated one) for every status but 100.  Record-Route
 * is copied when the response can create a dialog (101..299 to INVITE,
 * SUBSCRIBE, REFER or NOTIFY, §12.1.1).  100 copies Timestamp (§8.2.6.1).
 * reason as for sipkit_builder_response(). */
SIPKIT_API int sipkit_build_response(sipkit_builder *b, const sipkit_msg *req,
                                     const char *buf, int status,
                                     const char *reason, size_t reason_len,
                                     sipkit_str to_tag);

/* ACK for a non-2xx final response (§17.1.1.3): Request-URI, top Via
 * (same branch), From, Call-ID and Route headers of the INVITE, To of the
 * response, CSeq number of the INVITE with method ACK, Max-Forwards: 70. */
SIPKIT_API int sipkit_build_ack_non2xx(sipkit_builder *b,
                                       const sipkit_msg *invite,
                                       const char *ibuf,
                                       const sipkit_msg *resp,
                                       const char *rbuf);

/* CANCEL (§9.1): Request-URI, top Via, From, To, Call-ID and Route headers
 * of the request, its CSeq number with method CANCEL, Max-Forwards: 70. */
SIPKIT_API int sipkit_build_cancel(sipkit_builder *b, const sipkit_msg *req,
                                   const char *buf);

/* What an in-dialog request needs from the dialog state (§12.2.1.1).  The
 * caller fills it; nothing is owned. */
typedef struct sipkit_dialog_view {
  sipkit_str call_id;
  sipkit_str local_uri, local_tag;   /* From: <local_uri>;tag=local_tag */
  sipkit_str remote_uri, remote_tag; /* To: <remote_uri>[;tag=remote_tag] */
  sipkit_str remote_target;          /* the peer's Contact URI */
  const sipkit_str *route_set;       /* Route values in order, "<sip:p1;lr>" */
  size_t route_count;
  uint32_t local_cseq;               /* last local CSeq number used */
} sipkit_dialog_view;

/* A request within dialog d (§12.2.1.1), also the ACK for a 2xx
 * (§13.2.2.4, with cseq = the INVITE's number).  Route set empty or loose
 * (first route has ;lr): Request-URI = remote target, Route = route set.
 * Strict: Request-URI = first route's URI (URI headers stripped), Route =
 * the rest, then <remote target>.  Via = via_sent (e.g. "SIP/2.0/UDP
 * 192.0.2.4:5060") + ";branch=" + branch (branch.p NULL: a new one).
 * cseq 0 means d->local_cseq + 1.  Max-Forwards: 70. */
SIPKIT_API int sipkit_build_in_dialog(sipkit_builder *b,
                                      const sipkit_dialog_view *d,
                                      sipkit_str method, uint32_t cseq,
                                      sipkit_str via_sent, sipkit_str branch);

#ifdef __cplusplus
}
#endif
#endif /* SIPKIT_BUILD_H */
