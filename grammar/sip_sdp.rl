/* sip_sdp.rl - an SDP body (RFC 8866 §9 session-description, from
 * grammar/sdp.abnf).  The machine checks the whole grammar, line order
 * included; each field's leaving action hands the line to C
 * (src/sdp.c), which splits the already validated value at its SPs,
 * converts numbers, checks the limits and parses rtpmap/fmtp.  Line ends:
 * RFC 8866 §5 says CRLF but parsers SHOULD accept a bare LF, so every
 * field's CRLF is lenient-CRLF ([CR] LF).  u=, e= and k=uri: values are
 * loose (see the #@ lines). */
#include "internal.h"

/* src/sdp.c: called with the field [a, b) including its line end (type
 * 'M': at the m of a media-field, before its fmts), and with each fmt of
 * an m= line.  Return non-zero after recording an error (a limit). */
int sipkit__sdp_field(struct sipkit__ctx *c, int type, sipkit__ptr a, sipkit__ptr b);
int sipkit__sdp_fmt(struct sipkit__ctx *c, sipkit__ptr a, sipkit__ptr b);
int sipkit__sdp_run(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe);

%%{
  machine sipkit_sdp;
  alphtype unsigned char;
  #@ root session-description
  # u=, k=uri: and e= values are taken as text (byte-string): RFC 3986
  # URI-reference and RFC 5322 addr-spec (grammar/sdp.abnf) take the machine
  # from 201 to 1,828 states (e= alone 1,264: RFC 5322 folding white space
  # may even contain CRLF).  The spans are handed out unjudged.
  #@ in email-field use text for email-address
  #@ in uri-field key-type use text for sdp-uri
  #@ in version-field origin-field session-name-field information-field uri-field email-field phone-field connection-field bandwidth-field time-field repeat-field zone-field key-field attribute-field media-field use lenient-CRLF for CRLF
  #@ attach version-field      >ln %f_v
  #@ attach origin-field       >ln %f_o
  #@ attach session-name-field >ln %f_s
  #@ attach information-field  >ln %f_i
  #@ attach uri-field          >ln %f_u
  #@ attach email-field        >ln %f_e
  #@ attach phone-field        >ln %f_p
  #@ attach connection-field   >ln %f_c
  #@ attach bandwidth-field    >ln %f_b
  #@ attach time-field         >ln %f_t
  #@ attach repeat-field       >ln %f_r
  #@ attach zone-field         >ln %f_z
  #@ attach key-field          >ln %f_k
  #@ attach attribute-field    >ln %f_a
  #@ attach media-field        >ln >mb %f_m
  #@ attach fmt                >fb %fe

  action ln  { l = p; }
  action f_v { if (sipkit__sdp_field(c, 'v', l, p)) fbreak; }
  action f_o { if (sipkit__sdp_field(c, 'o', l, p)) fbreak; }
  action f_s { if (sipkit__sdp_field(c, 's', l, p)) fbreak; }
  action f_i { if (sipkit__sdp_field(c, 'i', l, p)) fbreak; }
  action f_u { if (sipkit__sdp_field(c, 'u', l, p)) fbreak; }
  action f_e { if (sipkit__sdp_field(c, 'e', l, p)) fbreak; }
  action f_p { if (sipkit__sdp_field(c, 'p', l, p)) fbreak; }
  action f_c { if (sipkit__sdp_field(c, 'c', l, p)) fbreak; }
  action f_b { if (sipkit__sdp_field(c, 'b', l, p)) fbreak; }
  action f_t { if (sipkit__sdp_field(c, 't', l, p)) fbreak; }
  action f_r { if (sipkit__sdp_field(c, 'r', l, p)) fbreak; }
  action f_z { if (sipkit__sdp_field(c, 'z', l, p)) fbreak; }
  action f_k { if (sipkit__sdp_field(c, 'k', l, p)) fbreak; }
  action f_a { if (sipkit__sdp_field(c, 'a', l, p)) fbreak; }
  action f_m { if (sipkit__sdp_field(c, 'm', l, p)) fbreak; }
  action mb  { if (sipkit__sdp_field(c, 'M', p, p)) fbreak; }
  action fb  { f = p; }
  action fe  { if (sipkit__sdp_fmt(c, f, p)) fbreak; }

  include sip_sdp_rules "sip_sdp_rules.rl";

  main := session_description;
}%%

%% write data noerror noentry;

/* Runs the machine over the body [p, pe).  Returns 0, or 1 with c->code
 * set; c->err_off is where the match failed (the caller names the rule). */
int sipkit__sdp_run(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr eof = pe, l = p, f = p;
  int cs = sipkit_sdp_start;
  %% write exec;
  if (c->code != SIPKIT_EOK)
    return 1;
  if (cs < sipkit_sdp_first_final || p < pe)
    return sipkit__fail(c, SIPKIT_ESDP, p < pe ? p : pe, NULL);
  return 0;
}
