/* lsipkit.c - the Lua 5.4 binding of sipkit: the only C file of the project
 * that includes a Lua header.
 *
 * luaopen_sipkit() builds the low-level table of C functions and userdata
 * metatables ("sipkit.msg", "sipkit.rt", "sipkit.ua", ...) the way liolib.c
 * builds file handles (create the userdata closed, set its metatable, then
 * acquire the resource), then runs the embedded lua/sipkit.lua with that
 * table; what sipkit.lua returns is the module.  The same function serves
 * stock lua5.4 (build/lua/sipkit.so on package.cpath) and the `sipkit run`
 * runner (sipkit_lua_run below, preloaded).
 *
 * Messages are parsed once; the userdata keeps the Lua string of the wire
 * bytes as its first user value (Lua's collector never moves a string, so
 * spans stay valid while the userdata lives) and fields are made from the
 * spans on first access, cached in the second user value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#include "sipkit.h"
#include "sipkit_auth.h"
#include "sipkit_body.h"
#include "sipkit_build.h"
#include "sipkit_rt.h"
#include "sipkit_sdp.h"

#include "sipkit_lua.h"
#include "sipkit_lua_src.h" /* generated: the embedded Lua sources */

#define MSG_MT "sipkit.msg"
#define ADDR_MT "sipkit.addr"
#define ERR_MT "sipkit.error"

/* ------------------------------------------------------------------ */
/* Errors                                                              */

/* An error value: {code = "HEADER_VALUE", num = 9, message = "...",
 * offset, line, col, rule}.  Its metatable gives __tostring so that
 * assert(x, err) and the runner print the message, not "table: 0x...". */
static void push_err_table(lua_State *L, int code, const char *message) {
  lua_createtable(L, 0, 8);
  lua_pushstring(L, code >= 0 ? sipkit_err_name(code) : "");
  lua_setfield(L, -2, "code");
  lua_pushinteger(L, code);
  lua_setfield(L, -2, "num");
  lua_pushstring(L, message);
  lua_setfield(L, -2, "message");
  luaL_setmetatable(L, ERR_MT);
}

/* nil, err for a sipkit_error; buf (may be NULL) gives the excerpt. */
static int push_fail(lua_State *L, const sipkit_error *e, const char *buf,
                     size_t len) {
  char text[512];
  lua_pushnil(L);
  sipkit_error_format(e, buf, len, text, sizeof text);
  push_err_table(L, e->code, text);
  lua_pushinteger(L, e->offset);
  lua_setfield(L, -2, "offset");
  lua_pushinteger(L, e->line);
  lua_setfield(L, -2, "line");
  lua_pushinteger(L, e->column);
  lua_setfield(L, -2, "col");
  lua_pushstring(L, e->rule ? e->rule : "");
  lua_setfield(L, -2, "rule");
  return 2;
}

/* nil, err for a bare code (no position). */
static int push_fail_code(lua_State *L, int code, const char *what) {
  char text[256];
  lua_pushnil(L);
  if (what && *what)
    snprintf(text, sizeof text, "%s: %s (%s)", sipkit_err_name(code),
             sipkit_strerror(code), what);
  else
    snprintf(text, sizeof text, "%s: %s", sipkit_err_name(code),
             sipkit_strerror(code));
  push_err_table(L, code, text);
  return 2;
}

static int err_tostring(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "message");
  if (!lua_isstring(L, -1)) {
    lua_pop(L, 1);
    lua_pushliteral(L, "sipkit error");
  }
  return 1;
}

/* sipkit.error(code_name_or_num, message [, fields]) -> err table, so the
 * Lua half builds errors of the same shape (TIMEOUT, status failures). */
static int l_error(lua_State *L) {
  const char *msg = luaL_optstring(L, 2, "");
  lua_createtable(L, 0, 8);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "code");
  lua_pushstring(L, msg);
  lua_setfield(L, -2, "message");
  if (lua_istable(L, 3)) {
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, -4);
    }
  }
  luaL_setmetatable(L, ERR_MT);
  return 1;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static void push_span(lua_State *L, const char *buf, sipkit_span s) {
  lua_pushlstring(L, SIPKIT_SPAN_PTR(buf, s), s.len);
}

/* t[k] = span, only when the span is not empty. */
static void set_span(lua_State *L, const char *buf, sipkit_span s,
                     const char *k) {
  if (s.len == 0)
    return;
  push_span(L, buf, s);
  lua_setfield(L, -2, k);
}

/* A numeric span as a number (it is digits by the grammar), else as a
 * string. */
static void push_number_span(lua_State *L, const char *buf, sipkit_span s) {
  push_span(L, buf, s);
  if (lua_stringtonumber(L, lua_tostring(L, -1)) != 0)
    lua_remove(L, -2);
}

static void set_int(lua_State *L, lua_Integer v, const char *k) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* A quoted display name keeps its quoted-pair escapes in the span: a
 * script wants the name itself. */
static void push_unescaped(lua_State *L, const char *p, size_t n) {
  luaL_Buffer b;
  size_t i;
  luaL_buffinit(L, &b);
  for (i = 0; i < n; i++) {
    if (p[i] == '\\' && i + 1 < n)
      i++;
    luaL_addchar(&b, p[i]);
  }
  luaL_pushresult(&b);
}

/* A body as a string shared with the messages that carried the same
 * bytes.  A call keeps its peer's SDP (call.remote_sdp) for as long as it
 * is up, and under load every call's is the same offer or answer: one
 * string for all of them instead of a copy each.  A few slots (picked by
 * a sample of the bytes, then compared in full) in a registry table; a
 * short string is interned by Lua anyway. */
#define BODY_SLOTS 16
static const char body_key = 0;

static void push_body(lua_State *L, const char *p, size_t n) {
  uint64_t h = n, w;
  size_t kn;
  const char *kept;
  int i, slot;
  if (n <= 40) {
    lua_pushlstring(L, p, n);
    return;
  }
  for (i = 0; i < 4; i++) {
    memcpy(&w, p + (n - 8) * (size_t)i / 3, sizeof w);
    h = (h ^ w) * 0x9E3779B97F4A7C15u;
  }
  slot = (int)(h >> 60) + 1;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &body_key) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, BODY_SLOTS, 0);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &body_key);
  }
  lua_rawgeti(L, -1, slot);
  kept = lua_tolstring(L, -1, &kn);
  if (kept && kn == n && memcmp(kept, p, n) == 0) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  lua_pushlstring(L, p, n);
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, slot);
  lua_remove(L, -2);
}

/* ------------------------------------------------------------------ */
/* URIs                                                                */

static const char *scheme_name(int scheme) {
  switch (scheme) {
  case SIPKIT_SCHEME_SIP: return "sip";
  case SIPKIT_SCHEME_SIPS: return "sips";
  case SIPKIT_SCHEME_TEL: return "tel";
  default: return "other";
  }
}

static void push_uri_table(lua_State *L, const char *buf, const sipkit_uri *u) {
  lua_createtable(L, 0, 10);
  set_span(L, buf, u->all, "all");
  lua_pushstring(L, scheme_name(u->scheme));
  lua_setfield(L, -2, "scheme");
  set_span(L, buf, u->user, "user");
  set_span(L, buf, u->password, "password");
  set_span(L, buf, u->host, "host");
  if (u->has_port)
    set_int(L, u->port, "port");
  set_span(L, buf, u->params, "params");
  set_span(L, buf, u->headers, "headers");
  set_span(L, buf, u->transport, "transport");
  set_span(L, buf, u->user_param, "user_param");
  set_span(L, buf, u->maddr, "maddr");
  if (u->lr) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "lr");
  }
}

/* sipkit.uri(str) -> {scheme, user, host, port, params, ...} or nil, err */
static int l_uri(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  sipkit_uri u;
  sipkit_error e;
  sipkit_span all;
  all.off = 0;
  all.len = (uint32_t)len;
  if (len > SIPKIT_MAX_MSG_SIZE)
    return push_fail_code(L, SIPKIT_EMSG_TOO_LARGE, "uri");
  if (sipkit_uri_parse(&u, s, all, &e) != SIPKIT_EOK)
    return push_fail(L, &e, s, len);
  push_uri_table(L, s, &u);
  return 1;
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */

/* A message keeps its bytes (user value 1) and its parse: the sipkit_msg
 * and the header entries, 160 bytes each, most of a message's weight.  A
 * call holds its INVITE (or its 200 OK) for its whole life, mostly
 * untouched, so only the messages parsed most recently keep their entries,
 * in the buffers of a ring of MSG_RING slots in the registry (which does
 * not keep the messages themselves alive); an older one lets them go and
 * parses its bytes again when next read. */
typedef struct lmsg {
  const char *buf; /* the bytes of user value 1 */
  size_t len;
  unsigned flags;  /* of the first parse, for the next ones */
  int slot;        /* its place in the ring while it has its parse */
  uint32_t size;   /* msg->size, kept without the parse */
  uint8_t has_sdp; /* msg:_has_sdp(): 0 not asked yet, 1 no, 2 yes */
  sipkit_msg *msg; /* the parse (in its ring slot's buffer), NULL when let go */
} lmsg;

/* The parse of a message: the sipkit_msg and its header entries, in a
 * buffer of the ring's slot (cap entries), reused by the slot's next
 * message: a parse per message made 2 KB of garbage per message. */
typedef struct lparse {
  size_t cap;
  sipkit_msg msg;
  sipkit_header hdrs[];
} lparse;

#define UV_BYTES 1
#define UV_CACHE 2
#define MSG_RING 128
#define MSG_RING_KEY "sipkit.msgring" /* slot -> msg, weak */
#define MSG_BUFS_KEY "sipkit.msgbufs" /* slot -> lparse */

static sipkit_header scratch[SIPKIT_MAX_HEADERS];

/* p (into the entries from, or NULL) at the same place in their copy to */
static const void *moved(const void *p, const sipkit_header *from, const sipkit_header *to) {
  return p ? (const char *)to + ((const char *)p - (const char *)from) : NULL;
}

/* Give the message at index i (m->buf set) the entries of the parse in
 * probe (in scratch, or the core's array for the same bytes), and its
 * place in the ring: the message that held that place since lets go of
 * its entries. */
static void msg_attach(lua_State *L, int i, lmsg *m, const sipkit_msg *probe) {
  static unsigned next_slot;
  size_t n = probe->num_headers ? probe->num_headers : 1;
  int slot = (int)(next_slot++ % MSG_RING) + 1;
  lparse *p;
  sipkit_header *h;
  i = lua_absindex(L, i);
  lua_getfield(L, LUA_REGISTRYINDEX, MSG_RING_KEY);
  if (lua_rawgeti(L, -1, slot) == LUA_TUSERDATA) {
    lmsg *old = (lmsg *)lua_touserdata(L, -1);
    if (old != m && old->slot == slot) {
      old->msg = NULL;
      old->slot = 0;
    }
  }
  lua_pop(L, 1);
  lua_pushvalue(L, i);
  lua_rawseti(L, -2, slot);
  lua_pop(L, 1);
  m->slot = slot;
  lua_getfield(L, LUA_REGISTRYINDEX, MSG_BUFS_KEY);
  lua_rawgeti(L, -1, slot);
  p = (lparse *)lua_touserdata(L, -1);
  if (!p || p->cap < n) {
    p = (lparse *)lua_newuserdatauv(L, sizeof *p + n * sizeof p->hdrs[0], 0);
    p->cap = n;
    lua_rawseti(L, -3, slot);
  }
  lua_pop(L, 2);
  h = p->hdrs;
  memcpy(h, probe->headers, probe->num_headers * sizeof *h);
  p->msg = *probe;
  p->msg.headers = h;
  p->msg.max_headers = (uint32_t)n;
  p->msg.buf_ = m->buf; /* spans are offsets: they hold for the copy */
  /* the quick-access pointers point into the entries: move them along */
  p->msg.via = moved(probe->via, probe->headers, h);
  p->msg.from = moved(probe->from, probe->headers, h);
  p->msg.to = moved(probe->to, probe->headers, h);
  p->msg.contact = moved(probe->contact, probe->headers, h);
  p->msg.cseq = moved(probe->cseq, probe->headers, h);
  p->msg.content_type = moved(probe->content_type, probe->headers, h);
  m->msg = &p->msg;
  m->size = probe->size;
}

/* The object a method was called on (index 1): a userdata with the
 * metatable that create_meta gave every method of the type as upvalue 1.
 * luaL_checkudata would look the metatable up by name in the registry
 * (the name interned and compared on every call), and the binding's hot
 * methods run a few dozen times per call.  Methods only: a function
 * without that upvalue finds no match and raises. */
static void *check_self(lua_State *L, const char *tname) {
  void *p = lua_touserdata(L, 1);
  if (!p || !lua_getmetatable(L, 1) || !lua_rawequal(L, -1, lua_upvalueindex(1)))
    luaL_typeerror(L, 1, tname);
  lua_pop(L, 1);
  return p;
}

/* m (the msg at index i) with its parse */
static lmsg *msg_parsed(lua_State *L, int i, lmsg *m) {
  if (!m->msg) {
    /* these bytes parsed before with these flags: they parse again */
    sipkit_msg probe;
    sipkit_error e;
    sipkit_msg_init(&probe, scratch, SIPKIT_MAX_HEADERS);
    if (sipkit_parse(&probe, m->buf, m->len, m->flags, &e) != SIPKIT_EOK)
      luaL_error(L, "sipkit: a message no longer parses: %s", sipkit_strerror(e.code));
    msg_attach(L, i, m, &probe);
  }
  return m;
}

/* the msg a msg method was called on, with its parse */
static lmsg *check_msg(lua_State *L) {
  return msg_parsed(L, 1, (lmsg *)check_self(L, MSG_MT));
}

/* a message without its parse: buf, len and size */
static lmsg *check_msg_spans(lua_State *L, int i) {
  return (lmsg *)luaL_checkudata(L, i, MSG_MT);
}

/* The msg userdata for the string at index si and its parse probe (made
 * with flags, on those bytes or on the same bytes elsewhere: spans are
 * offsets).  Pushes the msg. */
static int push_msg_parsed(lua_State *L, int si, const sipkit_msg *probe, unsigned flags) {
  size_t len;
  const char *buf;
  lmsg *m;

  si = lua_absindex(L, si);
  buf = lua_tolstring(L, si, &len);
  m = (lmsg *)lua_newuserdatauv(L, sizeof(lmsg), 2);
  memset(m, 0, sizeof *m);
  m->buf = buf;
  m->len = len;
  m->flags = flags;
  lua_pushvalue(L, si);
  lua_setiuservalue(L, -2, UV_BYTES);
  luaL_setmetatable(L, MSG_MT);
  /* the probe's parse is moved in (a second parse would cost as much) */
  msg_attach(L, -1, m, probe);
  return 1;
}

/* Parse the string at index si into a new msg userdata sized to the exact
 * header count (a first parse into a stack array counts them: a message
 * userdata holding SIPKIT_MAX_HEADERS entries would weigh ~40 KiB).
 * Pushes the msg, or nil, err. */
static int push_parsed(lua_State *L, int si, unsigned flags) {
  sipkit_msg probe;
  sipkit_error e;
  size_t len;
  const char *buf;
  int rc;

  si = lua_absindex(L, si);
  buf = lua_tolstring(L, si, &len);
  sipkit_msg_init(&probe, scratch, SIPKIT_MAX_HEADERS);
  rc = sipkit_parse(&probe, buf, len, flags, &e);
  if (rc != SIPKIT_EOK)
    return push_fail(L, &e, buf, len);
  return push_msg_parsed(L, si, &probe, flags);
}

/* sipkit.parse(bytes [, {lenient_lf = true, no_checks = true}]) */
static int l_parse(lua_State *L) {
  unsigned flags = 0;
  luaL_checktype(L, 1, LUA_TSTRING);
  if (lua_istable(L, 2)) {
    if (lua_getfield(L, 2, "lenient_lf") != LUA_TNIL && lua_toboolean(L, -1))
      flags |= SIPKIT_PARSE_LENIENT_LF;
    if (lua_getfield(L, 2, "no_checks") != LUA_TNIL && lua_toboolean(L, -1))
      flags |= SIPKIT_PARSE_NO_CHECKS;
    lua_pop(L, 2);
  } else if (!lua_isnoneornil(L, 2)) {
    luaL_typeerror(L, 2, "table");
  }
  return push_parsed(L, 1, flags);
}

/* __index of an address table: `parts`, the fields of its URI, is made
 * from `uri` on first access and then kept in the table.  Most scripts
 * read only uri, display and tag: the ten or so fields of parts cost as
 * much again as the address itself. */
static int addr_index(lua_State *L) {
  const char *k = lua_tostring(L, 2);
  size_t len;
  const char *s;
  sipkit_uri u;
  sipkit_error e;
  sipkit_span all;
  if (!k || strcmp(k, "parts") != 0)
    return 0;
  lua_pushliteral(L, "uri");
  lua_rawget(L, 1);
  s = lua_tolstring(L, -1, &len);
  all.off = 0;
  all.len = (uint32_t)len;
  if (!s || sipkit_uri_parse(&u, s, all, &e) != SIPKIT_EOK)
    return 0; /* the message's parse accepted it: only a lenient parse gets here */
  push_uri_table(L, s, &u);
  lua_pushliteral(L, "parts");
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  return 1;
}

static void push_addr(lua_State *L, const char *buf, const sipkit_addr *a) {
  lua_createtable(L, 0, 8);
  if (a->star) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "star");
    return;
  }
  if (a->display.len) {
    if (a->display_quoted)
      push_unescaped(L, SIPKIT_SPAN_PTR(buf, a->display), a->display.len);
    else
      push_span(L, buf, a->display);
    lua_setfield(L, -2, "display");
  }
  set_span(L, buf, a->uri.all, "uri");
  set_span(L, buf, a->tag, "tag");
  set_span(L, buf, a->q, "q");
  if (a->expires.len) {
    push_number_span(L, buf, a->expires);
    lua_setfield(L, -2, "expires");
  }
  set_span(L, buf, a->params, "params");
  luaL_setmetatable(L, ADDR_MT);
}

