--[[
  Records that a client went offline in a room (disconnect): it stays a member for offline delivery.

  Input:
    KEYS[1] online clients of the room                ({nsp|room}:on)
    KEYS[2] online clients of the room, its platform  ({nsp|room}:on:<platform>)
    KEYS[3] online clients per userid in the room     ({nsp|room}:on-users)
    ARGV[1] clientId
    ARGV[2] userid

  Output:
    1 when the client was online in the room, else 0

  Effects:
    SREM the clientId from both sets; when it was online, lower its user's count (HDEL at 0).
    Same hash tag.
]]
redis.call('SREM', KEYS[2], ARGV[1])
local removed = redis.call('SREM', KEYS[1], ARGV[1])
if removed == 1 then
  if redis.call('HINCRBY', KEYS[3], ARGV[2], -1) <= 0 then
    redis.call('HDEL', KEYS[3], ARGV[2])
  end
end
return removed
