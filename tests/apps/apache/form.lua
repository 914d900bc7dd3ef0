-- a POST body, raw and as a form
ngx.req.read_body()
ngx.say("body=", tostring(ngx.req.get_body_data()))
local args = ngx.req.get_post_args()
local keys = {}
for k in pairs(args) do
    keys[#keys + 1] = k
end
table.sort(keys)
for _, k in ipairs(keys) do
    ngx.say("post_arg_", k, "=", tostring(args[k]))
end
