-- wrk script for bench/soak: a mixed workload, one cycle per subject, run
-- by each wrk thread over one connection (wrk -tN -cN), so that each answer
-- belongs to the request just sent and can give the next one its id.
--   create a subject (an account and an order from 2020, due for
--   anonymisation) -> read it -> grant marketing consent -> check consent
--   by e-mail (x3) -> rectify the account -> read the record -> access
--   request -> complete it (the export) -> three of four subjects: erasure
--   request -> complete it (the erasure); every 20th cycle: a retention
--   sweep, which anonymises the kept subjects' old orders.
-- Every answer is counted by its status class; done() prints the counts
-- and the first non-2xx answers, and bench/soak reads the "soak:" lines.
local threads = {}
local tag, cycle, step = "x", 0, 1
local sid, rid, qid, email = nil, nil, nil, nil
counts = {ok = 0, c4 = 0, c5 = 0, other = 0} -- globals: done() reads them per thread
firsts = {}

function setup(thread)
	thread:set("id", #threads + 1)
	table.insert(threads, thread)
end

function init(args)
	tag = tostring(id) .. "-" .. tostring(math.random(1, 1e9))
end

local function headers()
	local h = {["Content-Type"] = "application/json"}
	for k, v in pairs(wrk.headers) do h[k] = v end
	return h
end

local function get(path) return wrk.format("GET", path, headers()) end
local function post(path, body) return wrk.format("POST", path, headers(), body) end

-- Each step: a function returning the request, and a function taking the
-- answer's body (may be nil).
local steps
steps = {
	{function()
		cycle = cycle + 1
		email = string.format("soak.%s.%d@example.ee", tag, cycle)
		return post("/v1/subjects", '{"records":[{"kind":"account","fields":{"email":"' .. email ..
			'","name":"Mari Tamm","language":"et","ip":"192.0.2.7"}},{"kind":"order","fields":' ..
			'{"name":"Mari Tamm","items":[{"sku":"A1","qty":1}],"amount":"49.90"},"created_at":"2020-03-15"}]}')
	end, function(body)
		sid = body:match('"id":"(sub_[%w]+)"')
		rid = body:match('"records":%[{"id":"(rec_[%w]+)"')
	end},
	{function() return get("/v1/subjects/" .. sid) end},
	{function() return post("/v1/subjects/" .. sid .. "/consents",
		'{"purpose":"direct_marketing","granted":true,"source":"soak"}') end},
	{function() return get("/v1/consents/check?purpose=direct_marketing&email=" .. email) end},
	{function() return get("/v1/consents/check?purpose=direct_marketing&email=" .. email) end},
	{function() return get("/v1/consents/check?purpose=direct_marketing&email=" .. email) end},
	{function() return wrk.format("PATCH", "/v1/records/" .. rid, headers(),
		'{"fields":{"name":"Mari Kask","phone":"+372 5123 4567"}}') end},
	{function() return get("/v1/records/" .. rid) end},
	{function() return post("/v1/requests", '{"type":"access","subject_id":"' .. sid .. '","verified_by":"soak"}') end,
	 function(body) qid = body:match('"id":"(req_[%w]+)"') end},
	{function() return post("/v1/requests/" .. qid .. "/complete", "{}") end},
	{function()
		if cycle % 4 == 0 then return nil end -- kept: the sweep's work
		return post("/v1/requests", '{"type":"erasure","subject_id":"' .. sid .. '","verified_by":"soak"}')
	end, function(body) qid = body:match('"id":"(req_[%w]+)"') end},
	{function()
		if cycle % 4 == 0 then return nil end
		return post("/v1/requests/" .. qid .. "/complete", "{}")
	end},
	{function()
		if cycle % 20 ~= 0 then return nil end
		return post("/v1/retention/sweep", '{"dry_run":false}')
	end},
}

-- SOAK_DELAY_MS (bench/soak): a pause before each request, so that a long
-- run on a shared machine holds to a rate rather than running flat out.
local pause = tonumber(os.getenv("SOAK_DELAY_MS") or "0") or 0
if pause > 0 then
	function delay() return pause end
end

-- The next step that has a request to make (a nil request skips the step).
function request()
	while true do
		local ok, req = pcall(steps[step][1])
		if ok and req then return req end
		-- a missing id (its creation failed) restarts the cycle
		step = ok and step % #steps + 1 or 1
	end
end

function response(status, hdrs, body)
	if status >= 200 and status < 300 then
		counts.ok = counts.ok + 1
		if steps[step][2] then steps[step][2](body) end
		step = step % #steps + 1
	else
		if status >= 500 then counts.c5 = counts.c5 + 1
		elseif status >= 400 then counts.c4 = counts.c4 + 1
		else counts.other = counts.other + 1 end
		if #firsts < 5 then table.insert(firsts, status .. " at step " .. step .. ": " .. (body or ""):sub(1, 200)) end
		step = 1
	end
end

function done(summary, latency, requests)
	local ok, c4, c5, other = 0, 0, 0, 0
	for _, t in ipairs(threads) do
		local c = t:get("counts")
		ok, c4, c5, other = ok + c.ok, c4 + c.c4, c5 + c.c5, other + c.other
		for _, f in ipairs(t:get("firsts")) do io.write("soak: first non-2xx: ", f, "\n") end
	end
	io.write(string.format("soak: requests=%d 2xx=%d 4xx=%d 5xx=%d other=%d errors=%d p99_ms=%.1f\n",
		summary.requests, ok, c4, c5, other,
		summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
		latency:percentile(99) / 1000))
end
