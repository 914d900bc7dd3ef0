-- line numbers matter: the test greps for them
print("from print")
ngx.log(ngx.WARN, "from ngx.log ", 42)
ngx.say("logged")
