ngx.say(INIT_VALUE, " ", INIT_PHASE, " ", ngx.get_phase())
