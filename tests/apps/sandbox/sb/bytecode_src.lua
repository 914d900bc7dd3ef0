ngx.say("ESCAPED: bytecode ran")
