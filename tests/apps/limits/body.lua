ngx.req.read_body()
local data = ngx.req.get_body_data()
local file = ngx.req.get_body_file()
ngx.say("read ", data and #data or 0, " file=", tostring(file ~= nil), " pid=", ngx.worker.pid())
