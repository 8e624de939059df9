# grammar/overlay.rl -- the reviewed rewrites of RFC rules, applied by
# gen/abnf2rl when it writes gen/rules/.  Each definition replaces the body
# of the ABNF rule of the same name (or adds a rule); each says why.  The
# rewrites make overlapping alternatives disjoint by subtraction (never by
# priorities: grammar-notes.md T1/T3) and cut the state explosions measured
# in grammar-notes.md T2.  None of them accepts anything the RFC grammar
# rejects.

# M1 (grammar-notes.md T2): userinfo without telephone-subscriber.  The
# union user / telephone-subscriber is the largest state explosion (SIP-URI
# 910 -> 182 states, Contact from a Ragel timeout to 872).  RFC 3261
# §19.1.2 requires characters of a tel number that "user" does not allow
# to be escaped, so every telephone-subscriber a SIP URI can carry is also
# a "user"; tel parameters are parsed from the user span afterwards.
userinfo = user ( ":" password )? "@";

# M2 (T3): absoluteURI minus the sip and sips schemes, so that a sip: URI
# is only ever a SIP-URI and fires only SIP-URI's actions.  Without it a
# malformed sip: URI would also be accepted as an absoluteURI.
absoluteURI = ( scheme ":" ( hier_part | opaque_part ) ) - ( ( "sip"i | "sips"i ) ":" any* );

# T3: extension-method minus the methods with names of their own, so that
# INVITE is only INVITEm.  SUBSCRIBE and NOTIFY stay in: RFC 6665 itself
# writes "extension-method =/ SUBSCRIBEm / NOTIFYm" (grammar/ext.abnf), so
# for them both alternatives are the same path.
extension_method = token - ( INVITEm | ACKm | OPTIONSm | BYEm | CANCELm | REGISTERm
                           | PRACKm | UPDATEm | REFERm | MESSAGEm | INFOm );

# M3 (RFC 3261 §20.10 prose, T3): an addr-spec outside < > may not contain
# ",", ";" or "?": its parameters are header parameters, not URI
# parameters.  Used instead of addr-spec where a header allows a bare URI.
addr_spec_bare = addr_spec - ( any* ( "," | ";" | "?" ) any* );
#@ in from-spec To contact-param rplyto-spec Refer-To use addr-spec-bare for addr-spec

# LWS with the line end of lenient.abnf.  This accepts nothing new in
# strict mode: the C line scanner has rejected every bare LF of the header
# section before a value machine runs.  In lenient mode a fold may then
# end in a bare LF like every other line.
LWS = ( WSP* lenient_CRLF )? WSP+;

# M4 (T1): an extension header's name is a token that is not a known
# header name (gen/rules/sip_hnames.rl, from grammar/headers.tsv).  Without
# it every known header line also matches extension-header, so a malformed
# Via would be "valid" as an extension header.
header_name = token - known_header_name_plain;

# The URI of a name-addr (inside < >) and of a bare addr-spec as a plain
# span, for value machines that hand their URIs to the URI machine
# (grammar/sip_uri.rl) afterwards; each such machine says so with
# "#@ in ... use addr-uri for addr-spec".  No URI holds SP, HTAB, CR, LF,
# "<", ">" or DQUOTE, and a bare one no ";", "," or "?" (M3), so these
# spans end exactly where addr-spec / addr-spec-bare end, and the URI
# machine then accepts exactly the URIs addr-spec does.  Embedding the URI
# grammar in the five name-addr headers instead costs 5,224 states and
# 14 minutes of gcc -O2 (measured).
addr_uri = ( any - ( SP | HTAB | CR | LF | "<" | ">" | DQUOTE ) )+;
addr_uri_bare = ( any - ( SP | HTAB | CR | LF | "<" | ">" | DQUOTE | ";" | "," | "?" ) )+;

# RFC 5118 §4.5: "received=[2001:db8::9:255]" (brackets) must be parsed.
# It already matches via-extension (gen-value = host), so this accepts
# nothing new; it only makes the value count as the received parameter.
via_received = "received"i EQUAL ( IPv4address | IPv6address | IPv6reference );

# T5, RFC 5118 §4.10: RFC 3261's IPv6address derives the broken
# "2001:db8:::192.0.2.1" and not the correct "2001:db8::192.0.2.1";
# RFC 5954's fix costs 3,000 states in every machine with a host.  The
# reference is taken loosely here and checked by sipkit__ipv6_ok() in C:
# RFC 4291 text forms, plus the three-colon form RFC 5118 says to tolerate.
IPv6reference = "[" ( HEXDIG | ":" | "." )+ "]";