static void push_via(lua_State *L, const char *buf, const sipkit_via *v) {
  lua_createtable(L, 0, 10);
  set_span(L, buf, v->protocol, "protocol");
  set_span(L, buf, v->transport, "transport");
  set_span(L, buf, v->host, "host");
  if (v->has_port)
    set_int(L, v->port, "port");
  set_span(L, buf, v->branch, "branch");
  set_span(L, buf, v->received, "received");
  set_span(L, buf, v->maddr, "maddr");
  set_span(L, buf, v->ttl, "ttl");
  set_span(L, buf, v->params, "params");
  if (v->has_rport) {
    /* ;rport alone (a request asking for it) is true; ;rport=5060 is the
     * number the server filled in. */
    if (v->rport.len) {
      push_number_span(L, buf, v->rport);
    } else {
      lua_pushboolean(L, 1);
    }
    lua_setfield(L, -2, "rport");
  }
}

static void push_vias(lua_State *L, const lmsg *m) {
  const sipkit_header *h = sipkit_msg_header(m->msg, SIPKIT_HDR_VIA);
  lua_Integer i = 0;
  lua_newtable(L);
  for (; h; h = sipkit_msg_header_next(m->msg, h)) {
    push_via(L, m->buf, &h->u.via);
    lua_rawseti(L, -2, ++i);
  }
}

static void push_contacts(lua_State *L, const lmsg *m) {
  const sipkit_header *h = sipkit_msg_header(m->msg, SIPKIT_HDR_CONTACT);
  lua_Integer i = 0;
  lua_newtable(L);
  for (; h; h = sipkit_msg_header_next(m->msg, h)) {
    push_addr(L, m->buf, &h->u.addr);
    lua_rawseti(L, -2, ++i);
  }
}

/* Content-Type "type/subtype" as written (parameters left out), of the
 * parse msg of the bytes buf. */
static int msg_ctype_is(const sipkit_msg *msg, const char *buf, const char *type,
                        const char *subtype) {
  const sipkit_ctype *c = msg->content_type;
  if (!c)
    return 0;
  return c->type.len == strlen(type) && c->subtype.len == strlen(subtype) &&
         strncasecmp(SIPKIT_SPAN_PTR(buf, c->type), type, c->type.len) == 0 &&
         strncasecmp(SIPKIT_SPAN_PTR(buf, c->subtype), subtype, c->subtype.len) == 0;
}

static int ctype_is(const lmsg *m, const char *type, const char *subtype) {
  return msg_ctype_is(m->msg, m->buf, type, subtype);
}

/* ---------------------------------------------------------------- SDP */

static const char *dir_name(int d) {
  switch (d) {
  case SIPKIT_SDP_SENDRECV: return "sendrecv";
  case SIPKIT_SDP_SENDONLY: return "sendonly";
  case SIPKIT_SDP_RECVONLY: return "recvonly";
  case SIPKIT_SDP_INACTIVE: return "inactive";
  default: return NULL;
  }
}

static void push_conn(lua_State *L, const char *buf, const sipkit_sdp_conn *c) {
  lua_createtable(L, 0, 3);
  set_span(L, buf, c->nettype, "nettype");
  set_span(L, buf, c->addrtype, "addrtype");
  set_span(L, buf, c->address, "address");
}

static void push_attrs(lua_State *L, const char *buf, const sipkit_sdp_attr *a,
                       uint32_t n) {
  uint32_t i;
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_createtable(L, 0, 2);
    set_span(L, buf, a[i].name, "name");
    if (a[i].has_value) {
      push_span(L, buf, a[i].value);
      lua_setfield(L, -2, "value");
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static void push_media(lua_State *L, const sipkit_sdp *s, const char *buf,
                       uint32_t mi) {
  const sipkit_sdp_media *md = &s->media[mi];
  uint32_t i;
  const char *d = dir_name(sipkit_sdp_direction(s, mi));
  lua_createtable(L, 0, 12);
  set_span(L, buf, md->media, "media");
  set_int(L, md->port, "port");
  set_span(L, buf, md->proto, "proto");
  if (md->num_conns) {
    push_conn(L, buf, &md->conn);
    lua_setfield(L, -2, "conn");
  }
  if (d) {
    lua_pushstring(L, d);
    lua_setfield(L, -2, "direction");
  }
  lua_pushboolean(L, sipkit_sdp_is_hold(s, buf, mi));
  lua_setfield(L, -2, "hold");
  lua_createtable(L, (int)md->num_formats, 0);
  for (i = 0; i < md->num_formats; i++) {
    const sipkit_sdp_format *f = &md->formats[i];
    lua_createtable(L, 0, 6);
    set_span(L, buf, f->fmt, "fmt");
    if (f->has_pt)
      set_int(L, f->pt, "pt");
    if (f->has_rtpmap && !f->rtpmap_bad) {
      set_span(L, buf, f->encoding, "encoding");
      set_int(L, f->clock_rate, "clock_rate");
      set_int(L, f->channels, "channels");
    }
    if (f->has_fmtp) {
      push_span(L, buf, f->fmtp);
      lua_setfield(L, -2, "fmtp");
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "formats");
  push_attrs(L, buf, md->attrs, md->num_attrs);
  lua_setfield(L, -2, "attrs");
}

/* A sipkit_sdp is ~60 KiB: not for the C stack, and a malloc / free of
 * that size per SDP body made glibc consolidate its free lists and move
 * the heap top (brk, page faults) on every message.  One scratch per Lua
 * state (a registry userdata, freed with the state) is reused; a nested
 * use (cannot happen today) falls back to malloc. */
typedef struct sdp_scratch {
  int busy;
  sipkit_sdp s;
} sdp_scratch;
static const char sdp_scratch_key = 0;

static sipkit_sdp *sdp_get(lua_State *L) {
  sdp_scratch *sc;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &sdp_scratch_key) == LUA_TNIL) {
    lua_pop(L, 1);
    sc = (sdp_scratch *)lua_newuserdatauv(L, sizeof *sc, 0);
    sc->busy = 0;
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sdp_scratch_key);
  } else {
    sc = (sdp_scratch *)lua_touserdata(L, -1);
    lua_pop(L, 1);
  }
  if (!sc->busy) {
    sc->busy = 1;
    return &sc->s;
  }
  return (sipkit_sdp *)malloc(sizeof(sipkit_sdp));
}

static void sdp_put(lua_State *L, sipkit_sdp *s) {
  sdp_scratch *sc;
  if (!s)
    return;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &sdp_scratch_key);
  sc = (sdp_scratch *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (sc && s == &sc->s)
    sc->busy = 0;
  else
    free(s);
}

static int push_sdp(lua_State *L, const char *buf, size_t len) {
  sipkit_sdp *s = sdp_get(L);
  sipkit_error e;
  uint32_t i;
  int rc;
  if (!s)
    return luaL_error(L, "sipkit: out of memory");
  rc = sipkit_sdp_parse(s, buf, len, &e);
  if (rc != SIPKIT_EOK) {
    sdp_put(L, s);
    return push_fail(L, &e, buf, len);
  }
  lua_createtable(L, 0, 10);
  set_int(L, s->version, "version");
  lua_createtable(L, 0, 6);
  set_span(L, buf, s->o_username, "username");
  set_span(L, buf, s->o_sess_id, "sess_id");
  set_span(L, buf, s->o_sess_version, "sess_version");
  set_span(L, buf, s->o_nettype, "nettype");
  set_span(L, buf, s->o_addrtype, "addrtype");
  set_span(L, buf, s->o_address, "address");
  lua_setfield(L, -2, "origin");
  set_span(L, buf, s->name, "name");
  set_span(L, buf, s->info, "info");
  if (s->num_conns) {
    push_conn(L, buf, &s->conn);
    lua_setfield(L, -2, "conn");
  }
  push_attrs(L, buf, s->attrs, s->num_attrs);
  lua_setfield(L, -2, "attrs");
  lua_createtable(L, (int)s->num_media, 0);
  for (i = 0; i < s->num_media; i++) {
    push_media(L, s, buf, i);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "media");
  sdp_put(L, s);
  return 1;
}

/* sipkit.sdp(body) -> table or nil, err */
static int l_sdp(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  return push_sdp(L, s, len);
}

static unsigned codec_bits(lua_State *L, int t) {
  unsigned bits = 0;
  lua_Integer i, n;
  if (lua_isnil(L, t))
    return SIPKIT_SDP_PCMU | SIPKIT_SDP_PCMA | SIPKIT_SDP_TELEPHONE_EVENT;
  luaL_checktype(L, t, LUA_TTABLE);
  n = luaL_len(L, t);
  for (i = 1; i <= n; i++) {
    const char *c;
    lua_geti(L, t, i);
    c = luaL_checkstring(L, -1);
    if (strcasecmp(c, "PCMU") == 0)
      bits |= SIPKIT_SDP_PCMU;
    else if (strcasecmp(c, "PCMA") == 0)
      bits |= SIPKIT_SDP_PCMA;
    else if (strcasecmp(c, "telephone-event") == 0)
      bits |= SIPKIT_SDP_TELEPHONE_EVENT;
    else
      luaL_error(L, "sipkit: unknown codec '%s' (PCMU, PCMA, telephone-event)", c);
    lua_pop(L, 1);
  }
  return bits;
}

/* Fill a from {address=, port=, codecs=, hold=, username=, sess_id=,
 * sess_version=} at index t; strings stay on the Lua stack / in t. */
static void audio_opts(lua_State *L, int t, sipkit_sdp_audio *a) {
  memset(a, 0, sizeof *a);
  luaL_checktype(L, t, LUA_TTABLE);
  lua_getfield(L, t, "address");
  a->address = luaL_optstring(L, -1, "127.0.0.1");
  lua_pop(L, 1); /* the string is still referenced by t or is a literal */
  lua_getfield(L, t, "port");
  a->port = (uint32_t)luaL_optinteger(L, -1, 4000);
  lua_pop(L, 1);
  lua_getfield(L, t, "codecs");
  a->codecs = codec_bits(L, lua_gettop(L));
  lua_pop(L, 1);
  lua_getfield(L, t, "hold");
  a->hold = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, t, "username");
  a->username = lua_tostring(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, t, "sess_id");
  a->sess_id = (uint64_t)luaL_optinteger(L, -1, 1);
  lua_pop(L, 1);
  lua_getfield(L, t, "sess_version");
  a->sess_version = (uint64_t)luaL_optinteger(L, -1, 1);
  lua_pop(L, 1);
}

/* The last SDP offer that parsed and the last answer made.  A UAS under
 * load gets the same offer call after call (a load generator's SDP) and
 * answers it the same way; parsing it twice per call (msg:_has_sdp, then
 * sdp_answer) cost a tenth of the call.  Parsing and answering depend only
 * on the bytes and the audio options, so an identical input gets the
 * remembered result.  Per thread, like the Lua states using it. */
#define SDP_MEMO_MAX 2048u
typedef struct sdp_memo {
  size_t offer_len; /* 0: nothing remembered */
  char offer[SDP_MEMO_MAX];
  sipkit_sdp_audio a; /* the answer's options; strings copied below */
  char address[64], username[64];
  size_t answer_len; /* 0: no answer remembered for this offer */
  char answer[4096];
} sdp_memo;
static _Thread_local sdp_memo sdp_last;

static int sdp_memo_has(const char *body, size_t len) {
  return len && len == sdp_last.offer_len && !memcmp(body, sdp_last.offer, len);
}

/* body parsed: remember it (dropping the answer of another offer) */
static void sdp_memo_parsed(const char *body, size_t len) {
  if (sdp_memo_has(body, len))
    return;
  sdp_last.answer_len = 0;
  sdp_last.offer_len = 0;
  if (len > SDP_MEMO_MAX)
    return;
  memcpy(sdp_last.offer, body, len);
  sdp_last.offer_len = len;
}

static int same_str(const char *x, const char *y) {
  return x == y || (x && y && strcmp(x, y) == 0);
}

static int sdp_memo_answer_of(const char *offer, size_t len, const sipkit_sdp_audio *a) {
  const sipkit_sdp_audio *m = &sdp_last.a;
  return sdp_memo_has(offer, len) && sdp_last.answer_len && m->sess_id == a->sess_id &&
         m->sess_version == a->sess_version && m->port == a->port && m->codecs == a->codecs &&
         m->event_pt == a->event_pt && m->hold == a->hold &&
         same_str(m->address, a->address) && same_str(m->username, a->username);
}

