/* json_body.c - structured bodies in `sipkit parse --json`: the body is
 * parsed by the library's body parser that its Content-Type names (SDP,
 * dtmf-relay, dtmf, multipart), and shown beside its offset and length.  A body that does not
 * parse is shown with its error; it does not make the message rejected. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sipkit.h"
#include "sipkit_body.h"
#include "sipkit_sdp.h"

static int ieq(const char *a, size_t n, const char *lit) {
  size_t i;
  if (strlen(lit) != n)
    return 0;
  for (i = 0; i < n; i++) {
    unsigned char x = (unsigned char)a[i];
    if ((unsigned)(x - 'A') < 26u)
      x |= 0x20;
    if (x != (unsigned char)lit[i])
      return 0;
  }
  return 1;
}

/* Spans from a body parser are relative to the body. */
static void str(cli_json *w, const char *key, const char *body, sipkit_span s) {
  cli_json_string(w, key, body + s.off, s.len);
}

static void opt(cli_json *w, const char *key, const char *body, sipkit_span s) {
  if (s.len)
    str(w, key, body, s);
}

static const char *const dir_names[] = {"", "sendrecv", "sendonly", "recvonly", "inactive"};

static void attrs(cli_json *w, const char *body, const sipkit_sdp_attr *a, uint32_t n) {
  cli_json_begin_array(w, "attributes");
  for (uint32_t i = 0; i < n; i++) {
    cli_json_begin_object(w, NULL);
    str(w, "name", body, a[i].name);
    if (a[i].has_value)
      str(w, "value", body, a[i].value);
    cli_json_end_object(w);
  }
  cli_json_end_array(w);
}

static void conn(cli_json *w, const char *key, const char *body, const sipkit_sdp_conn *c) {
  cli_json_begin_object(w, key);
  str(w, "nettype", body, c->nettype);
  str(w, "addrtype", body, c->addrtype);
  str(w, "address", body, c->address);
  cli_json_end_object(w);
}

static void error_json(cli_json *w, int rc, const sipkit_error *err) {
  cli_json_cstring(w, "error", sipkit_err_name(rc));
  cli_json_uint(w, "offset", err->offset);
  cli_json_cstring(w, "rule", err->rule);
}

static void sdp_json(cli_json *w, const char *body, size_t len) {
  sipkit_sdp *sdp = malloc(sizeof *sdp); /* about 80 KiB: not on the stack */
  sipkit_error err;
  if (!sdp) {
    cli_json_cstring(w, "error", "out of memory");
    return;
  }
  int rc = sipkit_sdp_parse(sdp, body, len, &err);
  cli_json_begin_object(w, "sdp");
  if (rc != SIPKIT_EOK) {
    error_json(w, rc, &err);
  } else {
    cli_json_uint(w, "version", sdp->version);
    cli_json_begin_object(w, "origin");
    str(w, "username", body, sdp->o_username);
    str(w, "sess_id", body, sdp->o_sess_id);
    str(w, "sess_version", body, sdp->o_sess_version);
    str(w, "nettype", body, sdp->o_nettype);
    str(w, "addrtype", body, sdp->o_addrtype);
    str(w, "address", body, sdp->o_address);
    cli_json_end_object(w);
    str(w, "name", body, sdp->name);
    opt(w, "info", body, sdp->info);
    if (sdp->num_conns)
      conn(w, "connection", body, &sdp->conn);
    if (sdp->num_times) {
      str(w, "start", body, sdp->t_start);
      str(w, "stop", body, sdp->t_stop);
    }
    if (sdp->direction)
      cli_json_cstring(w, "direction", dir_names[sdp->direction]);
    attrs(w, body, sdp->attrs, sdp->num_attrs);
    cli_json_begin_array(w, "media");
    for (uint32_t i = 0; i < sdp->num_media; i++) {
      const sipkit_sdp_media *m = &sdp->media[i];
      cli_json_begin_object(w, NULL);
      str(w, "media", body, m->media);
      cli_json_uint(w, "port", m->port);
      str(w, "proto", body, m->proto);
      if (m->num_conns)
        conn(w, "connection", body, &m->conn);
      cli_json_cstring(w, "direction", dir_names[sipkit_sdp_direction(sdp, i)]);
      cli_json_begin_array(w, "formats");
      for (uint32_t f = 0; f < m->num_formats; f++) {
        const sipkit_sdp_format *fm = &m->formats[f];
        cli_json_begin_object(w, NULL);
        str(w, "fmt", body, fm->fmt);
        if (fm->has_rtpmap && !fm->rtpmap_bad) {
          str(w, "encoding", body, fm->encoding);
          cli_json_uint(w, "clock_rate", fm->clock_rate);
          cli_json_uint(w, "channels", fm->channels);
        }
        if (fm->has_fmtp)
          str(w, "fmtp", body, fm->fmtp);
        cli_json_end_object(w);
      }
      cli_json_end_array(w);
      attrs(w, body, m->attrs, m->num_attrs);
      cli_json_end_object(w);
    }
    cli_json_end_array(w);
  }
  cli_json_end_object(w);
  free(sdp);
}

