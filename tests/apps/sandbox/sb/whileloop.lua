ngx.say("start")
while true do end
