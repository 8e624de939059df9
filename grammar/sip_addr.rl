/* sip_addr.rl - name-addr / addr-spec values with header parameters:
 * From (§20.20), To (§20.39), Contact (§20.10), Route (§20.34) and
 * Record-Route (§20.30).  List headers get one entry per element.  The
 * URIs are recorded as spans and judged by the URI machine once the value
 * has matched (grammar/overlay.rl, addr-uri): an action on a path that
 * later dies must never reject anything. */
#include "internal.h"
#include "sip_addr_skip.h"

%%{
  machine sipkit_addr;
  alphtype unsigned char;
  #@ value From To Contact Route Record-Route
  #@ root From-value To-value Contact-value Route-value Record-Route-value
  #@ in name-addr use addr-uri for addr-spec
  #@ in from-spec To contact-param use addr-uri-bare for addr-spec-bare
  #@ attach addr-uri-bare   >u_begin %u_end
  #@ attach display-name    >dn_begin %dn_end
  #@ attach tag-param       >ap_begin %ap_tag
  #@ attach c-p-q           >ap_begin %ap_q
  #@ attach c-p-expires     >ap_begin %ap_expires
  #@ attach from-param      >aps_begin %aps_end
  #@ attach to-param        >aps_begin %aps_end
  #@ attach contact-params  >aps_begin %aps_end
  #@ attach rr-param        >aps_begin %aps_end
  #@ attach contact-param   >el_begin %el_end
  #@ attach route-param     >el_begin %el_end
  #@ attach rec-route       >el_begin %el_end
  #@ attach LAQUOT          @angle
  #@ attach STAR            %star

  action el_begin   { sipkit__element_begin(c, p); m_aps = NULL; }
  action u_begin    { m_u = p; }
  action u_end      { c->cur->u.addr.uri.all = sipkit__span(c, m_u, p); }
  action el_end     { sipkit__element_end(c, p); }
  action dn_begin   { m_dn = p; }
  action dn_end     { sipkit__addr_display(c, m_dn, p); }
  action ap_begin   { m_ap = p; }
  action ap_tag     { sipkit__addr_param(c, SIPKIT__AP_TAG, m_ap, p); }
  action ap_q       { sipkit__addr_param(c, SIPKIT__AP_Q, m_ap, p); }
  action ap_expires { sipkit__addr_param(c, SIPKIT__AP_EXPIRES, m_ap, p); }
  action aps_begin  { if (!m_aps) m_aps = p; }
  action aps_end    { c->cur->u.addr.params = sipkit__span(c, m_aps, p); }
  action angle      { fexec sipkit__addr_skip_uri(c, p, pe); }
  action star       { c->cur->u.addr.star = 1; }

  include sip_addr_rules "sip_addr_rules.rl";

  # Run skips (gen/c/sip_addr_skip.h), as in sip_uri.rl.
  action skip { if (sipkit_addr_skip_state[ftargs] && skip_ok) p = sipkit__skip_run(p + 1, pe, sipkit_addr_skip_cls[sipkit_addr_skip_state[ftargs]]) - 1; }

  from_value   := From_value $skip;
  to_value     := To_value $skip;
  contact      := Contact_value $skip;
  route        := Route_value $skip;
  record_route := Record_Route_value $skip;
}%%

%% write data noerror;

int sipkit__vm_addr(struct sipkit__ctx *c, int hdr_id, sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr eof = pe, m_dn = p, m_ap = p, m_aps = NULL, m_u = p;
  const char *rule;
  const int skip_ok = !(c->flags & SIPKIT__PARSE_REFERENCE);
  int cs;
  switch (hdr_id) {
  case SIPKIT_HDR_FROM: cs = sipkit_addr_en_from_value; rule = "from-spec"; break;
  case SIPKIT_HDR_TO: cs = sipkit_addr_en_to_value; rule = "To"; break;
  case SIPKIT_HDR_CONTACT: cs = sipkit_addr_en_contact; rule = "contact-param"; break;
  case SIPKIT_HDR_ROUTE: cs = sipkit_addr_en_route; rule = "route-param"; break;
  default: cs = sipkit_addr_en_record_route; rule = "rec-route"; break;
  }
  %% write exec;
  if (cs < sipkit_addr_first_final || p < pe)
    return sipkit__fail(c, SIPKIT_EHEADER_VALUE, p < pe ? p : pe, rule);
  return c->code != SIPKIT_EOK;
}
