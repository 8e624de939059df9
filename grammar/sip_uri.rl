/* sip_uri.rl - the URI machine: Request-URI (RFC 3261 §25.1: SIP-URI /
 * SIPS-URI / absoluteURI), used for the start line and sipkit_uri_parse. */
#include "internal.h"

%%{
  machine sipkit_uri;
  alphtype unsigned char;
  #@ root Request-URI
  #@ include uri_actions.rl

  include uri_actions "uri_actions.rl";
  include sip_uri_rules "sip_uri_rules.rl";

  main := Request_URI;
}%%

%% write data noerror noentry;

int sipkit__vm_uri(struct sipkit__ctx *c, sipkit_uri *uri, sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr eof = pe, start = p;
  SIPKIT__URI_MARKS;
  int cs = sipkit_uri_start;
  sipkit__uri_begin(uri);
  %% write exec;
  if (cs < sipkit_uri_first_final || p < pe)
    return sipkit__fail(c, SIPKIT_EURI, p < pe ? p : pe, "Request-URI");
  uri->all = sipkit__span(c, start, pe);
  return c->code != SIPKIT_EOK;
}