static void sdp_memo_answered(const char *offer, size_t len, const sipkit_sdp_audio *a,
                              const char *answer, size_t alen) {
  sdp_memo_parsed(offer, len);
  if (!sdp_memo_has(offer, len) || alen > sizeof sdp_last.answer ||
      (a->address && strlen(a->address) >= sizeof sdp_last.address) ||
      (a->username && strlen(a->username) >= sizeof sdp_last.username))
    return;
  sdp_last.a = *a;
  if (a->address)
    sdp_last.a.address = strcpy(sdp_last.address, a->address);
  if (a->username)
    sdp_last.a.username = strcpy(sdp_last.username, a->username);
  memcpy(sdp_last.answer, answer, alen);
  sdp_last.answer_len = alen;
}

/* sipkit.sdp_offer{address=, port=, codecs=, hold=} -> string or nil, err */
static int l_sdp_offer(lua_State *L) {
  sipkit_sdp_audio a;
  char out[2048];
  size_t len = 0;
  int rc;
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  audio_opts(L, 1, &a);
  rc = sipkit_sdp_offer(&a, out, sizeof out, &len);
  if (rc != SIPKIT_EOK)
    return push_fail_code(L, rc, "sdp offer");
  lua_pushlstring(L, out, len);
  return 1;
}

/* The remembered answer as a Lua string: the one pushed last, while it
 * holds the same bytes, so the calls answered alike share one string
 * instead of a copy each (a call keeps its answer as call.local_sdp for
 * as long as it is up).  The bytes are compared, not trusted: the memo is
 * per thread, the registry per Lua state. */
#define SDP_ANSWER_KEY "sipkit.sdp_answer"
static void push_memo_answer(lua_State *L) {
  size_t n;
  const char *kept;
  lua_getfield(L, LUA_REGISTRYINDEX, SDP_ANSWER_KEY);
  kept = lua_tolstring(L, -1, &n);
  if (kept && n == sdp_last.answer_len && memcmp(kept, sdp_last.answer, n) == 0)
    return;
  lua_pop(L, 1);
  lua_pushlstring(L, sdp_last.answer, sdp_last.answer_len);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, SDP_ANSWER_KEY);
}

/* sipkit.sdp_answer(offer_body, {address=, port=, codecs=, hold=}) */
static int l_sdp_answer(lua_State *L) {
  size_t olen, len = 0;
  const char *offer = luaL_checklstring(L, 1, &olen);
  sipkit_sdp *s;
  sipkit_sdp_audio a;
  sipkit_error e;
  char out[4096];
  int rc;
  if (lua_isnoneornil(L, 2)) {
    lua_settop(L, 1);
    lua_newtable(L);
  }
  audio_opts(L, 2, &a);
  if (sdp_memo_answer_of(offer, olen, &a)) {
    push_memo_answer(L);
    return 1;
  }
  s = sdp_get(L);
  if (!s)
    return luaL_error(L, "sipkit: out of memory");
  rc = sipkit_sdp_parse(s, offer, olen, &e);
  if (rc != SIPKIT_EOK) {
    sdp_put(L, s);
    return push_fail(L, &e, offer, olen);
  }
  rc = sipkit_sdp_answer(s, offer, &a, out, sizeof out, &len);
  sdp_put(L, s);
  if (rc != SIPKIT_EOK)
    return push_fail_code(L, rc, "sdp answer");
  sdp_memo_answered(offer, olen, &a, out, len);
  lua_pushlstring(L, out, len);
  return 1;
}

/* --------------------------------------------------------------- DTMF */

static int push_dtmf(lua_State *L, const lmsg *m) {
  sipkit_dtmf d;
  sipkit_error e;
  const char *body = SIPKIT_SPAN_PTR(m->buf, m->msg->body);
  int rc;
  char sig[2];
  if (ctype_is(m, "application", "dtmf-relay"))
    rc = sipkit_dtmf_relay_parse(&d, body, m->msg->body.len, &e);
  else if (ctype_is(m, "application", "dtmf"))
    rc = sipkit_dtmf_parse(&d, body, m->msg->body.len, &e);
  else
    return 0;
  if (rc != SIPKIT_EOK)
    return 0;
  lua_createtable(L, 0, 2);
  sig[0] = d.signal;
  sig[1] = 0;
  lua_pushstring(L, sig);
  lua_setfield(L, -2, "signal");
  if (d.has_duration)
    set_int(L, d.duration, "duration");
  return 1;
}

/* sipkit.dtmf_relay(signal [, duration_ms]) -> body string or nil, err */
static int l_dtmf_relay(lua_State *L) {
  size_t n;
  const char *sig = luaL_checklstring(L, 1, &n);
  sipkit_dtmf d;
  char out[64];
  size_t len = 0;
  int rc;
  lua_Integer dur = luaL_optinteger(L, 2, 0);
  memset(&d, 0, sizeof d);
  luaL_argcheck(L, n == 1, 1, "one DTMF character expected");
  luaL_argcheck(L, dur >= 0 && dur <= (lua_Integer)SIPKIT_DTMF_MAX_DURATION, 2,
                "duration out of range");
  d.signal = sig[0];
  d.duration = (uint32_t)dur;
  d.has_duration = dur > 0;
  rc = sipkit_dtmf_relay_build(&d, out, sizeof out, &len);
  if (rc != SIPKIT_EOK)
    return push_fail_code(L, rc, "dtmf-relay Signal");
  lua_pushlstring(L, out, len);
  return 1;
}

/* ------------------------------------------------------------ headers */

static int same_name(const char *a, size_t an, const char *b, size_t bn) {
  return an == bn && strncasecmp(a, b, an) == 0;
}

/* Does entry h carry the header asked for (id from sipkit_hdr_lookup;
 * unknown names compare as written, case-insensitively)? */
static int header_is(const lmsg *m, const sipkit_header *h, int id,
                     const char *name, size_t nlen) {
  if (id != SIPKIT_HDR_OTHER)
    return h->id == id;
  return h->id == SIPKIT_HDR_OTHER &&
         same_name(SIPKIT_SPAN_PTR(m->buf, h->name), h->name.len, name, nlen);
}

static void push_unfolded(lua_State *L, const lmsg *m, const sipkit_header *h) {
  luaL_Buffer b;
  size_t n = sipkit_unfold(m->buf, h->value, NULL, 0);
  char *p = luaL_buffinitsize(L, &b, n);
  sipkit_unfold(m->buf, h->value, p, n);
  luaL_pushresultsize(&b, n);
}

/* msg:header(name) -> first value, unfolded, or nil */
static int msg_header(lua_State *L) {
  lmsg *m = check_msg(L);
  size_t nlen, i;
  const char *name = luaL_checklstring(L, 2, &nlen);
  int id = sipkit_hdr_lookup(name, nlen);
  for (i = 0; i < m->msg->num_headers; i++)
    if (header_is(m, &m->msg->headers[i], id, name, nlen)) {
      push_unfolded(L, m, &m->msg->headers[i]);
      return 1;
    }
  lua_pushnil(L);
  return 1;
}

/* msg:headers(name) -> every value in order ({} when absent);
 * msg:headers() -> every header as {name = as written, value = unfolded}. */
static int msg_headers(lua_State *L) {
  lmsg *m = check_msg(L);
  size_t nlen = 0, i;
  lua_Integer k = 0;
  const char *name = luaL_optlstring(L, 2, NULL, &nlen);
  int id = name ? sipkit_hdr_lookup(name, nlen) : 0;
  lua_newtable(L);
  for (i = 0; i < m->msg->num_headers; i++) {
    const sipkit_header *h = &m->msg->headers[i];
    if (name) {
      if (!header_is(m, h, id, name, nlen))
        continue;
      push_unfolded(L, m, h);
    } else {
      lua_createtable(L, 0, 2);
      push_span(L, m->buf, h->name);
      lua_setfield(L, -2, "name");
      push_unfolded(L, m, h);
      lua_setfield(L, -2, "value");
    }
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

/* ------------------------------------------------------------- fields */

/* Push field key of m; returns 0 when key is no field. */
static int msg_field(lua_State *L, lmsg *m, const char *k) {
  const sipkit_msg *g = m->msg;
  const char *b = m->buf;
  switch (k[0]) {
  case 'b':
    if (strcmp(k, "body") == 0) {
      push_body(L, SIPKIT_SPAN_PTR(b, g->body), g->body.len);
      return 1;
    }
    break;
  case 'c':
    if (strcmp(k, "call_id") == 0) {
      push_span(L, b, g->call_id);
      return 1;
    }
    if (strcmp(k, "cseq") == 0) {
      if (!g->cseq)
        return lua_pushnil(L), 1;
      lua_createtable(L, 0, 2);
      set_int(L, g->cseq->num, "num");
      push_span(L, b, g->cseq->method_name);
      lua_setfield(L, -2, "method");
      return 1;
    }
    if (strcmp(k, "contact") == 0) {
      if (!g->contact)
        return lua_pushnil(L), 1;
      push_addr(L, b, g->contact);
      return 1;
    }
    if (strcmp(k, "contacts") == 0) {
      push_contacts(L, m);
      return 1;
    }
    if (strcmp(k, "content_type") == 0) {
      const sipkit_ctype *c = g->content_type;
      if (!c)
        return lua_pushnil(L), 1;
      push_span(L, b, c->type);
      lua_pushliteral(L, "/");
      push_span(L, b, c->subtype);
      lua_concat(L, 3);
      return 1;
    }
    break;
  case 'd':
    if (strcmp(k, "dtmf") == 0) {
      if (!push_dtmf(L, m))
        lua_pushnil(L);
      return 1;
    }
    break;
  case 'e':
    if (strcmp(k, "expires") == 0) {
      if (sipkit_msg_header(g, SIPKIT_HDR_EXPIRES))
        lua_pushinteger(L, g->expires);
      else
        lua_pushnil(L);
      return 1;
    }
    break;
  case 'f':
    if (strcmp(k, "from") == 0) {
      if (!g->from)
        return lua_pushnil(L), 1;
      push_addr(L, b, g->from);
      return 1;
    }
    break;
  case 'i':
    if (strcmp(k, "is_request") == 0) {
      lua_pushboolean(L, g->status == 0);
      return 1;
    }
    if (strcmp(k, "is_response") == 0) {
      lua_pushboolean(L, g->status != 0);
      return 1;
    }
    break;
  case 'm':
    if (strcmp(k, "method") == 0) {
      if (g->status)
        lua_pushnil(L);
      else
        push_span(L, b, g->method_name);
      return 1;
    }
    if (strcmp(k, "max_forwards") == 0) {
      if (sipkit_msg_header(g, SIPKIT_HDR_MAX_FORWARDS))
        lua_pushinteger(L, g->max_forwards);
      else
        lua_pushnil(L);
      return 1;
    }
    break;
  case 'r':
    if (strcmp(k, "reason") == 0) {
      if (g->status)
        push_span(L, b, g->reason);
      else
        lua_pushnil(L);
      return 1;
    }
    if (strcmp(k, "ruri") == 0) {
      if (g->status)
        return lua_pushnil(L), 1;
      push_uri_table(L, b, &g->ruri);
      return 1;
    }
    break;
  case 's':
    if (strcmp(k, "status") == 0) {
      if (g->status)
        lua_pushinteger(L, g->status);
      else
        lua_pushnil(L);
      return 1;
    }
    if (strcmp(k, "sdp") == 0) {
      if (!ctype_is(m, "application", "sdp") || g->body.len == 0)
        return lua_pushnil(L), 1;
      if (push_sdp(L, SIPKIT_SPAN_PTR(b, g->body), g->body.len) == 2)
        lua_pop(L, 2), lua_pushnil(L); /* a bad SDP: msg.sdp is nil, sipkit.sdp(msg.body) says why */
      return 1;
    }
    if (strcmp(k, "size") == 0) {
      lua_pushinteger(L, g->size);
      return 1;
    }
    break;
  case 't':
    if (strcmp(k, "to") == 0) {
      if (!g->to)
        return lua_pushnil(L), 1;
      push_addr(L, b, g->to);
      return 1;
    }
    break;
  case 'u':
    if (strcmp(k, "uri") == 0) {
      if (g->status)
        lua_pushnil(L);
      else
        push_span(L, b, g->request_uri);
      return 1;
    }
    break;
  case 'v':
    if (strcmp(k, "via") == 0) {
      push_vias(L, m);
      return 1;
    }
    if (strcmp(k, "version") == 0) {
      push_span(L, b, g->version);
      return 1;
    }
    break;
  default:
    break;
  }
  return 0;
}

/* __index: methods first, then the cache, then a field made from the
 * spans.  Tables are cached (one is built once while someone holds it, so
 * msg.via[1] and msg.via[2] see the same table); strings and numbers are
 * made again on each access, so a message whose fields are only strings
 * (most of those a call keeps) has no cache table at all.  Upvalues: the
 * method table, the cache's metatable and the msg metatable, so a field
 * costs no look-up by name in the registry or the metatable (a script
 * reads several fields of every message). */
#define MSG_INDEX_METHODS lua_upvalueindex(1)
#define MSG_INDEX_CACHE_MT lua_upvalueindex(2)
#define MSG_INDEX_MT lua_upvalueindex(3)
static int msg_index(lua_State *L) {
  lmsg *m = (lmsg *)lua_touserdata(L, 1);
  const char *k;
  if (!m || !lua_getmetatable(L, 1) || !lua_rawequal(L, -1, MSG_INDEX_MT))
    return luaL_typeerror(L, 1, MSG_MT);
  lua_settop(L, 2);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, MSG_INDEX_METHODS) != LUA_TNIL)
    return 1;
  lua_settop(L, 2);
  if (lua_type(L, 2) != LUA_TSTRING)
    return lua_pushnil(L), 1;
  k = lua_tostring(L, 2);
  if (lua_getiuservalue(L, 1, UV_CACHE) == LUA_TTABLE) { /* index 3 */
    lua_pushvalue(L, 2);
    if (lua_rawget(L, 3) != LUA_TNIL)
      return 1;
    lua_pop(L, 1);
  }
  msg_parsed(L, 1, m); /* a field is made from the entries */
  if (!msg_field(L, m, k))
    return lua_pushnil(L), 1;
  if (lua_type(L, -1) == LUA_TTABLE) {
    if (!lua_istable(L, 3)) {
      lua_newtable(L);
      /* Weak values: a table field nobody holds any more (msg.from of a
       * message kept for the whole call) is collected and made again on
       * the next access, instead of living as long as the message. */
      lua_pushvalue(L, MSG_INDEX_CACHE_MT);
      lua_setmetatable(L, -2);
      lua_pushvalue(L, -1);
      lua_setiuservalue(L, 1, UV_CACHE);
      lua_replace(L, 3);
    }
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 3);
  }
  return 1;
}

static int msg_tostring(lua_State *L) {
  lmsg *m = check_msg_spans(L, 1);
  lua_pushlstring(L, m->buf, m->size);
  return 1;
}

static int msg_len(lua_State *L) {
  lua_pushinteger(L, check_msg_spans(L, 1)->size);
  return 1;
}

/* ------------------------------------------------------------ building */

/* Add the headers of the table at index t: an array of "Name: value"
 * strings or {name, value} pairs (order kept), then string keys
 * (name = value or name = {values}) in sorted order so output is
 * reproducible. */
