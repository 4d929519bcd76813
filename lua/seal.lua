-- seal: fix a batch's total once everything has been submitted.
-- Sets total to the number submitted and completes the batch at once if its
-- documents already finished (they may finish before the submitter seals).
--
-- KEYS[1]   batch hash
-- KEYS[2]   events stream
-- KEYS[3]   sorted set of open batches
-- ARGV[1]   batch id
-- ARGV[2]   now, epoch milliseconds
-- returns   {total, completed-by-this-call (1 or 0)}

--!include batch.lua

local submitted = tonumber(redis.call('HGET', KEYS[1], 'submitted')) or 0
redis.call('HSET', KEYS[1], 'total', submitted)
redis.call('HSETNX', KEYS[1], 'created_at', ARGV[2])
if submitted == 0 then redis.call('ZADD', KEYS[3], 'NX', ARGV[2], ARGV[1]) end
return {submitted, complete_if_finished(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])}
