local process = require "ngx.process"
ngx.say(process.type(), " ", process.get_master_pid(), " ", ngx.worker.pid())
if ngx.var.arg_exit then
    process.signal_graceful_exit()
    ngx.say("exiting")
end
