ngx.req.read_body()
local data = ngx.req.get_body_data() or ""
ngx.say("read ", #data, " bytes")
