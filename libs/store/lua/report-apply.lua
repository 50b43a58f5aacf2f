--[[
  Applies a batch of report updates of one namespace: client acks and online delivery counts.
  Each ack is counted once per client; updates for messages that no longer exist (expired or
  unknown ids) are ignored and never re-create a report.

  Input (variable number of keys, two per update):
    KEYS[2i-1] message hash of update i              ({nsp}:m:<id>)
    KEYS[2i]   ack set of update i, for acks          ({nsp}:a:<id>:<platform>)
               (for an online count, the message hash again)

    ARGV[3i-2] kind of update i: 'a' (ack), 'o' (online deliveries), 'n' (add to a counter),
               's' (set a text field), 't' (append to the message's timeline), 'r' (a
               device's final APNs outcome)
    ARGV[3i-1] the acking clientId ('a'), the number of sockets written to ('o'), the amount
               to add ('n') or the text ('s')
    ARGV[3i]   the acking client's platform: web, android or ios ('a'); '' ('o'); the field
               name ('n', 's')
    For 't': KEYS[2i] is the timeline list ({nsp}:t:<id>), ARGV[3i-1] the entry (JSON text),
    ARGV[3i] the most entries the list may hold.
    For 'r': KEYS[2i] is the message's APNs outcome hash ({nsp}:apns:<id>), ARGV[3i-1] the
    clientId, ARGV[3i] the outcome text.

  Output:
    the number of updates that changed the report

  Effects:
    'a': SADD the clientId to the ack set; when it was new, HINCRBY ackCount and, for ios and
         android, ackIOSCount / ackAndroidCount; the ack set expires with the message.
    'o': HINCRBY onlineClientCount by the count.
    'n': HINCRBY the named field; 's': HSET the named field.
    't': RPUSH the entry while the list is shorter than the cap, else count it in
         timelineDropped on the message (the counters above stay exact either way); the list
         gets the message's TTL when its first entry creates it. A 't' right after an 'a' that
         changed nothing (a repeated ack) is skipped, so a client's ack shows once. A 't' does
         not count in the output.
    'r': HSETNX the device's outcome; the outcome hash expires with the message. The 'n', 's'
         and 't' updates after an 'r', up to the next 'r', 'a' or 'o', belong to that device:
         they are skipped when the device already had an outcome, so a device is counted once
         even when two runs of its batch record it, and its outcome is never written without
         its counters (one script call: a crash cannot fall between them).
    All keys share the {nsp} hash tag.
]]
local applied = 0
-- whether the previous update was an ack that counted nothing ('t' after it is skipped)
local repeatedAck = false
-- whether the updates being applied belong to a device whose outcome was already recorded
local repeatedDevice = false
-- The message's PTTL is read once per run of updates on one message (an ack and its timeline
-- entry, a flood of acks): no update creates, deletes or re-expires a message hash.
local lastMsg = nil
local ttl = -2
-- Timeline lengths seen in this call (a full list costs no command per entry), and the entries
-- over the cap per message.
local lengths = {}
local dropped = {}
for i = 1, #KEYS / 2 do
  local msg = KEYS[2 * i - 1]
  local kind = ARGV[3 * i - 2]
  if msg ~= lastMsg then
    ttl = redis.call('PTTL', msg)
    lastMsg = msg
  end
  if ttl ~= -2 then
    local wasRepeatedAck = repeatedAck
    repeatedAck = false
    if kind == 'a' or kind == 'o' or kind == 'r' then
      repeatedDevice = false
    end
    if repeatedDevice then
      -- a counter, text or timeline entry of a device recorded before: nothing to apply
    elseif kind == 'r' then
      local outcomes = KEYS[2 * i]
      if redis.call('HSETNX', outcomes, ARGV[3 * i - 1], ARGV[3 * i]) == 1 then
        if ttl > 0 then
          redis.call('PEXPIRE', outcomes, ttl)
        end
        applied = applied + 1
      else
        repeatedDevice = true
      end
    elseif kind == 'a' then
      local acks = KEYS[2 * i]
      repeatedAck = true
      if redis.call('SADD', acks, ARGV[3 * i - 1]) == 1 then
        repeatedAck = false
        redis.call('HINCRBY', msg, 'ackCount', 1)
        local platform = ARGV[3 * i]
        if platform == 'ios' then
          redis.call('HINCRBY', msg, 'ackIOSCount', 1)
        elseif platform == 'android' then
          redis.call('HINCRBY', msg, 'ackAndroidCount', 1)
        end
        if ttl > 0 then
          redis.call('PEXPIRE', acks, ttl)
        end
        applied = applied + 1
      end
    elseif kind == 'o' then
      redis.call('HINCRBY', msg, 'onlineClientCount', tonumber(ARGV[3 * i - 1]))
      applied = applied + 1
    elseif kind == 'n' then
      redis.call('HINCRBY', msg, ARGV[3 * i], tonumber(ARGV[3 * i - 1]))
      applied = applied + 1
    elseif kind == 's' then
      redis.call('HSET', msg, ARGV[3 * i], ARGV[3 * i - 1])
      applied = applied + 1
    elseif kind == 't' and not wasRepeatedAck then
      local timeline = KEYS[2 * i]
      local cap = tonumber(ARGV[3 * i])
      local len = lengths[timeline]
      if len ~= nil and len >= cap then
        dropped[msg] = (dropped[msg] or 0) + 1
      else
        len = redis.call('RPUSH', timeline, ARGV[3 * i - 1])
        -- The list expires with the message: set once, when the first entry creates it.
        if len == 1 and ttl > 0 then
          redis.call('PEXPIRE', timeline, ttl)
        end
        if len > cap then
          redis.call('RPOP', timeline)
          len = len - 1
          dropped[msg] = (dropped[msg] or 0) + 1
        end
        lengths[timeline] = len
      end
    end
  end
end
-- One counter update per message for the entries over the cap.
for msg, n in pairs(dropped) do
  redis.call('HINCRBY', msg, 'timelineDropped', n)
end
return applied
