-- enqueue: submit documents of one batch to the first stage, idempotently.
-- A document already recorded in the batch is not queued again, so a submit
-- that is retried after a failure adds nothing twice.
--
-- KEYS[1]   input stream of the first stage
-- KEYS[2]   batch hash
-- KEYS[3]   batch document-state hash
-- KEYS[4]   sorted set of open batches
-- ARGV[1]   batch id
-- ARGV[2]   now, epoch milliseconds
-- ARGV[3]   state to record for a queued document (e.g. 'queued:ocr')
-- ARGV[4]   number of documents N, followed by N records:
--           document id, F, then F field/value strings
-- returns   number of documents queued by this call

local queued = 0
local pos = 5
for d = 1, tonumber(ARGV[4]) do
  local doc, nf = ARGV[pos], tonumber(ARGV[pos + 1])
  local first = pos + 2
  pos = first + nf
  if redis.call('HSETNX', KEYS[3], doc, ARGV[3]) == 1 then
    redis.call('XADD', KEYS[1], '*', unpack(ARGV, first, pos - 1))
    queued = queued + 1
  end
end
if queued > 0 then
  redis.call('HINCRBY', KEYS[2], 'submitted', queued)
  redis.call('HSETNX', KEYS[2], 'created_at', ARGV[2])
  redis.call('ZADD', KEYS[4], 'NX', ARGV[2], ARGV[1])
end
return queued
