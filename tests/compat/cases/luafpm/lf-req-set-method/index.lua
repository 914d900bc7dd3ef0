-- ngx.req.set_method changes what ngx.req.get_method and
-- ngx.var.request_method say; $request keeps the request line
local function try(f, ...)
    local ok, err = pcall(f, ...)
    ngx.say(tostring(ok), " ", (tostring(err):gsub("^.-:%d+: ", "")))
end
ngx.say("start ", ngx.req.get_method(), " ", ngx.var.request_method)
for _, m in ipairs({"PUT", "DELETE", "MKCOL", "COPY", "MOVE", "OPTIONS",
                    "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "PATCH", "GET"}) do
    ngx.req.set_method(ngx["HTTP_" .. m])
    ngx.say(m, " -> ", ngx.req.get_method(), " ", ngx.var.request_method, " ", ngx.var.REQUEST_METHOD)
end
ngx.req.set_method(ngx.HTTP_PUT)
ngx.say("request line ", ngx.var.request)
try(ngx.req.set_method, "GET")
try(ngx.req.set_method)
try(ngx.req.set_method, nil)
try(ngx.req.set_method, {})
try(ngx.req.set_method, 3)
try(ngx.req.set_method, 0)
try(ngx.req.set_method, 65536)
try(ngx.req.set_method, 2.5)
ngx.say("after 2.5: ", ngx.req.get_method())
try(function() ngx.var.request_method = "PUT" end)
ngx.say("end ", ngx.req.get_method(), " ", ngx.var.request_method)
