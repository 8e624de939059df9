/* sip_validate.rl - the whole-header check behind sipkit_header_validate():
 * RFC 3261 message-header (with the extension headers of grammar/ext.abnf)
 * over one header line.  Not on the parse path, so it is compiled to flat
 * tables (-F1: about 2x the instructions of -G2, a fraction of the build
 * time, grammar-notes.md T8). */
#include "internal.h"

%%{
  machine sipkit_validate;
  alphtype unsigned char;
  #@ root message-header
  #@ ragel -F1

  include sip_hnames "sip_hnames.rl";
  include sip_validate_rules "sip_validate_rules.rl";

  main := message_header;
}%%

%% write data noerror noentry;

int sipkit__vm_validate(struct sipkit__ctx *c, int hdr_id, sipkit__ptr p, sipkit__ptr pe) {
  /* The stored value leaves out the line end: feed it as a second chunk. */
  static const unsigned char crlf[2] = {'\r', '\n'};
  sipkit__ptr eof = NULL, line_end = pe;
  int cs = sipkit_validate_start;
  for (int chunk = 0; chunk < 2; chunk++) {
    %% write exec;
    if (cs == 0 || p != pe)
      break;
    if (chunk == 0) {
      p = crlf;
      pe = crlf + 2;
    }
  }
  if (cs >= sipkit_validate_first_final && p == crlf + 2)
    return 0;
  return sipkit__fail(c, SIPKIT_EHEADER_VALUE, p >= crlf && p <= crlf + 2 ? line_end : p,
                      sipkit__hdr_info[hdr_id].rule);
}
