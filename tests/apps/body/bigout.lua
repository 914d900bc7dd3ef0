-- A large response in pieces: COUNT times an 8-digit counter line and a
-- block of SIZE bytes (all 256 byte values, repeated).
local count = tonumber(ngx.var.arg_count) or 50
local size = tonumber(ngx.var.arg_size) or 1048576
local all = {}
for i = 0, 255 do
    all[#all + 1] = string.char(i)
end
local block = string.rep(table.concat(all), size / 256)
ngx.header.content_type = "application/octet-stream"
for i = 1, count do
    ngx.print(string.format("%08d\n", i))
    ngx.print(block)
end
