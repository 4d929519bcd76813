-- enqueue: submit documents of one batch to the first stage, idempotently.
-- A document already recorded in the batch is not queued again, so a submit
-- that is retried after a failure adds nothing twice. Each document queued here
-- is added to the batch's unsealed set until its submitter seals it (seal.lua),
-- and the batch's total is unset meanwhile, so the batch cannot complete while a
-- submitter is still adding documents. New documents in a completed batch reopen
-- it (lib/batch.lua): it completes once more when they finish.
--
-- KEYS[1]   input stream of the first stage
-- KEYS[2]   batch hash
-- KEYS[3]   batch document-state hash
-- KEYS[4]   sorted set of open batches
-- KEYS[5]   sorted set of completed batches
-- KEYS[6]   set of the batch's unsealed documents
-- ARGV[1]   batch id
-- ARGV[2]   now, epoch milliseconds
-- ARGV[3]   state to record for a queued document (e.g. 'queued:ocr')
-- ARGV[4]   how long the batch's keys are kept once it completes, milliseconds
-- ARGV[5]   number of documents N, followed by N records:
--           document id, F, then F field/value strings
-- returns   array of N integers: 1 queued by this call, 0 already in the batch

--!include batch.lua

local flags, queued = {}, 0
local pos = 6
for d = 1, tonumber(ARGV[5]) do
  local doc, nf = ARGV[pos], tonumber(ARGV[pos + 1])
  local first = pos + 2
  pos = first + nf
  flags[d] = redis.call('HSETNX', KEYS[3], doc, ARGV[3])
  if flags[d] == 1 then
    redis.call('XADD', KEYS[1], '*', unpack(ARGV, first, pos - 1))
    redis.call('SADD', KEYS[6], doc)
    queued = queued + 1
  end
end
if queued > 0 then
  redis.call('HINCRBY', KEYS[2], 'submitted', queued)
  redis.call('HSETNX', KEYS[2], 'created_at', ARGV[2])
  redis.call('HSET', KEYS[2], 'retention_ms', ARGV[4])
  redis.call('HDEL', KEYS[2], 'total')
  reopen(KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[4], 'NX', redis.call('HGET', KEYS[2], 'created_at'), ARGV[1])
end
return flags
