return { version = 1 }
