-- wait: wait 10 ms without using the CPU, then answer "waited".
-- (from ../shared/bench/handlers/lua/, as the peer benchmark runs it)
ngx.sleep(0.01)
ngx.say("waited")
