-- Query arguments, headers and status.
local name = ngx.var.arg_name or "stranger"
ngx.status = ngx.HTTP_OK
ngx.header.content_type = "text/plain; charset=utf-8"
ngx.header["X-Greeting"] = "hello " .. name
ngx.say("Hello, ", ngx.unescape_uri(name), ". Your user agent: ", ngx.var.http_user_agent)
