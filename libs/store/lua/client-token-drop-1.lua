--[[
  Forgets a device token APNs refused, unless the client registered another one meanwhile — or,
  for a 410 Unregistered, registered this one again after the moment Apple gave.

  Input:
    KEYS[1] client hash                               (c:{cid})
    ARGV[1] the device token APNs refused
    ARGV[2] Apple's timestamp (ms) of a 410, or 0

  Output:
    1 when the token was removed, else 0

  Effects:
    HDEL device_token when it still equals ARGV[1] and (ARGV[2] is 0 or the record's update_date
    is older than ARGV[2]).
]]
if redis.call('HGET', KEYS[1], 'device_token') ~= ARGV[1] then
  return 0
end
local since = tonumber(ARGV[2])
if since > 0 then
  local updated = tonumber(redis.call('HGET', KEYS[1], 'update_date') or '0')
  if updated >= since then
    return 0
  end
end
redis.call('HDEL', KEYS[1], 'device_token')
return 1
