--[[
  Webservice protocol (seed 001): a device acknowledged one message (the ack callback of its emit).
  Without resync the entry is removed, wherever it is. With resync (seed store.remove with
  notFirstCallback) the entry must be the oldest of its event in the device's queue: then it is
  removed; otherwise the client missed one, and every entry of that event is dropped so the client
  resyncs. An entry no longer queued (acked twice, carried by an acked `_batch`) changes nothing.

  Input:
    KEYS[1] <base>seq                      (routes the call to the namespace's slot)
    ARGV[1] base
    ARGV[2] device key '<user room>|<deviceId>'
    ARGV[3] entry id
    ARGV[4] '1' with resync
    ARGV[5] the event of the entry

  Output:
    'ok' removed; 'gone' not queued (nothing changed); 'resync' the event's entries dropped

  Effects:
    ZREM <base>q:<device>, HDEL <base>m:<device> of the entry, or of every entry of the event.
]]
local q, m, id = ARGV[1] .. 'q:' .. ARGV[2], ARGV[1] .. 'm:' .. ARGV[2], ARGV[3]
if not redis.call('ZSCORE', q, id) then
  return 'gone'
end
if ARGV[4] ~= '1' then
  redis.call('ZREM', q, id)
  redis.call('HDEL', m, id)
  return 'ok'
end
local event = ARGV[5]
local same = {}
for _, entry in ipairs(redis.call('ZRANGE', q, 0, -1)) do
  local payload = redis.call('HGET', m, entry)
  local ok, decoded = pcall(cjson.decode, payload or 'null')
  if ok and type(decoded) == 'table' and decoded[1] == event then
    same[#same + 1] = entry
  end
end
if same[1] == id then
  redis.call('ZREM', q, id)
  redis.call('HDEL', m, id)
  return 'ok'
end
for _, entry in ipairs(same) do
  redis.call('ZREM', q, entry)
  redis.call('HDEL', m, entry)
end
return 'resync'
