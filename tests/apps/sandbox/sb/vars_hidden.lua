-- variables naming the process or paths, which sandboxed scripts do not see
ngx.say(tostring(ngx.var.pid), " ", tostring(ngx.var.hostname), " ",
        tostring(ngx.var.realpath_root), " ", type(ngx.var.msec))