static void add_one_header(sipkit_builder *b, const char *line, size_t len) {
  const char *colon = memchr(line, ':', len);
  size_t nlen, voff;
  if (!colon) {
    /* builder_header_raw names the rule and the offset */
    sipkit_builder_header_raw(b, line, len, "", 0);
    return;
  }
  nlen = (size_t)(colon - line);
  while (nlen && (line[nlen - 1] == ' ' || line[nlen - 1] == '\t'))
    nlen--;
  voff = (size_t)(colon - line) + 1;
  while (voff < len && (line[voff] == ' ' || line[voff] == '\t'))
    voff++;
  sipkit_builder_header_raw(b, line, nlen, line + voff, len - voff);
}

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add_named(lua_State *L, sipkit_builder *b, const char *name, int vi) {
  size_t vlen;
  const char *v;
  vi = lua_absindex(L, vi);
  if (lua_istable(L, vi)) {
    lua_Integer i, n = luaL_len(L, vi);
    for (i = 1; i <= n; i++) {
      lua_geti(L, vi, i);
      v = luaL_tolstring(L, -1, &vlen);
      sipkit_builder_header_raw(b, name, strlen(name), v, vlen);
      lua_pop(L, 2);
    }
    return;
  }
  v = luaL_tolstring(L, vi, &vlen);
  sipkit_builder_header_raw(b, name, strlen(name), v, vlen);
  lua_pop(L, 1);
}

static void add_headers(lua_State *L, sipkit_builder *b, int t) {
  lua_Integer i, n;
  const char **names;
  size_t count = 0, k;
  if (lua_isnoneornil(L, t))
    return;
  t = lua_absindex(L, t);
  luaL_checktype(L, t, LUA_TTABLE);
  n = luaL_len(L, t);
  for (i = 1; i <= n; i++) {
    lua_geti(L, t, i);
    if (lua_type(L, -1) == LUA_TSTRING) {
      size_t len;
      const char *line = lua_tolstring(L, -1, &len);
      add_one_header(b, line, len);
    } else if (lua_istable(L, -1)) {
      lua_geti(L, -1, 1);
      lua_geti(L, -2, 2);
      add_named(L, b, luaL_checkstring(L, -2), -1);
      lua_pop(L, 2);
    } else {
      luaL_error(L, "sipkit: headers[%d] must be a string or {name, value}", (int)i);
    }
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) == LUA_TSTRING)
      count++;
    lua_pop(L, 1);
  }
  if (count == 0)
    return;
  names = (const char **)lua_newuserdatauv(L, count * sizeof *names, 0);
  k = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) == LUA_TSTRING)
      names[k++] = lua_tostring(L, -2); /* anchored by t */
    lua_pop(L, 1);
  }
  qsort(names, count, sizeof *names, str_cmp);
  for (k = 0; k < count; k++) {
    lua_getfield(L, t, names[k]);
    add_named(L, b, names[k], -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* Finish b with the body at index bi (nil: none) and push the message
 * parsed back as a msg, or nil, err.  Frees b. */
/* A dynamic builder in a userdata: a Lua error raised while it is filled
 * (a bad header, a wrong type) unwinds past sipkit_builder_free, and __gc
 * frees its buffer then.  Pushed on the stack. */
#define BUILDER_MT "sipkit.builder"
static int builder_gc(lua_State *L) {
  sipkit_builder_free((sipkit_builder *)lua_touserdata(L, 1));
  return 0;
}

static sipkit_builder *push_builder(lua_State *L) {
  sipkit_builder *b = (sipkit_builder *)lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  luaL_setmetatable(L, BUILDER_MT);
  sipkit_builder_init_dynamic(b);
  return b;
}

static int finish_push(lua_State *L, sipkit_builder *b, const char *body,
                       size_t blen) {
  int rc = sipkit_builder_finish(b, body, blen, NULL);
  if (rc != SIPKIT_EOK) {
    sipkit_error e = b->err;
    char rule[128];
    /* the rule string may live in the builder's buffer: keep a copy */
    snprintf(rule, sizeof rule, "%s", e.rule ? e.rule : "");
    e.rule = rule;
    e.code = rc;
    sipkit_builder_free(b);
    return push_fail(L, &e, NULL, 0);
  }
  lua_pushlstring(L, b->buf, b->len);
  sipkit_builder_free(b);
  return push_parsed(L, -1, 0);
}

/* body and content type from opts at index t: body=, sdp= (application/sdp),
 * content_type=. */
static const char *opt_body(lua_State *L, int t, size_t *len, const char **ctype) {
  const char *body = NULL;
  *len = 0;
  *ctype = NULL;
  if (lua_isnoneornil(L, t))
    return NULL;
  if (lua_getfield(L, t, "sdp") == LUA_TSTRING) {
    body = lua_tolstring(L, -1, len);
    *ctype = "application/sdp";
  }
  lua_pop(L, 1);
  if (lua_getfield(L, t, "body") == LUA_TSTRING)
    body = lua_tolstring(L, -1, len);
  lua_pop(L, 1);
  if (lua_getfield(L, t, "content_type") == LUA_TSTRING)
    *ctype = lua_tostring(L, -1);
  lua_pop(L, 1);
  return body; /* anchored by t */
}

static void add_ctype(sipkit_builder *b, const char *ctype, size_t blen) {
  if (ctype)
    sipkit_builder_header(b, SIPKIT_HDR_CONTENT_TYPE, ctype, strlen(ctype));
  else if (blen)
    sipkit_builder_header(b, SIPKIT_HDR_CONTENT_TYPE, "text/plain", 10);
}

/* From / To: "sip:a@b" (a URI), "Alice <sip:a@b>;x=y" (a value as
 * written), or {uri=, display=, tag=, params=}.  gen_tag: give a missing
 * tag a fresh one (From). */
static void add_addr(lua_State *L, sipkit_builder *b, int id, int t,
                     const char *field, int gen_tag) {
  char tag[SIPKIT_TAG_SIZE + 8];
  lua_getfield(L, t, field);
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t len;
    const char *v = lua_tolstring(L, -1, &len);
    if (memchr(v, '<', len)) {
      sipkit_builder_header(b, id, v, len);
    } else {
      tag[0] = 0;
      if (gen_tag) {
        memcpy(tag, ";tag=", 5);
        sipkit_gen_tag(tag + 5, sizeof tag - 5);
      }
      sipkit_builder_addr(b, id, NULL, 0, v, len, tag, strlen(tag));
    }
  } else if (lua_istable(L, -1)) {
    size_t ulen = 0, dlen = 0;
    const char *uri, *disp, *tg, *params;
    luaL_Buffer pb;
    int ti = lua_gettop(L);
    lua_getfield(L, ti, "uri");
    uri = luaL_checklstring(L, -1, &ulen);
    lua_getfield(L, ti, "display");
    disp = lua_tolstring(L, -1, &dlen);
    lua_getfield(L, ti, "tag");
    tg = lua_tostring(L, -1);
    lua_getfield(L, ti, "params");
    params = lua_tostring(L, -1);
    luaL_buffinit(L, &pb);
    if (tg) {
      luaL_addstring(&pb, ";tag=");
      luaL_addstring(&pb, tg);
    } else if (gen_tag) {
      sipkit_gen_tag(tag, sizeof tag);
      luaL_addstring(&pb, ";tag=");
      luaL_addstring(&pb, tag);
    }
    if (params) {
      if (params[0] != ';')
        luaL_addchar(&pb, ';');
      luaL_addstring(&pb, params);
    }
    luaL_pushresult(&pb);
    {
      size_t plen;
      const char *p = lua_tolstring(L, -1, &plen);
      sipkit_builder_addr(b, id, disp, dlen, uri, ulen, p, plen);
    }
    lua_settop(L, ti);
  } else {
    luaL_error(L, "sipkit.request: '%s' must be a string or a table", field);
  }
  lua_pop(L, 1);
}

static const char *opt_str(lua_State *L, int t, const char *k, size_t *len) {
  const char *s;
  lua_getfield(L, t, k);
  s = lua_tolstring(L, -1, len);
  lua_pop(L, 1); /* anchored by t */
  return s;
}

/* sipkit.request{method=, uri=, from=, to=, call_id=, cseq=, via=,
 * contact=, max_forwards=, headers=, body=, sdp=, content_type=}
 * -> msg or nil, err */
static int l_request(lua_State *L) {
  sipkit_builder *b;
  size_t mlen, ulen, len, blen;
  const char *method, *uri, *s, *ctype, *body;
  char gen[64];
  lua_Integer cseq;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1); /* the builder goes above */
  method = opt_str(L, 1, "method", &mlen);
  uri = opt_str(L, 1, "uri", &ulen);
  if (!method || !uri)
    return luaL_error(L, "sipkit.request: 'method' and 'uri' are required");
  lua_getfield(L, 1, "from");
  lua_getfield(L, 1, "to");
  if (lua_isnil(L, -1) || lua_isnil(L, -2))
    return luaL_error(L, "sipkit.request: 'from' and 'to' are required");
  lua_pop(L, 2);

  b = push_builder(L);
  sipkit_builder_request(b, method, mlen, uri, ulen);
  s = opt_str(L, 1, "via", &len);
  if (s) {
    sipkit_builder_header(b, SIPKIT_HDR_VIA, s, len);
  } else {
    char via[96];
    sipkit_gen_branch(gen, sizeof gen);
    snprintf(via, sizeof via, "SIP/2.0/UDP 127.0.0.1;branch=%s", gen);
    sipkit_builder_header(b, SIPKIT_HDR_VIA, via, strlen(via));
  }
  lua_getfield(L, 1, "max_forwards");
  snprintf(gen, sizeof gen, "%d", (int)luaL_optinteger(L, -1, 70));
  lua_pop(L, 1);
  sipkit_builder_header(b, SIPKIT_HDR_MAX_FORWARDS, gen, strlen(gen));
  add_addr(L, b, SIPKIT_HDR_FROM, 1, "from", 1);
  add_addr(L, b, SIPKIT_HDR_TO, 1, "to", 0);
  s = opt_str(L, 1, "call_id", &len);
  if (!s) {
    sipkit_gen_call_id(gen, sizeof gen);
    s = gen;
    len = strlen(gen);
  }
  sipkit_builder_header(b, SIPKIT_HDR_CALL_ID, s, len);
  lua_getfield(L, 1, "cseq");
  cseq = luaL_optinteger(L, -1, 1);
  lua_pop(L, 1);
  {
    char cs[64];
    snprintf(cs, sizeof cs, "%lld %.*s", (long long)cseq, (int)(mlen < 40 ? mlen : 40), method);
    sipkit_builder_header(b, SIPKIT_HDR_CSEQ, cs, strlen(cs));
  }
  s = opt_str(L, 1, "contact", &len);
  if (s) {
    if (memchr(s, '<', len) || (len == 1 && s[0] == '*'))
      sipkit_builder_header(b, SIPKIT_HDR_CONTACT, s, len);
    else
      sipkit_builder_addr(b, SIPKIT_HDR_CONTACT, NULL, 0, s, len, NULL, 0);
  }
  lua_getfield(L, 1, "headers");
  add_headers(L, b, -1);
  lua_pop(L, 1);
  body = opt_body(L, 1, &blen, &ctype);
  add_ctype(b, ctype, blen);
  return finish_push(L, b, body, blen);
}

/* msg:response(code [, reason] [, {headers=, body=, sdp=, content_type=,
 * to_tag=}]) -> msg or nil, err */
static int msg_response(lua_State *L) {
  lmsg *m = check_msg(L);
  int code = (int)luaL_checkinteger(L, 2);
  size_t rlen = 0, blen;
  const char *reason = NULL, *ctype, *body;
  int opts = 3;
  sipkit_builder *b;
  sipkit_str tag;
  if (lua_type(L, 3) == LUA_TSTRING) {
    reason = lua_tolstring(L, 3, &rlen);
    opts = 4;
  } else if (lua_isnil(L, 3) && !lua_isnone(L, 4)) {
    opts = 4;
  }
  if (!lua_isnoneornil(L, opts))
    luaL_checktype(L, opts, LUA_TTABLE);
  lua_settop(L, opts); /* the builder goes above */
  luaL_argcheck(L, m->msg->status == 0, 1, "a request expected, got a response");
  luaL_argcheck(L, code >= 100 && code <= 699, 2, "status code 100..699 expected");
  tag.p = NULL;
  tag.len = 0;
  if (!lua_isnoneornil(L, opts))
    tag.p = opt_str(L, opts, "to_tag", &tag.len);
  b = push_builder(L);
  sipkit_build_response(b, m->msg, m->buf, code, reason, rlen, tag);
  if (!lua_isnoneornil(L, opts)) {
    lua_getfield(L, opts, "headers");
    add_headers(L, b, -1);
    lua_pop(L, 1);
  }
  body = opt_body(L, opts, &blen, &ctype);
  add_ctype(b, ctype, blen);
  return finish_push(L, b, body, blen);
}

/* --------------------------------------------------------- digest auth */

/* msg:credentials([proxy]) -> {username, realm, nonce, uri, response,
 * algorithm, qop, cnonce, nc, opaque} of the first (Proxy-)Authorization,
 * or nil, err */
static int msg_credentials(lua_State *L) {
  lmsg *m = check_msg(L);
  int id = lua_toboolean(L, 2) ? SIPKIT_HDR_PROXY_AUTHORIZATION : SIPKIT_HDR_AUTHORIZATION;
  const sipkit_header *h = sipkit_msg_header(m->msg, id);
  sipkit_credentials cr;
  sipkit_error e;
  char tmp[512];
  size_t n;
  if (!h)
    return push_fail_code(L, SIPKIT_EMISSING_HEADER, sipkit_hdr_name(id));
  if (sipkit_auth_parse_credentials(&cr, id, m->buf, h->value, &e) != SIPKIT_EOK)
    return push_fail(L, &e, m->buf, m->len);
  lua_createtable(L, 0, 10);
#define UNQ(field)                                                             \
  if (cr.field.len) {                                                          \
    n = sipkit_auth_unquote(m->buf, cr.field, tmp, sizeof tmp);                \
    lua_pushlstring(L, tmp, n < sizeof tmp ? n : sizeof tmp);                  \
    lua_setfield(L, -2, #field);                                               \
  }
  UNQ(username) UNQ(realm) UNQ(nonce) UNQ(uri) UNQ(response) UNQ(cnonce)
  UNQ(opaque)
#undef UNQ
  set_span(L, m->buf, cr.nc, "nc");
  lua_pushstring(L, sipkit_digest_alg_name(cr.algorithm));
  lua_setfield(L, -2, "algorithm");
  lua_pushstring(L, cr.qop == SIPKIT_QOP_AUTH ? "auth"
                    : cr.qop == SIPKIT_QOP_AUTH_INT ? "auth-int" : "");
  lua_setfield(L, -2, "qop");
  return 1;
}

/* msg:verify_auth{password= | ha1=, proxy=} -> true or nil, err: the
 * response of the credentials recomputed for this request. */
static int msg_verify_auth(lua_State *L) {
  lmsg *m = check_msg(L);
  int id;
  const sipkit_header *h;
  sipkit_credentials cr;
  sipkit_auth_verify_in in;
  sipkit_error e;
  char method[32];
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "proxy");
  id = lua_toboolean(L, -1) ? SIPKIT_HDR_PROXY_AUTHORIZATION : SIPKIT_HDR_AUTHORIZATION;
  lua_pop(L, 1);
  h = sipkit_msg_header(m->msg, id);
  if (!h)
    return push_fail_code(L, SIPKIT_EMISSING_HEADER, sipkit_hdr_name(id));
  if (sipkit_auth_parse_credentials(&cr, id, m->buf, h->value, &e) != SIPKIT_EOK)
    return push_fail(L, &e, m->buf, m->len);
  memset(&in, 0, sizeof in);
  in.password = opt_str(L, 2, "password", NULL);
  in.ha1 = opt_str(L, 2, "ha1", NULL);
  if (!in.password && !in.ha1)
    return luaL_error(L, "msg:verify_auth: 'password' or 'ha1' expected");
  snprintf(method, sizeof method, "%.*s", (int)m->msg->method_name.len,
           SIPKIT_SPAN_PTR(m->buf, m->msg->method_name));
  in.method = method;
  in.body = SIPKIT_SPAN_PTR(m->buf, m->msg->body);
  in.body_len = m->msg->body.len;
  if (sipkit_auth_verify(&cr, m->buf, &in) != SIPKIT_EOK)
    return push_fail_code(L, SIPKIT_EAUTH, "digest response does not match");
  lua_pushboolean(L, 1);
  return 1;
}

