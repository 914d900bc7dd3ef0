-- ngx.req.set_uri_args with a string escapes spaces and control bytes;
-- its argument checks; assigning ngx.ctx something else than a table
local function try(f, ...)
    local ok, err = pcall(f, ...)
    ngx.say(tostring(ok), " ", (tostring(err):gsub("^.-:%d+: ", "")))
end
for _, s in ipairs({"a b=c d", "x=#y", "p=%41&q=\"<>\\^`{|}", "u=\195\169", "t=\t\r\n\127", "n=1&b=2"}) do
    ngx.req.set_uri_args(s)
    ngx.say(ngx.var.args)
end
ngx.req.set_uri_args(12.5)
ngx.say(ngx.var.args)
try(ngx.req.set_uri_args)
try(ngx.req.set_uri_args, "a", "b")
try(ngx.req.set_uri_args, true)
try(ngx.req.set_uri_args, nil)
try(function() ngx.ctx = 1 end)
try(function() ngx.ctx = nil end)
ngx.ctx = {k = "v"}
ngx.say(ngx.ctx.k)
