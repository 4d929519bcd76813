-- dead_letter: move one message to its stage's dead-letter stream.
-- XACK the message; only if that removed it, XADD the dead-letter entry and, if the
-- batch has the document at this stage (see lib/batch.lua), mark it failed, count
-- it failed in its batch (failed and failed:<stage>, once per document and run) and,
-- if that finishes the batch, emit batch_completed exactly once (and set its keys to
-- expire). A copy of a document
-- that already finished, failed or moved on is dead-lettered without touching its
-- batch. Publishes "<batch>\t<stage>\tfailed\t1" on KEYS[3] .. ':progress' for
-- watchers.
--
-- KEYS[1]   input stream of the stage
-- KEYS[2]   dead-letter stream of the stage
-- KEYS[3]   events stream
-- KEYS[4]   sorted set of open batches
-- KEYS[5]   batch hash (may be unused: see ARGV[3])
-- KEYS[6]   batch document-state hash
-- KEYS[7]   sorted set of completed batches
-- ARGV[1]   consumer group
-- ARGV[2]   message id
-- ARGV[3]   batch id, or '' when the message belongs to no batch
-- ARGV[4]   document id
-- ARGV[5]   stage name
-- ARGV[6]   now, epoch milliseconds
-- ARGV[7..] field/value strings of the dead-letter entry
-- returns   1 dead-lettered, 0 already acknowledged elsewhere (nothing written)

--!include batch.lua

if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 7))
if ARGV[3] ~= '' and at_stage(ARGV[5])[redis.call('HGET', KEYS[6], ARGV[4])] then
  redis.call('HSET', KEYS[6], ARGV[4], 'failed:' .. ARGV[5])
  redis.call('HINCRBY', KEYS[5], 'failed:' .. ARGV[5], 1)
  redis.call('HINCRBY', KEYS[5], 'failed', 1)
  redis.call('PUBLISH', KEYS[3] .. ':progress', ARGV[3] .. '\t' .. ARGV[5] .. '\tfailed\t1')
  complete_if_finished(KEYS[5], KEYS[6], KEYS[3], KEYS[4], KEYS[7], ARGV[3], ARGV[6])
end
return 1
