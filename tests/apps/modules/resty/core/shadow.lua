return "loaded from the Lua path"
