-- renew: keep the leases of messages a live consumer is still working on.
-- Resets the idle time (XCLAIM JUSTID, which leaves the delivery count alone) of
-- those of the given ids that are still pending for this consumer; ids another
-- consumer has claimed in the meantime are left alone and reported as taken
-- (ids no longer pending at all were acknowledged meanwhile: neither list).
-- Each id's owner is looked up on its own (XPENDING of that one id), so any
-- number of ids, in any order, is told apart correctly.
--
-- KEYS[1]   input stream of the stage
-- ARGV[1]   consumer group
-- ARGV[2]   consumer name
-- ARGV[3..] the ids
-- returns   {ids whose lease was renewed, ids now pending for another consumer}

-- unpack() must be the last argument of a call to expand fully, so the XCLAIM
-- arguments are collected in one table.
local claim = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0}
local taken = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local entry = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)[1]
  if entry then
    if entry[2] == ARGV[2] then
      claim[#claim + 1] = id
    else
      taken[#taken + 1] = id
    end
  end
end
if #claim == 5 then return {{}, taken} end
claim[#claim + 1] = 'JUSTID'
return {redis.call(unpack(claim)), taken}
