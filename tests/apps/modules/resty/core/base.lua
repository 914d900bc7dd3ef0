error("Debian's lua-resty-core must never be loaded")
