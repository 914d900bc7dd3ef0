-- Try to change what later requests see; every attempt must be refused
-- (or touch this request's own tables only).
local n, done = 0, {}
local function try(what, f)
    if pcall(f) then n = n + 1; done[#done + 1] = what end
end
try("string.upper=", function() string.upper = nil end)
try("string.new=", function() string.trim = function() end end)
try("rawset(string)", function() rawset(string, "upper", nil) end)
try("setmetatable(string)", function() setmetatable(string, nil) end)
try("table.insert=", function() table.insert = nil end)
try("math.floor=", function() math.floor = function() return 42 end end)
try("os.time=", function() os.time = nil end)
try("coroutine.wrap=", function() coroutine.wrap = nil end)
try("ngx.say=", function() ngx.say = nil end)
try("ngx.HTTP_OK=", function() ngx.HTTP_OK = 0 end)
try("ngx.new=", function() ngx.evil = true end)
try("rawset(ngx)", function() rawset(ngx, "say", nil) end)
try("setmetatable(ngx)", function() setmetatable(ngx, nil) end)
try("ngx.req.get_method=", function() ngx.req.get_method = nil end)
try("rawset(ngx.req)", function() rawset(ngx.req, "get_method", nil) end)
try("setmetatable(ngx.var)", function() setmetatable(ngx.var, nil) end)
try("rawset(ngx.var)", function() rawset(ngx.var, "uri", "x") end)
try("getmetatable(ngx.var).__index", function() getmetatable(ngx.var).__index = nil end)
try("getmetatable(ngx.header).__newindex", function() getmetatable(ngx.header).__newindex = nil end)
try("getmetatable(headers)", function() getmetatable(ngx.req.get_headers()).__index = nil end)
try("rawset(getmetatable)", function() rawset(getmetatable(_G), "__index", {}) end)
try("ngx.re.match=", function() ngx.re.match = nil end)
try("rawset(ngx.re)", function() rawset(ngx.re, "gsub", nil) end)
try("setmetatable(ngx.re)", function() setmetatable(ngx.re, nil) end)
try("gmatch iterator mt", function() getmetatable(ngx.re.gmatch("a", "a")).__call = nil end)
try("string mt via rep", function() local s = ("").rep; s.x = 1 end)
-- Writes to our own globals are allowed: they live for this request.
print = nil
pairs = nil
leaked_global = "from vandal.lua"
ngx.say(n == 0 and "all refused" or "ESCAPED " .. n .. ": " .. table.concat(done, ", "))
