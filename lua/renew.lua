-- renew: keep the leases of messages a live consumer is still working on.
-- Resets the idle time (XCLAIM JUSTID, which leaves the delivery count alone) of
-- those of the given ids that are still pending for this consumer; ids another
-- consumer has claimed in the meantime are left alone and reported as taken
-- (ids no longer pending at all were acknowledged meanwhile: neither list).
--
-- KEYS[1]   input stream of the stage
-- ARGV[1]   consumer group
-- ARGV[2]   consumer name
-- ARGV[3]   smallest id of the set, ARGV[4] largest id of the set
-- ARGV[5..] the ids
-- returns   {ids whose lease was renewed, ids now pending for another consumer}

local wanted = {}
for i = 5, #ARGV do wanted[ARGV[i]] = true end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[4], (#ARGV - 4) * 2 + 16, ARGV[2])
-- unpack() must be the last argument of a call to expand fully, so the XCLAIM
-- arguments are collected in one table.
local claim = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0}
for i = 1, #pending do
  local id = pending[i][1]
  if wanted[id] then
    claim[#claim + 1] = id
    wanted[id] = nil
  end
end
local taken = {}
for id in pairs(wanted) do
  if redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)[1] then taken[#taken + 1] = id end
end
if #claim == 5 then return {{}, taken} end
claim[#claim + 1] = 'JUSTID'
return {redis.call(unpack(claim)), taken}
