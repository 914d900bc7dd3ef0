ngx.status = ngx.HTTP_CREATED
ngx.header.x_one = 1
ngx.header["X-Multi"] = { "a", "b" }
ngx.print("created")
