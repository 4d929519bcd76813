-- seal: a submitter has queued everything it will; fix the batch's total once no
-- submitter is still queuing.
-- Removes the submitter's documents (those it queued and those it found already in
-- the batch) from the batch's unsealed set. While documents remain there (another
-- submitter is still queuing, or stopped before sealing: running its submit again
-- seals them), the total stays unset and the batch cannot complete. Once none remain,
-- total = submitted, and the batch completes at once if its documents already
-- finished (they may finish before the submitter seals).
--
-- KEYS[1]   batch hash
-- KEYS[2]   batch document-state hash
-- KEYS[3]   events stream
-- KEYS[4]   sorted set of open batches
-- KEYS[5]   sorted set of completed batches
-- KEYS[6]   set of the batch's unsealed documents
-- ARGV[1]   batch id
-- ARGV[2]   now, epoch milliseconds
-- ARGV[3]   how long the batch's keys are kept once it completes, milliseconds
-- ARGV[4..] the submitter's document ids
-- returns   {documents submitted so far, documents still unsealed (other submitters'),
--            completed-by-this-call (1 or 0)}

--!include batch.lua

if #ARGV >= 4 then redis.call('SREM', KEYS[6], unpack(ARGV, 4)) end
local submitted = tonumber(redis.call('HGET', KEYS[1], 'submitted')) or 0
redis.call('HSETNX', KEYS[1], 'created_at', ARGV[2])
redis.call('HSET', KEYS[1], 'retention_ms', ARGV[3])
local unsealed = redis.call('SCARD', KEYS[6])
if unsealed > 0 then return {submitted, unsealed, 0} end
redis.call('HSET', KEYS[1], 'total', submitted)
if redis.call('HEXISTS', KEYS[1], 'completed_at') == 0 then
  -- an empty batch is listed as open until complete_if_finished, just below, completes it
  redis.call('ZADD', KEYS[4], 'NX', redis.call('HGET', KEYS[1], 'created_at'), ARGV[1])
end
return {submitted, 0,
  complete_if_finished(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2])}
