-- Shared by every script that can finish a document (included, not loaded alone).
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
