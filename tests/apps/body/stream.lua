-- Five lines, each flushed, 0.3 s apart.
for i = 1, 5 do
    ngx.say("line ", i)
    ngx.flush(true)
    if i < 5 then
        ngx.sleep(0.3)
    end
end
