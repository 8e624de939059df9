-- sipkit/location.lua - location service with digest authentication, for
-- registrar, redirect and proxy scripts (require "sipkit.location"; it is
-- embedded in the sipkit module, so it loads wherever sipkit does).
--
--   local loc = require("sipkit.location").new{ realm = "sipkit", users = { bob = "secret" } }
--   ua:on("REGISTER", loc:handler())       -- answers 200 / 401 / 403 / 423 / 400
--   loc:lookup("sip:bob@example.com")      -- -> { "sip:bob@127.0.0.1:5080", ... }
--
-- Bindings are kept per user name (the user part of the To URI), so a
-- registrar on a loopback address works without a configured domain.
local sipkit = require "sipkit"

local M = {}
local Location = {}
Location.__index = Location

-- new{realm=, users={name=password} (nil: no authentication),
--     min_expires=60, max_expires=3600, default_expires=3600, nonce_ttl=300}
function M.new(opts)
  opts = opts or {}
  return setmetatable({
    realm = opts.realm or "sipkit",
    users = opts.users,
    min_expires = opts.min_expires or 60,
    max_expires = opts.max_expires or 3600,
    default_expires = opts.default_expires or 3600,
    nonce_ttl = opts.nonce_ttl or 300,
    key = opts.key or (sipkit.gen_call_id() .. sipkit.gen_call_id()),
    bindings = {}, -- user -> { [contact uri] = absolute expiry (sipkit.now()) }
    log = opts.log,
  }, Location)
end

local function user_of(uri)
  local u = sipkit.uri(uri)
  return u and u.user
end
M.user_of = user_of

function Location:_log(fmt, ...)
  if self.log then self.log(string.format(fmt, ...)) end
end

function Location:_challenge(req, stale)
  local ch = assert(sipkit.auth_challenge{ realm = self.realm, stale = stale,
    nonce = sipkit.auth_nonce(self.key, os.time()) })
  return req:respond(401, { headers = { "WWW-Authenticate: " .. ch } })
end

-- true when the request carries valid credentials (or no users are
-- configured); otherwise it answers 401 / 403 itself and returns false.
function Location:authenticate(req)
  if not self.users then return true end
  local msg = req.msg or req
  local cr = msg:credentials()
  if not cr then self:_challenge(req, false) return false end
  local password = self.users[cr.username]
  if not password or cr.realm ~= self.realm then
    req:respond(403)
    return false
  end
  local ok, stale = sipkit.auth_nonce_check(self.key, cr.nonce, os.time(), self.nonce_ttl)
  if not ok then self:_challenge(req, false) return false end
  if not msg:verify_auth{ password = password } then
    req:respond(403)
    return false
  end
  if stale then self:_challenge(req, true) return false end
  return true
end

function Location:_purge(user, now)
  local b = self.bindings[user]
  if not b then return {} end
  for uri, exp in pairs(b) do
    if exp <= now then b[uri] = nil end
  end
  return b
end

-- Current contacts of a user (or of a URI's user), soonest expiry last.
function Location:lookup(who)
  local user = who:find(":", 1, true) and user_of(who) or who
  if not user then return {} end
  local b = self:_purge(user, sipkit.now())
  local out = {}
  for uri in pairs(b) do out[#out + 1] = uri end
  table.sort(out, function(x, y) return b[x] > b[y] end)
  return out
end

-- Answer a REGISTER (RFC 3261 §10.3): authentication, Contact "*" with
-- Expires 0, 423 Interval Too Brief with Min-Expires, bindings with their
-- expiry in the 200.  Returns the status sent.
function Location:register(req)
  if not self:authenticate(req) then return 401 end
  local msg = req.msg
  local user = user_of(msg.to.uri)
  if not user then req:respond(400, { reason = "No user in To" }) return 400 end
  local now = sipkit.now()
  local b = self:_purge(user, now)
  self.bindings[user] = b
  local contacts = msg.contacts
  local header_expires = msg.expires
  if #contacts == 1 and contacts[1].star then
    if header_expires ~= 0 then req:respond(400, { reason = "Contact * needs Expires: 0" }) return 400 end
    self.bindings[user] = {}
    self:_log("%s: all bindings removed", user)
    req:respond(200)
    return 200
  end
  for _, c in ipairs(contacts) do
    if c.star then req:respond(400, { reason = "Contact * with others" }) return 400 end
    local e = tonumber(c.expires) or header_expires or self.default_expires
    if e > 0 and e < self.min_expires then
      req:respond(423, { headers = { "Min-Expires: " .. self.min_expires } })
      return 423
    end
  end
  for _, c in ipairs(contacts) do
    local e = math.min(tonumber(c.expires) or header_expires or self.default_expires, self.max_expires)
    if e == 0 then
      b[c.uri] = nil
      self:_log("%s: %s removed", user, c.uri)
    else
      b[c.uri] = now + e
      self:_log("%s: %s for %d s", user, c.uri, e)
    end
  end
  local h = {}
  for uri, exp in pairs(b) do
    h[#h + 1] = string.format("Contact: <%s>;expires=%d", uri, math.max(0, math.floor(exp - now + 0.5)))
  end
  table.sort(h)
  req:respond(200, { headers = h })
  return 200
end

-- A function for ua:on("REGISTER", ...).
function Location:handler()
  return function(req) self:register(req) end
end

return M
