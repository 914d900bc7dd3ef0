ngx.say("shared: ", type(ngx.shared))
