--[[
  Creates or updates a namespace's settings hash, merging APNs configurations by name in the same
  step, so that two saves at once cannot lose each other's APNs changes (seed 002 route 13:
  "apns_list merged by name with del").

  Input:
    KEYS[1] the namespace's settings hash             (ns:<nsp>)
    ARGV[1] JSON array of APNs changes, applied in order, or '' to leave apns_list alone; each
            change is an object with `name`, optional `del` and the fields to set
    ARGV[2] most APNs configurations the merged list may hold
    ARGV[3] most bytes the merged list may take, JSON-encoded
    ARGV[4] JSON object of protocol settings changes, merged into the stored `protocol_settings`
            object (a null value removes the field), or '' to leave them alone
    ARGV[5] '1' to drop the stored protocol settings first (the protocol changes), else '0'
    ARGV[6..] field, value pairs to HSET

  Output:
    1 when the hash did not exist before (a new namespace), 0 when it was updated,
    -1 when the merged list would hold more than ARGV[2] items, -2 when it would take more than
    ARGV[3] bytes (nothing is written in both cases)

  Effects:
    merge: `del: true` removes the configuration of that name; an unknown name is appended; a known
    name gets each given field set, the others kept. `del` itself is never stored. A stored list
    that is not valid JSON counts as empty.
    HSET the pairs, `apns_list` (JSON, `[]` when empty) and `protocol_settings` (JSON object);
    HSETNX offline 'off'. A stored `protocol_settings` that is not a JSON object counts as empty.
    A single key, so the script runs on Redis Cluster.
]]
local created = redis.call('EXISTS', KEYS[1]) == 0 and 1 or 0
local fields = {}
for i = 6, #ARGV do
  fields[#fields + 1] = ARGV[i]
end

if ARGV[1] ~= '' then
  local list = {}
  local stored = redis.call('HGET', KEYS[1], 'apns_list')
  if stored then
    local ok, decoded = pcall(cjson.decode, stored)
    if ok and type(decoded) == 'table' then
      for _, item in ipairs(decoded) do
        if type(item) == 'table' and type(item.name) == 'string' then
          list[#list + 1] = item
        end
      end
    end
  end
  for _, change in ipairs(cjson.decode(ARGV[1])) do
    local found = nil
    for i, item in ipairs(list) do
      if item.name == change.name then
        found = i
        break
      end
    end
    if change.del == true then
      if found then
        table.remove(list, found)
      end
    else
      if not found then
        list[#list + 1] = { name = change.name }
        found = #list
      end
      for field, value in pairs(change) do
        if field ~= 'del' then
          list[found][field] = value
        end
      end
    end
  end
  if #list > tonumber(ARGV[2]) then
    return -1
  end
  -- cjson encodes an empty table as an object.
  local encoded = '[]'
  if #list > 0 then
    encoded = cjson.encode(list)
  end
  if #encoded > tonumber(ARGV[3]) then
    return -2
  end
  fields[#fields + 1] = 'apns_list'
  fields[#fields + 1] = encoded
end

if ARGV[4] ~= '' or ARGV[5] == '1' then
  local settings = {}
  local stored = ARGV[5] ~= '1' and redis.call('HGET', KEYS[1], 'protocol_settings')
  if stored then
    local ok, decoded = pcall(cjson.decode, stored)
    if ok and type(decoded) == 'table' then
      settings = decoded
    end
  end
  if ARGV[4] ~= '' then
    for field, value in pairs(cjson.decode(ARGV[4])) do
      if value == cjson.null then
        settings[field] = nil
      else
        settings[field] = value
      end
    end
  end
  -- An empty table would encode as `{}` too, but say it plainly.
  local encoded = '{}'
  if next(settings) ~= nil then
    encoded = cjson.encode(settings)
  end
  fields[#fields + 1] = 'protocol_settings'
  fields[#fields + 1] = encoded
end

if #fields > 0 then
  redis.call('HSET', KEYS[1], unpack(fields))
end
redis.call('HSETNX', KEYS[1], 'offline', 'off')
return created
