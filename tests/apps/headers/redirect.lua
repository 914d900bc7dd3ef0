-- ngx.redirect to ?to= (unescaped): caught when it refuses the URI.
local ok, err = pcall(ngx.redirect, ngx.unescape_uri(ngx.var.arg_to))
ngx.say(tostring(ok), ": ", err)