static void dtmf_json(cli_json *w, const char *key, const char *body, size_t len,
                      int (*parse)(sipkit_dtmf *, const char *, size_t, sipkit_error *)) {
  sipkit_dtmf d;
  sipkit_error err;
  int rc = parse(&d, body, len, &err);
  cli_json_begin_object(w, key);
  if (rc != SIPKIT_EOK) {
    error_json(w, rc, &err);
  } else {
    cli_json_string(w, "signal", &d.signal, 1);
    if (d.has_duration)
      cli_json_uint(w, "duration", d.duration);
  }
  cli_json_end_object(w);
}

static void typed_body(cli_json *w, const char *buf, const sipkit_ctype *ct, sipkit_span body,
                       int depth);

static void parts_json(cli_json *w, const char *buf, const sipkit_part *parts, size_t n,
                       int depth) {
  cli_json_begin_array(w, "parts");
  for (size_t i = 0; i < n; i++) {
    const sipkit_part *p = &parts[i];
    cli_json_begin_object(w, NULL);
    if (p->has_ctype) {
      str(w, "type", buf, p->ctype.type);
      str(w, "subtype", buf, p->ctype.subtype);
    }
    opt(w, "content_id", buf, p->content_id);
    opt(w, "disposition", buf, p->disposition);
    cli_json_uint(w, "offset", p->body.off);
    cli_json_uint(w, "length", p->body.len);
    if (p->is_multipart) {
      sipkit_part inner[SIPKIT_MAX_PARTS];
      size_t m = 0;
      sipkit_error err;
      int rc = sipkit_multipart_parse_part(buf, p, inner, SIPKIT_MAX_PARTS, &m, &err);
      cli_json_begin_object(w, "multipart");
      if (rc != SIPKIT_EOK)
        error_json(w, rc, &err);
      else
        parts_json(w, buf, inner, m, depth + 1);
      cli_json_end_object(w);
    } else if (p->has_ctype) {
      typed_body(w, buf, &p->ctype, p->body, depth + 1);
    }
    cli_json_end_object(w);
  }
  cli_json_end_array(w);
}

/* Body spans of the message are absolute; so are the parts' spans, since
 * the multipart parser is given the whole buffer. */
static void typed_body(cli_json *w, const char *buf, const sipkit_ctype *ct, sipkit_span body,
                       int depth) {
  const char *type = buf + ct->type.off, *sub = buf + ct->subtype.off;
  const char *b = buf + body.off;
  size_t tl = ct->type.len, sl = ct->subtype.len;
  if (ieq(type, tl, "application") && ieq(sub, sl, "sdp")) {
    sdp_json(w, b, body.len);
  } else if (ieq(type, tl, "application") && ieq(sub, sl, "dtmf-relay")) {
    dtmf_json(w, "dtmf_relay", b, body.len, sipkit_dtmf_relay_parse);
  } else if (ieq(type, tl, "application") && ieq(sub, sl, "dtmf")) {
    dtmf_json(w, "dtmf", b, body.len, sipkit_dtmf_parse);
  } else if (ieq(type, tl, "multipart") && depth == 0) {
    sipkit_part parts[SIPKIT_MAX_PARTS];
    size_t n = 0;
    sipkit_error err;
    int rc = sipkit_multipart_parse(buf, body, ct->params, parts, SIPKIT_MAX_PARTS, &n, &err);
    cli_json_begin_object(w, "multipart");
    if (rc != SIPKIT_EOK)
      error_json(w, rc, &err);
    else
      parts_json(w, buf, parts, n, depth);
    cli_json_end_object(w);
  }
}

void cli_json_body(cli_json *w, const char *buf, const sipkit_msg *msg) {
  if (msg->content_type && msg->body.len)
    typed_body(w, buf, msg->content_type, msg->body, 0);
}
