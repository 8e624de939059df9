/* sipkit_sdp.h - SDP (RFC 8866) parser and builder, RFC 3264 offer/answer
 * for the common audio case.
 *
 * The parser is zero-copy like the SIP parser: the caller owns the
 * sipkit_sdp struct (fixed arrays, no allocation) and every field is a span
 * into the caller's buffer.  The body is checked against the whole RFC 8866
 * §9 grammar (line order included) by the generated machine
 * grammar/sip_sdp.rl; u=, e= and k=uri: values are taken as text.
 *
 * Line ends: RFC 8866 §5 says CRLF, "although parsers SHOULD be tolerant
 * and also accept records terminated with a single newline character":
 * both are accepted, always; the last line must be terminated too.  The
 * builder writes CRLF.
 */
#ifndef SIPKIT_SDP_H
#define SIPKIT_SDP_H

#include "sipkit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits (SIPKIT_ESDP_LIMIT, offset at the line or fmt that exceeds). */
#ifndef SIPKIT_SDP_MAX_MEDIA
#define SIPKIT_SDP_MAX_MEDIA 16u    /* m= lines */
#endif
#ifndef SIPKIT_SDP_MAX_FORMATS
#define SIPKIT_SDP_MAX_FORMATS 64u  /* fmts on one m= line */
#endif
#ifndef SIPKIT_SDP_MAX_ATTRS
#define SIPKIT_SDP_MAX_ATTRS 32u    /* a= lines per media, and at session level */
#endif
#ifndef SIPKIT_SDP_MAX_ATTR_LINE
#define SIPKIT_SDP_MAX_ATTR_LINE 4096u /* one a= line, "a=" and line end included */
#endif

/* Direction attributes (RFC 8866 §6.7). */
enum sipkit_sdp_dir {
  SIPKIT_SDP_DIR_NONE = 0, /* no direction attribute (means sendrecv) */
  SIPKIT_SDP_SENDRECV,
  SIPKIT_SDP_SENDONLY,
  SIPKIT_SDP_RECVONLY,
  SIPKIT_SDP_INACTIVE
};

typedef struct sipkit_sdp_conn {
  sipkit_span nettype;  /* "IN" */
  sipkit_span addrtype; /* "IP4" / "IP6" */
  sipkit_span address;  /* connection-address as written ("224.2.1.1/127/3") */
} sipkit_sdp_conn;

typedef struct sipkit_sdp_attr {
  sipkit_span name;     /* attribute-name */
  sipkit_span value;    /* after the first ':'; len 0 when absent or empty */
  uint8_t has_value;    /* a ':' was present */
  uint8_t pad[3];
} sipkit_sdp_attr;

/* One fmt of an m= line with its rtpmap / fmtp (matched by the fmt text). */
typedef struct sipkit_sdp_format {
  sipkit_span fmt;         /* as on the m= line */
  sipkit_span encoding;    /* rtpmap encoding name ("PCMU") */
  sipkit_span enc_params;  /* rtpmap encoding parameters ("2"), len 0 when absent */
  sipkit_span fmtp;        /* fmtp parameters (after "<fmt> ") */
  uint32_t pt;             /* RTP payload type when has_pt */
  uint32_t clock_rate;     /* rtpmap clock rate, >= 1 */
  uint32_t channels;       /* rtpmap encoding parameters as a number; 1 when absent */
  uint8_t has_pt;          /* fmt is a decimal 0..127 (always for RTP/ protos) */
  uint8_t has_rtpmap;
  uint8_t has_fmtp;
  uint8_t rtpmap_bad;      /* an rtpmap for this format does not match RFC 8866
                              §6.6 (no clock rate, rate 0, pt not 0..127): not
                              an SDP error (§9 takes any byte-string) */
} sipkit_sdp_format;

