-- handoff: finish many messages of one stage in one call.
-- For each message: XACK it; only if XACK removed it (returned 1) forward it to
-- the next stage's stream (or, on the last stage, count its document done).
-- Then, once per batch: record the documents' states, add to the batch's
-- counters and, on the last stage, emit batch_completed if that finished it.
-- A message two consumers both finished is therefore forwarded exactly once.
-- One progress message per batch is published on KEYS[3] .. ':progress'
-- ("<batch>\t<stage>\tpassed\t<n>"), so watchers need not poll.
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
-- then      number of messages N, followed by N records, each one string
--           "<message id>\31<batch slot, 0 = none>\31<F>\31<document id>" followed by
--           F field/value strings (packing the record saves the client encoding four
--           arguments per message; the document id is last, so it may contain anything)
-- returns   array of N integers: 1 forwarded/completed, 0 already acknowledged elsewhere

--!include batch.lua

local group, stage, nxt, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local last = (nxt == '')
local nb = tonumber(ARGV[5])
local pos = 6 + nb
local n = tonumber(ARGV[pos]); pos = pos + 1
local result = {}
local state = last and 'done' or ('queued:' .. nxt)
local passed = {}
local states = {}
for slot = 1, nb do passed[slot] = 0; states[slot] = {'HSET', KEYS[4 + 2 * slot]} end

for m = 1, n do
  local id, slot, nf, doc = string.match(ARGV[pos], '^([^\31]*)\31(%d+)\31(%d+)\31(.*)$')
  slot, nf = tonumber(slot), tonumber(nf)
  local first = pos + 1
  pos = first + nf
  local acked = redis.call('XACK', KEYS[1], group, id)
  result[m] = acked
  if acked == 1 then
    if not last then
      redis.call('XADD', KEYS[2], '*', unpack(ARGV, first, pos - 1))
    end
    if slot > 0 then
      passed[slot] = passed[slot] + 1
      local cmd = states[slot]
      cmd[#cmd + 1] = doc
      cmd[#cmd + 1] = state
    end
  end
end

for slot = 1, nb do
  if passed[slot] > 0 then
    local bkey = KEYS[3 + 2 * slot]
    redis.call(unpack(states[slot]))
    redis.call('HINCRBY', bkey, 'passed:' .. stage, passed[slot])
    redis.call('PUBLISH', KEYS[3] .. ':progress',
      ARGV[5 + slot] .. '\t' .. stage .. '\tpassed\t' .. passed[slot])
    if last then
      redis.call('HINCRBY', bkey, 'done', passed[slot])
      complete_if_finished(bkey, KEYS[3], KEYS[4], ARGV[5 + slot], now)
    end
  end
end
return result
