/* uri_actions.rl - actions attached to the URI rules of RFC 3261 §25.1
 * (SIP-URI, SIPS-URI, absoluteURI).  Included by the URI machine; the
 * function declares SIPKIT__URI_MARKS and points `uri` at the sipkit_uri
 * to fill (zeroed; scheme and whole span are set by the caller).
 *
 * Overlapping paths (a user part may hold ';' and '?', a display-name
 * token looks like a URI scheme) make entering actions fire on paths
 * that later die, so every action here is "last write wins" and the real
 * hostport clears what a dead path left behind.  IPv4address and
 * IPv6reference also occur in maddr-param: they only set host_type, which
 * hostport_end reads. */
%%{
  machine uri_actions;

  #@ attach userinfo        >userinfo_begin %userinfo_end
  #@ attach hostport        >hostport_begin %hostport_end
  #@ attach port            >port_begin
  #@ attach IPv4address     %host_v4
  #@ attach IPv6reference   %host_v6
  #@ attach uri-parameter   >uparam_begin %uparam_end
  #@ attach transport-param %up_transport
  #@ attach user-param      %up_user
  #@ attach method-param    %up_method
  #@ attach ttl-param       %up_ttl
  #@ attach maddr-param     %up_maddr
  #@ attach lr-param        %up_lr
  #@ attach headers         >uhdrs_begin %uhdrs_end

  action userinfo_begin { m_ui = p; }
  action userinfo_end   { sipkit__uri_userinfo(c, uri, m_ui, p); }
  action hostport_begin { m_hp = p; m_port = NULL; host_type = SIPKIT_HOST_NAME; if (m_up) { m_up = NULL; sipkit__uri_clear_params(uri); } }
  action port_begin     { m_port = p; }
  action host_v4        { host_type = SIPKIT_HOST_IPV4; }
  action host_v6        { host_type = SIPKIT_HOST_IPV6; }
  action hostport_end   { sipkit__uri_hostport(c, uri, m_hp, m_port, p, host_type); }
  action uparam_begin   { m_kp = p; if (!m_up) m_up = p; }
  action uparam_end     { uri->params = sipkit__span(c, m_up, p); }
  action up_transport   { sipkit__uri_param(c, uri, SIPKIT__UP_TRANSPORT, m_kp, p); }
  action up_user        { sipkit__uri_param(c, uri, SIPKIT__UP_USER, m_kp, p); }
  action up_method      { sipkit__uri_param(c, uri, SIPKIT__UP_METHOD, m_kp, p); }
  action up_ttl         { sipkit__uri_param(c, uri, SIPKIT__UP_TTL, m_kp, p); }
  action up_maddr       { sipkit__uri_param(c, uri, SIPKIT__UP_MADDR, m_kp, p); }
  action up_lr          { uri->lr = 1; }
  action uhdrs_begin    { m_uh = p + 1; }
  action uhdrs_end      { uri->headers = sipkit__span(c, m_uh, p); }
}%%
