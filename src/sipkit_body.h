/* sipkit_body.h - bodies other than SDP: application/dtmf-relay,
 * application/dtmf and multipart (RFC 2046 §5.1, RFC 5621).
 *
 * Zero-copy and allocation-free like the rest of sipkit: the caller owns
 * every struct and array, input is (buf, len) or spans into buf, and no
 * function reads outside what it is given or needs a NUL terminator
 * (bodies with NUL bytes are fine).
 *
 * Errors: a malformed body gives SIPKIT_EINVALID_VALUE with err->offset at
 * the offending byte, err->line / err->column counted from buf, and
 * err->rule naming what failed ("dtmf-relay Signal", "multipart boundary",
 * ...; the full list is with each function).  Builders return
 * SIPKIT_EBUFFER_TOO_SMALL with *len = the size needed when cap is short
 * (nothing usable written), like sipkit_sdp_build().
 */
#ifndef SIPKIT_BODY_H
#define SIPKIT_BODY_H

#include "sipkit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* DTMF: application/dtmf-relay and application/dtmf                   */

#ifndef SIPKIT_DTMF_MAX_DURATION
#define SIPKIT_DTMF_MAX_DURATION 60000u /* ms; at most 5 digits are read */
#endif
#define SIPKIT_DTMF_MAX_DIGITS 5u

typedef struct sipkit_dtmf {
  char signal;          /* '0'-'9', '*', '#', 'A'-'D' (always upper case) */
  uint8_t has_duration; /* a Duration line was present */
  uint8_t pad[2];
  uint32_t duration;    /* ms, 1..SIPKIT_DTMF_MAX_DURATION; 0 when absent */
} sipkit_dtmf;

/* application/dtmf-relay (the de-facto format, no RFC):
 *   Signal=5
 *   Duration=160
 * Lines end in CRLF or LF (the last one may be unterminated; empty lines
 * are skipped); SP/HT are allowed around the key, '=' and value; keys are
 * case-insensitive.  Signal is one character of 0-9 * # A-D; a-d are
 * accepted too and reported upper case (RFC 4733 event numbers such as
 * "10" are not).  Duration is optional, 1..5 decimal digits, value
 * 1..SIPKIT_DTMF_MAX_DURATION.  Other keys (key=value) are ignored.
 * Errors (SIPKIT_EINVALID_VALUE), rule:
 *   "dtmf-relay Signal"   missing (offset len), bad or empty value,
 *                         duplicate key (offset at the second key)
 *   "dtmf-relay Duration" empty, not a number (offset at the first
 *                         non-digit), more than 5 digits (at the sixth),
 *                         0 or above the max (at the value), duplicate
 *   "dtmf-relay line"     a line without '=', an empty key, a key with a
 *                         byte outside token, a control byte in a value,
 *                         or a CR not followed by LF
 * Offsets are from buf. */
SIPKIT_API int sipkit_dtmf_relay_parse(sipkit_dtmf *d, const char *buf,
                                       size_t len, sipkit_error *err);

/* Write "Signal=<s>\r\nDuration=<ms>\r\n" (no Duration line when
 * d->duration is 0).  A lower-case a-d is written upper case.  Returns
 * SIPKIT_EOK with *len = bytes written, SIPKIT_EBUFFER_TOO_SMALL with
 * *len = the size needed, or SIPKIT_EINVALID_VALUE for a bad signal or a
 * duration above SIPKIT_DTMF_MAX_DURATION (*len = 0). */
SIPKIT_API int sipkit_dtmf_relay_build(const sipkit_dtmf *d, char *out,
                                       size_t cap, size_t *len);

/* application/dtmf (RFC 2976 era): the body is the one character of the
 * event, with optional SP/HT and one line end (CRLF or LF) around it.
 * Fills d->signal (duration 0, has_duration 0).  Errors
 * (SIPKIT_EINVALID_VALUE): rule "dtmf" - empty body (offset len), a bad
 * character or a second one (at that byte). */
SIPKIT_API int sipkit_dtmf_parse(sipkit_dtmf *d, const char *buf, size_t len,
                                 sipkit_error *err);
/* Write the one character ("5", no line end); returns as
 * sipkit_dtmf_relay_build (the duration is not used). */
SIPKIT_API int sipkit_dtmf_build(const sipkit_dtmf *d, char *out, size_t cap,
                                 size_t *len);

/* ------------------------------------------------------------------ */
/* Multipart (RFC 2046 §5.1, RFC 5621)                                 */

