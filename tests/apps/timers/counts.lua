ngx.say(ngx.timer.running_count(), " ", ngx.timer.pending_count())
