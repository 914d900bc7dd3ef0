ngx.say("partial")
ngx.flush(true)
error("failed after flush")
