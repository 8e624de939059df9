/* auth.c - digest authentication (RFC 3261 §22, RFC 7616, RFC 8760):
 * challenge and credentials parsing on top of the header grammar, the
 * response computation through OpenSSL EVP, the client's credentials and
 * the server's check, stateless nonces. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "internal.h"
#include "sipkit_auth.h"

/* ------------------------------------------------------------ algorithms */

static const char *const alg_names[SIPKIT_DIGEST__COUNT] = {
#define SIPKIT_XX_NAME(num, name, str) [num] = str,
    SIPKIT_DIGEST_ALG_MAP(SIPKIT_XX_NAME)
#undef SIPKIT_XX_NAME
};

/* OpenSSL 3 names of the three hashes (alg >> 1). */
static const char *const evp_names[3] = {"MD5", "SHA2-256", "SHA2-512/256"};

const char *sipkit_digest_alg_name(int alg) {
  return alg >= 0 && alg < SIPKIT_DIGEST__COUNT ? alg_names[alg] : "";
}

static int lower(int ch) {
  return (unsigned)(ch - 'A') < 26u ? ch | 0x20 : ch;
}

static int ieq(const char *a, size_t alen, const char *b) {
  size_t n = strlen(b);
  if (alen != n)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
      return 0;
  return 1;
}

int sipkit_digest_alg_lookup(const char *name, size_t len) {
  for (int i = 0; i < SIPKIT_DIGEST__COUNT; i++)
    if (ieq(name, len, alg_names[i]))
      return i;
  return -1;
}

size_t sipkit_digest_hex_len(int alg) {
  if (alg < 0 || alg >= SIPKIT_DIGEST__COUNT)
    return 0;
  return alg >> 1 ? 64 : 32;
}

/* ------------------------------------------------------------ errors */

static int fail(sipkit_error *err, int code, const char *buf, size_t len,
                uint32_t off, const char *rule) {
  if (err) {
    err->code = code;
    err->offset = off;
    err->rule = rule ? rule : "";
    if (buf)
      sipkit__line_col(buf, len, off, &err->line, &err->column);
    else
      err->line = err->column = 0;
  }
  return code;
}

static int ok(sipkit_error *err) {
  if (err) {
    err->code = SIPKIT_EOK;
    err->offset = err->line = err->column = 0;
    err->rule = "";
  }
  return SIPKIT_EOK;
}

/* The grammar check: the machine reads a whole "Name: value" line, so the
 * value is copied once after the canonical name into a bounded stack
 * buffer.  Errors are reported at the matching offset of buf. */
static int grammar(int hdr_id, const char *buf, size_t off, size_t vlen,
                   int code, sipkit_error *err) {
  unsigned char line[SIPKIT_MAX_HEADER_LINE];
  const char *name = sipkit_hdr_name(hdr_id);
  size_t nl = strlen(name);
  struct sipkit__ctx c;
  if (nl + 2 + vlen > sizeof line)
    return fail(err, SIPKIT_ELINE_TOO_LONG, buf, off + vlen, (uint32_t)off, "");
  memcpy(line, name, nl);
  line[nl] = ':';
  line[nl + 1] = ' ';
  if (vlen)
    memcpy(line + nl + 2, buf + off, vlen);
  memset(&c, 0, sizeof c);
  c.base = line;
  c.end = line + nl + 2 + vlen;
  if (sipkit__vm_validate(&c, hdr_id, c.base, c.end) == 0)
    return SIPKIT_EOK;
  {
    uint32_t at = c.err_off < nl + 2 ? 0 : c.err_off - (uint32_t)(nl + 2);
    if (at > vlen)
      at = (uint32_t)vlen;
    return fail(err, code, buf, off + vlen, (uint32_t)(off + at), c.err_rule);
  }
}

static int is_auth_hdr(int id, int challenge) {
  if (challenge)
    return id == SIPKIT_HDR_WWW_AUTHENTICATE || id == SIPKIT_HDR_PROXY_AUTHENTICATE;
  return id == SIPKIT_HDR_AUTHORIZATION || id == SIPKIT_HDR_PROXY_AUTHORIZATION;
}

/* ------------------------------------------------------------ splitting */

