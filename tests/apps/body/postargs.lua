-- get_post_args: before read_body (an error), after it (a table, or
-- nil + why for a spooled body).
if ngx.var.arg_mode == "unread" then
    local ok, err = pcall(ngx.req.get_post_args)
    ngx.say("ok=", tostring(ok), " err=", tostring(err))
    return
end
ngx.req.read_body()
local args, err = ngx.req.get_post_args()
if not args then
    ngx.say("args=nil err=", tostring(err))
    return
end
local keys = {}
for k in pairs(args) do
    keys[#keys + 1] = k
end
table.sort(keys)
for _, k in ipairs(keys) do
    local v = args[k]
    ngx.say(k, "=", type(v) == "table" and table.concat(v, ",") or tostring(v))
end
