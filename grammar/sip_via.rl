/* sip_via.rl - the Via value (RFC 3261 §20.42, §25.1; rport from RFC 3581
 * §5): one header entry per via-parm. */
#include "internal.h"
#include "sip_via_skip.h"

%%{
  machine sipkit_via;
  alphtype unsigned char;
  #@ value Via
  #@ root Via-value
  #@ attach via-parm         >el_begin %el_end
  #@ attach protocol-name    >proto_begin
  #@ attach protocol-version %proto_end
  #@ attach transport        >tr_begin %tr_end
  #@ attach sent-by          >sb_begin %sb_end
  #@ attach via-params       >vps_begin %vps_end
  #@ attach via-ttl          >vp_begin %vp_ttl
  #@ attach via-maddr        >vp_begin %vp_maddr
  #@ attach via-received     >vp_begin %vp_received
  #@ attach via-branch       >vp_begin %vp_branch
  #@ attach response-port    >vp_begin %vp_rport

  action el_begin    { sipkit__element_begin(c, p); m_vps = NULL; }
  action el_end      { sipkit__element_end(c, p); }
  action proto_begin { m_proto = p; }
  action proto_end   { c->cur->u.via.protocol = sipkit__span(c, m_proto, p); }
  action tr_begin    { m_tr = p; }
  action tr_end      { c->cur->u.via.transport = sipkit__span(c, m_tr, p); }
  action sb_begin    { m_sb = p; }
  action sb_end      { sipkit__via_sent_by(c, m_sb, p); }
  action vps_begin   { if (!m_vps) m_vps = p; }
  action vps_end     { c->cur->u.via.params = sipkit__span(c, m_vps, p); }
  action vp_begin    { m_vp = p; }
  action vp_ttl      { sipkit__via_param(c, SIPKIT__VP_TTL, m_vp, p); }
  action vp_maddr    { sipkit__via_param(c, SIPKIT__VP_MADDR, m_vp, p); }
  action vp_received { sipkit__via_param(c, SIPKIT__VP_RECEIVED, m_vp, p); }
  action vp_branch   { sipkit__via_param(c, SIPKIT__VP_BRANCH, m_vp, p); }
  action vp_rport    { sipkit__via_param(c, SIPKIT__VP_RPORT, m_vp, p); }

  include sip_via_rules "sip_via_rules.rl";

  # Run skips (gen/c/sip_via_skip.h), as in sip_uri.rl.
  action skip { if (sipkit_via_skip_state[ftargs] && skip_ok) p = sipkit__skip_run(p + 1, pe, sipkit_via_skip_cls[sipkit_via_skip_state[ftargs]]) - 1; }

  main := Via_value $skip;
}%%

%% write data noerror noentry;

int sipkit__vm_via(struct sipkit__ctx *c, sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr eof = pe, m_proto = p, m_tr = p, m_sb = p, m_vps = NULL, m_vp = p;
  const int skip_ok = !(c->flags & SIPKIT__PARSE_REFERENCE);
  int cs = sipkit_via_start;
  %% write exec;
  if (cs < sipkit_via_first_final || p < pe)
    return sipkit__fail(c, SIPKIT_EHEADER_VALUE, p < pe ? p : pe, "via-parm");
  return c->code != SIPKIT_EOK;
}