static int is_lws(unsigned char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

struct param {
  uint32_t name_off, name_len;
  sipkit_span value;   /* inside the quotes when quoted */
  uint8_t quoted;
};

/* Split "Digest p=v, p="v", ..." (already checked by the grammar) into
 * params.  Returns the count, or -1 (not Digest / too many / malformed:
 * *at says where). */
static int split(const char *buf, uint32_t off, uint32_t len,
                 struct param *ps, uint32_t *at) {
  const unsigned char *b = (const unsigned char *)buf;
  uint32_t p = off, e = off + len;
  int n = 0;
  *at = off;
  if (len < 6 || !ieq(buf + off, 6, "Digest") || (len > 6 && !is_lws(b[off + 6])))
    return -1;
  p = off + 6;
  for (;;) {
    struct param *x;
    while (p < e && is_lws(b[p]))
      p++;
    if (p == e)
      return n ? n : -1;
    if (n == (int)SIPKIT_AUTH_MAX_PARAMS) {
      *at = p;
      return -1;
    }
    x = &ps[n];
    x->name_off = p;
    while (p < e && b[p] != '=' && !is_lws(b[p]) && b[p] != ',')
      p++;
    x->name_len = p - x->name_off;
    while (p < e && is_lws(b[p]))
      p++;
    if (p == e || b[p] != '=' || x->name_len == 0) {
      *at = p;
      return -1;
    }
    p++;
    while (p < e && is_lws(b[p]))
      p++;
    if (p < e && b[p] == '"') {
      uint32_t v = ++p;
      while (p < e && b[p] != '"')
        p += b[p] == '\\' ? 2 : 1;
      if (p >= e) {
        *at = v - 1;
        return -1;
      }
      x->value.off = v;
      x->value.len = p - v;
      x->quoted = 1;
      p++;
    } else {
      uint32_t v = p;
      while (p < e && b[p] != ',' && !is_lws(b[p]))
        p++;
      x->value.off = v;
      x->value.len = p - v;
      x->quoted = 0;
    }
    n++;
    while (p < e && is_lws(b[p]))
      p++;
    if (p == e)
      return n;
    if (b[p] != ',') {
      *at = p;
      return -1;
    }
    p++;
  }
}

/* The first duplicated name (case-insensitive), or -1. */
static int duplicate(const char *buf, const struct param *ps, int n) {
  for (int i = 1; i < n; i++)
    for (int j = 0; j < i; j++)
      if (ps[i].name_len == ps[j].name_len) {
        uint32_t k = 0;
        while (k < ps[i].name_len &&
               lower((unsigned char)buf[ps[i].name_off + k]) ==
                   lower((unsigned char)buf[ps[j].name_off + k]))
          k++;
        if (k == ps[i].name_len)
          return i;
      }
  return -1;
}

static int named(const char *buf, const struct param *x, const char *name) {
  return ieq(buf + x->name_off, x->name_len, name);
}

size_t sipkit_auth_unquote(const char *buf, sipkit_span s, char *out,
                           size_t cap) {
  size_t n = 0;
  for (uint32_t i = 0; i < s.len; i++) {
    char ch = buf[s.off + i];
    if (ch == '\\' && i + 1 < s.len)
      ch = buf[s.off + ++i];
    if (n < cap)
      out[n] = ch;
    n++;
  }
  return n;
}

/* common prologue: arguments, grammar, split, duplicates */
static int prepare(int hdr_id, int challenge, const char *buf,
                   sipkit_span value, struct param *ps, int *np,
                   sipkit_error *err) {
  uint32_t at;
  int n, d, rc;
  if (!buf || !is_auth_hdr(hdr_id, challenge))
    return fail(err, SIPKIT_EARGUMENT, NULL, 0, 0, "");
  rc = grammar(hdr_id, buf, value.off, value.len, SIPKIT_EAUTH, err);
  if (rc)
    return rc;
  n = split(buf, value.off, value.len, ps, &at);
  if (n < 0)
    return fail(err, SIPKIT_EAUTH, buf, value.off + value.len, at,
                challenge ? "challenge" : "credentials");
  d = duplicate(buf, ps, n);
  if (d >= 0)
    return fail(err, SIPKIT_EAUTH, buf, value.off + value.len, ps[d].name_off,
                "duplicate parameter");
  *np = n;
  return SIPKIT_EOK;
}

static int set_alg(const char *buf, const struct param *x, sipkit_span *name,
                   int *alg) {
  *name = x->value;
  *alg = sipkit_digest_alg_lookup(buf + x->value.off, x->value.len);
  return *alg < 0;
}

int sipkit_auth_parse_challenge(sipkit_challenge *ch, int hdr_id,
                                const char *buf, sipkit_span value,
                                sipkit_error *err) {
  struct param ps[SIPKIT_AUTH_MAX_PARAMS];
  size_t blen = (size_t)value.off + value.len;
  int n = 0, rc;
  unsigned seen = 0;
  if (!ch)
    return fail(err, SIPKIT_EARGUMENT, NULL, 0, 0, "");
  memset(ch, 0, sizeof *ch);
  rc = prepare(hdr_id, 1, buf, value, ps, &n, err);
  if (rc)
    return rc;
  for (int i = 0; i < n; i++) {
    const struct param *x = &ps[i];
    if (named(buf, x, "realm")) {
      ch->realm = x->value;
      seen |= 1;
    } else if (named(buf, x, "nonce")) {
      ch->nonce = x->value;
      seen |= 2;
    } else if (named(buf, x, "opaque")) {
      ch->opaque = x->value;
      ch->has_opaque = 1;
    } else if (named(buf, x, "domain")) {
      ch->domain = x->value;
    } else if (named(buf, x, "stale")) {
      if (ieq(buf + x->value.off, x->value.len, "true"))
        ch->stale = 1;
      else if (!ieq(buf + x->value.off, x->value.len, "false"))
        return fail(err, SIPKIT_EAUTH, buf, blen, x->value.off, "stale");
    } else if (named(buf, x, "algorithm")) {
      if (set_alg(buf, x, &ch->algorithm_name, &ch->algorithm))
        return fail(err, SIPKIT_EAUTH_ALGORITHM, buf, blen, x->value.off, "algorithm");
    } else if (named(buf, x, "qop")) {
      /* qop-options: a quoted comma list of qop-value */
      uint32_t p = x->value.off, e = p + x->value.len;
      ch->qop = x->value;
      ch->has_qop = 1;
      while (p < e) {
        uint32_t t;
        while (p < e && (is_lws((unsigned char)buf[p]) || buf[p] == ','))
          p++;
        t = p;
        while (p < e && buf[p] != ',' && !is_lws((unsigned char)buf[p]))
          p++;
        if (ieq(buf + t, p - t, "auth"))
          ch->qop_offered |= SIPKIT_QOP_AUTH;
        else if (ieq(buf + t, p - t, "auth-int"))
          ch->qop_offered |= SIPKIT_QOP_AUTH_INT;
      }
    }
  }
  if (!(seen & 1))
    return fail(err, SIPKIT_EAUTH, buf, blen, value.off + value.len, "realm");
  if (!(seen & 2))
    return fail(err, SIPKIT_EAUTH, buf, blen, value.off + value.len, "nonce");
  return ok(err);
}

static int lhex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((unsigned)(s[i] - '0') < 10u || (unsigned)(s[i] - 'a') < 6u))
      return 0;
  return 1;
}