typedef struct sipkit_sdp_media {
  sipkit_span line;        /* the m= value (after "m=", line end excluded) */
  sipkit_span media;       /* "audio" */
  sipkit_span proto;       /* "RTP/AVP" */
  uint32_t port;           /* 0..65535 */
  uint32_t num_ports;      /* "/n" after the port, 0 when absent */
  sipkit_span info;        /* i= */
  sipkit_sdp_conn conn;    /* first c= of the media */
  uint32_t num_conns;
  sipkit_span bandwidth;   /* first b= value ("AS:64") */
  uint32_t num_bandwidths;
  sipkit_span key;         /* k= value */
  uint8_t direction;       /* enum sipkit_sdp_dir, from the media's attributes */
  uint8_t pad[3];
  uint32_t num_formats;
  sipkit_sdp_format formats[SIPKIT_SDP_MAX_FORMATS];
  uint32_t num_attrs;
  sipkit_sdp_attr attrs[SIPKIT_SDP_MAX_ATTRS];
} sipkit_sdp_media;

typedef struct sipkit_sdp {
  uint32_t version;        /* v= (only 0 is accepted) */
  sipkit_span origin;      /* the o= value */
  sipkit_span o_username, o_sess_id, o_sess_version, o_nettype, o_addrtype, o_address;
  sipkit_span name;        /* s= */
  sipkit_span info;        /* i= (session) */
  sipkit_span uri;         /* u= */
  sipkit_span email;       /* first e= */
  sipkit_span phone;       /* first p= */
  uint32_t num_emails, num_phones;
  sipkit_sdp_conn conn;    /* session c= */
  uint32_t num_conns;      /* 0 or 1 */
  sipkit_span bandwidth;   /* first session b= value */
  uint32_t num_bandwidths;
  sipkit_span t_start, t_stop; /* first t= */
  uint32_t num_times;
  sipkit_span repeat;      /* first r= value */
  uint32_t num_repeats;
  sipkit_span zone;        /* z= value */
  sipkit_span key;         /* session k= value */
  uint8_t direction;       /* session-level direction attribute */
  uint8_t pad[3];
  uint32_t num_attrs;
  sipkit_sdp_attr attrs[SIPKIT_SDP_MAX_ATTRS];
  uint32_t num_media;
  sipkit_sdp_media media[SIPKIT_SDP_MAX_MEDIA];
} sipkit_sdp;

/* Parse the SDP body buf[0, len).  Returns SIPKIT_EOK, SIPKIT_ESDP (err:
 * offset of the first byte the grammar rejects, rule = the field rule of
 * that line such as "media-field", or "session-description" when the line
 * type is not allowed there) or SIPKIT_ESDP_LIMIT (rule "media-description",
 * "fmt", "attribute-field").  Beyond the grammar (SIPKIT_ESDP): v=0 only
 * ("version-field"), m= port 0..65535 and port count ("media-field"), on
 * an RTP/ proto every fmt a payload type 0..127 ("fmt"); numbers have at
 * most SIPKIT_MAX_DIGITS digits.  rtpmap and fmtp are matched to the
 * m= line's formats by the fmt text (the first one wins); one that does
 * not fit its §6.6 / §6.15 syntax is no error (see rtpmap_bad). */
SIPKIT_API int sipkit_sdp_parse(sipkit_sdp *sdp, const char *buf, size_t len,
                                sipkit_error *err);

/* Effective direction of media i: its attribute, else the session's, else
 * sendrecv. */
SIPKIT_API int sipkit_sdp_direction(const sipkit_sdp *sdp, uint32_t i);
/* Media i puts the peer on hold: direction sendonly or inactive, or the
 * RFC 2543 legacy form c=IN IP4 0.0.0.0 (RFC 3264 §8.4). */
SIPKIT_API int sipkit_sdp_is_hold(const sipkit_sdp *sdp, const char *buf, uint32_t i);
/* First attribute named name (case-sensitive) of media i, or of the
 * session when i == UINT32_MAX; NULL when absent. */
SIPKIT_API const sipkit_sdp_attr *sipkit_sdp_attr_find(const sipkit_sdp *sdp,
                                                       const char *buf, uint32_t i,
                                                       const char *name);

/* ------------------------------------------------------------------ */
/* Building                                                            */

typedef struct sipkit_sdp_codec {
  uint32_t pt;             /* 0..127 */
  const char *encoding;    /* "PCMU"; NULL: no rtpmap line */
  uint32_t clock_rate;     /* 8000 */
  uint32_t channels;       /* 0 or 1: not written */
  const char *fmtp;        /* NULL: no fmtp line */
} sipkit_sdp_codec;

