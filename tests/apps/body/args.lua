ngx.say("before=", tostring(ngx.var.args))
ngx.var.args = "a=5"
ngx.say("args=", ngx.var.args, " get_uri_args.a=", tostring(ngx.req.get_uri_args().a),
        " arg_a=", tostring(ngx.var.arg_a), " is_args=", ngx.var.is_args)
ngx.req.set_uri_args({b = 2})
ngx.say("args=", ngx.var.args, " get_uri_args.b=", tostring(ngx.req.get_uri_args().b),
        " arg_b=", tostring(ngx.var.arg_b), " arg_a=", tostring(ngx.var.arg_a))
ngx.req.set_uri_args("c=x%20y&c=z")
local c = ngx.req.get_uri_args().c
ngx.say("args=", ngx.var.args, " c=", type(c) == "table" and table.concat(c, ",") or tostring(c))