int sipkit_auth_parse_credentials(sipkit_credentials *cr, int hdr_id,
                                  const char *buf, sipkit_span value,
                                  sipkit_error *err) {
  static const char *const required[] = {"username", "realm", "nonce", "uri",
                                         "response"};
  struct param ps[SIPKIT_AUTH_MAX_PARAMS];
  size_t blen = (size_t)value.off + value.len;
  uint32_t end = value.off + value.len;
  int n = 0, rc;
  unsigned seen = 0;
  if (!cr)
    return fail(err, SIPKIT_EARGUMENT, NULL, 0, 0, "");
  memset(cr, 0, sizeof *cr);
  rc = prepare(hdr_id, 0, buf, value, ps, &n, err);
  if (rc)
    return rc;
  for (int i = 0; i < n; i++) {
    const struct param *x = &ps[i];
    const char *v = buf + x->value.off;
    if (named(buf, x, "username")) {
      cr->username = x->value;
      seen |= 1;
    } else if (named(buf, x, "realm")) {
      cr->realm = x->value;
      seen |= 2;
    } else if (named(buf, x, "nonce")) {
      cr->nonce = x->value;
      seen |= 4;
    } else if (named(buf, x, "uri")) {
      cr->uri = x->value;
      seen |= 8;
    } else if (named(buf, x, "response")) {
      cr->response = x->value;
      seen |= 16;
    } else if (named(buf, x, "cnonce")) {
      cr->cnonce = x->value;
      seen |= 32;
    } else if (named(buf, x, "nc")) {
      if (x->value.len != 8 || !lhex(v, 8))
        return fail(err, SIPKIT_EAUTH, buf, blen, x->value.off, "nc-value");
      cr->nc = x->value;
      for (int k = 0; k < 8; k++)
        cr->nc_value = cr->nc_value << 4 |
                       (uint32_t)(v[k] <= '9' ? v[k] - '0' : v[k] - 'a' + 10);
      seen |= 64;
    } else if (named(buf, x, "qop")) {
      cr->qop_name = x->value;
      if (ieq(v, x->value.len, "auth"))
        cr->qop = SIPKIT_QOP_AUTH;
      else if (ieq(v, x->value.len, "auth-int"))
        cr->qop = SIPKIT_QOP_AUTH_INT;
      else
        return fail(err, SIPKIT_EAUTH, buf, blen, x->value.off, "message-qop");
    } else if (named(buf, x, "opaque")) {
      cr->opaque = x->value;
      cr->has_opaque = 1;
    } else if (named(buf, x, "algorithm")) {
      if (set_alg(buf, x, &cr->algorithm_name, &cr->algorithm))
        return fail(err, SIPKIT_EAUTH_ALGORITHM, buf, blen, x->value.off, "algorithm");
    }
  }
  for (unsigned k = 0; k < 5; k++)
    if (!(seen & 1u << k))
      return fail(err, SIPKIT_EAUTH, buf, blen, end, required[k]);
  { /* the auth-param alternative lets any quoted uri through the grammar */
    sipkit_uri u;
    if (sipkit_uri_parse(&u, buf, cr->uri, NULL) != SIPKIT_EOK)
      return fail(err, SIPKIT_EAUTH, buf, blen, cr->uri.off, "digest-uri-value");
  }
  if (cr->response.len &&
      (cr->response.len != sipkit_digest_hex_len(cr->algorithm) ||
       !lhex(buf + cr->response.off, cr->response.len)))
    return fail(err, SIPKIT_EAUTH, buf, blen, cr->response.off, "request-digest");
  if (cr->qop && !(seen & 32))
    return fail(err, SIPKIT_EAUTH, buf, blen, end, "cnonce");
  if (cr->qop && !(seen & 64))
    return fail(err, SIPKIT_EAUTH, buf, blen, end, "nonce-count");
  if (SIPKIT_DIGEST_IS_SESS(cr->algorithm) && !(seen & 32))
    return fail(err, SIPKIT_EAUTH, buf, blen, end, "cnonce");
  return ok(err);
}

