local ok, err = pcall(error, "inner")
ngx.say("caught: ", ok, " ", err)
local ok2 = pcall(ngx.exit, ngx.HTTP_GONE)
ngx.say("not reached ", ok2)
