-- post: read the whole request body and answer with its length in decimal.
-- (from ../shared/bench/handlers/lua/, as the peer benchmark runs it)
ngx.req.read_body()
local body = ngx.req.get_body_data()
ngx.say(body and #body or 0)