int sipkit_auth_challenge_pick(sipkit_challenge *ch, const sipkit_msg *msg,
                               const char *buf, int hdr_id,
                               sipkit_error *err) {
  const sipkit_header *h;
  int best = -1, first_rc = SIPKIT_EOK;
  sipkit_error first_err;
  sipkit_challenge c;
  if (!ch || !msg || !buf || !is_auth_hdr(hdr_id, 1))
    return fail(err, SIPKIT_EARGUMENT, NULL, 0, 0, "");
  memset(&first_err, 0, sizeof first_err);
  for (h = sipkit_msg_header(msg, hdr_id); h; h = sipkit_msg_header_next(msg, h)) {
    sipkit_error e;
    int rc = sipkit_auth_parse_challenge(&c, hdr_id, buf, h->value, &e);
    if (rc) {
      if (first_rc == SIPKIT_EOK) {
        first_rc = rc;
        first_err = e;
      }
      continue;
    }
    if (best < 0 || (c.algorithm >> 1) > (ch->algorithm >> 1)) {
      *ch = c;
      best = c.algorithm;
    }
  }
  if (best >= 0)
    return ok(err);
  if (first_rc == SIPKIT_EOK)
    return fail(err, SIPKIT_EAUTH, NULL, 0, 0, sipkit_hdr_name(hdr_id));
  if (err)
    *err = first_err;
  return first_rc;
}

/* ------------------------------------------------------------ hashing */

struct part {
  const char *p;
  size_t n;
  int esc; /* remove quoted-pair backslashes */
};

