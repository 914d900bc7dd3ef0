-- C code (system(3) waiting for its child): only the hard deadline ends it.
os.execute("sleep " .. (ngx.var.arg_s or "4"))
ngx.say("back")
