-- reap: forget a dead consumer of a group, only if it holds nothing.
-- Checks and deletes in one call: XGROUP DELCONSUMER drops whatever the consumer
-- still has pending, so a consumer that read an entry after someone looked at it
-- must not be deleted on that look.
--
-- KEYS[1]   the stream
-- ARGV[1]   consumer group
-- ARGV[2]   consumer name
-- ARGV[3]   minimum idle time, milliseconds
-- returns   1 deleted, 0 kept (it holds entries, was active lately, or is not there)

local consumers = redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
for _, c in ipairs(consumers) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['name'] == ARGV[2] then
    if tonumber(f['pending']) == 0 and tonumber(f['idle']) >= tonumber(ARGV[3]) then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
      return 1
    end
    return 0
  end
end
return 0
