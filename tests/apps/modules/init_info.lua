ngx.say(INIT_TYPE)
ngx.say(INIT_AGENT)
