-- Read the request body and describe it: in memory (length, md5) or
-- spooled (the file's path, its size and md5 read back in 64 KiB chunks).
ngx.req.read_body()
local data = ngx.req.get_body_data()
local file = ngx.req.get_body_file()
ngx.say("data=", data and #data or "nil", " md5=", data and ngx.md5(data) or "-")
if file then
    local sum, size = require("md5stream").file(file, 65536)
    ngx.say("file=", file, " size=", size or "-", " md5=", sum or "-")
else
    ngx.say("file=nil")
end