static int update(EVP_MD_CTX *x, const struct part *pt) {
  const char *p = pt->p, *e = pt->p + pt->n;
  if (!pt->esc)
    return pt->n ? EVP_DigestUpdate(x, p, pt->n) : 1;
  while (p < e) {
    const char *q = p;
    while (q < e && *q != '\\')
      q++;
    if (q > p && !EVP_DigestUpdate(x, p, (size_t)(q - p)))
      return 0;
    if (q + 1 < e && !EVP_DigestUpdate(x, q + 1, 1))
      return 0;
    p = q + 2;
  }
  return 1;
}

/* hex(H(part0 ":" part1 ":" ...)) into hex (65 bytes), NUL-terminated */
static int hash_hex(int alg, const struct part *parts, int n, char *hex) {
  static const char digits[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  int good;
  EVP_MD *m = EVP_MD_fetch(NULL, evp_names[alg >> 1], NULL);
  EVP_MD_CTX *x = EVP_MD_CTX_new();
  good = m && x && EVP_DigestInit_ex(x, m, NULL);
  for (int i = 0; good && i < n; i++)
    good = (i == 0 || EVP_DigestUpdate(x, ":", 1)) && update(x, &parts[i]);
  good = good && EVP_DigestFinal_ex(x, md, &mdlen);
  EVP_MD_CTX_free(x);
  EVP_MD_free(m);
  if (!good || mdlen * 2 != sipkit_digest_hex_len(alg))
    return SIPKIT_EAUTH_ALGORITHM;
  for (unsigned i = 0; i < mdlen; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  hex[2 * mdlen] = '\0';
  return SIPKIT_EOK;
}

/* Every input as a part; ha1 given (n > 0) replaces the password. */
struct dparts {
  struct part username, realm, password, ha1, nonce, cnonce, nc, method, uri,
      body;
};

static int compute(int alg, int qop, const struct dparts *d, char *out) {
  char ha1[SIPKIT_DIGEST_HEX_MAX + 1], ha2[SIPKIT_DIGEST_HEX_MAX + 1];
  static const struct part qops[3] = {{"", 0, 0}, {"auth", 4, 0}, {"auth-int", 8, 0}};
  size_t hl = sipkit_digest_hex_len(alg);
  int rc;
  if (!hl)
    return SIPKIT_EAUTH_ALGORITHM;
  if (qop < SIPKIT_QOP_NONE || qop > SIPKIT_QOP_AUTH_INT)
    return SIPKIT_EARGUMENT;
  /* HA1 = H(username:realm:password), -sess: H(HA1:nonce:cnonce) */
  if (d->ha1.p) {
    if (d->ha1.n != hl || !lhex(d->ha1.p, hl))
      return SIPKIT_EARGUMENT;
    memcpy(ha1, d->ha1.p, hl);
    ha1[hl] = '\0';
  } else {
    struct part a[3] = {d->username, d->realm, d->password};
    if ((rc = hash_hex(alg, a, 3, ha1)))
      return rc;
  }
  if (SIPKIT_DIGEST_IS_SESS(alg)) {
    struct part a[3] = {{ha1, hl, 0}, d->nonce, d->cnonce};
    if ((rc = hash_hex(alg, a, 3, ha1)))
      return rc;
  }
  /* HA2 = H(method:uri), auth-int: H(method:uri:H(body)) */
  if (qop == SIPKIT_QOP_AUTH_INT) {
    char hb[SIPKIT_DIGEST_HEX_MAX + 1];
    struct part a[3] = {d->method, d->uri, {hb, hl, 0}};
    if ((rc = hash_hex(alg, &d->body, 1, hb)) || (rc = hash_hex(alg, a, 3, ha2)))
      return rc;
  } else {
    struct part a[2] = {d->method, d->uri};
    if ((rc = hash_hex(alg, a, 2, ha2)))
      return rc;
  }
  if (qop) {
    struct part a[6] = {{ha1, hl, 0}, d->nonce, d->nc, d->cnonce, qops[qop], {ha2, hl, 0}};
    return hash_hex(alg, a, 6, out);
  } else {
    struct part a[3] = {{ha1, hl, 0}, d->nonce, {ha2, hl, 0}};
    return hash_hex(alg, a, 3, out);
  }
}

static struct part raw(sipkit_strv s) {
  struct part p = {s.ptr ? s.ptr : "", s.len, 0};
  return p;
}

static struct part cstr(const char *s) {
  struct part p = {s ? s : "", s ? strlen(s) : 0, 0};
  return p;
}

static struct part quoted(const char *buf, sipkit_span s) {
  struct part p = {buf + s.off, s.len, 1};
  return p;
}

int sipkit_digest_response(const sipkit_digest_in *in, char *out, size_t cap) {
  struct dparts d;
  char hex[SIPKIT_DIGEST_HEX_MAX + 1];
  int rc;
  if (!in || !out)
    return SIPKIT_EARGUMENT;
  if (!sipkit_digest_hex_len(in->algorithm))
    return SIPKIT_EAUTH_ALGORITHM;
  if (cap < sipkit_digest_hex_len(in->algorithm) + 1)
    return SIPKIT_EBUFFER_TOO_SMALL;
  d.username = raw(in->username);
  d.realm = raw(in->realm);
  d.password = raw(in->password);
  d.ha1 = raw(in->ha1);
  if (!in->ha1.ptr)
    d.ha1.p = NULL;
  d.nonce = raw(in->nonce);
  d.cnonce = raw(in->cnonce);
  d.nc = raw(in->nc);
  d.method = raw(in->method);
  d.uri = raw(in->uri);
  d.body = raw(in->body);
  rc = compute(in->algorithm, in->qop, &d, hex);
  if (rc == SIPKIT_EOK)
    memcpy(out, hex, strlen(hex) + 1);
  return rc;
}

/* ------------------------------------------------------------ writing */

struct out {
  char *buf;
  size_t cap, n;
};

static void put(struct out *o, const char *s, size_t n) {
  if (o->n < o->cap)
    memcpy(o->buf + o->n, s, o->n + n <= o->cap ? n : o->cap - o->n);
  o->n += n;
}

static void puts_(struct out *o, const char *s) {
  put(o, s, strlen(s));
}

/* name="escaped s"; returns 1 on a byte no quoted-string can carry */
static int put_quoted(struct out *o, const char *name, const char *s) {
  puts_(o, name);
  put(o, "=\"", 2);
  for (const char *p = s ? s : ""; *p; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch == '\r' || ch == '\n' || ch == 0x7f || (ch < 0x20 && ch != '\t'))
      return 1;
    if (ch == '"' || ch == '\\')
      put(o, "\\", 1);
    put(o, p, 1);
  }
  put(o, "\"", 1);
  return 0;
}

static void put_span(struct out *o, const char *name, const char *buf,
                     sipkit_span s) {
  puts_(o, name);
  put(o, "=\"", 2);
  put(o, buf + s.off, s.len);
  put(o, "\"", 1);
}

/* the NUL, the length, and the grammar check of what was written */
static int finish(struct out *o, int hdr_id, size_t *len, sipkit_error *err) {
  if (len)
    *len = o->n;
  if (o->n >= o->cap)
    return fail(err, SIPKIT_EBUFFER_TOO_SMALL, NULL, 0, (uint32_t)o->cap, "");
  o->buf[o->n] = '\0';
  {
    int rc = grammar(hdr_id, o->buf, 0, o->n, SIPKIT_EINVALID_VALUE, err);
    return rc ? rc : ok(err);
  }
}

static int random_hex(char *hex, size_t bytes) {
  static const char digits[] = "0123456789abcdef";
  unsigned char r[32];
  size_t got = 0;
  if (bytes > sizeof r)
    return 1;
  while (got < bytes) {
    ssize_t k = getrandom(r + got, bytes - got, 0);
    if (k <= 0)
      return 1;
    got += (size_t)k;
  }
  for (size_t i = 0; i < bytes; i++) {
    hex[2 * i] = digits[r[i] >> 4];
    hex[2 * i + 1] = digits[r[i] & 15];
  }
  hex[2 * bytes] = '\0';
  return 0;
}

int sipkit_auth_build(const sipkit_challenge *ch, const char *chbuf,
                      const sipkit_auth_client *cl, char *out, size_t cap,
                      size_t *len, sipkit_error *err) {
  struct out o = {out, out ? cap : 0, 0};
  struct dparts d;
  char cn[33], nc[9], resp[SIPKIT_DIGEST_HEX_MAX + 1];
  const char *cnonce = cl ? cl->cnonce : NULL;
  int qop = SIPKIT_QOP_NONE, rc, bad = 0;
  if (len)
    *len = 0;
  if (!ch || !chbuf || !cl || !cl->username || !cl->method || !cl->uri ||
      (!cl->password && !cl->ha1))
    return fail(err, SIPKIT_EARGUMENT, NULL, 0, 0, "");
  if (ch->has_qop) {
    if ((cl->want_auth_int || !(ch->qop_offered & SIPKIT_QOP_AUTH)) &&
        (ch->qop_offered & SIPKIT_QOP_AUTH_INT))
      qop = SIPKIT_QOP_AUTH_INT;
    else if (ch->qop_offered & SIPKIT_QOP_AUTH)
      qop = SIPKIT_QOP_AUTH;
    else
      return fail(err, SIPKIT_EAUTH, NULL, 0, 0, "qop-options");
    if (cl->nc == 0)
      return fail(err, SIPKIT_EARGUMENT, NULL, 0, 0, "nonce-count");
  }
  if (!cnonce && (qop || SIPKIT_DIGEST_IS_SESS(ch->algorithm))) {
    if (random_hex(cn, 16))
      return fail(err, SIPKIT_EARGUMENT, NULL, 0, 0, "cnonce");
    cnonce = cn;
  }
  snprintf(nc, sizeof nc, "%08x", (unsigned)cl->nc);
  d.username = cstr(cl->username);
  d.realm = quoted(chbuf, ch->realm);
  d.password = cstr(cl->password);
  d.ha1 = cstr(cl->ha1);
  if (!cl->ha1)
    d.ha1.p = NULL;
  d.nonce = quoted(chbuf, ch->nonce);
  d.cnonce = cstr(cnonce);
  d.nc = cstr(nc);
  d.method = cstr(cl->method);
  d.uri = cstr(cl->uri);
  d.body.p = cl->body ? cl->body : "";
  d.body.n = cl->body ? cl->body_len : 0;
  d.body.esc = 0;
  rc = compute(ch->algorithm, qop, &d, resp);
  if (rc)
    return fail(err, rc, NULL, 0, 0, rc == SIPKIT_EARGUMENT ? "ha1" : "algorithm");

  puts_(&o, "Digest ");
  bad = put_quoted(&o, "username", cl->username);
  if (bad)
    return fail(err, SIPKIT_EINVALID_VALUE, NULL, 0, 0, "username");
  put_span(&o, ", realm", chbuf, ch->realm);
  put_span(&o, ", nonce", chbuf, ch->nonce);
  {
    sipkit_uri u;
    sipkit_span us = {0, (uint32_t)strlen(cl->uri)};
    if (put_quoted(&o, ", uri", cl->uri) || sipkit_uri_parse(&u, cl->uri, us, NULL))
      return fail(err, SIPKIT_EINVALID_VALUE, NULL, 0, 0, "digest-uri-value");
  }
  put_quoted(&o, ", response", resp);
  puts_(&o, ", algorithm=");
  puts_(&o, sipkit_digest_alg_name(ch->algorithm));
  if (cnonce && put_quoted(&o, ", cnonce", cnonce))
    return fail(err, SIPKIT_EINVALID_VALUE, NULL, 0, 0, "cnonce");
  if (ch->has_opaque)
    put_span(&o, ", opaque", chbuf, ch->opaque);
  if (qop) {
    puts_(&o, qop == SIPKIT_QOP_AUTH ? ", qop=auth" : ", qop=auth-int");
    puts_(&o, ", nc=");
    puts_(&o, nc);
  }
  return finish(&o, SIPKIT_HDR_AUTHORIZATION, len, err);
}

/* ------------------------------------------------------------ server */

int sipkit_auth_verify(const sipkit_credentials *cr, const char *buf,
                       const sipkit_auth_verify_in *in) {
  struct dparts d;
  char resp[SIPKIT_DIGEST_HEX_MAX + 1];
  size_t hl;
  if (!cr || !buf || !in || !in->method || (!in->password && !in->ha1))
    return SIPKIT_EARGUMENT;
  hl = sipkit_digest_hex_len(cr->algorithm);
  if (!hl)
    return SIPKIT_EAUTH_ALGORITHM;
  d.username = quoted(buf, cr->username);
  d.realm = quoted(buf, cr->realm);
  d.password = cstr(in->password);
  d.ha1 = cstr(in->ha1);
  if (!in->ha1)
    d.ha1.p = NULL;
  d.nonce = quoted(buf, cr->nonce);
  d.cnonce = quoted(buf, cr->cnonce);
  d.nc = quoted(buf, cr->nc);
  d.method = cstr(in->method);
  d.uri = quoted(buf, cr->uri);
  d.body.p = in->body ? in->body : "";
  d.body.n = in->body ? in->body_len : 0;
  d.body.esc = 0;
  if (compute(cr->algorithm, cr->qop, &d, resp))
    return SIPKIT_EAUTH;
  if (cr->response.len != hl ||
      CRYPTO_memcmp(resp, buf + cr->response.off, hl) != 0)
    return SIPKIT_EAUTH;
  return SIPKIT_EOK;
}

static int nonce_mac(const void *key, size_t key_len, const char *head,
                     char *hex) {
  static const char digits[] = "0123456789abcdef";
  unsigned char mac[32];
  size_t maclen = 0;
  if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len,
                 (const unsigned char *)head, 32, mac, sizeof mac, &maclen) ||
      maclen != sizeof mac)
    return 1;
  for (size_t i = 0; i < maclen; i++) {
    hex[2 * i] = digits[mac[i] >> 4];
    hex[2 * i + 1] = digits[mac[i] & 15];
  }
  return 0;
}

