-- Exercises Lua inside hx; prints only deterministic output.
local s = "The quick brown fox jumps over the lazy dog"
print("gsub", (s:gsub("%w+", function(w) return w:upper():sub(1, 1) .. w:sub(2) end)))
print("find", s:find("fox"), s:match("(%a+) dog"))
for k, v in string.gmatch("a=1, b=2, c=3", "(%w+)=(%w+)") do io.write(k, ":", v, " ") end
print()
print("format", string.format("%5.2f|%-6s|%x|%q", math.pi, "hx", 255, "a\nb"))

local t = {}
for i = 1, 10 do t[i] = i * i end
table.sort(t, function(a, b) return a > b end)
print("table", table.concat(t, ","), #t)
local words = {}
for w in s:gmatch("%a+") do words[#words + 1] = w:lower() end
table.sort(words)
print("sorted", table.concat(words, " "))

local function counter()
  local n = 0
  return function() n = n + 1; return n end
end
local c1, c2 = counter(), counter()
c1(); c1()
print("closures", c1(), c2())

local gen = coroutine.wrap(function(a, b)
  for i = a, b do coroutine.yield(i * 10) end
  return "done"
end)
print("coroutines", gen(1, 3), gen(), gen(), gen())
local co = coroutine.create(function() error("boom") end)
print("coroutine error", coroutine.resume(co))

local dir = arg[1]
local path = dir .. "/lua.txt"
local f = assert(io.open(path, "w"))
for i = 1, 5 do f:write("line ", i, "\n") end
f:close()
local lines = {}
for line in io.lines(path) do lines[#lines + 1] = line end
print("io", #lines, lines[1], lines[5])
f = assert(io.open(path, "r"))
print("read all", #f:read("a"))
f:close()
print("missing", io.open(dir .. "/nope.txt", "r"))
print("os.time", os.time() > 1700000000, os.time({year = 2024, month = 1, day = 1, hour = 12}) ~= nil)
print("os.clock", os.clock() >= 0)
print("os.date", os.date("!%Y-%m-%d %H:%M:%S", 86400 * 365))
print("pcall", pcall(function() return 1 + nil end))
os.exit(4)
