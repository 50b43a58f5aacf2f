--[[
  Applies report updates of one namespace written by logic and the worker: counters, text fields,
  timeline entries and APNs outcomes (the connectors' acks and delivery counts go through
  report-batch.lua). Updates for messages that no longer exist (expired or unknown ids) are
  ignored and never re-create a report.

  Input (variable number of keys, two per update):
    KEYS[2i-1] message hash of update i              ({nsp}:m:<id>)
    KEYS[2i]   the message hash again ('n', 's'), or the key named below ('t', 'r')

    ARGV[3i-2] kind of update i: 'n' (add to a counter), 's' (set a text field), 't' (append to
               the message's timeline), 'r' (a device's final APNs outcome)
    ARGV[3i-1] the amount to add ('n') or the text ('s')
    ARGV[3i]   the field name ('n', 's')
    For 't': KEYS[2i] is the timeline list ({nsp}:t:<id>), ARGV[3i-1] the entry (JSON text),
    ARGV[3i] the most entries the list may hold.
    For 'r': KEYS[2i] is the message's APNs outcome hash ({nsp}:apns:<id>), ARGV[3i-1] the
    clientId, ARGV[3i] the outcome text.

  Output:
    the number of updates that changed the report

  Effects:
    'n': HINCRBY the named field; 's': HSET the named field.
    't': RPUSH the entry while the list is shorter than the cap, else count it in
         timelineDropped on the message (the counters above stay exact either way); the list
         gets the message's TTL when its first entry creates it. A 't' does not count in the
         output.
    'r': HSETNX the device's outcome; the outcome hash expires with the message. The 'n', 's'
         and 't' updates after an 'r', up to the next 'r', belong to that device: they are skipped when the device already had an outcome, so a device is counted once
         even when two runs of its batch record it, and its outcome is never written without
         its counters (one script call: a crash cannot fall between them).
    All keys share the {nsp} hash tag.
]]
local applied = 0
-- whether the updates being applied belong to a device whose outcome was already recorded
local repeatedDevice = false
-- The message's PTTL is read once per run of updates on one message (a device's outcome, its
-- counters and its timeline entry): no update creates, deletes or re-expires a message hash.
local lastMsg = nil
local ttl = -2
-- Timeline lengths seen in this call (a full list costs no command per entry), and the entries
-- over the cap per message.
local lengths = {}
local dropped = {}
-- Outcome hashes given the message's TTL in this call (once each, not once per device).
local expiring = {}
for i = 1, #KEYS / 2 do
  local msg = KEYS[2 * i - 1]
  local kind = ARGV[3 * i - 2]
  if msg ~= lastMsg then
    ttl = redis.call('PTTL', msg)
    lastMsg = msg
  end
  if ttl ~= -2 then
    if kind == 'r' then
      repeatedDevice = false
    end
    if repeatedDevice then
      -- a counter, text or timeline entry of a device recorded before: nothing to apply
    elseif kind == 'r' then
      local outcomes = KEYS[2 * i]
      if redis.call('HSETNX', outcomes, ARGV[3 * i - 1], ARGV[3 * i]) == 1 then
        if ttl > 0 and not expiring[outcomes] then
          redis.call('PEXPIRE', outcomes, ttl)
          expiring[outcomes] = true
        end
        applied = applied + 1
      else
        repeatedDevice = true
      end
    elseif kind == 'n' then
      redis.call('HINCRBY', msg, ARGV[3 * i], tonumber(ARGV[3 * i - 1]))
      applied = applied + 1
    elseif kind == 's' then
      redis.call('HSET', msg, ARGV[3 * i], ARGV[3 * i - 1])
      applied = applied + 1
    elseif kind == 't' then
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
