--[[
  One page of a roomsync room's history, exactly as seed 000 paged it: the insert list from
  `offset`, and, when fewer than a page remain, every update entry after them (oldest write first).

  Input:
    KEYS[1] the room's insert list   ({nsp}:rs:h:<room>:ins)
    KEYS[2] the room's update hash   ({nsp}:rs:h:<room>:upd)
    KEYS[3] the room's update order  ({nsp}:rs:h:<room>:updz)
    ARGV[1] offset (>= 0)
    ARGV[2] page size

  Output:
    { inserts, updates }: `updates` is an empty table when the page is full (more inserts follow)

  Effects:
    none (reads one hash tag, so the page is consistent)
]]
local offset = tonumber(ARGV[1])
local size = tonumber(ARGV[2])
local inserts = redis.call('LRANGE', KEYS[1], offset, offset + size - 1)
local updates = {}
if #inserts < size then
  local ids = redis.call('ZRANGE', KEYS[3], 0, -1)
  if #ids > 0 then
    local values = redis.call('HMGET', KEYS[2], unpack(ids))
    for _, v in ipairs(values) do
      if v then updates[#updates + 1] = v end
    end
  end
end
return { inserts, updates }
