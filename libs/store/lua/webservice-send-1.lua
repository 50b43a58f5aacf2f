--[[
  Webservice protocol (seed 001), `POST /send` with a user room prefix: expands the rooms to user
  rooms (a shared room to the user rooms whose users are in it, case-insensitively, from every
  connector's connects), then stores the message, under one new id, in the queue of every device
  of those users. A device disconnected for longer than device_ttl is pruned instead (its queue
  dropped; the user forgotten with its last device), as the seed meant; device_ttl 0 never prunes.

  Input:
    KEYS[1] <base>seq                      the namespace's entry id counter
    ARGV[1] base
    ARGV[2] now, ms
    ARGV[3] device_ttl, seconds
    ARGV[4] user room prefix
    ARGV[5] public channel ('' for none)
    ARGV[6] payload: JSON `[event, ...args]`
    ARGV[7] pub/sub channel to announce the message on ('' : the caller publishes, e.g. on a cluster)
    ARGV[8] the announcement before its id and devices
    ARGV[9] the announcement after them
    ARGV[10..] rooms of the request

  Output:
    { id, '<user room>|<deviceId>', ... }   the devices the message was stored for

  Effects:
    PUBLISH ARGV[7] ARGV[8] .. '"id":<id>,"devices":[…]' .. ARGV[9] when a channel is given and
    some device got the message: announcements leave in the order of the ids, whichever logic
    process stored them (the devices' live order is their queue's order);
    INCR KEYS[1]; per device ZADD <base>q:<device> id id, HSET <base>m:<device> id payload (and
    PEXPIREAT when the device is disconnected); pruned devices: HDEL dev, DEL their queue; a user
    without devices left: DEL <base>user:<user room>, SREM from its rooms' sets.
]]
local base, now, ttl, prefix, public, payload = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
local users, seen = {}, {}
local function add(user)
  if not seen[user] then
    seen[user] = true
    users[#users + 1] = user
  end
end
for i = 10, #ARGV do
  local room = ARGV[i]
  if room == public or string.sub(room, 1, #prefix) == prefix then
    add(room)
  else
    local members = redis.call('SMEMBERS', base .. 'room:' .. string.lower(room))
    table.sort(members)
    for _, user in ipairs(members) do add(user) end
  end
end

local id = redis.call('INCR', KEYS[1])
local out = { id }
for _, user in ipairs(users) do
  local devKey = base .. 'dev:' .. user
  local devices = redis.call('HGETALL', devKey)
  for i = 1, #devices, 2 do
    local device, value = devices[i], devices[i + 1]
    local bar = string.find(value, '|', 1, true)
    local connected = bar ~= nil and bar > 1
    local at = tonumber(string.sub(value, (bar or 0) + 1)) or 0
    local deviceKey = user .. '|' .. device
    local q, m = base .. 'q:' .. deviceKey, base .. 'm:' .. deviceKey
    if ttl > 0 and not connected and now - at > ttl * 1000 then
      redis.call('HDEL', devKey, device)
      redis.call('DEL', q, m)
    else
      redis.call('ZADD', q, id, id)
      redis.call('HSET', m, id, payload)
      if ttl > 0 and not connected then
        redis.call('PEXPIREAT', q, at + ttl * 1000)
        redis.call('PEXPIREAT', m, at + ttl * 1000)
      end
      out[#out + 1] = deviceKey
    end
  end
  if #devices > 0 and redis.call('HLEN', devKey) == 0 then
    local userKey = base .. 'user:' .. user
    local rooms = redis.call('HGET', userKey, 'rooms')
    if rooms then
      for _, room in ipairs(cjson.decode(rooms)) do redis.call('SREM', base .. 'room:' .. room, user) end
    end
    redis.call('DEL', userKey)
  end
end
if ARGV[7] ~= '' and #out > 1 then
  local devices = {}
  for i = 2, #out do devices[#devices + 1] = out[i] end
  redis.call('PUBLISH', ARGV[7], ARGV[8] .. '"id":' .. string.format('%d', id) .. ',"devices":' .. cjson.encode(devices) .. ARGV[9])
end
return out
