--[[
  Records that one connection of a client ended, unless a newer connection of the same client has
  taken over (duplicate clientId: the newest wins), so that a late clean-up of an old socket never
  marks the new one disconnected.

  Input:
    KEYS[1] client hash                               (c:{cid})
    ARGV[1] the connection (socket) id that ended
    ARGV[2] time, ms
    ARGV[3] reason: network, kicked, namespace offline, server shutdown, connector lost

  Output:
    1 when the record was updated (the ended connection was the current one), else 0

  Effects:
    when HGET sid == ARGV[1]: HSET last_disconnect_time, disconnect_reason; HDEL sid, connector.
]]
if redis.call('HGET', KEYS[1], 'sid') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'last_disconnect_time', ARGV[2], 'disconnect_reason', ARGV[3])
redis.call('HDEL', KEYS[1], 'sid', 'connector')
return 1
