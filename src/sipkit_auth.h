/* sipkit_auth.h - SIP digest authentication (RFC 3261 §22, RFC 7616,
 * RFC 8760; RFC 2617 without qop and with qop=auth / auth-int).
 *
 * Parsing is zero-copy like the parser core: the structs hold spans into
 * the caller's buffer.  A quoted value's span is the inside of the quotes
 * with its backslash escapes kept; sipkit_auth_unquote() removes them (the
 * hashing functions do it themselves).  Hashes come from OpenSSL's
 * libcrypto (EVP); link -lcrypto.  Nothing here allocates.
 *
 * Every value is first checked against the RFC 3261 grammar of its header
 * (challenge / credentials, with the RFC 8760 algorithm and request-digest
 * rules), then split in C.  A value the grammar rejects gives SIPKIT_EAUTH
 * with the offending offset and the grammar rule in the sipkit_error.
 */
#ifndef SIPKIT_AUTH_H
#define SIPKIT_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "sipkit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Algorithms of the RFC 7616 §6.1 registry.  The value >> 1 is the hash
 * (0 MD5, 1 SHA-256, 2 SHA-512/256: higher is stronger), bit 0 is -sess. */
#define SIPKIT_DIGEST_ALG_MAP(XX)                                              \
  XX(0, MD5, "MD5")                                                            \
  XX(1, MD5_SESS, "MD5-sess")                                                  \
  XX(2, SHA256, "SHA-256")                                                     \
  XX(3, SHA256_SESS, "SHA-256-sess")                                           \
  XX(4, SHA512_256, "SHA-512-256")                                             \
  XX(5, SHA512_256_SESS, "SHA-512-256-sess")

typedef enum sipkit_digest_alg {
#define SIPKIT_XX_ENUM(num, name, str) SIPKIT_DIGEST_##name = num,
  SIPKIT_DIGEST_ALG_MAP(SIPKIT_XX_ENUM)
#undef SIPKIT_XX_ENUM
  SIPKIT_DIGEST__COUNT
} sipkit_digest_alg;

#define SIPKIT_DIGEST_IS_SESS(alg) ((alg) & 1)
#define SIPKIT_DIGEST_HEX_MAX 64u /* longest lowercase-hex digest (SHA-256) */

/* "SHA-256-sess"; "" for an unknown value. */
SIPKIT_API const char *sipkit_digest_alg_name(int alg);
/* Case-insensitive; returns the sipkit_digest_alg or -1. */
SIPKIT_API int sipkit_digest_alg_lookup(const char *name, size_t len);
/* Length of the lowercase-hex digest: 32 (MD5) or 64; 0 if unknown. */
SIPKIT_API size_t sipkit_digest_hex_len(int alg);

/* qop values: bits in a challenge's offer, one value in credentials. */
enum {
  SIPKIT_QOP_NONE = 0,     /* RFC 2069 compatibility: no qop */
  SIPKIT_QOP_AUTH = 1,
  SIPKIT_QOP_AUTH_INT = 2
};

/* Most auth-params one value may carry (each a distinct name). */
#ifndef SIPKIT_AUTH_MAX_PARAMS
#define SIPKIT_AUTH_MAX_PARAMS 32u
#endif

/* ------------------------------------------------------------------ */
/* Parsing                                                             */

/* WWW-Authenticate / Proxy-Authenticate: Digest challenge. */
typedef struct sipkit_challenge {
  sipkit_span realm;      /* required */
  sipkit_span nonce;      /* required */
  sipkit_span opaque;
  sipkit_span domain;     /* space-separated URIs, raw */
  sipkit_span qop;        /* the qop-options list, raw */
  sipkit_span algorithm_name; /* as written; absent means MD5 */
  int algorithm;          /* sipkit_digest_alg (MD5 when absent) */
  uint8_t qop_offered;    /* SIPKIT_QOP_AUTH | SIPKIT_QOP_AUTH_INT; other tokens ignored */
  uint8_t has_qop;        /* a qop parameter was present (even if only unknown tokens) */
  uint8_t stale;          /* stale=true (case-insensitive) */
  uint8_t has_opaque;     /* opaque present (it may be "") */
} sipkit_challenge;

