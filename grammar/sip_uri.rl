/* sip_uri.rl - the URI machine: Request-URI (RFC 3261 §25.1: SIP-URI /
 * SIPS-URI / absoluteURI), used for the start line, the name-addr headers
 * and sipkit_uri_parse.  The three alternatives are disjoint (overlay M2
 * takes sip and sips out of absoluteURI), so C picks the entry point from
 * the scheme and each URI runs through the states of one alternative. */
#include <string.h>

#include "internal.h"
#include "sip_uri_skip.h"

%%{
  machine sipkit_uri;
  alphtype unsigned char;
  #@ root SIP-URI SIPS-URI absoluteURI
  #@ include uri_actions.rl

  include uri_actions "uri_actions.rl";
  include sip_uri_rules "sip_uri_rules.rl";

  # Run skips (gen/c/sip_uri_skip.h, from this machine's own state graph):
  # entering a state that loops to itself on a byte class with no other
  # action, skip the run of that class at table speed.
  action skip { if (sipkit_uri_skip_state[ftargs] && skip_ok) p = sipkit__skip_run(p + 1, pe, sipkit_uri_skip_cls[sipkit_uri_skip_state[ftargs]]) - 1; }

  sip  := SIP_URI $skip;
  sips := SIPS_URI $skip;
  abs  := absoluteURI $skip;
}%%

%% write data noerror;

int sipkit__vm_uri(struct sipkit__ctx *c, sipkit_uri *uri, sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr eof = pe, start = p;
  SIPKIT__URI_MARKS;
  int cs, scheme, host_type = SIPKIT_HOST_NONE;
  const int skip_ok = !(c->flags & SIPKIT__PARSE_REFERENCE);
  if (pe - p >= 4 && (p[0] | 0x20) == 's' && (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'p' &&
      (p[3] == ':' || (pe - p >= 5 && (p[3] | 0x20) == 's' && p[4] == ':'))) {
    scheme = p[3] == ':' ? SIPKIT_SCHEME_SIP : SIPKIT_SCHEME_SIPS;
    cs = scheme == SIPKIT_SCHEME_SIP ? sipkit_uri_en_sip : sipkit_uri_en_sips;
  } else {
    scheme = SIPKIT_SCHEME_OTHER;
    cs = sipkit_uri_en_abs;
  }
  memset(uri, 0, sizeof *uri);
  %% write exec;
  (void)host_type;
  if (cs < sipkit_uri_first_final || p < pe)
    return sipkit__fail(c, SIPKIT_EURI, p < pe ? p : pe,
                        scheme == SIPKIT_SCHEME_OTHER ? "absoluteURI"
                        : scheme == SIPKIT_SCHEME_SIP ? "SIP-URI" : "SIPS-URI");
  sipkit__uri_end(c, uri, start, pe, scheme);
  return c->code != SIPKIT_EOK;
}
