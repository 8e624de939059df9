-- check.lua - assertions for the Lua tests: exact comparisons that print
-- both values on a mismatch (libuv's ASSERT_EQ habit), counted so a file
-- exits non-zero when any failed.
local M = { failed = 0, passed = 0 }

local function show(v, depth)
  depth = depth or 0
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" or depth > 3 then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local out = {}
  for _, k in ipairs(keys) do
    out[#out + 1] = tostring(k) .. "=" .. show(v[k], depth + 1)
  end
  return "{" .. table.concat(out, ", ") .. "}"
end

local function deep_eq(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not deep_eq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function where()
  local info = debug.getinfo(3, "Sl")
  return info.short_src .. ":" .. info.currentline
end

function M.eq(got, want, label)
  if deep_eq(got, want) then
    M.passed = M.passed + 1
    return true
  end
  M.failed = M.failed + 1
  io.stderr:write(string.format("FAIL %s %s\n  want %s\n  got  %s\n", where(), label or "",
    show(want), show(got)))
  return false
end

function M.ok(v, label)
  if v then M.passed = M.passed + 1 return true end
  M.failed = M.failed + 1
  io.stderr:write(string.format("FAIL %s %s\n", where(), label or "expected a true value"))
  return false
end

-- The error a call raises (misuse), or nil when it did not raise.
function M.raises(fn, ...)
  local ok, e = pcall(fn, ...)
  if ok then return nil end
  return tostring(e)
end

-- Read a fixture next to the test file, as bytes.
function M.fixture(name)
  local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
  local f = assert(io.open(dir .. "/msgs/" .. name, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.done(name)
  collectgarbage()
  io.write(string.format("%s %s: %d passed, %d failed\n", M.failed == 0 and "ok  " or "FAIL",
    name, M.passed, M.failed))
  os.exit(M.failed == 0 and 0 or 1)
end

return M
