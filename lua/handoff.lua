-- handoff: finish many messages of one stage in one call.
-- For each message: XACK it; only if XACK removed it (returned 1) forward it to
-- the next stage's stream. A message two consumers both finished is therefore
-- forwarded exactly once.
-- Then, once per batch slot, one HMGET reads the states of the documents acknowledged
-- here, and only those the batch has at this stage (see lib/batch.lua) move on: their
-- state becomes 'queued:<next>' (or 'done' on the last stage) and they are counted in
-- passed:<stage> (and done), so passed:<stage> is the number of the batch's documents
-- that left this stage in their current run (at most once each; a redrive starts a
-- new run) and done counts each document once. On the last stage, batch_completed is
-- emitted if that finished the batch (and its keys set to expire). One progress message per batch that moved is
-- published on KEYS[3] .. ':progress' ("<batch>\t<stage>\tpassed\t<n>"), so watchers
-- need not poll.
--
-- KEYS[1]   input stream of the stage
-- KEYS[2]   output stream (the next stage's input; unused on the last stage)
-- KEYS[3]   events stream (batch_completed events)
-- KEYS[4]   sorted set of open batches
-- KEYS[5]   sorted set of completed batches
-- KEYS[5+2i-1], KEYS[5+2i]   batch hash and batch document-state hash of batch slot i
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
local acked_docs = {}
for slot = 1, nb do acked_docs[slot] = {} end

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
      local docs = acked_docs[slot]
      docs[#docs + 1] = doc
    end
  end
end

-- The documents of one slot that the batch has at this stage, each once (two copies
-- of one document in this call: the first moves it, the second finds it moved).
local function moving(docs_key, docs, here, state)
  local before = redis.call('HMGET', docs_key, unpack(docs))
  local now_in, moved = {}, {}
  for i = 1, #docs do
    local doc = docs[i]
    local s = now_in[doc]
    if s == nil then s = before[i] end
    if here[s] then
      moved[#moved + 1] = doc
      moved[#moved + 1] = state
      s = state
    end
    now_in[doc] = s
  end
  return moved
end

local here = at_stage(stage)
local state = last and 'done' or ('queued:' .. nxt)
for slot = 1, nb do
  local docs = acked_docs[slot]
  if #docs > 0 then
    local bkey, dkey = KEYS[4 + 2 * slot], KEYS[5 + 2 * slot]
    local moved = moving(dkey, docs, here, state)
    local passed = #moved / 2
    if passed > 0 then
      redis.call('HSET', dkey, unpack(moved))
      redis.call('HINCRBY', bkey, 'passed:' .. stage, passed)
      redis.call('PUBLISH', KEYS[3] .. ':progress',
        ARGV[5 + slot] .. '\t' .. stage .. '\tpassed\t' .. passed)
      if last then
        redis.call('HINCRBY', bkey, 'done', passed)
        complete_if_finished(bkey, dkey, KEYS[3], KEYS[4], KEYS[5], ARGV[5 + slot], now)
      end
    end
  end
end
return result
