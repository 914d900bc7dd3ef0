-- ngx.eof before the request body has arrived.
ngx.say("early")
local ok = ngx.eof()
ngx.log(ngx.INFO, "eof returned ", tostring(ok))