typedef struct sipkit_sdp_media_desc {
  const char *media;       /* "audio" (token) */
  uint32_t port;           /* 0..65535 (0 rejects the stream) */
  const char *proto;       /* "RTP/AVP" */
  const sipkit_sdp_codec *codecs;
  size_t num_codecs;       /* 1..SIPKIT_SDP_MAX_FORMATS */
  const char *address;     /* c= of this media; NULL: none */
  int direction;           /* enum sipkit_sdp_dir; NONE writes none */
} sipkit_sdp_media_desc;

typedef struct sipkit_sdp_desc {
  const char *username;    /* o= username, NULL: "-" */
  uint64_t sess_id, sess_version;
  const char *address;     /* o= and session c= address; IP6 when it has a ':' */
  const char *session_name;/* NULL: "-" */
  const sipkit_sdp_media_desc *media;
  size_t num_media;        /* 0..SIPKIT_SDP_MAX_MEDIA */
} sipkit_sdp_desc;

/* Write d as SDP (CRLF line ends):
 *   v=0 / o=<user> <id> <version> IN <IP4|IP6> <address> / s=<name> /
 *   c=IN <IP4|IP6> <address> / t=0 0 / per media: m=, [c=], a=rtpmap,
 *   a=fmtp, [direction].
 * Returns SIPKIT_EOK with *len = bytes written, SIPKIT_EBUFFER_TOO_SMALL
 * with *len = the size needed (nothing usable written), or
 * SIPKIT_EINVALID_VALUE (a value that does not match its rule: token,
 * non-ws-string, byte-string, range). */
SIPKIT_API int sipkit_sdp_build(const sipkit_sdp_desc *d, char *out, size_t cap,
                                size_t *len);

/* Offer/answer for audio with PCMU (0), PCMA (8) and telephone-event. */
enum {
  SIPKIT_SDP_PCMU = 1u << 0,
  SIPKIT_SDP_PCMA = 1u << 1,
  SIPKIT_SDP_TELEPHONE_EVENT = 1u << 2
};

typedef struct sipkit_sdp_audio {
  const char *username;    /* NULL: "-" */
  uint64_t sess_id, sess_version;
  const char *address;     /* our media address */
  uint32_t port;           /* our RTP port */
  unsigned codecs;         /* SIPKIT_SDP_PCMU | ..., in this order of preference */
  uint32_t event_pt;       /* telephone-event payload type in an offer (101 when 0) */
  int hold;                /* 1: we put the call on hold: we stop receiving
                              (RFC 3264 §8.4: sendonly; recvonly -> inactive) */
} sipkit_sdp_audio;

/* An offer: one m=audio line with the codecs of a->codecs (telephone-event
 * with a=fmtp:<pt> 0-16), a=sendrecv, or a=sendonly when a->hold. */
SIPKIT_API int sipkit_sdp_offer(const sipkit_sdp_audio *a, char *out, size_t cap,
                                size_t *len);

/* An answer to a parsed offer (RFC 3264 §6): one m= line per offered m=
 * line, in the offer's order.  An audio RTP/AVP stream with a common codec
 * (matched by rtpmap encoding name and clock rate, or by the static
 * payload types 0/8 without rtpmap) is accepted with the offered formats we
 * support, in the offer's order and with its payload type numbers
 * (telephone-event only alongside a codec); any other stream, or one with
 * port 0, is rejected (port 0, the offer's formats).  Direction mirrors the
 * offer (sendonly -> recvonly, recvonly -> sendonly, inactive -> inactive;
 * c=0.0.0.0 counts as sendonly), and a->hold turns our receiving off
 * (sendrecv -> sendonly, recvonly -> inactive).  The answer always carries
 * the direction attribute; telephone-event keeps the offer's fmtp (0-16
 * when it has none).
 * Returns as sipkit_sdp_build. */
SIPKIT_API int sipkit_sdp_answer(const sipkit_sdp *offer, const char *offer_buf,
                                 const sipkit_sdp_audio *a, char *out, size_t cap,
                                 size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* SIPKIT_SDP_H */
