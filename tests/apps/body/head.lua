if ngx.var.arg_exit then
    ngx.header["X-Custom"] = "exiting"
    ngx.exit(tonumber(ngx.var.arg_exit))
end
ngx.status = 202
ngx.header.content_type = "application/json"
ngx.header["X-Custom"] = "yes"
ngx.say('{"method":"', ngx.req.get_method(), '"}')