/* sipkit.auth_challenge{realm=, nonce=, opaque=, algorithm="MD5",
 * qop="auth", stale=false} -> header value or nil, err */
static int l_auth_challenge(lua_State *L) {
  sipkit_auth_challenge_in in;
  sipkit_error e;
  char out[1024];
  size_t len = 0;
  const char *alg, *qop;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&in, 0, sizeof in);
  in.realm = opt_str(L, 1, "realm", NULL);
  in.nonce = opt_str(L, 1, "nonce", NULL);
  in.opaque = opt_str(L, 1, "opaque", NULL);
  if (!in.realm || !in.nonce)
    return luaL_error(L, "sipkit.auth_challenge: 'realm' and 'nonce' are required");
  alg = opt_str(L, 1, "algorithm", NULL);
  in.algorithm = alg ? sipkit_digest_alg_lookup(alg, strlen(alg)) : SIPKIT_DIGEST_MD5;
  if (in.algorithm < 0)
    return luaL_error(L, "sipkit.auth_challenge: unknown algorithm '%s'", alg);
  qop = opt_str(L, 1, "qop", NULL);
  in.qop = !qop ? SIPKIT_QOP_AUTH
           : strcmp(qop, "auth") == 0 ? SIPKIT_QOP_AUTH
           : strcmp(qop, "auth-int") == 0 ? SIPKIT_QOP_AUTH_INT
           : strcmp(qop, "auth,auth-int") == 0 ? (SIPKIT_QOP_AUTH | SIPKIT_QOP_AUTH_INT)
           : 0;
  lua_getfield(L, 1, "stale");
  in.stale = lua_toboolean(L, -1);
  lua_pop(L, 1);
  rc = sipkit_auth_challenge_build(&in, out, sizeof out, &len, &e);
  if (rc != SIPKIT_EOK)
    return push_fail(L, &e, NULL, 0);
  lua_pushlstring(L, out, len);
  return 1;
}

/* sipkit.auth_nonce(key, now_seconds) -> nonce */
static int l_auth_nonce(lua_State *L) {
  size_t klen;
  const char *key = luaL_checklstring(L, 1, &klen);
  lua_Integer now = luaL_checkinteger(L, 2);
  char out[SIPKIT_AUTH_NONCE_LEN + 1];
  if (sipkit_auth_nonce_make(key, klen, (uint64_t)now, out, sizeof out) != SIPKIT_EOK)
    return luaL_error(L, "sipkit.auth_nonce: no randomness");
  lua_pushstring(L, out);
  return 1;
}

/* sipkit.auth_nonce_check(key, nonce, now, max_age) -> true, stale | nil, err */
static int l_auth_nonce_check(lua_State *L) {
  size_t klen, nlen;
  const char *key = luaL_checklstring(L, 1, &klen);
  const char *nonce = luaL_checklstring(L, 2, &nlen);
  lua_Integer now = luaL_checkinteger(L, 3);
  lua_Integer age = luaL_checkinteger(L, 4);
  int stale = 0;
  if (sipkit_auth_nonce_check(key, klen, nonce, nlen, (uint64_t)now,
                              (uint64_t)age, &stale) != SIPKIT_EOK)
    return push_fail_code(L, SIPKIT_EAUTH, "nonce was not made with this key");
  lua_pushboolean(L, 1);
  lua_pushboolean(L, stale);
  return 2;
}

/* ------------------------------------------------------------ misc */

static int l_gen(lua_State *L) {
  static const char *const kinds[] = {"tag", "branch", "call_id", NULL};
  char out[64];
  int n, which = luaL_checkoption(L, 1, NULL, kinds);
  n = which == 0 ? sipkit_gen_tag(out, sizeof out)
      : which == 1 ? sipkit_gen_branch(out, sizeof out)
                   : sipkit_gen_call_id(out, sizeof out);
  if (n < 0)
    return luaL_error(L, "sipkit: no randomness");
  lua_pushlstring(L, out, (size_t)n);
  return 1;
}

static int l_reason_phrase(lua_State *L) {
  lua_pushstring(L, sipkit_reason_phrase((int)luaL_checkinteger(L, 1)));
  return 1;
}


/* ------------------------------------------------------------------ */
/* The `sipkit run` runner                                             */

/* Message handler in the manner of lua.c: the error as a string (a
 * table's __tostring, e.g. a sipkit error) with the traceback. */
static int run_msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  /* a task's error already carries the task's own traceback */
  if (strstr(msg, "\nstack traceback:") == NULL)
    luaL_traceback(L, L, msg, 1);
  return 1;
}

static const char *run_module; /* sipkit_lua_run_module's module, or NULL */
static int run_status;         /* the module's integer result */

/* Body of the run, under lua_pcall so that every error gets a traceback:
 * sipkit.run(chunk, args...). */
static int run_protected(lua_State *L) {
  const char *path = (const char *)lua_touserdata(L, 1);
  int nargs = (int)lua_tointeger(L, 2);
  char **args = (char **)lua_touserdata(L, 3);
  int i;
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_sipkit);
  lua_setfield(L, -2, "sipkit");
  lua_pop(L, 1);
  /* arg as lua5.4 builds it: script at 0, arguments from 1 */
  lua_createtable(L, nargs, 2);
  lua_pushliteral(L, "sipkit run");
  lua_rawseti(L, -2, -1);
  lua_pushstring(L, path);
  lua_rawseti(L, -2, 0);
  for (i = 0; i < nargs; i++) {
    lua_pushstring(L, args[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setglobal(L, "arg");

  lua_getglobal(L, "require");
  lua_pushliteral(L, "sipkit");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "run");
  if (run_module) { /* sipkit_lua_run_module: require(module) is the main task */
    lua_getglobal(L, "require");
    lua_pushstring(L, run_module);
    lua_call(L, 1, 1);
  } else if (luaL_loadfilex(L, path, "t") != LUA_OK) {
    return lua_error(L);
  }
  luaL_checkstack(L, nargs + 8, "too many script arguments");
  for (i = 0; i < nargs; i++)
    lua_pushstring(L, args[i]);
  lua_call(L, nargs + 1, 1);
  if (run_module && lua_isinteger(L, -1))
    run_status = (int)lua_tointeger(L, -1);
  return 0;
}

static const sipkit_lua_hooks *run_hooks;

/* The runner's Lua allocator.  A call makes and drops hundreds of small
 * Lua objects (strings, tables, closures, coroutines); glibc's malloc and
 * free cost about a tenth of the instructions of a call.  Blocks up to
 * POOL_MAX bytes come from per-size-class free lists carved out of 64 KiB
 * chunks, and go back to their list; larger ones use malloc.  The chunks
 * are freed with the state.  Under AddressSanitizer blocks go to malloc so
 * use-after-free in the binding stays visible. */
#define POOL_GRAIN 16u
#define POOL_MAX 2048u
#define POOL_CHUNK (64u * 1024u)

typedef struct pool_chunk {
  struct pool_chunk *next;
} pool_chunk;

typedef struct lua_pool {
  void *free[POOL_MAX / POOL_GRAIN]; /* singly linked through each block's first word */
  char *cur;                         /* the unused rest of the newest chunk */
  size_t left;
  pool_chunk *chunks;
} lua_pool;

#if defined(__SANITIZE_ADDRESS__)
#define POOL_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_OFF 1
#endif
#endif
#ifndef POOL_OFF
#define POOL_OFF 0
#endif

static void *pool_get(lua_pool *p, size_t cls) {
  void *b = p->free[cls];
  size_t sz = (cls + 1) * POOL_GRAIN;
  if (b) {
    memcpy(&p->free[cls], b, sizeof(void *));
    return b;
  }
  if (p->left < sz) {
    /* the chunk's tail, too small for this class, is left unused */
    pool_chunk *c = (pool_chunk *)malloc(POOL_CHUNK);
    if (!c)
      return NULL;
    c->next = p->chunks;
    p->chunks = c;
    p->cur = (char *)c + POOL_GRAIN; /* blocks stay 16-byte aligned */
    p->left = POOL_CHUNK - POOL_GRAIN;
  }
  b = p->cur;
  p->cur += sz;
  p->left -= sz;
  return b;
}

static void pool_put(lua_pool *p, void *b, size_t cls) {
  memcpy(b, &p->free[cls], sizeof(void *));
  p->free[cls] = b;
}

static void *pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  lua_pool *p = (lua_pool *)ud;
  size_t ocls, ncls;
  void *nb;
  if (!ptr)
    osize = 0; /* osize is then the type of the new object */
  if (POOL_OFF || (osize > POOL_MAX && nsize > POOL_MAX)) {
    if (nsize == 0) {
      free(ptr);
      return NULL;
    }
    return realloc(ptr, nsize);
  }
  ocls = osize ? (osize - 1) / POOL_GRAIN : 0;
  ncls = nsize ? (nsize - 1) / POOL_GRAIN : 0;
  if (nsize == 0) {
    if (osize > POOL_MAX)
      free(ptr);
    else if (ptr) /* Lua frees empty arrays as (NULL, 0) */
      pool_put(p, ptr, ocls);
    return NULL;
  }
  if (ptr && osize <= POOL_MAX && nsize <= POOL_MAX && ocls == ncls)
    return ptr;
  nb = nsize <= POOL_MAX ? pool_get(p, ncls) : malloc(nsize);
  if (!nb)
    return NULL; /* Lua never shrinks through a failing allocator's NULL: it keeps the block */
  if (ptr) {
    memcpy(nb, ptr, osize < nsize ? osize : nsize);
    if (osize > POOL_MAX)
      free(ptr);
    else
      pool_put(p, ptr, ocls);
  }
  return nb;
}

static void pool_free_all(lua_pool *p) {
  while (p->chunks) {
    pool_chunk *c = p->chunks;
    p->chunks = c->next;
    free(c);
  }
}

static int run_panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "sipkit: PANIC: unprotected error in call to Lua API (%s)\n",
          msg ? msg : "error object is not a string");
  fflush(stderr);
  return 0; /* abort() */
}

SIPKIT_LUA_API int sipkit_lua_run(const char *path, int nargs, char **args,
                                  const sipkit_lua_hooks *hooks) {
  lua_State *L;
  lua_pool pool;
  FILE *f;
  int rc;
  f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "sipkit: %s: %s\n", path, strerror(errno));
    return 2;
  }
  fclose(f);
  memset(&pool, 0, sizeof pool);
  L = lua_newstate(pool_alloc, &pool);
  if (!L) {
    pool_free_all(&pool);
    fprintf(stderr, "sipkit: cannot create a Lua state: out of memory\n");
    return 1;
  }
  lua_atpanic(L, run_panic);
  /* the collector stays Lua's default: lua/README.md has what the others measured */
  run_hooks = hooks;
  lua_pushcfunction(L, run_msghandler);
  lua_pushcfunction(L, run_protected);
  lua_pushlightuserdata(L, (void *)path);
  lua_pushinteger(L, nargs);
  lua_pushlightuserdata(L, args);
  rc = lua_pcall(L, 3, 0, 1);
  if (rc != LUA_OK) {
    fprintf(stderr, "sipkit: %s\n", lua_tostring(L, -1));
    fflush(stderr);
  }
  lua_close(L);
  pool_free_all(&pool);
  run_hooks = NULL;
  return rc == LUA_OK ? 0 : 1;
}

SIPKIT_LUA_API int sipkit_lua_run_module(const char *module, const char *path,
                                         int nargs, char **args,
                                         const sipkit_lua_hooks *hooks) {
  int rc;
  run_module = module;
  run_status = 0;
  rc = sipkit_lua_run(path, nargs, args, hooks);
  run_module = NULL;
  return rc != 0 ? rc : run_status;
}

/* ------------------------------------------------------------------ */
/* Module                                                              */

/* whether msg (the parse of buf) has an application/sdp body that parses */
static int has_sdp_body(lua_State *L, const sipkit_msg *msg, const char *buf) {
  const char *body = SIPKIT_SPAN_PTR(buf, msg->body);
  sipkit_sdp *s;
  sipkit_error e;
  int has;
  if (!msg->body.len || !msg_ctype_is(msg, buf, "application", "sdp"))
    return 0;
  if (sdp_memo_has(body, msg->body.len))
    return 1;
  s = sdp_get(L);
  if (!s)
    return luaL_error(L, "sipkit: out of memory");
  has = sipkit_sdp_parse(s, body, msg->body.len, &e) == SIPKIT_EOK;
  sdp_put(L, s);
  if (has)
    sdp_memo_parsed(body, msg->body.len);
  return has;
}

/* msg:_has_sdp() -> whether msg.sdp would be a table.  For the façade,
 * which only asks whether there is an offer: msg.sdp builds some twenty
 * tables for it.  The answer is kept in the msg itself. */
static int msg_has_sdp(lua_State *L) {
  lmsg *m = (lmsg *)check_self(L, MSG_MT);
  int has;
  if (m->has_sdp)
    return lua_pushboolean(L, m->has_sdp == 2), 1;
  msg_parsed(L, 1, m);
  has = has_sdp_body(L, m->msg, m->buf);
  m->has_sdp = has ? 2 : 1;
  lua_pushboolean(L, has);
  return 1;
}

static const luaL_Reg msg_methods[] = {
    {"header", msg_header},
    {"headers", msg_headers},
    {"response", msg_response},
    {"credentials", msg_credentials},
    {"verify_auth", msg_verify_auth},
    {"_has_sdp", msg_has_sdp},
    {NULL, NULL}};

static const luaL_Reg msg_meta[] = {
    {"__tostring", msg_tostring},
    {"__len", msg_len},
    {NULL, NULL}};

static const luaL_Reg core_funcs[] = {
    {"parse", l_parse},
    {"request", l_request},
    {"uri", l_uri},
    {"sdp", l_sdp},
    {"sdp_offer", l_sdp_offer},
    {"sdp_answer", l_sdp_answer},
    {"dtmf_relay", l_dtmf_relay},
    {"auth_challenge", l_auth_challenge},
    {"auth_nonce", l_auth_nonce},
    {"auth_nonce_check", l_auth_nonce_check},
    {"gen", l_gen},
    {"reason_phrase", l_reason_phrase},
    {"error", l_error},
    {NULL, NULL}};

/* ------------------------------------------------------------------ */
/* Runtime: loop, clock, timers                                        */

/* The C runtime calls back from inside uv_run().  A Lua error must never
 * unwind through libuv's frames, so every callback builds its event and
 * calls the Lua dispatcher (set by sipkit.lua) under lua_pcall; an error
 * there stops the loop and step() raises it once uv_run has returned.
 * The dispatcher only queues wake-ups: coroutines are resumed by the
 * scheduler after step() returns, never inside a callback. */