/* Authorization / Proxy-Authorization: Digest credentials. */
typedef struct sipkit_credentials {
  sipkit_span username, realm, nonce, uri, response; /* required */
  sipkit_span cnonce, opaque, nc;
  sipkit_span qop_name;   /* as written */
  sipkit_span algorithm_name;
  int algorithm;          /* sipkit_digest_alg (MD5 when absent) */
  uint32_t nc_value;      /* nc as a number (valid when nc.len) */
  uint8_t qop;            /* SIPKIT_QOP_NONE, _AUTH or _AUTH_INT */
  uint8_t has_opaque;
  uint8_t pad[2];
} sipkit_credentials;

/* Parse a WWW-Authenticate (hdr_id SIPKIT_HDR_WWW_AUTHENTICATE) or
 * Proxy-Authenticate value buf[value].  Errors: SIPKIT_EAUTH (grammar,
 * missing realm/nonce, duplicated parameter, bad stale, another scheme
 * than Digest, too many parameters), SIPKIT_EAUTH_ALGORITHM (algorithm
 * not in the registry), SIPKIT_ELINE_TOO_LONG, SIPKIT_EARGUMENT. */
SIPKIT_API int sipkit_auth_parse_challenge(sipkit_challenge *ch, int hdr_id,
                                           const char *buf, sipkit_span value,
                                           sipkit_error *err);

/* Parse an Authorization / Proxy-Authorization value.  Besides the
 * grammar: username, realm, nonce, uri and response are required, the
 * response is empty or lowercase hex of the algorithm's length, qop is
 * auth or auth-int and then needs cnonce and nc (8 hex digits). */
SIPKIT_API int sipkit_auth_parse_credentials(sipkit_credentials *cr,
                                             int hdr_id, const char *buf,
                                             sipkit_span value,
                                             sipkit_error *err);

/* Among the msg's headers with this id (WWW-Authenticate or
 * Proxy-Authenticate), the Digest challenge with the strongest supported
 * algorithm (the first of equals).  Challenges of other schemes or
 * algorithms are skipped; when none is usable, returns the error of the
 * first one (SIPKIT_EAUTH when there is no such header). */
SIPKIT_API int sipkit_auth_challenge_pick(sipkit_challenge *ch,
                                          const sipkit_msg *msg,
                                          const char *buf, int hdr_id,
                                          sipkit_error *err);

/* Copy buf[s] with quoted-pair escapes removed; writes at most cap bytes
 * and returns the unescaped length (which may exceed cap). */
SIPKIT_API size_t sipkit_auth_unquote(const char *buf, sipkit_span s,
                                      char *out, size_t cap);

/* ------------------------------------------------------------------ */
/* Computing                                                           */

typedef struct sipkit_strv {
  const char *ptr;
  size_t len;
} sipkit_strv;

/* Inputs of the digest computation, all unescaped bytes. */
typedef struct sipkit_digest_in {
  int algorithm;           /* sipkit_digest_alg */
  int qop;                 /* SIPKIT_QOP_NONE, _AUTH, _AUTH_INT */
  sipkit_strv username, realm, password;
  sipkit_strv ha1;         /* instead of password: H(username:realm:password) in hex */
  sipkit_strv nonce, cnonce, nc; /* nc: the 8 hex digits as sent */
  sipkit_strv method, uri;
  sipkit_strv body;        /* auth-int: the message body (may be empty) */
} sipkit_digest_in;

/* HA1, HA2 and the response (RFC 7616 §3.4.1-3.4.3, RFC 2617 §3.2.2):
 * lowercase hex, NUL-terminated, into out (cap > sipkit_digest_hex_len).
 * Returns SIPKIT_EOK, SIPKIT_EAUTH_ALGORITHM, SIPKIT_EBUFFER_TOO_SMALL or
 * SIPKIT_EARGUMENT (bad qop, ha1 of the wrong length). */
SIPKIT_API int sipkit_digest_response(const sipkit_digest_in *in, char *out,
                                      size_t cap);

/* ------------------------------------------------------------------ */
/* Client                                                              */

