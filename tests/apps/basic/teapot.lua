ngx.header["X-Kept"] = "yes"
ngx.exit(ngx.HTTP_NOT_FOUND)
ngx.say("not reached")
