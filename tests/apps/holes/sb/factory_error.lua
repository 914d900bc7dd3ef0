ngx.say("inside")
end, error("boom"), function(...)
