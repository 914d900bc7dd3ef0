local n, last = 0, nil
for i = 1, 1100 do
    local ok, err = ngx.timer.at(30, function() end)
    if ok then n = n + 1 else last = err end
end
ngx.say(n, " ", tostring(last))
