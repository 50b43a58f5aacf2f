--[[
  Records that a client's connection went away (disconnect, reaper): the client is offline in the
  room but stays a member for offline delivery — unless a newer connection of the same client has
  joined the room since (a reconnect, possibly on another connector, before the old socket's
  clean-up ran): then that connection owns the presence and nothing changes.

  Input:
    KEYS[1] online clients of the room                ({nsp|room}:on)
    KEYS[2] online clients of the room, its platform  ({nsp|room}:on:<platform>)
    KEYS[3] online clients per userid in the room     ({nsp|room}:on-users)
    KEYS[4] connection of each online client          ({nsp|room}:on-sid)
    ARGV[1] clientId
    ARGV[2] userid
    ARGV[3] the connection (socket id) that ended

  Output:
    1 when the client was online in the room through this connection, else 0

  Effects:
    when the recorded connection is ARGV[3] (or none is recorded: presence written before
    connections were recorded): HDEL it, SREM the clientId from both sets, and when it was online,
    lower its user's count (HDEL at 0). Same hash tag.
]]
local owner = redis.call('HGET', KEYS[4], ARGV[1])
if owner and owner ~= ARGV[3] then
  return 0
end
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
local removed = redis.call('SREM', KEYS[1], ARGV[1])
if removed == 1 then
  if redis.call('HINCRBY', KEYS[3], ARGV[2], -1) <= 0 then
    redis.call('HDEL', KEYS[3], ARGV[2])
  end
end
return removed
