ngx.say("hello ", ngx.var.request_uri)
