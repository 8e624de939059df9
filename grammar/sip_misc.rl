/* sip_misc.rl - the short eagerly parsed values: CSeq (§20.16), Call-ID
 * (§20.8), Max-Forwards (§20.22), Content-Length (§20.14), Content-Type
 * (§20.15), Expires (§20.19).  Numbers are converted in C (bounded digits,
 * range checks); the machines only check the grammar. */
#include "internal.h"
#include "sip_misc_skip.h"

%%{
  machine sipkit_misc;
  alphtype unsigned char;
  #@ value CSeq Call-ID Max-Forwards Content-Length Content-Type Expires
  #@ root CSeq-value Call-ID-value Max-Forwards-value Content-Length-value Content-Type-value Expires-value
  #@ attach Method      >cm_begin %cm_end
  #@ attach m-type      >mt_begin %mt_end
  #@ attach m-subtype   >ms_begin %ms_end
  #@ attach m-parameter >mp_begin %mp_end

  action cm_begin { m = p; }
  action cm_end   { c->cur->u.cseq.method_name = sipkit__span(c, m, p); }
  action mt_begin { m = p; }
  action mt_end   { c->cur->u.ctype.type = sipkit__span(c, m, p); }
  action ms_begin { m = p; }
  action ms_end   { c->cur->u.ctype.subtype = sipkit__span(c, m, p); }
  action mp_begin { if (!m_params) m_params = p; }
  action mp_end   { c->cur->u.ctype.params = sipkit__span(c, m_params, p); }

  include sip_misc_rules "sip_misc_rules.rl";

  # Run skips (gen/c/sip_misc_skip.h), as in sip_uri.rl.
  action skip { if (sipkit_misc_skip_state[ftargs] && skip_ok) p = sipkit__skip_run(p + 1, pe, sipkit_misc_skip_cls[sipkit_misc_skip_state[ftargs]]) - 1; }

  cseq           := CSeq_value $skip;
  call_id        := Call_ID_value $skip;
  max_forwards   := Max_Forwards_value $skip;
  content_length := Content_Length_value $skip;
  content_type   := Content_Type_value $skip;
  expires        := Expires_value $skip;
}%%

%% write data noerror;

/* The commonest forms, recognised exactly without the machine (which has
 * no actions for them but CSeq's method): 1 when [p, pe) is one, with what
 * the machine's actions would record; 0 when the machine must decide.
 * Numbers: 1*DIGIT.  Call-ID: word ["@" word].  CSeq: 1*DIGIT 1*SP token
 * (Method is token: extension-method is token minus the other methods). */
static int fast_misc(struct sipkit__ctx *c, int hdr_id, sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr q;
  switch (hdr_id) {
  case SIPKIT_HDR_MAX_FORWARDS: case SIPKIT_HDR_CONTENT_LENGTH: case SIPKIT_HDR_EXPIRES:
    return p < pe && sipkit__skip_cls(p, pe, SIPKIT__C_DIGIT) == pe;
  case SIPKIT_HDR_CALL_ID:
    q = sipkit__skip_cls(p, pe, SIPKIT__C_WORD);
    if (q == p)
      return 0;
    if (q < pe && *q == '@') {
      sipkit__ptr w = q + 1;
      q = sipkit__skip_cls(w, pe, SIPKIT__C_WORD);
      if (q == w)
        return 0;
    }
    return q == pe;
  case SIPKIT_HDR_CSEQ:
    q = sipkit__skip_cls(p, pe, SIPKIT__C_DIGIT);
    if (q == p || q == pe || *q != ' ')
      return 0;
    while (q < pe && *q == ' ')
      q++;
    p = q;
    q = sipkit__skip_cls(p, pe, SIPKIT__C_TOKEN);
    if (q == p || q != pe)
      return 0;
    c->cur->u.cseq.method_name = sipkit__span(c, p, q);
    return 1;
  }
  return 0;
}

int sipkit__vm_misc(struct sipkit__ctx *c, int hdr_id, sipkit__ptr p, sipkit__ptr pe) {
  sipkit__ptr eof = pe, m = p, m_params = NULL;
  const char *rule;
  const int skip_ok = !(c->flags & SIPKIT__PARSE_REFERENCE);
  int cs;
  switch (hdr_id) {
  case SIPKIT_HDR_CSEQ: cs = sipkit_misc_en_cseq; rule = "CSeq"; break;
  case SIPKIT_HDR_CALL_ID: cs = sipkit_misc_en_call_id; rule = "callid"; break;
  case SIPKIT_HDR_MAX_FORWARDS: cs = sipkit_misc_en_max_forwards; rule = "Max-Forwards"; break;
  case SIPKIT_HDR_CONTENT_LENGTH: cs = sipkit_misc_en_content_length; rule = "Content-Length"; break;
  case SIPKIT_HDR_CONTENT_TYPE: cs = sipkit_misc_en_content_type; rule = "media-type"; break;
  default: cs = sipkit_misc_en_expires; rule = "delta-seconds"; break;
  }
  if (!(c->flags & SIPKIT__PARSE_REFERENCE) && fast_misc(c, hdr_id, p, pe))
    return 0;
  %% write exec;
  if (cs < sipkit_misc_first_final || p < pe)
    return sipkit__fail(c, SIPKIT_EHEADER_VALUE, p < pe ? p : pe, rule);
  return c->code != SIPKIT_EOK;
}
