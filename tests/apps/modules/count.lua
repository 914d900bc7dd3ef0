ngx.say(require("semalib").sema:count())
