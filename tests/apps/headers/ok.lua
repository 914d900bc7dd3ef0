-- An ordinary response with a few headers.
ngx.header["X-One"] = "1"
ngx.header["Set-Cookie"] = { "a=1", "b=2" }
ngx.say("ok ", ngx.header["X-One"], " ", table.concat(ngx.header["Set-Cookie"], ","))
