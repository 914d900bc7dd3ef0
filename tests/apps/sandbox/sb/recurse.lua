local function f(n) return 1 + f(n + 1) end
if ngx.var.arg_catch then
    local ok, err = pcall(f, 1)
    ngx.say(ok and "no overflow" or "caught: " .. tostring(err):match("stack overflow"))
else
    f(1)
end
