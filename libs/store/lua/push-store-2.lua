--[[
  Stores one accepted push: its message hash (which is also its delivery report) and its entry in
  the namespace history, and returns the new message id.

  Input:
    KEYS[1] message id counter of the namespace       ({nsp}:seq)
    KEYS[2] history list of the namespace             ({nsp}:hist)

    ARGV[1] prefix of message hash keys, same tag      ({nsp}:m:)
    ARGV[2] time to live of the message, seconds
    ARGV[3] history length kept
    ARGV[4] prefix of the push counters, same tag      ({nsp}:stat:)
    ARGV[5] current minute, hour and day (UTC), e.g. 202611220207, 2026112202, 20261122:
    ARGV[6]   counters m:<minute> (TTL 1 h), h:<hour> (TTL 1 day), d:<day> (TTL 100 days)
    ARGV[7]
    ARGV[8..] field, value pairs of the message hash (the id field is added here)

  Output:
    the message id (integer > 0)

  Effects:
    INCR the counter; HSET the message hash with `id` and the given fields; EXPIRE it;
    LPUSH the id on the history list and trim it to ARGV[3] entries; INCR the three counters.
    All keys share the {nsp} hash tag, so the script runs on Redis Cluster.
]]
local id = redis.call('INCR', KEYS[1])
local key = ARGV[1] .. id
local fields = {'id', id}
for i = 8, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', key, unpack(fields))
redis.call('EXPIRE', key, tonumber(ARGV[2]))
redis.call('LPUSH', KEYS[2], id)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
local periods = {{'m:' .. ARGV[5], 3600}, {'h:' .. ARGV[6], 86400}, {'d:' .. ARGV[7], 8640000}}
for _, period in ipairs(periods) do
  local counter = ARGV[4] .. period[1]
  if redis.call('INCR', counter) == 1 then
    redis.call('EXPIRE', counter, period[2])
  end
end
return id