#ifndef SIPKIT_MAX_PARTS
#define SIPKIT_MAX_PARTS 16u            /* parts of one multipart body */
#endif
#ifndef SIPKIT_MAX_PART_HEADERS
#define SIPKIT_MAX_PART_HEADERS 16u     /* header fields of one part */
#endif
#ifndef SIPKIT_MAX_MULTIPART_DEPTH
#define SIPKIT_MAX_MULTIPART_DEPTH 2u   /* the message body is depth 1 */
#endif
#define SIPKIT_MAX_BOUNDARY 70u         /* RFC 2046 §5.1.1 */

typedef struct sipkit_part_header {
  sipkit_span name;  /* as written */
  sipkit_span value; /* LWS trimmed at both ends; may contain folds (sipkit_unfold) */
} sipkit_part_header;

typedef struct sipkit_part {
  sipkit_span all;          /* headers, empty line and body: between the delimiters */
  sipkit_span headers;      /* the header fields, each with its line end; len 0 when none */
  sipkit_span body;         /* after the empty line, up to the CRLF (or LF) of the next delimiter */
  sipkit_ctype ctype;       /* Content-Type: type, subtype, params (after the first ';') */
  sipkit_span content_type; /* the whole Content-Type value; len 0 when absent
                               (RFC 2046: then text/plain; charset=us-ascii) */
  sipkit_span content_id;   /* Content-ID value (RFC 5621 cid: references), len 0 absent */
  sipkit_span disposition;  /* Content-Disposition value, len 0 absent */
  sipkit_part_header hdrs[SIPKIT_MAX_PART_HEADERS];
  uint8_t num_headers;
  uint8_t has_ctype;        /* a Content-Type field was present */
  uint8_t is_multipart;     /* its type is "multipart" (case-insensitive): split it
                               with sipkit_multipart_parse_part() */
  uint8_t depth;            /* 1 for the parts of the message body, 2 below */
} sipkit_part;

/* Split the multipart body buf[body], with the Content-Type parameters
 * buf[params] (msg->content_type->params, or part->ctype.params), into
 * parts[0..*num_parts).  All spans are offsets into buf.  The limit is
 * min(cap, SIPKIT_MAX_PARTS).  The boundary parameter may be a token or a
 * quoted-string; it must be 1..70 bchars (RFC 2046 §5.1.1).  Delimiters
 * are "--boundary" at the start of the body or of a line, with optional
 * SP/HT after it, and the line end (CRLF, or a bare LF) before a delimiter
 * belongs to the delimiter.  The preamble and epilogue are ignored.  The
 * subtype is not checked: every multipart subtype has this syntax.
 * Returns SIPKIT_EOK, SIPKIT_EARGUMENT (NULL pointer, cap 0), or
 * SIPKIT_EINVALID_VALUE with rule:
 *   "multipart boundary"        no boundary parameter (offset params.off),
 *                               empty, longer than 70, a byte outside
 *                               bchars, an unterminated quote, or twice
 *   "multipart delimiter"       the boundary is longer than the body
 *                               (offset body.off) or never found (offset
 *                               body end)
 *   "multipart close-delimiter" no final "--boundary--" (offset body end)
 *   "multipart body-part"       no part at all (at the close delimiter),
 *                               a zero-length part (at the delimiter that
 *                               ends it), a last field without its line
 *                               end (a part with no empty line: at the
 *                               part's end).  Fields with no empty line
 *                               after them are a part with an empty body
 *                               (RFC 2046: MIME-part-headers [CRLF *OCTET])
 *   "multipart field-name"      SP/HT inside a name, a control byte, or
 *                               an empty name (at that byte)
 *   "multipart field"           a line without ':', a fold with no field
 *                               before it, a CR not followed by LF
 *   "multipart Content-Type"    not type "/" subtype [; params], or twice
 *   "multipart parts limit"     one part too many (at its delimiter)
 *   "multipart part headers limit"  more than SIPKIT_MAX_PART_HEADERS */
SIPKIT_API int sipkit_multipart_parse(const char *buf, sipkit_span body,
                                      sipkit_span params, sipkit_part *parts,
                                      size_t cap, size_t *num_parts,
                                      sipkit_error *err);

/* Split a part that is itself multipart (parse on demand).  The new parts
 * get depth part->depth + 1; beyond SIPKIT_MAX_MULTIPART_DEPTH it fails
 * with rule "multipart depth limit" (offset part->body.off); a part that is
 * not multipart gives rule "multipart Content-Type". */
SIPKIT_API int sipkit_multipart_parse_part(const char *buf,
                                           const sipkit_part *part,
                                           sipkit_part *parts, size_t cap,
                                           size_t *num_parts, sipkit_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SIPKIT_BODY_H */
