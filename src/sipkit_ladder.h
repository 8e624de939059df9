/* sipkit_ladder.h - ladder (sequence) diagrams of SIP calls from datagram
 * events (sipkit_capture.h): an 80-column terminal rendering and one
 * self-contained HTML file.
 *
 * Events are grouped into calls by Call-ID; each message is parsed with
 * sipkit_parse (strict).  A datagram that does not parse is drawn as
 * "malformed" in the call its Call-ID line names (found by a plain text
 * search), or in a group "(no Call-ID)".  Datagrams that hold only CR, LF
 * or spaces (keep-alives) are not drawn.  Events are drawn in the order
 * given (the order of the capture), times relative to the call's first
 * message.
 *
 * Outcome of a call, from the messages seen:
 *   INVITE: "completed: 200 OK, BYE", "established: 200 OK (no BYE)",
 *           "cancelled", "failed: 486 Busy Here", "no final response"
 *   other:  "completed: 200 OK", "failed: 401 Unauthorized", "no final
 *           response" (the last final response to the call's first method)
 *   "malformed" when nothing in the call parsed.
 */
#ifndef SIPKIT_LADDER_H
#define SIPKIT_LADDER_H

#include <stddef.h>
#include <stdio.h>

#include "sipkit.h"
#include "sipkit_capture.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sipkit_ladder_opts {
  unsigned width;  /* terminal columns, 0: 80 */
  int color;       /* ANSI colours (pass isatty(fileno(out)) && !NO_COLOR) */
} sipkit_ladder_opts;

/* One ladder per call.  Columns are the call's addresses (IP:port) in
 * order of appearance; when a name does not fit its column (more than
 * three addresses, long IPv6 ones) the columns are lettered A, B, ... and
 * a legend names them.  Up to six addresses fit in 80 columns; more make
 * the lines longer.  o may be NULL.  Returns SIPKIT_EOK, SIPKIT_ENO_MEMORY
 * or SIPKIT_EIO (write error). */
SIPKIT_API int sipkit_ladder_text(FILE *out, const sipkit_dgram *ev, size_t n,
                                  const sipkit_ladder_opts *o);

/* One HTML document: a summary table (call, from, to, messages, outcome,
 * duration) and, per call, an inline SVG ladder whose arrows link to the
 * full message text (#mC-K opens message K of call C).  No network
 * fetches: inline CSS and one inline script, pinned by a
 * Content-Security-Policy hash; every byte of message text is escaped.
 * title may be NULL. */
SIPKIT_API int sipkit_ladder_html(FILE *out, const sipkit_dgram *ev, size_t n,
                                  const char *title);

#ifdef __cplusplus
}
#endif
#endif /* SIPKIT_LADDER_H */
