-- ngx.log and print: argument errors count from the first message
-- argument and name the function
local function try(f)
    local ok, err = pcall(f)
    ngx.say(tostring(ok), " ", (tostring(err):gsub("^.-:%d+: ", "")))
end
try(function() ngx.log(9, "x") end)
try(function() ngx.log(-1, "x") end)
try(function() ngx.log("x", "x") end)
try(function() ngx.log(ngx.ERR, "a", print) end)
try(function() ngx.log(ngx.ERR, "a", {}) end)
try(function() ngx.log(ngx.ERR, "a", setmetatable({}, {__tostring = function() return "ok" end})) end)
try(function() print("a", print) end)
try(function() print({}) end)
try(function() print("a", 1, nil, true, ngx.null) end)
