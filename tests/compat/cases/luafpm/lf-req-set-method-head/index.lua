-- ngx.req.set_method(ngx.HTTP_HEAD) before any output: the response is
-- header-only, as for a HEAD request
ngx.req.set_method(ngx.HTTP_HEAD)
ngx.header["X-Method"] = ngx.req.get_method() .. " " .. ngx.var.request_method
ngx.say("hidden")
