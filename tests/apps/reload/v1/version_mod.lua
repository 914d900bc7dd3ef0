return { name = "v1" }
