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

-- Retention of a completed batch whose hash names none (one from before retention_ms).
local DEFAULT_RETENTION_MS = 604800000

-- complete_if_finished(batch_key, docs_key, events_key, open_key, completed_key, batch_id, now):
--   emits one batch_completed event when done + failed reached the sealed total.
--   HSETNX on completed_at makes the emission happen exactly once; watchers also
--   get "<batch>\t\tcompleted\t<total>" on events_key .. ':progress'. The batch
--   hash and document-state hash expire after the batch's retention_ms (set by its
--   submitters), in this same call, and the batch is listed in completed_key until
--   then (scored by that time; entries past it are dropped here).
local function complete_if_finished(batch_key, docs_key, events_key, open_key, completed_key,
    batch_id, now)
  local h = redis.call('HMGET', batch_key, 'total', 'done', 'failed', 'retention_ms')
  local total = tonumber(h[1])
  if not total then return 0 end
  local done = tonumber(h[2]) or 0
  local failed = tonumber(h[3]) or 0
  if done + failed < total then return 0 end
  if redis.call('HSETNX', batch_key, 'completed_at', now) == 0 then return 0 end
  redis.call('XADD', events_key, '*', 'type', 'batch_completed', 'batch', batch_id,
    'total', tostring(total), 'done', tostring(done), 'failed', tostring(failed), 'at', now)
  redis.call('ZREM', open_key, batch_id)
  local keep = tonumber(h[4]) or DEFAULT_RETENTION_MS
  redis.call('PEXPIRE', batch_key, keep)
  redis.call('PEXPIRE', docs_key, keep)
  redis.call('ZREMRANGEBYSCORE', completed_key, '-inf', '(' .. now)
  redis.call('ZADD', completed_key, tonumber(now) + keep, batch_id)
  redis.call('PUBLISH', events_key .. ':progress', batch_id .. '\t\tcompleted\t' .. total)
  return 1
end

-- reopen(batch_key, docs_key, open_key, completed_key, batch_id, now): a completed batch
--   takes documents back (a redrive, a new submit): completed_at goes, its keys no longer
--   expire, and it is open again (scored by its creation time), so the call that finishes
--   it next emits batch_completed once more. Returns 1 if it was completed, else 0.
local function reopen(batch_key, docs_key, open_key, completed_key, batch_id, now)
  if redis.call('HDEL', batch_key, 'completed_at') == 0 then return 0 end
  redis.call('PERSIST', batch_key)
  redis.call('PERSIST', docs_key)
  redis.call('ZREM', completed_key, batch_id)
  local created = redis.call('HGET', batch_key, 'created_at') or now
  redis.call('ZADD', open_key, 'NX', created, batch_id)
  return 1
end
