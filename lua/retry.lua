-- retry: take one message off a stage and schedule it again later.
-- XACK the message; only if that removed it, add the re-encoded message to the
-- stage's delayed sorted set (scored by when it is due) and, if the batch has the
-- document at this stage (see lib/batch.lua), record its state and count the retry
-- in its batch; a duplicate copy's retry changes neither, so it cannot move a
-- finished document back. The backoff and jitter are computed by
-- the caller; whether attempts are exhausted is decided by the caller too (it
-- calls dead_letter instead). The due time is the server's clock (TIME) plus the
-- delay, so workers on hosts with skewed clocks share one timeline.
--
-- KEYS[1]   input stream of the stage
-- KEYS[2]   delayed sorted set of the stage
-- KEYS[3]   batch hash (may be unused: see ARGV[5])
-- KEYS[4]   batch document-state hash
-- ARGV[1]   consumer group
-- ARGV[2]   message id
-- ARGV[3]   delay, milliseconds (the score is now + delay)
-- ARGV[4]   member: JSON array of the field/value strings to XADD when due
-- ARGV[5]   batch id, or '' when the message belongs to no batch
-- ARGV[6]   document id
-- ARGV[7]   counter field to increment in the batch hash (e.g. 'retried:ocr')
-- ARGV[8]   document state to record (e.g. 'retrying:ocr')
-- ARGV[9]   stage name
-- ARGV[10]  now, epoch milliseconds, or '' for the server's TIME
-- returns   1 scheduled, 0 already acknowledged elsewhere (nothing scheduled)

--!include batch.lua

if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local now = tonumber(ARGV[10])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[4])
if ARGV[5] ~= '' and at_stage(ARGV[9])[redis.call('HGET', KEYS[4], ARGV[6])] then
  redis.call('HINCRBY', KEYS[3], ARGV[7], 1)
  redis.call('HSET', KEYS[4], ARGV[6], ARGV[8])
end
return 1
