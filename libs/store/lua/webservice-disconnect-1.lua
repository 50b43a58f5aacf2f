--[[
  Webservice protocol (seed 001): a device's connection ended. Marks the device disconnected (with
  the time, for the pruning of devices past `device_ttl`) unless a newer connection of the device
  took over, and lets its queue expire with the device (never with `device_ttl` 0).

  Input:
    KEYS[1] <base>seq                      (routes the call to the namespace's slot)
    ARGV[1] base
    ARGV[2] user room
    ARGV[3] deviceId
    ARGV[4] socket id of the connection that ended
    ARGV[5] now, ms
    ARGV[6] device_ttl, seconds (0: never expires)

  Output:
    1 when the device was marked disconnected, else 0

  Effects:
    HSET <base>dev:<user room> <deviceId> '|<now>'; PEXPIREAT of the device's queue keys.
]]
local base, user, device, sid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
local devKey = base .. 'dev:' .. user
local value = redis.call('HGET', devKey, device)
if not value or string.sub(value, 1, #sid + 1) ~= sid .. '|' then
  return 0
end
redis.call('HSET', devKey, device, '|' .. ARGV[5])
if ttl > 0 then
  local deviceKey = user .. '|' .. device
  local at = now + ttl * 1000
  redis.call('PEXPIREAT', base .. 'q:' .. deviceKey, at)
  redis.call('PEXPIREAT', base .. 'm:' .. deviceKey, at)
end
return 1
