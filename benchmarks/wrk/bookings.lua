-- wrk script: POST /api/bookings through the gateway, each request for its own slot and with
-- its own Idempotency-Key; counts answers by outcome and prints one JSON line at the end.
-- A connection whose request was shed waits Retry-After seconds before its next request, as
-- a well-behaved client does (one that retried at once would spend the capacity it lacks).
-- Arguments: token user_id facility_id first_slot_epoch_s run_tag threads

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  token, user, facility, tag = args[1], args[2], args[3], args[5]
  base, stride = tonumber(args[4]), tonumber(args[6])
  slot = id
  confirmed, rejected, cancelled, pending, shed, unavailable, other = 0, 0, 0, 0, 0, 0, 0
  wait_ms = 0
  statuses = ""
end

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

function request()
  local start = base + slot * 3600
  local key = tag .. "-" .. slot
  slot = slot + stride
  local body = string.format(
    '{"user_id":"%s","facility_id":"%s","starts_at":"%s","ends_at":"%s",' ..
    '"amount_cents":25000,"payment_method":"pm_card_visa"}',
    user, facility, iso(start), iso(start + 3540))
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = key,
  }
  return wrk.format("POST", "/api/bookings", headers, body)
end

-- A few distinct kinds of unexpected answer, to say what went wrong.
function remember(kind)
  if #statuses < 300 and not string.find(statuses, kind, 1, true) then
    statuses = statuses .. kind .. "; "
  end
end

function response(status, headers, body)
  if status == 200 or status == 201 then
    if string.find(body, '"status":"confirmed"', 1, true) then
      confirmed = confirmed + 1
    elseif string.find(body, '"status":"rejected"', 1, true) then
      rejected = rejected + 1
    else
      cancelled = cancelled + 1
    end
  elseif status == 202 then
    pending = pending + 1
  elseif status == 503 and (headers["retry-after"] or headers["Retry-After"]) and
      string.find(body, '"title":"Service overloaded"', 1, true) then
    shed = shed + 1  -- the in-flight bound: a clean refusal
    wait_ms = 1000 * tonumber(headers["retry-after"] or headers["Retry-After"])
  elseif status == 503 then
    unavailable = unavailable + 1  -- a timeout, an open breaker, a database away
    remember("503 " .. (string.match(body, '"detail":"([^"]*)"') or ""))
  else
    other = other + 1
    remember(tostring(status))
  end
end

function delay()
  local ms = wait_ms
  wait_ms = 0
  return ms
end

function done(summary, latency, requests)
  local totals = {confirmed = 0, rejected = 0, cancelled = 0, pending = 0, shed = 0,
                  unavailable = 0, other = 0}
  local seen = ""
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
    seen = seen .. thread:get("statuses")
  end
  io.write(string.format(
    '{"seconds": %f, "answers": %d, "errors": %d, "confirmed": %d, "rejected": %d, ' ..
    '"cancelled": %d, "pending": %d, "shed": %d, "unavailable": %d, "other": %d, ' ..
    '"other_statuses": "%s", ' ..
    '"p50_ms": %f, "p95_ms": %f, "p99_ms": %f}\n',
    summary.duration / 1e6, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.timeout,
    totals.confirmed, totals.rejected, totals.cancelled, totals.pending, totals.shed,
    totals.unavailable, totals.other, (string.gsub(seen, '[%c"\\]', " ")),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000))
end
