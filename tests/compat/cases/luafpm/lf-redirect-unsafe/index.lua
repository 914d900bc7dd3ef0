-- ngx.redirect refuses a URI with control bytes (CR and LF would start a
-- header of their own); a tab is allowed; argument checks
local out = {}
local function try(f)
    local ok, err = pcall(f)
    out[#out + 1] = tostring(ok) .. " " .. (tostring(err):gsub("^.-:%d+: ", ""))
end
local how = ngx.var.arg_how
if how == "crlf" then
    ngx.redirect("/x\r\nX-Evil: 1")
elseif how == "tab" then
    ngx.redirect("/a\tb", "301")
elseif how == "errors" then
    try(function() ngx.redirect("/x\r\nX-Evil: 1") end)
    try(function() ngx.redirect("/\0\1\"\\\127\200", 302) end)
    try(function() ngx.redirect() end)
    try(function() ngx.redirect("/x", 302, 1) end)
    try(function() ngx.redirect("/x", 200) end)
    try(function() ngx.redirect("/x", "abc") end)
    try(function() ngx.redirect({}) end)
    ngx.say(table.concat(out, "\n"))
    try(function() ngx.redirect("/x") end)
    ngx.say(out[#out])
end