int sipkit_auth_nonce_make(const void *key, size_t key_len, uint64_t now,
                           char *out, size_t cap) {
  char n[SIPKIT_AUTH_NONCE_LEN + 1];
  if (!key || !key_len || !out)
    return SIPKIT_EARGUMENT;
  if (cap < SIPKIT_AUTH_NONCE_LEN + 1)
    return SIPKIT_EBUFFER_TOO_SMALL;
  snprintf(n, 17, "%016llx", (unsigned long long)now);
  if (random_hex(n + 16, 8) || nonce_mac(key, key_len, n, n + 32))
    return SIPKIT_EARGUMENT;
  n[SIPKIT_AUTH_NONCE_LEN] = '\0';
  memcpy(out, n, sizeof n);
  return SIPKIT_EOK;
}

int sipkit_auth_nonce_check(const void *key, size_t key_len, const char *nonce,
                            size_t len, uint64_t now, uint64_t max_age,
                            int *stale) {
  char mac[64];
  uint64_t t = 0;
  if (stale)
    *stale = 0;
  if (!key || !key_len || !nonce)
    return SIPKIT_EARGUMENT;
  if (len != SIPKIT_AUTH_NONCE_LEN || !lhex(nonce, len) ||
      nonce_mac(key, key_len, nonce, mac) ||
      CRYPTO_memcmp(mac, nonce + 32, sizeof mac) != 0)
    return SIPKIT_EAUTH;
  for (int i = 0; i < 16; i++)
    t = t << 4 | (uint64_t)(nonce[i] <= '9' ? nonce[i] - '0' : nonce[i] - 'a' + 10);
  if (stale)
    *stale = t > now || now - t > max_age;
  return SIPKIT_EOK;
}

