-- Never touches the request body.
ngx.say("ignored ", ngx.worker.pid())
