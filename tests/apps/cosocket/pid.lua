ngx.say(ngx.worker.pid())
