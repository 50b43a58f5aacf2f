--[[
  Who is online in a roomsync namespace and in which room, cluster-wide (seed 000's in-memory
  `onlineUsers` / `onlineRooms`, kept in Redis so that every connector and logic see them).

  Input:
    KEYS[1] online users of the namespace   ({nsp}:rs:users)  uid -> JSON {sid, uid, connector, room?}
    KEYS[2] the room's members              ({nsp}:rs:room:<room>) uid -> JSON {sid, uid, dummy}
    KEYS[3] rooms with members              ({nsp}:rs:rooms)  set of room names
    ARGV[1] action: online | join | leave | offline
    ARGV[2] uid (string form)
    ARGV[3] the connection (socket id)
    ARGV[4] online: the user JSON; join: the member JSON
    ARGV[5] the room (join, leave, offline; '' for none)
    ARGV[6] join: the user JSON with its room

  Output:
    online: the previous user JSON or false; join: the room's members as a flat [uid, JSON, ...]
    array; leave / offline: 1 when this connection's entries were removed, else 0

  Effects:
    online: HSET the user. join: HSET the member, SADD the room, HSET the user's room (if it is
    still this connection). leave: HDEL the member when it is this connection's, SREM the room when
    it is empty. offline: leave, then HDEL the user when it is this connection's. Entries of a
    newer connection of the same uid are never touched. One hash tag.
]]
local action = ARGV[1]
local uid = ARGV[2]
local sid = ARGV[3]

local function owned(key)
  local current = redis.call('HGET', key, uid)
  if not current then return false end
  return cjson.decode(current)['sid'] == sid
end

if action == 'online' then
  local previous = redis.call('HGET', KEYS[1], uid)
  redis.call('HSET', KEYS[1], uid, ARGV[4])
  return previous
end

if action == 'join' then
  redis.call('HSET', KEYS[2], uid, ARGV[4])
  redis.call('SADD', KEYS[3], ARGV[5])
  if owned(KEYS[1]) then redis.call('HSET', KEYS[1], uid, ARGV[6]) end
  return redis.call('HGETALL', KEYS[2])
end

local removed = 0
if ARGV[5] ~= '' and owned(KEYS[2]) then
  redis.call('HDEL', KEYS[2], uid)
  removed = 1
  if redis.call('HLEN', KEYS[2]) == 0 then redis.call('SREM', KEYS[3], ARGV[5]) end
end
if action == 'offline' and owned(KEYS[1]) then
  redis.call('HDEL', KEYS[1], uid)
  removed = 1
end
return removed
