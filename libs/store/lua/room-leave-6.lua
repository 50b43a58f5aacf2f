--[[
  Records that a client left a room on purpose: it is neither online in the room nor a member any
  more, so offline delivery stops too (the seed kept leavers as members; that was a bug).

  Input:
    KEYS[1] online clients of the room                ({nsp|room}:on)
    KEYS[2] online clients of the room, its platform  ({nsp|room}:on:<platform>)
    KEYS[3] members of the room                       ({nsp|room}:all)
    KEYS[4] members of the room, its platform         ({nsp|room}:all:<platform>)
    KEYS[5] online clients per userid in the room     ({nsp|room}:on-users)
    KEYS[6] connection of each online client          ({nsp|room}:on-sid)
    ARGV[1] clientId
    ARGV[2] userid

  Output:
    1 when the client was a member before, else 0

  Effects:
    SREM the clientId from the four sets and HDEL its connection; when it was online, lower its
    user's count (HDEL at 0). Same hash tag.
]]
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  if redis.call('HINCRBY', KEYS[5], ARGV[2], -1) <= 0 then
    redis.call('HDEL', KEYS[5], ARGV[2])
  end
end
redis.call('HDEL', KEYS[6], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
return redis.call('SREM', KEYS[3], ARGV[1])
