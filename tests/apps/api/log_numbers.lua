-- numbers in the error log as ngx.say writes them
ngx.log(ngx.ERR, "NUMS ", -0, " ", 123456789012345, " ", 0 / 0, " ", 2 ^ 31, " ", 1.5, " ", 1e15)
print("PRINTNUMS ", -0, " ", 2 ^ 53)
ngx.say("logged")
