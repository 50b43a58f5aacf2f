--[[
  The connector registry's heartbeats and reaper claims, all timed by the Redis clock (no host's
  clock skew can make a beating connector look silent), each one atomic step.

  A beat's score is a whole millisecond. A reaper's claim is a lease: the score becomes the lease's
  end, in the future and on a half millisecond, so that no other reaper takes the connector
  meanwhile, a reaper that dies half-way lets the lease run out (the connector is silent, so
  claimable, again), and a connector that beats again — it was alive, its loop had stalled — both
  ends the claim and learns that it was claimed.

  Input:
    KEYS[1] the connector registry                    (connectors)
    ARGV[1] operation: beat, claim, renew or release
    beat:    ARGV[2] connector id; ARGV[3] '1' when it beat before, '' on its first beat
    claim:   ARGV[2] silence that makes a connector dead, ms; ARGV[3] lease, ms; ARGV[4] the
             claiming connector's id (never claims itself)
    renew:   ARGV[2] connector id; ARGV[3] the lease end held; ARGV[4] the new lease, ms
    release: ARGV[2] connector id; ARGV[3] the lease end held

  Output:
    beat:    { now (ms), 1 when it beat before and its entry is now gone or a claim, else 0 }
    claim:   { connector id, lease end } or nil when no connector is silent
    renew:   the new lease end, or 0 when the lease is not held any more
    release: 1, or 0 when the lease is not held any more
    Lease ends are strings ('%.1f'): a Lua number reply would lose the half.

  Effects:
    beat: ZADD id now. claim: ZADD id lease end. renew: ZADD id new lease end. release: ZREM id.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op = ARGV[1]

if op == 'beat' then
  local previous = redis.call('ZSCORE', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  local lost = 0
  if ARGV[3] ~= '' and (not previous or tonumber(previous) % 1 ~= 0) then
    lost = 1
  end
  return { now, lost }
end

if op == 'claim' then
  local silent = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]), 'LIMIT', 0, 2)
  for _, id in ipairs(silent) do
    if id ~= ARGV[4] then
      local lease = string.format('%.1f', now + tonumber(ARGV[3]) + 0.5)
      redis.call('ZADD', KEYS[1], lease, id)
      return { id, lease }
    end
  end
  return nil
end

local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not score or tonumber(score) ~= tonumber(ARGV[3]) then
  return 0
end
if op == 'release' then
  redis.call('ZREM', KEYS[1], ARGV[2])
  return 1
end
if op == 'renew' then
  local lease = string.format('%.1f', now + tonumber(ARGV[4]) + 0.5)
  redis.call('ZADD', KEYS[1], lease, ARGV[2])
  return lease
end
return redis.error_reply('unknown operation ' .. op)
