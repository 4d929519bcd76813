-- handoff: finish many messages of one stage in one call.
-- For each message: XACK it; only if XACK removed it (returned 1) forward it to
-- the next stage's stream (or, on the last stage, count its document done),
-- record the document's state and count it in its batch. A message two
-- consumers both finished is therefore forwarded exactly once.
--
-- KEYS[1]   input stream of the stage
-- KEYS[2]   output stream (the next stage's input; unused on the last stage)
-- KEYS[3]   events stream (batch_completed events)
-- KEYS[4]   sorted set of open batches
-- KEYS[4+2i-1], KEYS[4+2i]   batch hash and batch document-state hash of batch slot i
-- ARGV[1]   consumer group
-- ARGV[2]   stage name
-- ARGV[3]   next stage name, or '' on the last stage
-- ARGV[4]   now, epoch milliseconds
-- ARGV[5]   number of batch slots B, followed by B batch ids
-- then      number of messages N, followed by N records:
--           message id, batch slot (0 = none), document id, F, then F field/value strings
-- returns   array of N integers: 1 forwarded/completed, 0 already acknowledged elsewhere

--!include batch.lua

local group, stage, nxt, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local last = (nxt == '')
local nb = tonumber(ARGV[5])
local batch_ids = {}
for i = 1, nb do batch_ids[i] = ARGV[5 + i] end
local pos = 6 + nb
local n = tonumber(ARGV[pos]); pos = pos + 1
local result = {}
local passed_field = 'passed:' .. stage
local state = last and 'done' or ('queued:' .. nxt)

for m = 1, n do
  local id, slot, doc, nf = ARGV[pos], tonumber(ARGV[pos + 1]), ARGV[pos + 2], tonumber(ARGV[pos + 3])
  local first = pos + 4
  pos = first + nf
  local acked = redis.call('XACK', KEYS[1], group, id)
  result[m] = acked
  if acked == 1 then
    if not last then
      redis.call('XADD', KEYS[2], '*', unpack(ARGV, first, pos - 1))
    end
    if slot > 0 then
      local bkey, dkey = KEYS[3 + 2 * slot], KEYS[4 + 2 * slot]
      redis.call('HSET', dkey, doc, state)
      redis.call('HINCRBY', bkey, passed_field, 1)
      if last then
        redis.call('HINCRBY', bkey, 'done', 1)
        complete_if_finished(bkey, KEYS[3], KEYS[4], batch_ids[slot], now)
      end
    end
  end
end
return result
