-- Shared by every script that moves a batch's documents (included, not loaded alone).
--
-- A batch follows one copy of each document: the one its state in the batch
-- document-state hash says is at a stage ('queued:<stage>', 'retrying:<stage>' or
-- 'waiting:<stage>'). Only a handoff, retry or dead letter of a document at that
-- stage moves its state and the batch's counters. Any other copy (a duplicate: a
-- consumer group recreated, history re-injected) is still acknowledged and
-- forwarded, but counts nothing, so 'done' and 'failed' change only on a state
-- transition and count each document once. A document with no state (its batch
-- was deleted or has expired) counts in no batch.

-- at_stage(stage): the set of states that place a document at ``stage``.
local function at_stage(stage)
  return {['queued:' .. stage] = true, ['retrying:' .. stage] = true,
    ['waiting:' .. stage] = true}
end

-- complete_if_finished(batch_key, events_key, open_key, batch_id, now):
--   emits one batch_completed event when done + failed reached the sealed total.
--   HSETNX on completed_at makes the emission happen exactly once; watchers also
--   get "<batch>\t\tcompleted\t<total>" on events_key .. ':progress'.
local function complete_if_finished(batch_key, events_key, open_key, batch_id, now)
  local h = redis.call('HMGET', batch_key, 'total', 'done', 'failed')
  local total = tonumber(h[1])
  if not total then return 0 end
  local done = tonumber(h[2]) or 0
  local failed = tonumber(h[3]) or 0
  if done + failed < total then return 0 end
  if redis.call('HSETNX', batch_key, 'completed_at', now) == 0 then return 0 end
  redis.call('XADD', events_key, '*', 'type', 'batch_completed', 'batch', batch_id,
    'total', tostring(total), 'done', tostring(done), 'failed', tostring(failed), 'at', now)
  redis.call('ZREM', open_key, batch_id)
  redis.call('PUBLISH', events_key .. ':progress', batch_id .. '\t\tcompleted\t' .. total)
  return 1
end
