-- wrk script: DELETE /v1/subjects/{id} (erasure: the key destroyed, the
-- rows deleted, the erasure ledger appended, one audit entry), each request
-- another subject: the ids of FILE in order, from line FIRST, plus STRIDE
-- times INSTANCE when several wrk run at once.  ... -- FILE FIRST [STRIDE INSTANCE]
local ids, n, next_i = {}, 0, 1

function init(args)
	for line in io.lines(args[1]) do
		n = n + 1
		ids[n] = line
	end
	next_i = tonumber(args[2] or "1") + tonumber(args[3] or "0") * tonumber(args[4] or "0")
end

function request()
	local id = ids[(next_i - 1) % n + 1]
	next_i = next_i + 1
	return wrk.format("DELETE", "/v1/subjects/" .. id)
end