typedef struct sipkit_auth_client {
  const char *username;    /* NUL-terminated; escaped when written */
  const char *password;    /* or ha1 */
  const char *ha1;         /* precomputed H(username:realm:password), hex, or NULL */
  const char *method;      /* "REGISTER" */
  const char *uri;         /* the Request-URI (digest-uri-value) */
  const char *body;        /* for auth-int; NULL = empty */
  size_t body_len;
  uint32_t nc;             /* nonce count for this nonce, >= 1; the caller increments it */
  const char *cnonce;      /* NULL: 128 bits from getrandom(2), in hex */
  int want_auth_int;       /* prefer auth-int when both are offered */
} sipkit_auth_client;

/* Write the Authorization / Proxy-Authorization value answering the
 * challenge ch (parsed from chbuf) into out, NUL-terminated:
 *   Digest username="..", realm="..", nonce="..", uri="..",
 *   response="..", algorithm=.., cnonce="..", opaque="..", qop=auth,
 *   nc=00000001
 * qop is auth when offered (auth-int when only it is offered or
 * want_auth_int), none when the challenge has no qop (cnonce is then sent
 * only for -sess).  *len gets the value length (without the NUL) whether
 * or not it fits: SIPKIT_EBUFFER_TOO_SMALL means cap < *len + 1.  The
 * result is checked against the credentials grammar (SIPKIT_EINVALID_VALUE
 * with the rule; a username with CR, LF or NUL fails before that). */
SIPKIT_API int sipkit_auth_build(const sipkit_challenge *ch, const char *chbuf,
                                 const sipkit_auth_client *cl, char *out,
                                 size_t cap, size_t *len, sipkit_error *err);

/* ------------------------------------------------------------------ */
/* Server                                                              */

typedef struct sipkit_auth_verify_in {
  const char *password;    /* or ha1 */
  const char *ha1;         /* H(username:realm:password), hex, or NULL */
  const char *method;      /* request method */
  const char *body;        /* for auth-int; NULL = empty */
  size_t body_len;
} sipkit_auth_verify_in;

/* Recompute the response of cr (parsed from buf) and compare it in
 * constant time.  SIPKIT_EOK on a match, SIPKIT_EAUTH otherwise (also for
 * an empty response).  The caller checks realm, username, nonce (see
 * sipkit_auth_nonce_check), uri and that the algorithm is acceptable. */
SIPKIT_API int sipkit_auth_verify(const sipkit_credentials *cr,
                                  const char *buf,
                                  const sipkit_auth_verify_in *in);

/* Stateless nonces: 16 hex digits of the time, 16 of randomness, then 64
 * of HMAC-SHA-256(key, those 32 characters).  out needs
 * SIPKIT_AUTH_NONCE_LEN + 1 bytes. */
#define SIPKIT_AUTH_NONCE_LEN 96u
SIPKIT_API int sipkit_auth_nonce_make(const void *key, size_t key_len,
                                      uint64_t now, char *out, size_t cap);
/* SIPKIT_EAUTH when the nonce was not made with key; otherwise SIPKIT_EOK
 * with *stale = 1 when it is older than max_age seconds (or from the
 * future), so the challenge to send is stale=true. */
SIPKIT_API int sipkit_auth_nonce_check(const void *key, size_t key_len,
                                       const char *nonce, size_t len,
                                       uint64_t now, uint64_t max_age,
                                       int *stale);

typedef struct sipkit_auth_challenge_in {
  const char *realm;
  const char *nonce;
  const char *opaque;      /* NULL: none */
  int algorithm;           /* sipkit_digest_alg */
  int qop;                 /* SIPKIT_QOP_AUTH | SIPKIT_QOP_AUTH_INT, or 0 */
  int stale;
} sipkit_auth_challenge_in;

/* Write a WWW-Authenticate / Proxy-Authenticate value, NUL-terminated;
 * same *len and grammar-check contract as sipkit_auth_build. */
SIPKIT_API int sipkit_auth_challenge_build(const sipkit_auth_challenge_in *in,
                                           char *out, size_t cap, size_t *len,
                                           sipkit_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SIPKIT_AUTH_H */
