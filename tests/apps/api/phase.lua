ngx.header["X-Multi"] = {"a", "b"}
ngx.header.x_under = "u"
-- what libraries look at before they agree to run
ngx.say("phase=", ngx.get_phase())
ngx.say("subsystem=", ngx.config.subsystem)
ngx.say("lua_version_ok=", ngx.config.ngx_lua_version >= 10019)
ngx.say("nginx_version=", type(ngx.config.nginx_version))
ngx.say("debug=", ngx.config.debug)
ngx.say("prefix_slash=", ngx.config.prefix():sub(-1) == "/")
ngx.say("is_subrequest=", ngx.is_subrequest)
ngx.say("internal=", ngx.req.is_internal())
local h = ngx.resp.get_headers()
ngx.say("resp: ", table.concat(h["x-multi"], ","), " ", h.X_Under)
