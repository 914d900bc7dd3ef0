-- OpenResty's lua-resty-string, as Debian's nginx.* (lua-nginx-string):
-- its FFI calls reach luafpm's ngx_hex_dump/ngx_atoi and OpenSSL.
local str = require "resty.string"
local sha256 = require "resty.sha256"
local md5 = require "resty.md5"
local aes = require "resty.aes"
local random = require "resty.random"
local h = sha256:new()
h:update("hello")
ngx.say("sha256 ", str.to_hex(h:final()))
local m = md5:new()
m:update("hello")
ngx.say("md5 ", str.to_hex(m:final()), " ", ngx.md5("hello"))
ngx.say("atoi ", str.atoi("12345"), " ", str.atoi("12x"))
local cipher = aes:new("secret-key", nil, aes.cipher(128, "cbc"))
local enc = cipher:encrypt("a message")
ngx.say("aes ", cipher:decrypt(enc), " ", #enc)
ngx.say("random ", #random.bytes(16))
