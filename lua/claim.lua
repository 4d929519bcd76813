-- claim: take over entries idle past the visibility timeout, without counting a delivery.
-- XAUTOCLAIM with JUSTID moves ownership to this consumer but leaves each entry's
-- delivery count alone; the count is returned so the caller can decide per
-- entry (run it, quarantine it, or dead-letter it) and count a delivery only
-- when it really hands the entry to a handler (XCLAIM without JUSTID).
--
-- KEYS[1]   input stream of the stage
-- ARGV[1]   consumer group
-- ARGV[2]   consumer name (the new owner)
-- ARGV[3]   minimum idle time, milliseconds
-- ARGV[4]   cursor (start id; '0-0' to begin)
-- ARGV[5]   the most entries to claim
-- returns   {next cursor, {{id, deliveries so far}, ...}, {deleted ids (Redis 7)}}

local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4],
  'COUNT', ARGV[5], 'JUSTID')
local claimed = {}
for i = 1, #r[2] do
  local id = r[2][i]
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if p[1] then claimed[#claimed + 1] = {id, p[1][4]} end
end
return {r[1], claimed, r[3] or {}}
