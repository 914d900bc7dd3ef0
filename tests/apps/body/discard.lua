ngx.req.discard_body()
ngx.say("data=", tostring(ngx.req.get_body_data()), " file=", tostring(ngx.req.get_body_file()))
