return { name = "v2" }
