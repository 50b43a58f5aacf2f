--[[
  Records that a client went offline in a room (disconnect): it stays a member for offline delivery.

  Input:
    KEYS[1] online clients of the room                ({nsp|room}:on)
    KEYS[2] online clients of the room, its platform  ({nsp|room}:on:<platform>)
    ARGV[1] clientId

  Output:
    1 when the client was online in the room, else 0

  Effects:
    SREM the clientId from both sets (same hash tag).
]]
redis.call('SREM', KEYS[2], ARGV[1])
return redis.call('SREM', KEYS[1], ARGV[1])
