/* bench_sofia.c - sofia-sip 1.12 adapter for the parser benchmark.
 *
 * msg_make() creates a msg_t, copies the bytes into its own buffer and
 * parses the headers its message class knows; sip_object() gives the
 * parsed view.  The message is destroyed after the fields are copied out.
 */
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>

#include "bench.h"

static int sofia_parse(const char *buf, size_t len, struct bench_fields *out) {
  msg_t *m = msg_make(sip_default_mclass(), 0, buf, (ssize_t)len);
  sip_t const *sip;
  int rc = -1;

  if (!m)
    return -1;
  sip = sip_object(m);
  if (!sip || msg_has_error(m) || (!sip->sip_request && !sip->sip_status))
    goto done;

  if (sip->sip_request) {
    out->status = 0;
    if (bench_copy_str(out->method, sip->sip_request->rq_method_name) ||
        bench_copy_str(out->ruri_host, sip->sip_request->rq_url->url_host))
      goto done;
  } else {
    out->status = sip->sip_status->st_status;
    out->method[0] = out->ruri_host[0] = '\0';
  }
  if (bench_copy_str(out->via_branch, sip->sip_via ? sip->sip_via->v_branch : NULL) ||
      bench_copy_str(out->from_tag, sip->sip_from ? sip->sip_from->a_tag : NULL) ||
      bench_copy_str(out->to_tag, sip->sip_to ? sip->sip_to->a_tag : NULL) ||
      bench_copy_str(out->call_id, sip->sip_call_id ? sip->sip_call_id->i_id : NULL) ||
      bench_copy_str(out->cseq_method, sip->sip_cseq ? sip->sip_cseq->cs_method_name : NULL))
    goto done;
  out->cseq_num = sip->sip_cseq ? sip->sip_cseq->cs_seq : 0;
  out->content_length = sip->sip_content_length ? sip->sip_content_length->l_length : 0;
  if (sip->sip_contact) {
    url_t const *u = sip->sip_contact->m_url;
    if (bench_copy_str(out->contact_user, u->url_user) ||
        bench_copy_str(out->contact_host, u->url_host) ||
        bench_u32(&out->contact_port, u->url_port))
      goto done;
  } else {
    out->contact_user[0] = out->contact_host[0] = '\0';
    out->contact_port = 0;
  }
  rc = 0;
done:
  msg_destroy(m);
  return rc;
}

const struct bench_parser bench_parser_sofia = {"sofia-sip", NULL, sofia_parse};
