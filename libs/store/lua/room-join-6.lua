--[[
  Records that a client joined a room: online now, and a member for offline delivery.

  Input:
    KEYS[1] online clients of the room                ({nsp|room}:on)
    KEYS[2] online clients of the room, its platform  ({nsp|room}:on:<platform>)
    KEYS[3] members of the room                       ({nsp|room}:all)
    KEYS[4] members of the room, its platform         ({nsp|room}:all:<platform>)
    KEYS[5] online clients per userid in the room     ({nsp|room}:on-users)
    KEYS[6] connection of each online client          ({nsp|room}:on-sid)
    ARGV[1] clientId
    ARGV[2] userid
    ARGV[3] the connection (socket id) that joins

  Output:
    1 when the client was not online in the room before, else 0

  Effects:
    SADD the clientId to the four sets; when it became online, HINCRBY its user's count;
    HSET clientId → connection, so that only this connection's clean-up takes it offline again
    (room-offline-4.lua). Same hash tag.
]]
local added = redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[6], ARGV[1], ARGV[3])
if added == 1 then
  redis.call('HINCRBY', KEYS[5], ARGV[2], 1)
end
return added
