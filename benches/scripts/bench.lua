-- Lua benchmarks: fib, n-body, spectral-norm. Prints "ns <total>" timed with os.clock.
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end

local function nbody(steps)
  local pi, days = math.pi, 365.24
  local sm = 4 * pi * pi
  local b = {
    {0, 0, 0, 0, 0, 0, sm},
    {4.84, -1.16, -0.10, 0.00166 * days, 0.00770 * days, -0.0000690 * days, 0.000954 * sm},
    {8.34, 4.12, -0.40, -0.00277 * days, 0.00500 * days, 0.0000230 * days, 0.000286 * sm},
    {12.89, -15.11, -0.22, 0.00296 * days, 0.00237 * days, -0.0000297 * days, 0.0000437 * sm},
    {15.38, -25.92, 0.18, 0.00268 * days, 0.00163 * days, -0.0000952 * days, 0.0000515 * sm},
  }
  for _ = 1, steps do
    for i = 1, #b do
      local bi = b[i]
      for j = i + 1, #b do
        local bj = b[j]
        local dx, dy, dz = bi[1] - bj[1], bi[2] - bj[2], bi[3] - bj[3]
        local d2 = dx * dx + dy * dy + dz * dz
        local mag = 0.01 / (d2 * math.sqrt(d2))
        bi[4] = bi[4] - dx * bj[7] * mag; bi[5] = bi[5] - dy * bj[7] * mag; bi[6] = bi[6] - dz * bj[7] * mag
        bj[4] = bj[4] + dx * bi[7] * mag; bj[5] = bj[5] + dy * bi[7] * mag; bj[6] = bj[6] + dz * bi[7] * mag
      end
    end
    for i = 1, #b do local bi = b[i]; bi[1] = bi[1] + 0.01 * bi[4]; bi[2] = bi[2] + 0.01 * bi[5]; bi[3] = bi[3] + 0.01 * bi[6] end
  end
  return b[1][1]
end

local function spectral(n)
  local function A(i, j) local ij = i + j - 1; return 1.0 / (ij * (ij - 1) * 0.5 + i) end
  local function Av(x, y) for i = 1, n do local a = 0; for j = 1, n do a = a + x[j] * A(i, j) end; y[i] = a end end
  local function Atv(x, y) for i = 1, n do local a = 0; for j = 1, n do a = a + x[j] * A(j, i) end; y[i] = a end end
  local u, v, t = {}, {}, {}
  for i = 1, n do u[i] = 1 end
  for _ = 1, 10 do Av(u, t); Atv(t, v); Av(v, t); Atv(t, u) end
  local vBv, vv = 0, 0
  for i = 1, n do vBv = vBv + u[i] * v[i]; vv = vv + v[i] * v[i] end
  return math.sqrt(vBv / vv)
end

local scale = tonumber(arg[1] or "1")
local t0 = os.clock()
local r = fib(math.floor(27 + 2 * math.log(scale, 2))) + nbody(math.floor(100000 * scale)) + spectral(math.floor(150 * math.sqrt(scale)))
local t1 = os.clock()
print(string.format("ns %.0f", (t1 - t0) * 1e9))
print("check", r > 0)
