-- drop_batch: delete a batch's keys, unless it is open with documents still in progress.
-- An open batch (no completed_at) whose submitted documents are not all done or failed
-- is refused unless forced: its documents would then run on, counted in no batch (the
-- scripts leave a document without a state alone). The counters are exact (each
-- document counts once: lib/batch.lua), so submitted - done - failed is what is left.
--
-- KEYS[1]   batch hash
-- KEYS[2]   batch document-state hash
-- KEYS[3]   set of the batch's unsealed documents
-- KEYS[4]   sorted set of open batches
-- KEYS[5]   sorted set of completed batches
-- ARGV[1]   batch id
-- ARGV[2]   '1' to delete even an open batch with documents in progress, else '0'
-- returns   {code, documents in progress}: code 0 no such batch (nothing done),
--           1 deleted, 2 refused: open with documents in progress (nothing done)

local h = redis.call('HMGET', KEYS[1], 'submitted', 'done', 'failed', 'completed_at')
local listed = redis.call('ZSCORE', KEYS[4], ARGV[1]) or redis.call('ZSCORE', KEYS[5], ARGV[1])
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3]) == 0 and not listed then return {0, 0} end
local left = (tonumber(h[1]) or 0) - (tonumber(h[2]) or 0) - (tonumber(h[3]) or 0)
if left < 0 then left = 0 end
if not h[4] and left > 0 and ARGV[2] ~= '1' then return {2, left} end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
return {1, left}
