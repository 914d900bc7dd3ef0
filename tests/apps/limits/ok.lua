ngx.say("ok ", ngx.worker.pid())
