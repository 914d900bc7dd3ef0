-- writing ngx.var: $args (and $limit_rate) can be changed; nginx's other
-- variables are "not changeable"; any other name is "not found for
-- writing"; names are case-insensitive and shown in lower case
local function try(name, f)
    local ok, err = pcall(f)
    ngx.say(name, ": ", tostring(ok), " ", (tostring(err):gsub("^.-:%d+: ", "")))
end
for _, name in ipairs({"uri", "URI", "request_method", "query_string", "request_uri",
                       "remote_addr", "http_host", "host", "status", "pid", "hostname",
                       "request_body", "document_root", "content_type", "msec",
                       "http_x_foo", "arg_a", "cookie_a", "sent_http_x", "no_such",
                       "No_Such", "path_info", ""}) do
    try(name, function() ngx.var[name] = "x" end)
end
try("1", function() ngx.var[1] = "x" end)
try("true", function() ngx.var[true] = "x" end)
try("read true", function() return ngx.var[true] end)
ngx.say("read 1: ", tostring(ngx.var[1]), ", read URI: ", ngx.var.URI,
        ", read Request_Method: ", ngx.var.Request_Method)
try("args", function() ngx.var.args = "b=2&c=3" end)
ngx.say("args ", ngx.var.args, " query_string ", ngx.var.query_string, " arg_b ",
        ngx.var.arg_b, " is_args ", ngx.var.is_args, " request_uri ", ngx.var.request_uri,
        " get_uri_args.c ", ngx.req.get_uri_args().c)
ngx.var.args = 42
ngx.say("number ", ngx.var.args)
ngx.var.args = true
ngx.say("boolean ", ngx.var.args)
ngx.var.args = setmetatable({}, {__tostring = function() return "t=1" end})
ngx.say("table ", ngx.var.args, " ", ngx.var.arg_t)
ngx.var.args = nil
ngx.say("nil ", tostring(ngx.var.args), " [", ngx.var.is_args, "]")
ngx.say("limit_rate ", ngx.var.limit_rate)
ngx.var.limit_rate = "100k"
ngx.say("limit_rate ", ngx.var.limit_rate)
ngx.var.limit_rate = "1m"
ngx.say("limit_rate ", ngx.var.limit_rate)
