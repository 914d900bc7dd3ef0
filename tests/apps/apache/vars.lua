-- tests/10-apache.bats: the request as a handler sees it through Apache.
local names = {
    "uri", "document_uri", "request_uri", "args", "is_args", "query_string",
    "host", "scheme", "request_method", "remote_addr", "server_port",
    "server_protocol", "document_root", "request_filename", "path_info",
    "http_user_agent", "arg_a", "request",
    -- raw FastCGI params, not nginx variables: what the web server sent
    "script_filename", "script_name",
}
for _, n in ipairs(names) do
    ngx.say(n, "=", tostring(ngx.var[n]))
end
ngx.say("method=", ngx.req.get_method())
ngx.say("header_x_custom=", tostring(ngx.req.get_headers()["X-Custom"]))
local args = ngx.req.get_uri_args()
local keys = {}
for k in pairs(args) do
    keys[#keys + 1] = k
end
table.sort(keys)
for _, k in ipairs(keys) do
    local v = args[k]
    if type(v) == "table" then
        v = table.concat(v, ",")
    end
    ngx.say("uri_arg_", k, "=", tostring(v))
end