typedef struct lrt {
  sipkit_rt *rt;
  lua_State *L;     /* the thread inside step(); NULL outside */
  int dispatch_ref; /* the dispatchers: kind -> function(id, ...) -> boolean */
  int error_ref;    /* error raised by the dispatcher, LUA_NOREF if none */
  const void *event; /* the UA callback's arguments while it is dispatched */
} lrt;

/* User values of a timer: the rt (which outlives its timers), then the
 * function and the `what` handed back to the dispatcher when it fires. */
#define TIMER_UV_RT 1
#define TIMER_UV_FN 2
#define TIMER_UV_WHAT 3
typedef struct ltimer {
  sipkit_timer *t; /* NULL once fired or cancelled */
  lrt *r;
  int self_ref;    /* keeps the userdata alive while the timer is pending */
} ltimer;

#define RT_MT "sipkit.rt"
#define TIMER_MT "sipkit.timer"

/* What a callback hands to the dispatcher. */
typedef struct rt_event {
  lrt *r;
  const char *kind;
  lua_Integer id;
  int (*push)(lua_State *L, struct rt_event *ev); /* extra arguments */
  void *ctx;
  int result;       /* the dispatcher's boolean answer */
} rt_event;

/* dispatchers[kind](id, ...): looked up here, not by a Lua function in
 * between, as every datagram and timer comes through */
static int deliver(lua_State *L) {
  rt_event *ev = (rt_event *)lua_touserdata(L, 1);
  int n = 1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ev->r->dispatch_ref);
  if (lua_getfield(L, -1, ev->kind) != LUA_TFUNCTION) {
    ev->result = 0; /* no dispatcher for that kind: not taken */
    return 0;
  }
  lua_pushinteger(L, ev->id);
  if (ev->push)
    n += ev->push(L, ev);
  lua_call(L, n, 1);
  ev->result = lua_toboolean(L, -1);
  return 0;
}

/* Run the dispatcher for ev; returns its boolean answer (0 after an
 * error, which is kept for step()). */
static int dispatch(rt_event *ev) {
  lrt *r = ev->r;
  lua_State *L = r->L;
  int top;
  if (!L || r->error_ref != LUA_NOREF)
    return 0; /* outside step() (cannot happen: callbacks run in uv_run) or already failing */
  top = lua_gettop(L);
  lua_pushcfunction(L, deliver);
  lua_pushlightuserdata(L, ev);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    r->error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    sipkit_rt_stop(r->rt);
    ev->result = 0;
  }
  lua_settop(L, top);
  return ev->result;
}

static lrt *open_rt(lua_State *L, lrt *r) {
  if (!r->rt)
    luaL_error(L, "sipkit: runtime is closed");
  return r;
}
static lrt *check_rt(lua_State *L, int i) {
  return open_rt(L, (lrt *)luaL_checkudata(L, i, RT_MT));
}
/* the rt an rt method was called on */
static lrt *self_rt(lua_State *L) {
  return open_rt(L, (lrt *)check_self(L, RT_MT));
}

static void rt_release(lua_State *L, lrt *r) {
  if (r->rt) {
    if (run_hooks && run_hooks->on_rt_free)
      run_hooks->on_rt_free(run_hooks->data, r->rt);
    sipkit_rt_free(r->rt); /* cancels timers and closes UAs; no callback fires */
    r->rt = NULL;
  }
  luaL_unref(L, LUA_REGISTRYINDEX, r->dispatch_ref);
  r->dispatch_ref = LUA_NOREF;
}

/* core.rt_new(dispatchers [, config]) -> rt: created closed, metatable
 * set, then the resource acquired (liolib's order), so __gc is always
 * safe.  Each callback calls dispatchers[kind](id, ...). */
static int l_rt_new(lua_State *L) {
  lrt *r;
  sipkit_rt_config cfg;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  r = (lrt *)lua_newuserdatauv(L, sizeof *r, 1);
  r->rt = NULL;
  r->L = NULL;
  r->dispatch_ref = LUA_NOREF;
  r->error_ref = LUA_NOREF;
  r->event = NULL;
  luaL_setmetatable(L, RT_MT);
  sipkit_rt_config_default(&cfg);
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "t1");
    if (!lua_isnil(L, -1))
      cfg.txn.t1 = (uint32_t)luaL_checkinteger(L, -1);
    lua_pop(L, 1);
  }
  if (run_hooks && run_hooks->configure) /* the runner's options win */
    run_hooks->configure(run_hooks->data, &cfg);
  rc = sipkit_rt_new(&r->rt, NULL, &cfg);
  if (rc != SIPKIT_EOK)
    return push_fail_code(L, rc, "sipkit_rt_new");
  lua_pushvalue(L, 1);
  r->dispatch_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (run_hooks && run_hooks->on_rt_new)
    run_hooks->on_rt_new(run_hooks->data, r->rt);
  return 1;
}

/* rt:step(block) -> alive: one turn of the loop (waiting for the next
 * event when block); raises what a dispatcher raised.  What the tasks
 * wrote to stdout (io.stdout is C's) goes out before the loop waits: a
 * script can leave its lines buffered (one write per wake-up, not per
 * line) and they still come out when they happen; flushed here, not by
 * io.stdout:flush() from Lua, which cost a method call and a look-up of
 * the FILE* metatable by name per wake-up. */
static int rt_step(lua_State *L) {
  lrt *r = self_rt(L);
  int block = lua_toboolean(L, 2);
  int alive;
  if (r->L)
    return luaL_error(L, "sipkit: rt:step called from inside a callback");
  if (block)
    fflush(stdout);
  r->L = L;
  alive = sipkit_rt_run(r->rt, block ? SIPKIT_RT_RUN_ONCE : SIPKIT_RT_RUN_NOWAIT);
  r->L = NULL;
  if (r->error_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->error_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, r->error_ref);
    r->error_ref = LUA_NOREF;
    return lua_error(L);
  }
  lua_pushboolean(L, alive);
  return 1;
}

static int rt_now(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)sipkit_rt_now(self_rt(L)->rt));
  return 1;
}

static int rt_close(lua_State *L) {
  lrt *r = (lrt *)luaL_checkudata(L, 1, RT_MT);
  if (r->L)
    return luaL_error(L, "sipkit: cannot close the runtime from inside a callback");
  rt_release(L, r);
  return 0;
}

static int rt_tostring(lua_State *L) {
  lrt *r = (lrt *)luaL_checkudata(L, 1, RT_MT);
  lua_pushfstring(L, r->rt ? "sipkit.rt (%p)" : "sipkit.rt (closed)", (void *)r);
  return 1;
}

static int push_timer_args(lua_State *L, rt_event *ev) {
  ltimer *t = (ltimer *)ev->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->self_ref);
  lua_getiuservalue(L, -1, TIMER_UV_FN);
  lua_getiuservalue(L, -2, TIMER_UV_WHAT);
  lua_remove(L, -3);
  return 2;
}

static void timer_cb(void *data) {
  ltimer *t = (ltimer *)data;
  rt_event ev;
  lua_State *L = t->r->L;
  t->t = NULL; /* the runtime frees the handle after this returns */
  memset(&ev, 0, sizeof ev);
  ev.r = t->r;
  ev.kind = "timer";
  ev.push = push_timer_args;
  ev.ctx = t;
  dispatch(&ev);
  if (L)
    luaL_unref(L, LUA_REGISTRYINDEX, t->self_ref);
  t->self_ref = LUA_NOREF;
}

/* rt:timer(ms, fn [, what]) -> timer; dispatch("timer", 0, fn, what) when
 * it fires.  fn and what ride on the timer itself: the façade keeps no
 * table entry per timer. */
static int rt_timer(lua_State *L) {
  lrt *r = self_rt(L);
  lua_Integer ms = luaL_checkinteger(L, 2);
  ltimer *t;
  luaL_checkany(L, 3);
  t = (ltimer *)lua_newuserdatauv(L, sizeof *t, 3);
  t->t = NULL;
  t->r = r;
  t->self_ref = LUA_NOREF;
  luaL_setmetatable(L, TIMER_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, TIMER_UV_RT);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, -2, TIMER_UV_FN);
  lua_pushvalue(L, 4);
  lua_setiuservalue(L, -2, TIMER_UV_WHAT);
  t->t = sipkit_rt_timer(r->rt, ms < 0 ? 0 : (uint64_t)ms, timer_cb, t);
  if (!t->t)
    return push_fail_code(L, SIPKIT_ENO_MEMORY, "timer");
  lua_pushvalue(L, -1);
  t->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

static int timer_cancel(lua_State *L) {
  ltimer *t = (ltimer *)check_self(L, TIMER_MT);
  if (t->t && t->r->rt) /* a closed runtime already freed every timer */
    sipkit_timer_cancel(t->t);
  t->t = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, t->self_ref);
  t->self_ref = LUA_NOREF;
  return 0;
}

/* core.park(): suspend the calling task as the Lua function that called
 * park goes on to its next instruction (a count hook that yields there);
 * it resumes at that instruction, with no values.  A coroutine suspended
 * in coroutine.yield keeps the yield's C frame, and a C frame reserves
 * LUA_MINSTACK (20) slots above its arguments: with the frames of a call
 * flow below it, the stack in use stays above a third of the 80 slots the
 * stack grew to while the call was set up, and luaD_shrinkstack only
 * shrinks a stack three times its use.  Parked in a Lua frame, an idle
 * call's task uses a few slots, and its stack shrinks to the 40 a new
 * coroutine has (720 bytes instead of 1,360) at the next collection.  A
 * thread with a hook of its own (a debugger's) yields the plain way. */
static void park_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  lua_yield(L, 0);
}

static int l_park(lua_State *L) {
  if (lua_gethook(L) || !lua_isyieldable(L))
    return lua_yield(L, 0);
  lua_sethook(L, park_hook, LUA_MASKCOUNT, 1);
  return 0;
}

/* core.can_park(co) -> whether the running coroutine is co and may
 * yield: the two checks of every wait in one call */
static int l_can_park(lua_State *L) {
  lua_pushboolean(L, lua_tothread(L, 1) == L && lua_isyieldable(L));
  return 1;
}

/* rt:stats() -> table of sipkit_rt_get_stats counters (sipkit.stats()) */
static int rt_stats(lua_State *L) {
  sipkit_rt_stats st;
  sipkit_rt_get_stats(self_rt(L)->rt, &st);
  lua_createtable(L, 0, 17);
#define RT_STAT(f) (lua_pushinteger(L, (lua_Integer)st.f), lua_setfield(L, -2, #f))
  RT_STAT(datagrams_in); RT_STAT(datagrams_out); RT_STAT(bytes_in); RT_STAT(bytes_out);
  RT_STAT(retransmissions); RT_STAT(malformed); RT_STAT(oversize);
  RT_STAT(injected_drops); RT_STAT(injected_dups); RT_STAT(injected_delays);
  RT_STAT(auto_replies); RT_STAT(replies_capped); RT_STAT(txn_timeouts);
  RT_STAT(transactions); RT_STAT(dialogs); RT_STAT(transport_errors);
  RT_STAT(unanswered);
#undef RT_STAT
  return 1;
}

/* rt:unanswered() -> stats.unanswered alone: sipkit load's pacer reads it
 * every pass, and rt:stats() makes a table of every counter */
static int rt_unanswered(lua_State *L) {
  sipkit_rt_stats st;
  sipkit_rt_get_stats(self_rt(L)->rt, &st);
  lua_pushinteger(L, (lua_Integer)st.unanswered);
  return 1;
}

/* core.clock() -> monotonic milliseconds, for sipkit.now() outside a run */
static int l_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
  return 1;
}

#ifdef SIPKIT_LUA_UA
static int rt_event_msg(lua_State *L);
static int rt_event_sdp(lua_State *L);
#endif
static const luaL_Reg rt_methods[] = {
    {"step", rt_step}, {"now", rt_now}, {"timer", rt_timer},
    {"stats", rt_stats}, {"unanswered", rt_unanswered}, {"close", rt_close},
#ifdef SIPKIT_LUA_UA
    {"event_msg", rt_event_msg}, {"event_sdp", rt_event_sdp},
#endif
    {NULL, NULL}};
static const luaL_Reg rt_meta[] = {
    {"__gc", rt_close}, {"__close", rt_close}, {"__tostring", rt_tostring},
    {NULL, NULL}};
static const luaL_Reg timer_methods[] = {{"cancel", timer_cancel}, {NULL, NULL}};
static const luaL_Reg timer_meta[] = {{NULL, NULL}};

static void create_meta(lua_State *L, const char *name, const luaL_Reg *meta,
                        const luaL_Reg *methods);

#ifdef SIPKIT_LUA_UA
/* ------------------------------------------------------------------ */
/* User agents (sipkit_ua, sipkit_req, sipkit_srv, sipkit_dlg)         */

/* Each C handle gets a userdata that the handle's data pointer names and
 * the registry holds (self_ref) until the handle's end is reported, so a
 * callback can always push the same Lua object.  The userdata outlives the
 * handle: afterwards its pointer is NULL and methods fail or raise. */
#define UA_MT "sipkit.ua"
#define REQ_MT "sipkit.req"
#define SRV_MT "sipkit.srv"
#define DLG_MT "sipkit.dlg"

typedef struct lua_ua {
  sipkit_ua *ua; /* NULL once closed */
  lrt *r;
  lua_Integer id;
  int self_ref;
} lua_ua;

/* a request's user values: its UA, then the façade's pending */
#define REQ_UV_PENDING 2

typedef struct lhandle {
  void *h;       /* sipkit_req / sipkit_srv / sipkit_dlg, NULL once ended */
  lua_ua *u;
  lua_Integer id;
  int self_ref;
  int quiet_1xx; /* a request whose provisional responses nobody watches */
} lhandle;

/* A handle is usable while it has not ended, its UA is open and the
 * runtime lives (sipkit_rt_free ends everything without callbacks). */
static int handle_live(const lhandle *x) {
  return x->h && x->u->ua && x->u->r->rt;
}

static lhandle *new_handle(lua_State *L, const char *mt, void *h, lua_ua *u,
                           lua_Integer id, int nuv) {
  lhandle *x = (lhandle *)lua_newuserdatauv(L, sizeof *x, nuv);
  x->h = NULL;
  x->u = u;
  x->id = id;
  x->self_ref = LUA_NOREF;
  x->quiet_1xx = 0;
  luaL_setmetatable(L, mt);
  lua_rawgeti(L, LUA_REGISTRYINDEX, u->self_ref); /* keeps the UA alive */
  lua_setiuservalue(L, -2, 1);
  x->h = h;
  lua_pushvalue(L, -1);
  x->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return x;
}

static void end_handle(lua_State *L, lhandle *x) {
  x->h = NULL;
  if (L)
    luaL_unref(L, LUA_REGISTRYINDEX, x->self_ref);
  x->self_ref = LUA_NOREF;
}

/* Push the userdata of a dialog, creating it on first sight. */
static void push_dlg(lua_State *L, lua_ua *u, sipkit_dlg *d) {
  lhandle *x;
  if (!d) {
    lua_pushnil(L);
    return;
  }
  x = (lhandle *)sipkit_dlg_data(d);
  if (x && x->self_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->self_ref);
    return;
  }
  x = new_handle(L, DLG_MT, d, u, 0, 1);
  sipkit_dlg_set_data(d, x);
}

