-- hello: the smallest possible handler (OpenResty ngx.* API).
-- (from ../shared/bench/handlers/lua/, as the peer benchmark runs it)
ngx.say("hello world")
