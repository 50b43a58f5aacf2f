--[[
  Puts a message in a client's inbox (offline delivery), keeping the newest entries only.

  Input:
    KEYS[1] the client's inbox                        (c:{cid}:inbox, zset id → id)
    ARGV[1] message id
    ARGV[2] time to live of the message, ms (the inbox lives at least as long)
    ARGV[3] inbox capacity (entries kept, newest first)

  Output:
    1 when the entry is new, else 0

  Effects:
    ZADD the id; trim the oldest entries beyond the capacity; raise the inbox TTL to the message's
    when it is shorter (an inbox never outlives its newest entry by much, nor dies before it).
]]
local added = redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
local ttl = redis.call('PTTL', KEYS[1])
if ttl >= 0 and ttl < tonumber(ARGV[2]) or ttl == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return added
