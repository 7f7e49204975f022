-- wrk script: POST /v1/subjects, one new subject per request with a
-- distinct random e-mail (TAG keeps runs apart).  ... -- TAG
local tag, i = "x", 0

function init(args)
	tag = (args[1] or "x") .. "-" .. tostring(math.random(1, 1e9))
	math.randomseed(os.time())
end

-- wrk.format drops wrk.headers (the -H Authorization) when given a table.
function headers()
	local h = {["Content-Type"] = "application/json"}
	for k, v in pairs(wrk.headers) do h[k] = v end
	return h
end

function request()
	i = i + 1
	local e = string.format("new.%s.%d.%d@example.ee", tag, i, math.random(1, 1e9))
	local body = '{"records":[{"kind":"account","fields":{"email":"' .. e ..
		'","name":"Mari Tamm","language":"et"}}]}'
	return wrk.format("POST", "/v1/subjects", headers(), body)
end
