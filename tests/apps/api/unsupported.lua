-- what FastCGI cannot do fails with a message naming the limitation
local names = {
    {"ngx.req.socket", function() return ngx.req.socket() end},
    {"ngx.req.raw_header", function() return ngx.req.raw_header() end},
    {"ngx.req.set_header", function() return ngx.req.set_header("X-A", "1") end},
    {"ngx.req.clear_header", function() return ngx.req.clear_header("X-A") end},
    {"ngx.req.set_body_data", function() return ngx.req.set_body_data("x") end},
    {"ngx.location.capture", function() return ngx.location.capture("/x") end},
    {"ngx.exec", function() return ngx.exec("/x") end},
}
for _, t in ipairs(names) do
    local ok, err = pcall(t[2])
    ngx.say(t[1], " ", tostring(ok), " ", (tostring(err):gsub("^.-:%d+: ", "")))
end
