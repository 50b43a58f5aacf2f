--[[
  Webservice protocol (seed 001): a device acknowledged a `_batch`. Removes exactly the entries the
  batch carried, not those stored after it was read (the seed cleared the whole device, a race).

  Input:
    KEYS[1] <base>seq                      (routes the call to the namespace's slot)
    ARGV[1] base
    ARGV[2] device key '<user room>|<deviceId>'
    ARGV[3..] entry ids the batch carried

  Output:
    the number of entries removed

  Effects:
    ZREM <base>q:<device>, HDEL <base>m:<device> of each id.
]]
local q, m = ARGV[1] .. 'q:' .. ARGV[2], ARGV[1] .. 'm:' .. ARGV[2]
local removed = 0
for i = 3, #ARGV do
  removed = removed + redis.call('ZREM', q, ARGV[i])
  redis.call('HDEL', m, ARGV[i])
end
return removed
