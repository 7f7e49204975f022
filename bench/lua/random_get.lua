-- wrk script: GET PREFIX..KEY with KEY picked uniformly at random from the
-- lines of FILE (e-mails or ids), so the benchmark measures the register,
-- not one hot key in the cache.  wrk ... -s random_get.lua URL -- FILE PREFIX
local keys, n, prefix = {}, 0, "/"

function init(args)
	prefix = args[2]
	for line in io.lines(args[1]) do
		n = n + 1
		keys[n] = line
	end
	math.randomseed(os.time() + (tonumber(tostring(keys):match("0x(%x+)"), 16) or 0))
end

function request()
	return wrk.format("GET", prefix .. keys[math.random(n)])
end
