-- claim: take over entries idle past the visibility timeout, without counting a delivery.
-- XAUTOCLAIM with JUSTID moves ownership to this consumer but leaves each entry's
-- delivery count alone; the count is returned so the caller can decide per
-- entry (run it, quarantine it, or dead-letter it) and count a delivery only
-- when it really hands the entry to a handler (XCLAIM without JUSTID).
--
-- An entry deleted from the stream while it was pending (XDEL, or a trim by
-- someone else) has no content left to run. Redis 7 drops such entries from the
-- pending list inside XAUTOCLAIM and names them; Redis 6.2 claims them like any
-- other. Either way each one is acknowledged here and written to the stage's
-- dead-letter stream in this same call, so it is neither lost silently nor
-- claimed again and again.
--
-- KEYS[1]   input stream of the stage
-- KEYS[2]   dead-letter stream of the stage
-- ARGV[1]   consumer group
-- ARGV[2]   consumer name (the new owner)
-- ARGV[3]   minimum idle time, milliseconds
-- ARGV[4]   cursor (start id; '0-0' to begin)
-- ARGV[5]   the most entries to claim
-- ARGV[6]   stage name
-- ARGV[7]   now, epoch milliseconds
-- returns   {next cursor, {{id, deliveries so far}, ...}, {deleted ids}}

local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4],
  'COUNT', ARGV[5], 'JUSTID')
local claimed, deleted = {}, {}
for i = 1, #(r[3] or {}) do deleted[#deleted + 1] = r[3][i] end
for i = 1, #r[2] do
  local id = r[2][i]
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if p[1] then
    if redis.call('XRANGE', KEYS[1], id, id)[1] then
      claimed[#claimed + 1] = {id, p[1][4]}
    else
      redis.call('XACK', KEYS[1], ARGV[1], id)
      deleted[#deleted + 1] = id
    end
  end
end
for i = 1, #deleted do
  redis.call('XADD', KEYS[2], '*',
    'stage', ARGV[6], 'message_id', deleted[i], 'doc', '', 'batch', '',
    'error_class', 'EntryDeleted',
    'error', 'entry ' .. deleted[i] .. ' was deleted from ' .. KEYS[1] ..
      ' while it was pending (XDEL or a trim outside streamproc); its content is gone. ' ..
      'Documents it carried stay queued at this stage: find them with `streamproc status ' ..
      'BATCH` and run them again with `streamproc reprocess DOC --from-stage ' .. ARGV[6] .. '`',
    'traceback', '', 'reason', 'deleted while pending', 'attempt', '', 'deliveries', '',
    'group', ARGV[1], 'consumer', ARGV[2], 'failed_at', ARGV[7], 'message', '{}')
end
return {r[1], claimed, deleted}
