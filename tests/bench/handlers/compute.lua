-- compute: build a 200-row HTML-ish table in a loop and join it (~6 KB).
-- (from ../shared/bench/handlers/lua/, as the peer benchmark runs it)
local rows = { "<table>" }
for i = 1, 200 do
  rows[i + 1] = "<tr><td>" .. i .. "</td><td>" .. i * i .. "</td></tr>"
end
rows[202] = "</table>"
ngx.say(table.concat(rows, "\n"))
