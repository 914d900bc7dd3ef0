ngx.say(require and "trusted" or "sandboxed")
