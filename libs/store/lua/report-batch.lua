--[[
  Applies a connector's report batch of one namespace, grouped by message: online delivery counts
  and client acks, with their timeline entries. The packed form of report-apply's 'o', 'a' and 't'
  updates: one argument per ack instead of ten keys and arguments, and one counter update per
  message instead of one per ack. Updates for messages that no longer exist (expired or unknown
  ids) are ignored and never re-create a report. A batch is applied once: its mark is set with the
  batch, and the same batch sent again (the connector's retry after a failed write, or ioredis
  resending a command whose reply was lost) changes nothing — delivery counts and timeline
  entries included; each client's ack counts once anyway.

  Input (one key, then five keys per message i):
    KEYS[1]      the batch's mark          ({nsp}:rb:<connector>:<batch>)
    KEYS[5i-3] message hash                ({nsp}:m:<id>)
    KEYS[5i-2] ack set of web clients      ({nsp}:a:<id>:web)
    KEYS[5i-1] ack set of android clients  ({nsp}:a:<id>:android)
    KEYS[5i]   ack set of ios clients      ({nsp}:a:<id>:ios)
    KEYS[5i+1] timeline list               ({nsp}:t:<id>)

    ARGV[1] the most entries a timeline list may hold (0: write no entries)
    ARGV[2] the connector's id, named by its 'delivered' entries
    ARGV[3] how long the mark is kept, ms (a batch sent again later than that would count again)
    then, per message in KEYS' order:
      the number of deliveries d, the number of acks n,
      d deliveries '<at>:<sockets>' (this connector wrote the message to <sockets> sockets at <at>),
      n acks '<p><at>:<clientId>' (p: w web, a android, i ios; at: ms since the epoch; the clientId
      is everything after the first ':').

  Output:
    the number of updates that changed the report (deliveries, and acks of clients new to it);
    -1 when the batch was applied before (its mark exists): nothing changed

  Effects, per message that exists:
    HINCRBY onlineClientCount by the deliveries' sockets; SADD each ack's clientId to its
    platform's set (one at a time while the timeline has room for their entries, then the rest in
    one SADD per platform), and for the new ones HINCRBY ackCount, ackAndroidCount, ackIOSCount
    once each; the ack sets expire with the message. Timeline: an entry per delivery and per new
    ack, RPUSHed while the list is shorter than the cap, else counted in timelineDropped on the
    message (the counters stay exact either way); the list gets the message's TTL when this call
    creates it.
    All keys share the {nsp} hash tag.
]]
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[3]) then
  return -1
end
-- Counts reach redis.call as strings formatted with %d: a Lua number is turned into text with
-- %.14g (libc's float printing) wherever it is concatenated or passed (push-accept.lua says more).
local function int(number)
  return string.format('%d', number)
end
local cap = tonumber(ARGV[1])
local connector = cjson.encode(ARGV[2])
local PLATFORM = { w = 'web', a = 'android', i = 'ios' }
local SET = { w = 1, a = 2, i = 3 }
local applied = 0
local pos = 4
for m = 1, (#KEYS - 1) / 5 do
  local base = 1 + 5 * (m - 1)
  local msg = KEYS[base + 1]
  local deliveries = tonumber(ARGV[pos])
  local acks = tonumber(ARGV[pos + 1])
  local first = pos + 2
  pos = first + deliveries + acks
  local ttl = redis.call('PTTL', msg)
  if ttl ~= -2 then
    local timeline = KEYS[base + 5]
    -- Room left in the timeline, read once per message: entries past it are only counted.
    local len = 0
    local room = 0
    if cap > 0 then
      len = redis.call('LLEN', timeline)
      room = math.max(cap - len, 0)
    end
    local entries = {}
    local dropped = 0
    local sockets = 0
    for i = first, first + deliveries - 1 do
      local arg = ARGV[i]
      local sep = string.find(arg, ':', 1, true)
      local count = string.sub(arg, sep + 1)
      sockets = sockets + tonumber(count)
      applied = applied + 1
      if #entries < room then
        entries[#entries + 1] = '{"at":' .. string.sub(arg, 1, sep - 1) .. ',"step":"delivered","connector":' .. connector .. ',"sockets":' .. count .. '}'
      elseif cap > 0 then
        dropped = dropped + 1
      end
    end
    -- An ack is added alone while its entry (for a client new to the report) fits in the timeline;
    -- once it is full, the rest are added with one SADD per platform, whose reply counts the new.
    local added = { 0, 0, 0 }
    local rest = { {}, {}, {} }
    for i = first + deliveries, pos - 1 do
      local arg = ARGV[i]
      local sep = string.find(arg, ':', 1, true)
      local p = string.sub(arg, 1, 1)
      local set = SET[p]
      local clientId = string.sub(arg, sep + 1)
      if #entries < room then
        if redis.call('SADD', KEYS[base + 1 + set], clientId) == 1 then
          added[set] = added[set] + 1
          applied = applied + 1
          entries[#entries + 1] = '{"at":' .. string.sub(arg, 2, sep - 1) .. ',"step":"acked","clientId":' .. cjson.encode(clientId) .. ',"platform":"' .. PLATFORM[p] .. '"}'
        end
      else
        local list = rest[set]
        list[#list + 1] = clientId
      end
    end
    for s = 1, 3 do
      local list = rest[s]
      -- In slices: unpack() of thousands of values would overflow Lua's stack.
      local i = 1
      while i <= #list do
        local last = math.min(#list, i + 499)
        local new = redis.call('SADD', KEYS[base + 1 + s], unpack(list, i, last))
        added[s] = added[s] + new
        applied = applied + new
        if cap > 0 then
          dropped = dropped + new
        end
        i = last + 1
      end
    end
    if sockets > 0 then
      redis.call('HINCRBY', msg, 'onlineClientCount', int(sockets))
    end
    local total = added[1] + added[2] + added[3]
    if total > 0 then
      redis.call('HINCRBY', msg, 'ackCount', int(total))
      if added[2] > 0 then
        redis.call('HINCRBY', msg, 'ackAndroidCount', int(added[2]))
      end
      if added[3] > 0 then
        redis.call('HINCRBY', msg, 'ackIOSCount', int(added[3]))
      end
      if ttl > 0 then
        for s = 1, 3 do
          if added[s] > 0 then
            redis.call('PEXPIRE', KEYS[base + 1 + s], int(ttl))
          end
        end
      end
    end
    if #entries > 0 then
      -- RPUSH in slices, as above.
      local i = 1
      while i <= #entries do
        local last = math.min(#entries, i + 99)
        redis.call('RPUSH', timeline, unpack(entries, i, last))
        i = last + 1
      end
      if len == 0 and ttl > 0 then
        redis.call('PEXPIRE', timeline, int(ttl))
      end
    end
    if dropped > 0 then
      redis.call('HINCRBY', msg, 'timelineDropped', int(dropped))
    end
  end
end
return applied
