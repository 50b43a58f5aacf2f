--[[
  Keeps a namespace's presence indexes when one of its clients connects or disconnects.

  Input:
    KEYS[1] online clients of the namespace           ({nsp}:online)
    KEYS[2] online client count per userid            ({nsp}:online-users)
    KEYS[3] every client of the namespace, by last connect ({nsp}:clients)
    ARGV[1] clientId
    ARGV[2] userid
    ARGV[3] 'on' (connected) or 'off' (disconnected)
    ARGV[4] time, ms

  Output:
    1 when the online set changed, else 0

  Effects:
    on:  SADD online; when new, HINCRBY the user's count; ZADD clients with the time.
    off: SREM online; when removed, HINCRBY -1 and HDEL the user at 0.
    All keys share the {nsp} hash tag.
]]
if ARGV[3] == 'on' then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
  if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
    return 1
  end
  return 0
end
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  if redis.call('HINCRBY', KEYS[2], ARGV[2], -1) <= 0 then
    redis.call('HDEL', KEYS[2], ARGV[2])
  end
  return 1
end
return 0