static void push_srv(lua_State *L, lua_ua *u, sipkit_srv *s) {
  lhandle *x = (lhandle *)sipkit_srv_data(s);
  if (x && x->self_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->self_ref);
    return;
  }
  x = new_handle(L, SRV_MT, s, u, 0, 1);
  sipkit_srv_set_data(s, x);
}

/* A message from a callback: its buffer dies with the callback, so the
 * bytes are copied into a Lua string.  The core's parse of them (msg)
 * becomes the msg's: spans are offsets, valid in the copy, and a second
 * parse cost as much as the first.  Without msg the copy is parsed again
 * (only a message the core parsed more leniently fails; then nil). */
static void push_msg_copy(lua_State *L, const sipkit_msg *msg, const char *buf, size_t len) {
  int n;
  if (!buf) {
    lua_pushnil(L);
    return;
  }
  lua_pushlstring(L, buf, len);
  if (msg && msg->buf_ == buf && msg->size <= len) {
    push_msg_parsed(L, lua_gettop(L), msg, 0);
    lua_remove(L, -2);
    return;
  }
  n = push_parsed(L, -1, 0);
  if (n == 2) {
    lua_pop(L, 2);
    n = push_parsed(L, -1, SIPKIT_PARSE_LENIENT_LF | SIPKIT_PARSE_NO_CHECKS);
    if (n == 2)
      lua_pop(L, 2), lua_pushnil(L);
  }
  lua_remove(L, -2);
}

typedef struct ua_cb_args {
  lua_ua *u;
  sipkit_srv *srv;
  sipkit_dlg *dlg;
  const sipkit_msg *msg; /* the core's parse of buf, or NULL */
  const char *buf;
  size_t len;
  int status; /* response status or dialog end reason */
  const lhandle *req; /* a response's request */
} ua_cb_args;

/* Every callback of the UA core becomes one event for the Lua dispatcher:
 * kind names it, push adds its arguments from a.  Returns the
 * dispatcher's answer. */
static int dispatch_ua(lua_Integer id, const char *kind,
                       int (*push)(lua_State *L, rt_event *ev), ua_cb_args *a) {
  rt_event ev;
  const void *outer;
  int rc;
  memset(&ev, 0, sizeof ev);
  ev.r = a->u->r;
  ev.kind = kind;
  ev.id = id;
  ev.push = push;
  ev.ctx = a;
  outer = ev.r->event;
  ev.r->event = a;
  rc = dispatch(&ev);
  ev.r->event = outer;
  return rc;
}

static int push_request_args(lua_State *L, rt_event *ev) {
  ua_cb_args *a = (ua_cb_args *)ev->ctx;
  push_srv(L, a->u, a->srv);
  push_dlg(L, a->u, a->dlg);
  push_msg_copy(L, a->msg, a->buf, a->len);
  lua_pushboolean(L, sipkit_srv_routed(a->srv)); /* proxy mode: not ours, passing through */
  /* the method, which every request's dispatch reads: from the core's
   * parse, not by a look-up in the msg */
  if (a->msg && a->msg->buf_ == a->buf && !a->msg->status)
    push_span(L, a->buf, a->msg->method_name);
  else
    lua_pushnil(L);
  return 5;
}

static int ua_on_request(void *data, sipkit_ua *ua, sipkit_srv *srv,
                         sipkit_dlg *dlg, const sipkit_msg *msg, const char *buf,
                         size_t len) {
  lua_ua *u = (lua_ua *)data;
  ua_cb_args a;
  (void)ua;
  memset(&a, 0, sizeof a);
  a.msg = msg;
  a.u = u;
  a.srv = srv;
  a.dlg = dlg;
  a.buf = buf;
  a.len = len;
  if (!dispatch_ua(u->id, "request", push_request_args, &a)) {
    /* not taken: the core answers and srv ends with this callback */
    lhandle *x = (lhandle *)sipkit_srv_data(srv);
    if (x) {
      end_handle(u->r->L, x);
      sipkit_srv_set_data(srv, NULL);
    }
    return 0;
  }
  return 1;
}

static int push_dlg_msg_args(lua_State *L, rt_event *ev) {
  ua_cb_args *a = (ua_cb_args *)ev->ctx;
  push_dlg(L, a->u, a->dlg);
  push_msg_copy(L, a->msg, a->buf, a->len);
  return 2;
}

static void ua_on_ack(void *data, sipkit_ua *ua, sipkit_dlg *dlg,
                      const sipkit_msg *msg, const char *buf, size_t len) {
  lua_ua *u = (lua_ua *)data;
  ua_cb_args a;
  (void)ua;
  memset(&a, 0, sizeof a);
  a.msg = msg;
  a.u = u;
  a.dlg = dlg;
  /* ("ack", id, dlg, msg): msg only for an ACK with a body (an answer to
   * an offer in our 2xx); a bodiless ACK is nil, its msg object would be
   * made for nothing - the façade only needs to know it came */
  if (!msg || msg->body.len) {
    a.buf = buf;
    a.len = len;
  }
  dispatch_ua(u->id, "ack", push_dlg_msg_args, &a);
}

static int push_srv_arg(lua_State *L, rt_event *ev) {
  ua_cb_args *a = (ua_cb_args *)ev->ctx;
  push_srv(L, a->u, a->srv);
  return 1;
}

static void ua_on_cancel(void *data, sipkit_ua *ua, sipkit_srv *srv) {
  lua_ua *u = (lua_ua *)data;
  ua_cb_args a;
  lhandle *x;
  (void)ua;
  memset(&a, 0, sizeof a);
  a.u = u;
  a.srv = srv;
  dispatch_ua(u->id, "cancel", push_srv_arg, &a);
  x = (lhandle *)sipkit_srv_data(srv); /* srv ends when this returns */
  if (x) {
    end_handle(u->r->L, x);
    sipkit_srv_set_data(srv, NULL);
  }
}

static int push_dlg_end_args(lua_State *L, rt_event *ev) {
  ua_cb_args *a = (ua_cb_args *)ev->ctx;
  static const char *const why[] = {"", "bye_received", "bye_sent", "no_ack",
                                    "rejected", "early_ended", "closed",
                                    "subscription_terminated"};
  push_dlg(L, a->u, a->dlg);
  lua_pushstring(L, a->status >= 1 && a->status <= 7 ? why[a->status] : "unknown");
  return 2;
}

static void ua_on_dialog_end(void *data, sipkit_ua *ua, sipkit_dlg *dlg, int why) {
  lua_ua *u = (lua_ua *)data;
  ua_cb_args a;
  lhandle *x;
  (void)ua;
  memset(&a, 0, sizeof a);
  a.u = u;
  a.dlg = dlg;
  a.status = why;
  x = (lhandle *)sipkit_dlg_data(dlg);
  if (x) { /* only dialogs Lua has seen are reported */
    dispatch_ua(u->id, "dialog_end", push_dlg_end_args, &a);
    end_handle(u->r->L, x);
    sipkit_dlg_set_data(dlg, NULL);
  }
}

/* srv ended without our final response (the embedder took too long):
 * the core answered; the Lua request only learns it is no longer live. */
static void ua_on_srv_timeout(void *data, sipkit_ua *ua, sipkit_srv *srv, int status) {
  lua_ua *u = (lua_ua *)data;
  lhandle *x = (lhandle *)sipkit_srv_data(srv);
  (void)ua;
  (void)status;
  if (x) {
    end_handle(u->r->L, x);
    sipkit_srv_set_data(srv, NULL);
  }
}

static const sipkit_ua_handlers ua_handlers = {
    .on_request = ua_on_request,
    .on_ack = ua_on_ack,
    .on_cancel = ua_on_cancel,
    .on_dialog_end = ua_on_dialog_end,
    .on_srv_timeout = ua_on_srv_timeout,
};

/* the UA a ua method was called on */
static lua_ua *check_ua(lua_State *L) {
  lua_ua *u = (lua_ua *)check_self(L, UA_MT);
  if (!u->ua || !u->r->rt)
    luaL_error(L, "sipkit: user agent is closed");
  return u;
}

/* core.ua_open(rt, id, {bind=, user=, domain=, display=, password=,
 * allow=, supported=, reuseport=}) -> ua or nil, err */
static int l_ua_open(lua_State *L) {
  lrt *r = check_rt(L, 1);
  lua_Integer id = luaL_checkinteger(L, 2);
  sipkit_ua_config cfg;
  lua_ua *u;
  int rc, sys_err = 0;
  luaL_checktype(L, 3, LUA_TTABLE);
  memset(&cfg, 0, sizeof cfg);
  cfg.bind = opt_str(L, 3, "bind", NULL);
  cfg.user = opt_str(L, 3, "user", NULL);
  cfg.domain = opt_str(L, 3, "domain", NULL);
  cfg.display = opt_str(L, 3, "display", NULL);
  cfg.password = opt_str(L, 3, "password", NULL);
  cfg.allow = opt_str(L, 3, "allow", NULL);
  cfg.supported = opt_str(L, 3, "supported", NULL);
  lua_getfield(L, 3, "proxy");
  cfg.proxy = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, 3, "reuseport");
  cfg.reuseport = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (!cfg.bind)
    cfg.bind = "127.0.0.1:0";
  u = (lua_ua *)lua_newuserdatauv(L, sizeof *u, 1);
  u->ua = NULL;
  u->r = r;
  u->id = id;
  u->self_ref = LUA_NOREF;
  luaL_setmetatable(L, UA_MT);
  lua_pushvalue(L, 1); /* the runtime outlives the UA */
  lua_setiuservalue(L, -2, 1);
  rc = sipkit_ua_open(r->rt, &cfg, &ua_handlers, u, &u->ua, &sys_err);
  if (rc != SIPKIT_EOK) {
    char what[160];
    u->ua = NULL;
    snprintf(what, sizeof what, "bind %s%s%s", cfg.bind, sys_err ? ": " : "",
             sys_err ? strerror(sys_err < 0 ? -sys_err : sys_err) : "");
    return push_fail_code(L, rc, what);
  }
  lua_pushvalue(L, -1);
  u->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

static int ua_close(lua_State *L) {
  lua_ua *u = (lua_ua *)luaL_checkudata(L, 1, UA_MT);
  if (u->ua && u->r->rt) {
    /* closing reports each dialog's end: let those callbacks reach Lua */
    lua_State *saved = u->r->L;
    if (!saved)
      u->r->L = L;
    sipkit_ua_close(u->ua);
    u->r->L = saved;
  }
  u->ua = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, u->self_ref);
  u->self_ref = LUA_NOREF;
  return 0;
}

static int ua_port(lua_State *L) {
  lua_pushinteger(L, sipkit_ua_port(check_ua(L)->ua));
  return 1;
}

static int ua_addr(lua_State *L) {
  lua_pushstring(L, sipkit_ua_addr(check_ua(L)->ua));
  return 1;
}

static int ua_tostring(lua_State *L) {
  lua_ua *u = (lua_ua *)luaL_checkudata(L, 1, UA_MT);
  if (u->ua && u->r->rt)
    lua_pushfstring(L, "sipkit.ua (%s)", sipkit_ua_addr(u->ua));
  else
    lua_pushliteral(L, "sipkit.ua (closed)");
  return 1;
}

/* The "Name: value" lines of the array at index t, as a C array kept in
 * a userdata pushed on the stack (the strings stay anchored by t). */
static const char *const *header_lines(lua_State *L, int t, size_t *n) {
  const char **v;
  lua_Integer i, len;
  *n = 0;
  if (lua_isnoneornil(L, t)) {
    lua_pushnil(L);
    return NULL;
  }
  t = lua_absindex(L, t);
  luaL_checktype(L, t, LUA_TTABLE);
  len = luaL_len(L, t);
  v = (const char **)lua_newuserdatauv(L, (size_t)(len ? len : 1) * sizeof *v, 0);
  for (i = 1; i <= len; i++) {
    lua_geti(L, t, i);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "sipkit: header lines must be strings");
    v[i - 1] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  *n = (size_t)len;
  return v;
}

static void req_response_cb(void *data, sipkit_req *req, int status,
                            sipkit_dlg *dlg, const sipkit_msg *msg,
                            const char *buf, size_t len);

/* ("response", 0, pending, status, dlg): the pending is the request's
 * own (its user value), so the façade keeps no table of requests by id;
 * no msg, which many responses do not need (a provisional one nobody
 * watches, a BYE's 200: a copy and a parse for nothing); the dispatcher
 * asks rt:event_msg() for it when it has a use. */
static int push_response_args(lua_State *L, rt_event *ev) {
  ua_cb_args *a = (ua_cb_args *)ev->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, a->req->self_ref);
  lua_getiuservalue(L, -1, REQ_UV_PENDING);
  lua_remove(L, -2);
  lua_pushinteger(L, a->status);
  push_dlg(L, a->u, a->dlg);
  return 3;
}

/* rt:event_msg() -> the msg of the UA event being dispatched (made now),
 * or nil outside a dispatch or for an event without one */
static int rt_event_msg(lua_State *L) {
  lrt *r = self_rt(L);
  const ua_cb_args *a = (const ua_cb_args *)r->event;
  if (!a)
    return lua_pushnil(L), 1;
  push_msg_copy(L, a->msg, a->buf, a->len);
  return 1;
}

/* rt:event_sdp() -> the body of the UA event's message when it is an
 * SDP that parses, as msg.body gives it (shared by the messages with the
 * same body), else nil.  For a 2xx whose receiver keeps only its SDP:
 * rt:event_msg() would copy the whole message into a string and make a
 * msg of it. */
static int rt_event_sdp(lua_State *L) {
  lrt *r = self_rt(L);
  const ua_cb_args *a = (const ua_cb_args *)r->event;
  const sipkit_msg *msg;
  sipkit_msg probe;
  sipkit_error e;
  if (!a || !a->buf)
    return lua_pushnil(L), 1;
  msg = a->msg;
  if (!msg || msg->buf_ != a->buf || msg->size > a->len) {
    sipkit_msg_init(&probe, scratch, SIPKIT_MAX_HEADERS);
    if (sipkit_parse(&probe, a->buf, a->len, 0, &e) != SIPKIT_EOK)
      return lua_pushnil(L), 1;
    msg = &probe;
  }
  if (!has_sdp_body(L, msg, a->buf))
    return lua_pushnil(L), 1;
  push_body(L, SIPKIT_SPAN_PTR(a->buf, msg->body), msg->body.len);
  return 1;
}

static void req_response_cb(void *data, sipkit_req *req, int status,
                            sipkit_dlg *dlg, const sipkit_msg *msg,
                            const char *buf, size_t len) {
  lhandle *x = (lhandle *)data;
  ua_cb_args a;
  (void)req;
  if (status < 200 && x->quiet_1xx)
    return;
  memset(&a, 0, sizeof a);
  a.msg = msg;
  a.u = x->u;
  a.dlg = dlg;
  a.buf = buf;
  a.len = len;
  a.status = status;
  a.req = x;
  dispatch_ua(0, "response", push_response_args, &a);
  if (status >= 200) /* the last callback for req */
    end_handle(x->u->r->L, x);
}

/* Send a request; dlg NULL: out of dialog.  Stack from index o: the
 * pending (the façade's table for the request, handed back with each
 * response), whether its provisional responses go unreported (nobody
 * watches them: no dispatch into Lua for each), method, uri, body,
 * content_type, the header lines (an array or nil), and a table of the
 * rarer options or nil: to, from, dest, no_auth, prack, call_id, cseq.
 * Positional, as a table of options per request was made by the façade
 * and read here field by field. */
