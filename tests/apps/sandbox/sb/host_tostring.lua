-- Values whose metamethods loop, handed to the host.
local evil = setmetatable({}, {
    __tostring = function() while true do end end,
    __index = function() while true do end end,
})
local how = ngx.var.arg_how
if how == "error" then
    error(evil)
elseif how == "say" then
    ngx.say(evil)
elseif how == "log" then
    ngx.log(ngx.ERR, evil)
elseif how == "header" then
    ngx.header["X-Evil"] = evil
end
ngx.say("after")
