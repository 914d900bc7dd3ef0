-- An ordinary script: everything the whitelist offers, working as usual.
local out = {}
local function add(...) out[#out + 1] = table.concat({ ... }, " ") end

-- strings
add(("Hello"):upper(), string.format("%05.1f|%s|%q", 3.14159, "x", "a\nb"):gsub("\n", "n"))
local words = {}
for w in ("b a c"):gmatch("%a") do words[#words + 1] = w end
table.sort(words, function(x, y) return x > y end)
add(table.concat(words, ","), (("a-b-c"):gsub("-", function() return "+" end)), ("xyz"):byte(2))
-- math, bit, os
add(math.floor(2.7), math.max(3, 9, 4), string.format("%.3f", math.sqrt(2)), bit.band(12, 10), bit.tohex(255, 2))
add(type(os.time()), os.date("!%Y-%m-%d", 0), os.difftime(10, 4))
-- pairs over a library and over a table of our own
local n = 0
for k, v in pairs(string) do if type(v) == "function" then n = n + 1 end end
local keys = {}
for k in pairs({ a = 1 }) do keys[#keys + 1] = k end
add("string functions:", n, "own keys:", table.concat(keys))
-- errors
local ok, err = pcall(error, "boom", 0)
add(tostring(ok), err)
ok, err = xpcall(function() error({ code = 7 }) end, function(e) return e.code end)
add(tostring(ok), err)
-- coroutines
local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
add(gen(), gen(), gen())
-- metatables of our own
local Point = {}
Point.__index = Point
function Point.new(x, y) return setmetatable({ x = x, y = y }, Point) end
function Point:len2() return self.x * self.x + self.y * self.y end
local p = Point.new(3, 4)
add(p:len2(), tostring(getmetatable(p) == Point), tostring(rawget(p, "len2")))
local locked = setmetatable({}, { __metatable = "locked" })
add(getmetatable(locked), tostring(pcall(setmetatable, locked, nil)))
-- varargs, select, unpack
local function count(...) return select("#", ...) end
add(count(unpack({ 1, 2, nil, 4 }, 1, 4)))
-- globals of this request
counter = (counter or 0) + 1
add("counter", counter)
-- the request
ngx.req.read_body()
local args = ngx.req.get_uri_args()
add(ngx.req.get_method(), ngx.var.arg_name or "-", args.name or "-", ngx.req.get_headers()["x-test"] or "-")
add(ngx.escape_uri("a b"), ngx.encode_base64("hi"), ngx.md5("x"):sub(1, 8), type(ngx.now()))
ngx.header["X-App"] = "sandboxed"
ngx.say(table.concat(out, "\n"))
