-- wrk script: POST /v1/subjects/{id}/consents granting direct_marketing
-- (double opt-in: each grant queues a confirmation e-mail), each request to
-- another subject: the ids of FILE in order, from line FIRST.  ... -- FILE FIRST
local ids, n, next_i = {}, 0, 1
local body = '{"purpose":"direct_marketing","granted":true,"source":"bench"}'

function init(args)
	for line in io.lines(args[1]) do
		n = n + 1
		ids[n] = line
	end
	next_i = tonumber(args[2] or "1")
end

-- wrk.format drops wrk.headers (the -H Authorization) when given a table.
function headers()
	local h = {["Content-Type"] = "application/json"}
	for k, v in pairs(wrk.headers) do h[k] = v end
	return h
end

function request()
	local id = ids[(next_i - 1) % n + 1]
	next_i = next_i + 1
	return wrk.format("POST", "/v1/subjects/" .. id .. "/consents", headers(), body)
end