static int send_request(lua_State *L, lua_ua *u, sipkit_dlg *dlg, int o) {
  sipkit_req_opts ro;
  sipkit_error e;
  sipkit_req *req = NULL;
  lhandle *x;
  size_t blen = 0;
  int rc, extra = o + 7;
  lua_State *saved;
  luaL_checktype(L, o, LUA_TTABLE);
  memset(&ro, 0, sizeof ro);
  memset(&e, 0, sizeof e);
  ro.method = lua_tolstring(L, o + 2, NULL);
  ro.uri = lua_tolstring(L, o + 3, NULL);
  ro.body = lua_tolstring(L, o + 4, &blen);
  ro.body_len = ro.body ? blen : 0;
  ro.content_type = lua_tolstring(L, o + 5, NULL);
  if (!lua_isnoneornil(L, extra)) {
    luaL_checktype(L, extra, LUA_TTABLE);
    ro.to = opt_str(L, extra, "to", NULL);
    ro.from = opt_str(L, extra, "from", NULL);
    ro.dest = opt_str(L, extra, "dest", NULL);
    lua_getfield(L, extra, "no_auth");
    ro.no_auth = lua_toboolean(L, -1);
    lua_getfield(L, extra, "prack");
    ro.prack = lua_toboolean(L, -1);
    lua_pop(L, 2);
    ro.call_id = opt_str(L, extra, "call_id", NULL);
    lua_getfield(L, extra, "cseq");
    if (!lua_isnil(L, -1)) {
      lua_Integer n = luaL_checkinteger(L, -1);
      luaL_argcheck(L, n >= 1 && n <= 0x7fffffff, extra, "cseq must be 1..2^31-1");
      ro.cseq = (uint32_t)n;
    }
    lua_pop(L, 1);
  }
  if (!ro.method || (!dlg && !ro.uri))
    return luaL_error(L, "sipkit: a request needs a method%s", dlg ? "" : " and a URI");
  ro.headers = header_lines(L, o + 6, &ro.header_count);
  /* the handle exists before the request: a response can only come from
   * the loop, but the data pointer must be valid from the start */
  x = new_handle(L, REQ_MT, NULL, u, 0, REQ_UV_PENDING);
  lua_pushvalue(L, o);
  lua_setiuservalue(L, -2, REQ_UV_PENDING);
  x->quiet_1xx = lua_toboolean(L, o + 1);
  /* a final status reported synchronously (no route, no socket) must
   * still reach the dispatcher */
  saved = u->r->L;
  if (!saved)
    u->r->L = L;
  rc = dlg ? sipkit_dlg_request(dlg, &ro, req_response_cb, x, &req, &e)
           : sipkit_ua_request(u->ua, &ro, req_response_cb, x, &req, &e);
  u->r->L = saved;
  if (rc != SIPKIT_EOK) {
    end_handle(L, x);
    if (e.code == 0)
      e.code = rc;
    if (!e.rule)
      e.rule = "";
    return push_fail(L, &e, NULL, 0);
  }
  if (x->self_ref == LUA_NOREF) /* already final (a synchronous failure) */
    return 1;
  x->h = req;
  return 1;
}

/* ua:request(pending, quiet_1xx, method, uri, body, content_type, headers,
 * extra) -> req or nil, err */
static int ua_request(lua_State *L) {
  return send_request(L, check_ua(L), NULL, 2);
}

/* the live handle a method of type mt was called on */
static lhandle *check_handle(lua_State *L, const char *mt) {
  lhandle *x = (lhandle *)check_self(L, mt);
  if (!handle_live(x))
    luaL_error(L, "sipkit: %s has ended", mt);
  return x;
}

/* req:cancel() -> true or nil, err */
static int req_cancel(lua_State *L) {
  lhandle *x = (lhandle *)luaL_checkudata(L, 1, REQ_MT);
  int rc;
  if (!handle_live(x))
    return push_fail_code(L, SIPKIT_ESTATE, "request already answered");
  rc = sipkit_req_cancel((sipkit_req *)x->h);
  if (rc != SIPKIT_EOK)
    return push_fail_code(L, rc, "CANCEL");
  lua_pushboolean(L, 1);
  return 1;
}

static int handle_live_m(lua_State *L) {
  lhandle *x = (lhandle *)lua_touserdata(L, 1);
  luaL_argcheck(L, x != NULL, 1, "sipkit handle expected");
  lua_pushboolean(L, handle_live(x));
  return 1;
}

/* srv:respond(status [, reason, content_type, body, header_lines,
 * reliable]) -> true, dlg or nil, err.  The parts come as arguments, not
 * in a table: a table per response was garbage. */
static int srv_respond(lua_State *L) {
  lhandle *x = (lhandle *)check_self(L, SRV_MT);
  int status = (int)luaL_checkinteger(L, 2);
  sipkit_resp_opts ro;
  sipkit_error e;
  sipkit_srv *srv;
  sipkit_dlg *dlg;
  size_t blen = 0;
  int rc;
  luaL_argcheck(L, status >= 100 && status <= 699, 2, "status code 100..699 expected");
  if (!handle_live(x))
    return push_fail_code(L, SIPKIT_ESTATE, "request already answered or cancelled");
  srv = (sipkit_srv *)x->h;
  memset(&ro, 0, sizeof ro);
  memset(&e, 0, sizeof e);
  if (lua_gettop(L) > 2) {
    ro.reason = luaL_optstring(L, 3, NULL);
    ro.content_type = luaL_optstring(L, 4, NULL);
    ro.body = luaL_optlstring(L, 5, NULL, &blen);
    ro.body_len = ro.body ? blen : 0;
    ro.headers = header_lines(L, 6, &ro.header_count);
    ro.reliable = lua_toboolean(L, 7);
  }
  rc = sipkit_srv_respond(srv, status, &ro, &e);
  if (rc != SIPKIT_EOK) {
    if (e.code == 0)
      e.code = rc;
    if (!e.rule)
      e.rule = "";
    return push_fail(L, &e, NULL, 0);
  }
  lua_pushboolean(L, 1);
  dlg = sipkit_srv_dialog(srv);
  push_dlg(L, x->u, dlg);
  if (status >= 200) { /* srv ends with its final response */
    sipkit_srv_set_data(srv, NULL);
    end_handle(L, x);
  }
  return 2;
}

/* Each response a forwarded request relays upstream: dispatched as
 * ("forward", id, status, msg); status 0 is the CANCEL passed on.  x is
 * anchored in the registry until the final (or until the Lua state
 * closes, when the UA closed first: no more callbacks then). */
static int push_forward_args(lua_State *L, rt_event *ev) {
  ua_cb_args *a = (ua_cb_args *)ev->ctx;
  lua_pushinteger(L, a->status);
  push_msg_copy(L, a->msg, a->buf, a->len);
  return 2;
}

static void srv_forward_cb(void *data, sipkit_srv *srv, int status, const sipkit_msg *msg,
                           const char *buf, size_t len) {
  lhandle *x = (lhandle *)data;
  ua_cb_args a;
  (void)srv;
  memset(&a, 0, sizeof a);
  a.msg = msg;
  a.u = x->u;
  a.buf = buf;
  a.len = len;
  a.status = status;
  dispatch_ua(x->id, "forward", push_forward_args, &a);
  if (status >= 200)
    end_handle(x->u->r->L, x);
}

/* srv:forward({uri=, dest=, record_route=, headers=}, id) -> true or
 * nil, err.  On success srv belongs to the core's proxy (RFC 3261 §16):
 * the srv handle ends, responses come as "forward" events for id. */
static int srv_forward(lua_State *L) {
  lhandle *x = (lhandle *)check_self(L, SRV_MT);
  lua_Integer id = luaL_checkinteger(L, 3);
  sipkit_fwd_opts fo;
  sipkit_error e;
  sipkit_srv *srv;
  lhandle *fx;
  int rc;
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!handle_live(x))
    return push_fail_code(L, SIPKIT_ESTATE, "request already answered or cancelled");
  srv = (sipkit_srv *)x->h;
  memset(&fo, 0, sizeof fo);
  memset(&e, 0, sizeof e);
  fo.uri = opt_str(L, 2, "uri", NULL);
  fo.dest = opt_str(L, 2, "dest", NULL);
  lua_getfield(L, 2, "record_route");
  fo.record_route = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, 2, "headers");
  fo.headers = header_lines(L, -1, &fo.header_count);
  fx = new_handle(L, REQ_MT, NULL, x->u, id, 1); /* never live: only the callback's anchor */
  fo.cb = srv_forward_cb;
  fo.data = fx;
  rc = sipkit_srv_forward(srv, &fo, &e);
  if (rc != SIPKIT_EOK) {
    end_handle(L, fx);
    if (e.code == 0)
      e.code = rc;
    if (!e.rule)
      e.rule = "";
    return push_fail(L, &e, NULL, 0);
  }
  sipkit_srv_set_data(srv, NULL);
  end_handle(L, x);
  lua_pushboolean(L, 1);
  return 1;
}

/* ua:allow(method): add method to the UA's Allow list -> true or nil, err */
static int ua_allow(lua_State *L) {
  lua_ua *u = check_ua(L);
  const char *m = luaL_checkstring(L, 2);
  int rc = sipkit_ua_allow_method(u->ua, m);
  if (rc != SIPKIT_EOK)
    return push_fail_code(L, rc, "Allow");
  lua_pushboolean(L, 1);
  return 1;
}

/* dlg:request(pending, quiet_1xx, method, uri, body, content_type, headers,
 * extra) -> req or nil, err */
static int dlg_request(lua_State *L) {
  lhandle *x = check_handle(L, DLG_MT);
  return send_request(L, x->u, (sipkit_dlg *)x->h, 2);
}

static int dlg_info(lua_State *L) {
  lhandle *x = (lhandle *)luaL_checkudata(L, 1, DLG_MT);
  sipkit_dlg *d;
  static const char *const states[] = {"null", "early", "confirmed", "terminated"};
  int st;
  if (!handle_live(x)) {
    lua_pushnil(L);
    return 1;
  }
  d = (sipkit_dlg *)x->h;
  lua_createtable(L, 0, 5);
  st = sipkit_dlg_state(d);
  lua_pushstring(L, st >= 0 && st <= 3 ? states[st] : "unknown");
  lua_setfield(L, -2, "state");
  lua_pushstring(L, sipkit_dlg_call_id(d));
  lua_setfield(L, -2, "call_id");
  lua_pushstring(L, sipkit_dlg_local_tag(d));
  lua_setfield(L, -2, "local_tag");
  lua_pushstring(L, sipkit_dlg_remote_tag(d));
  lua_setfield(L, -2, "remote_tag");
  lua_pushstring(L, sipkit_dlg_remote_target(d));
  lua_setfield(L, -2, "remote_target");
  return 1;
}

static const luaL_Reg ua_methods[] = {
    {"request", ua_request}, {"port", ua_port}, {"addr", ua_addr}, {"allow", ua_allow},
    {"close", ua_close}, {NULL, NULL}};
static const luaL_Reg ua_meta[] = {
    {"__gc", ua_close}, {"__close", ua_close}, {"__tostring", ua_tostring},
    {NULL, NULL}};
static const luaL_Reg req_methods[] = {
    {"cancel", req_cancel}, {"live", handle_live_m}, {NULL, NULL}};
static const luaL_Reg srv_methods[] = {
    {"respond", srv_respond}, {"forward", srv_forward}, {"live", handle_live_m},
    {NULL, NULL}};
static const luaL_Reg dlg_methods[] = {
    {"request", dlg_request}, {"info", dlg_info}, {"live", handle_live_m},
    {NULL, NULL}};
static const luaL_Reg handle_meta[] = {{NULL, NULL}};

static void open_ua(lua_State *L) {
  create_meta(L, UA_MT, ua_meta, ua_methods);
  create_meta(L, REQ_MT, handle_meta, req_methods);
  create_meta(L, SRV_MT, handle_meta, srv_methods);
  create_meta(L, DLG_MT, handle_meta, dlg_methods);
  lua_pushcfunction(L, l_ua_open);
  lua_setfield(L, -2, "ua_open");
}
#endif /* SIPKIT_LUA_UA */

static void sipkit_lua_open_rt(lua_State *L) {
  create_meta(L, RT_MT, rt_meta, rt_methods);
  create_meta(L, TIMER_MT, timer_meta, timer_methods);
  lua_pushcfunction(L, l_rt_new);
  lua_setfield(L, -2, "rt_new");
  lua_pushcfunction(L, l_clock);
  lua_setfield(L, -2, "clock");
  lua_pushcfunction(L, l_park);
  lua_setfield(L, -2, "park");
  lua_pushcfunction(L, l_can_park);
  lua_setfield(L, -2, "can_park");
#ifdef SIPKIT_LUA_UA
  open_ua(L);
#endif
}

static void create_meta(lua_State *L, const char *name, const luaL_Reg *meta,
                        const luaL_Reg *methods) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  if (methods) {
    lua_newtable(L);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, methods, 1); /* upvalue 1: the metatable, for check_self */
    lua_setfield(L, -2, "__index"); /* msg's __index closure then takes it as an upvalue */
  }
  lua_pop(L, 1);
}

/* Load one embedded Lua source as package.preload[name]-style loader. */
static int load_embedded(lua_State *L, const char *src, size_t len,
                         const char *chunkname) {
  if (luaL_loadbufferx(L, src, len, chunkname, "t") != LUA_OK)
    return lua_error(L);
  return 1;
}

static int preload_location(lua_State *L) {
  load_embedded(L, sipkit_lua_location, sizeof sipkit_lua_location,
                "@sipkit/location.lua");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

static int preload_load(lua_State *L) {
  load_embedded(L, sipkit_lua_load, sizeof sipkit_lua_load, "@sipkit/load.lua");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

SIPKIT_LUA_API int luaopen_sipkit(lua_State *L) {
  luaL_checkversion(L);
  create_meta(L, MSG_MT, msg_meta, msg_methods);
  if (!luaL_getsubtable(L, LUA_REGISTRYINDEX, MSG_RING_KEY)) {
    /* weak values: the ring keeps a parse for a message someone holds,
     * never the message itself (128 of them, dropped by their calls) */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
  }
  lua_pop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, MSG_BUFS_KEY);
  lua_pop(L, 1);
  luaL_getmetatable(L, MSG_MT);
  lua_getfield(L, -1, "__index"); /* create_meta's method table */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_pushvalue(L, -3);
  lua_pushcclosure(L, msg_index, 3);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newmetatable(L, BUILDER_MT);
  lua_pushcfunction(L, builder_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, ERR_MT);
  lua_pushcfunction(L, err_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  luaL_newmetatable(L, ADDR_MT);
  lua_pushcfunction(L, addr_index);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  /* sipkit.location rides along in the same artifact */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, preload_location);
  lua_setfield(L, -2, "sipkit.location");
  lua_pushcfunction(L, preload_load); /* and the `sipkit load` driver */
  lua_setfield(L, -2, "sipkit.load");
  lua_pop(L, 1);

  load_embedded(L, sipkit_lua_main, sizeof sipkit_lua_main, "@sipkit.lua");
  luaL_newlib(L, core_funcs);
  sipkit_lua_open_rt(L);
  lua_call(L, 1, 1);
  return 1;
}
