-- A global set before a sleep is still this request's after it, and no
-- other request in flight sees it.
seen = ngx.var.arg_v
ngx.sleep(0.3)
ngx.say("mine ", tostring(seen))
