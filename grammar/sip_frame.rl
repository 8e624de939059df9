/* sip_frame.rl - the framing machine: start line (RFC 3261 §7.1, §7.2),
 * header names dispatched through grammar/headers.tsv, and the empty line
 * that ends the header section.  Header values are not walked here: at the
 * colon the C side (sipkit__header_line) finds the end of the logical line
 * at memchr speed, validates its bytes and runs the value machine of an
 * eagerly parsed header.  The Request-URI is taken as a span here and
 * checked by the URI machine (sip_uri.rl).
 *
 * Two entry points: "strict" (CRLF line ends, RFC 3261) and "lenient"
 * (CR optional: grammar/lenient.abnf lenient-CRLF), chosen by
 * SIPKIT_PARSE_LENIENT_LF.
 */
#include "internal.h"

%%{
  machine sipkit_frame;
  #@ root Method SIP-Version Status-Code Reason-Phrase token CRLF LF CR SP HTAB lenient-CRLF
  alphtype unsigned char;

  action mark          { mark = p; }
  action rule_method   { c->rule = "Method"; }
  action rule_ruri     { c->rule = "Request-URI"; fexec sipkit__skip_to_sp(p, pe); }
  action rule_version  { c->rule = "SIP-Version"; }
  action rule_status   { c->rule = "Status-Code"; }
  action rule_reason   { c->rule = "Reason-Phrase"; }
  action rule_crlf     { c->rule = "CRLF"; }
  action on_method     { sipkit__start_line(c, SIPKIT__SL_METHOD, mark, p); }
  action on_ruri       { sipkit__start_line(c, SIPKIT__SL_RURI, mark, p); }
  action on_version    { sipkit__start_line(c, SIPKIT__SL_VERSION, mark, p); }
  action on_status     { sipkit__start_line(c, SIPKIT__SL_STATUS, mark, p); }
  action on_reason     { sipkit__start_line(c, SIPKIT__SL_REASON, mark + 1, p); }
  action name_begin    { name = p; c->rule = "header-name"; }
  action name_end      { name_end = p; c->rule = "HCOLON"; }
  action other_header  { hdr_id = SIPKIT_HDR_OTHER; }
  action value         { if (!(q = sipkit__header_line(c, name, name_end, p, hdr_id))) fbreak; fexec q; }
  action line_done     { c->rule = "header-name"; }
  # After a line end (start line or header line): the C fast path takes
  # the header lines it can (sipkit__header_lines: a token name, optional
  # SP/HTAB, the colon) and leaves p on the first line it did not take,
  # where the machine resumes: that line is judged here byte by byte.
  action fast_strict   { if (!(q = sipkit__header_lines(c, p + 1, pe))) fbreak; fexec q; fnext strict_lines; }
  action fast_lenient  { if (!(q = sipkit__header_lines(c, p + 1, pe))) fbreak; fexec q; fnext lenient_lines; }
  action headers_done  { done = p + 1; fbreak; }

  include sip_frame_rules "sip_frame_rules.rl";
  include sip_hnames "sip_hnames.rl";

  # The Request-URI is any run of non-SP bytes; sip_uri.rl judges it.
  request_uri_span = ( any - ( SP | CR | LF ) )+;

  request_line = Method >mark >rule_method %on_method
                 SP request_uri_span >mark >rule_ruri %on_ruri
                 SP SIP_Version >mark >rule_version %on_version;
  status_line  = SIP_Version >mark >rule_version %on_version
                 SP Status_Code >mark >rule_status %on_status
                 ( SP Reason_Phrase ) >mark >rule_reason %on_reason;

  header_name  = ( known_header_name | ( token - known_header_name_plain ) %other_header )
                 >name_begin %name_end;
  # The value action leaves p on the line terminator of the logical line.
  header_line_strict  = header_name ( SP | HTAB )* ":" @value CRLF @line_done;
  header_line_lenient = header_name ( SP | HTAB )* ":" @value lenient_CRLF @line_done;

  strict        := ( request_line | status_line ) CRLF >rule_crlf @line_done @fast_strict;
  strict_lines  := ( header_line_strict @fast_strict )* CRLF @headers_done;
  lenient       := ( request_line | status_line ) lenient_CRLF >rule_crlf @line_done @fast_lenient;
  lenient_lines := ( header_line_lenient @fast_lenient )* lenient_CRLF @headers_done;
}%%

%% write data noerror;

/* The end of the run: the body start, or NULL with c->code set. */
static sipkit__ptr frame_end(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe,
                             sipkit__ptr done) {
  if (done)
    return done;
  if (c->code == SIPKIT_EOK) {
    if (p >= pe)
      c->code = SIPKIT_EINCOMPLETE;
    else
      sipkit__fail(c, SIPKIT_ESTART_LINE, p, c->rule);
  }
  c->err_off = c->code == SIPKIT_EINCOMPLETE ? (uint32_t)(pe - c->base) : c->err_off;
  return NULL;
}

sipkit__ptr sipkit__frame(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr mark = p, name = p, name_end = p, q = NULL, done = NULL;
  int hdr_id = SIPKIT_HDR_OTHER;
  c->rule = "start-line";
  int cs = (c->flags & SIPKIT_PARSE_LENIENT_LF) ? sipkit_frame_en_lenient
                                                  : sipkit_frame_en_strict;
  %% write exec;
  (void)cs;
  return frame_end(c, p, pe, done);
}

/* The frame from the line after a start line that C took (parse.c,
 * start_line_fast), in the state its own start line leaves: line_done,
 * then fast_strict / fast_lenient. */
sipkit__ptr sipkit__frame_lines(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr mark = p, name = p, name_end = p, q = NULL, done = NULL;
  int hdr_id = SIPKIT_HDR_OTHER;
  int cs = (c->flags & SIPKIT_PARSE_LENIENT_LF) ? sipkit_frame_en_lenient_lines
                                                  : sipkit_frame_en_strict_lines;
  c->rule = "header-name";
  if (!(q = sipkit__header_lines(c, p, pe)))
    return frame_end(c, p, pe, NULL);
  p = q;
  %% write exec;
  (void)cs;
  return frame_end(c, p, pe, done);
}
