ngx.status = 201
ngx.header["X-A"] = "b"
ngx.say("created")
