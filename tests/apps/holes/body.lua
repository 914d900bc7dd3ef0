ngx.req.read_body()
ngx.say("read ", #(ngx.req.get_body_data() or ""))
