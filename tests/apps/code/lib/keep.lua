-- A table that lives for the worker: what fresh_*.lua keep across requests.
return {}
