--[[
  Tokens and the authentication rate limit of a roomsync namespace (seed 000 kept tokens in
  MongoDB and the limit in a Redis hash).

  Input:
    KEYS[1] create / refresh: the token hash ({nsp}:rs:tokens) uid -> sha256 of the token
            limit: the uid's counter        ({nsp}:rs:auth:<uid>)
    ARGV[1] action: create | refresh | limit
    ARGV[2] create / refresh: uid; limit: window (ms)
    ARGV[3] create / refresh: the token digest; limit: most authentications per window

  Output:
    create: 1 stored, 0 the uid exists; refresh: 1 replaced, 0 no such uid;
    limit: 1 allowed, 0 over the limit

  Effects:
    create: HSETNX. refresh: HSET when the field exists. limit: INCR, PEXPIRE when the window
    starts (the seed's fixed window from the first authentication).
]]
local action = ARGV[1]
if action == 'create' then
  return redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3])
end
if action == 'refresh' then
  if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return 0 end
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  return 1
end
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2])) end
if count > tonumber(ARGV[3]) then return 0 end
return 1
