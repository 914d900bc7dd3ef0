ngx.say("still serving ", ngx.worker.pid())
