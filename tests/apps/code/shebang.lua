#!/usr/bin/env luajit
ngx.say("shebang ok")