int sipkit_auth_challenge_build(const sipkit_auth_challenge_in *in, char *out,
                                size_t cap, size_t *len, sipkit_error *err) {
  struct out o = {out, out ? cap : 0, 0};
  if (len)
    *len = 0;
  if (!in || !in->realm || !in->nonce || !sipkit_digest_hex_len(in->algorithm) ||
      (in->qop & ~(SIPKIT_QOP_AUTH | SIPKIT_QOP_AUTH_INT)))
    return fail(err, SIPKIT_EARGUMENT, NULL, 0, 0, "");
  puts_(&o, "Digest ");
  if (put_quoted(&o, "realm", in->realm))
    return fail(err, SIPKIT_EINVALID_VALUE, NULL, 0, 0, "realm");
  if (put_quoted(&o, ", nonce", in->nonce))
    return fail(err, SIPKIT_EINVALID_VALUE, NULL, 0, 0, "nonce");
  if (in->opaque && put_quoted(&o, ", opaque", in->opaque))
    return fail(err, SIPKIT_EINVALID_VALUE, NULL, 0, 0, "opaque");
  puts_(&o, ", algorithm=");
  puts_(&o, sipkit_digest_alg_name(in->algorithm));
  if (in->qop == (SIPKIT_QOP_AUTH | SIPKIT_QOP_AUTH_INT))
    puts_(&o, ", qop=\"auth,auth-int\"");
  else if (in->qop)
    puts_(&o, in->qop == SIPKIT_QOP_AUTH ? ", qop=\"auth\"" : ", qop=\"auth-int\"");
  if (in->stale)
    puts_(&o, ", stale=true");
  return finish(&o, SIPKIT_HDR_WWW_AUTHENTICATE, len, err);
}
