--[[
  Webservice protocol (seed 001): a device of a user room connects. Records the user's rooms for
  the expansion of shared rooms (replacing the rooms of its previous connect: the seed's list never
  refreshed), marks the device connected by this socket, stops its queue's expiry, and returns
  the device's queue in stored order (the `_batch`).

  Every key is built from ARGV[1], the namespace's webservice base `<prefix>{<nsp>}:ws:`, and so
  shares the namespace's hash tag (one slot on Redis Cluster); KEYS[1] is that slot's id counter.

  Input:
    KEYS[1] <base>seq                      (routes the call to the namespace's slot)
    ARGV[1] base
    ARGV[2] user room
    ARGV[3] deviceId ('' allowed)
    ARGV[4] socket id of the connection
    ARGV[5] JSON array of the user's rooms, lower-cased

  Output:
    { {id, ...}, {payload, ...} }  the device's queue, oldest first

  Effects:
    <base>room:<room> sets: the user room removed from the rooms it left, added to the others;
    HSET <base>user:<user room> rooms; HSET <base>dev:<user room> <deviceId> '<sid>|0';
    PERSIST <base>q:<device>, <base>m:<device>.
]]
local base, user, device, sid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local rooms = cjson.decode(ARGV[5])
local userKey = base .. 'user:' .. user
local wanted = {}
for _, room in ipairs(rooms) do wanted[room] = true end
local previous = redis.call('HGET', userKey, 'rooms')
if previous then
  for _, room in ipairs(cjson.decode(previous)) do
    if not wanted[room] then redis.call('SREM', base .. 'room:' .. room, user) end
  end
end
for _, room in ipairs(rooms) do redis.call('SADD', base .. 'room:' .. room, user) end
redis.call('HSET', userKey, 'rooms', ARGV[5])
redis.call('HSET', base .. 'dev:' .. user, device, sid .. '|0')
local deviceKey = user .. '|' .. device
local q, m = base .. 'q:' .. deviceKey, base .. 'm:' .. deviceKey
redis.call('PERSIST', q)
redis.call('PERSIST', m)
local ids = redis.call('ZRANGE', q, 0, -1)
local payloads = {}
for i, id in ipairs(ids) do
  payloads[i] = redis.call('HGET', m, id) or 'null'
end
return { ids, payloads }
