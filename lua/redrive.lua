-- redrive: send one dead letter back into its stage, once.
-- XDEL the dead-letter entry; only if that removed it, XADD the original message
-- (attempt 0, marked replayed) to the stage's stream. The deletion is the
-- idempotency record: a second redrive of the same entry finds nothing and does
-- nothing. If the document's state in its batch is still 'failed:<stage>', the
-- batch takes it back: failed and failed:<stage> go down by one, redriven:<stage>
-- up by one, the state becomes 'queued:<stage>', and a completed batch is
-- reopened (completed_at removed, its keys' expiry removed, back in the open set:
-- lib/batch.lua), so the call that later finishes the document completes the batch
-- again, once. Otherwise (no batch,
-- or the batch no longer counts the document as failed here) the message is
-- re-injected outside any batch so no counter is touched twice.
--
-- KEYS[1]   dead-letter stream of the stage
-- KEYS[2]   input stream of the stage
-- KEYS[3]   batch hash (may be unused: see ARGV[2])
-- KEYS[4]   batch document-state hash
-- KEYS[5]   sorted set of open batches
-- KEYS[6]   sorted set of completed batches
-- ARGV[1]   dead-letter entry id
-- ARGV[2]   batch id, or '' when the message belongs to no batch
-- ARGV[3]   document id
-- ARGV[4]   stage name
-- ARGV[5]   now, epoch milliseconds
-- ARGV[6..] field/value strings of the message, without the batch field 'b'
-- returns   0 nothing done (entry gone: redriven or purged already),
--           1 redriven and counted back into its batch, 2 redriven outside any batch

--!include batch.lua

if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
local batch, doc, stage = ARGV[2], ARGV[3], ARGV[4]
local counted = batch ~= '' and redis.call('HGET', KEYS[4], doc) == 'failed:' .. stage
local fields = {unpack(ARGV, 6)}
fields[#fields + 1] = 'b'
fields[#fields + 1] = counted and batch or ''
redis.call('XADD', KEYS[2], '*', unpack(fields))
if not counted then return 2 end
redis.call('HSET', KEYS[4], doc, 'queued:' .. stage)
redis.call('HINCRBY', KEYS[3], 'failed', -1)
redis.call('HINCRBY', KEYS[3], 'failed:' .. stage, -1)
redis.call('HINCRBY', KEYS[3], 'redriven:' .. stage, 1)
reopen(KEYS[3], KEYS[4], KEYS[5], KEYS[6], batch, ARGV[5])
return 1
