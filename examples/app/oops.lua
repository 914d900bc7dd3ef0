-- A handler error: the client gets a 500, the error log gets the cause.
local config = nil
ngx.say(config.missing)
