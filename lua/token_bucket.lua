-- token_bucket: a rate limit shared by every process, for requests AND tokens.
-- Two buckets live in one hash: 'r' (requests) and 't' (tokens), with 'ts',
-- the time of their last update. Each refills continuously at its per-minute
-- rate up to its capacity. In 'take' mode both amounts are taken or neither
-- is, so a caller never holds a request without its tokens. The clock is the
-- server's (TIME) unless the caller passes one, so hosts with skewed clocks
-- share one timeline; since Redis 5 scripts replicate their effects, so
-- writing after TIME is allowed (6.2 and 7 alike). A missing hash is a pair
-- of full buckets; the hash expires once both would be full again.
--
-- KEYS[1]   bucket hash
-- ARGV[1]   request capacity (the most requests granted at once)
-- ARGV[2]   requests per minute (refill rate, > 0)
-- ARGV[3]   token capacity
-- ARGV[4]   tokens per minute (refill rate, > 0)
-- ARGV[5]   requests to take (mode 'hold': request deficit to impose)
-- ARGV[6]   tokens to take, negative to give back (mode 'hold': token deficit)
-- ARGV[7]   mode: 'take'  take both amounts if both are available, else nothing;
--                 'force' take them regardless (may go below zero) or give back,
--                         for correcting an estimate after the fact;
--                 'hold'  lower each level to at most minus the amount, so every
--                         caller waits (the server asked the fleet to back off)
-- ARGV[8]   now, epoch milliseconds, or '' to use the server's TIME
-- returns   {1, 0} granted (or applied); {0, ms} not granted: retry after ms;
--           {-1, 0} never grantable: an amount exceeds its bucket's capacity

local req_cap, req_rate = tonumber(ARGV[1]), tonumber(ARGV[2]) / 60000
local tok_cap, tok_rate = tonumber(ARGV[3]), tonumber(ARGV[4]) / 60000
local want_req, want_tok, mode = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local now = tonumber(ARGV[8])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if mode == 'take' and (want_req > req_cap or want_tok > tok_cap) then return {-1, 0} end

local state = redis.call('HMGET', KEYS[1], 'r', 't', 'ts')
local last = tonumber(state[3]) or now
local elapsed = math.max(0, now - last)
local r = math.min(req_cap, (tonumber(state[1]) or req_cap) + elapsed * req_rate)
local t = math.min(tok_cap, (tonumber(state[2]) or tok_cap) + elapsed * tok_rate)

if mode == 'take' then
  if r < want_req or t < want_tok then
    local wait = math.max((want_req - r) / req_rate, (want_tok - t) / tok_rate, 1)
    return {0, math.ceil(wait)}
  end
  r, t = r - want_req, t - want_tok
elseif mode == 'force' then
  r, t = math.min(req_cap, r - want_req), math.min(tok_cap, t - want_tok)
elseif mode == 'hold' then
  r, t = math.min(r, -want_req), math.min(t, -want_tok)
else
  return redis.error_reply('token_bucket: unknown mode ' .. mode)
end

-- '%.17g' keeps every bit of the level; tostring would round to 14 digits
redis.call('HSET', KEYS[1], 'r', string.format('%.17g', r), 't', string.format('%.17g', t),
  'ts', string.format('%d', math.max(now, last)))
local refill = math.max((req_cap - r) / req_rate, (tok_cap - t) / tok_rate)
redis.call('PEXPIRE', KEYS[1], math.ceil(refill) + 1000)
return {1, 0}
