"""The event store's Lua script (eventkit.event_store_redis runs it): append an aggregate's
events and publish their public events, atomically, if the stream is still at the version the
caller saw.

KEYS: the aggregate's stream, then the public streams (one hash tag: one slot). ARGV: the
expected version, the public streams' retention and ceiling (0: no trim; see below), the number
of events, each event as a field count and its fields, the number of publications, each as its
stream's index in KEYS, a field count and its fields. Returns ``{1, new version, each
publication's entry id}``, or ``{0, the version found}`` (a conflict: nothing written).
"""

# Validate first, write last: Redis does not roll back a script that fails halfway, so every
# check happens before the first XADD. Stored ⇔ published: an XADD that could fail after the
# events are stored would leave them unpublished, so every stream the script appends to is
# checked first: its type, and that it can still take an entry (a stream whose last id is the
# largest there is, written by hand, refuses every XADD *).
#
# The version of a stream is the number of events appended to it. Not its length alone: the
# owner's Redis user may XADD (it must, to append), and `XADD … MAXLEN 0` empties a stream —
# Redis 7.0's ACL cannot forbid an argument. A stream that holds fewer entries than were ever
# added to it (XINFO STREAM's entries-added) has lost events, and appending to it would reuse
# their versions: the script refuses it with EVENTSLOST.

# Retention of the public streams (not of the event store, which is never trimmed). An entry is
# dropped only once every consumer group has it acknowledged (XTRIM MINID below each group's
# oldest pending and first undelivered entry), and only beyond the newest ``retain`` entries,
# which stay for readers without a group (projections, replays, the console). ``ceiling`` is
# the hard bound: a stream that reaches it is cut back to it, whoever has not read its oldest
# entries (the alert StreamNearRetentionCeiling warns well before). Evaluated when the stream
# holds a node's worth (100) more than ``retain``, at most 1000 entries a call.
APPEND_AND_PUBLISH = """
local LAST_ID = '18446744073709551615-18446744073709551615'
local function last_generated(info)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then return info[i + 1] end
  end
end
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'stream' and kind ~= 'none' then
    return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. kind .. ', not a stream')
  end
  if kind == 'stream' and i > 1
      and last_generated(redis.call('XINFO', 'STREAM', key)) == LAST_ID then
    return redis.error_reply('STREAMFULL ' .. key .. ' holds the largest entry id there is: ' ..
      'nothing can be published after it')
  end
end
local version = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info, length, added = redis.call('XINFO', 'STREAM', KEYS[1]), 0, 0
  for i = 1, #info, 2 do
    if info[i] == 'length' then length = info[i + 1] end
    if info[i] == 'entries-added' then added = info[i + 1] end
  end
  if length ~= added then
    return redis.error_reply('EVENTSLOST ' .. KEYS[1] .. ' holds ' .. length ..
      ' of the ' .. added .. ' events ever appended to it')
  end
  if last_generated(info) == LAST_ID then
    return redis.error_reply('STREAMFULL ' .. KEYS[1] .. ' holds the largest entry id there is')
  end
  version = length
end
if version ~= tonumber(ARGV[1]) then
  return {0, version}
end
local retain, ceiling, pos = tonumber(ARGV[2]), tonumber(ARGV[3]), 4
local function xadd(key)
  local n = tonumber(ARGV[pos])
  local args = {key, '*'}
  for i = pos + 1, pos + n do table.insert(args, ARGV[i]) end
  pos = pos + n + 1
  return redis.call('XADD', unpack(args))
end
local function position(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function before(a, b)
  local am, as = position(a)
  local bm, bs = position(b)
  return am < bm or (am == bm and as < bs)
end
local function after(id)  -- the smallest id greater than id
  local ms, seq = position(id)
  return string.format('%d-%d', ms, seq + 1)
end
local function needed(key)  -- the oldest entry some group has not acknowledged, or nil
  local oldest = nil
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local name, delivered
    for i = 1, #group, 2 do
      if group[i] == 'name' then name = group[i + 1] end
      if group[i] == 'last-delivered-id' then delivered = group[i + 1] end
    end
    local need = after(delivered)
    local pending = redis.call('XPENDING', key, name)
    if pending[1] > 0 and before(pending[2], need) then need = pending[2] end
    if oldest == nil or before(need, oldest) then oldest = need end
  end
  return oldest
end
local function trim(key)
  local length = redis.call('XLEN', key)
  if ceiling > 0 and length > ceiling then
    redis.call('XTRIM', key, 'MAXLEN', '~', ceiling)
  elseif retain > 0 and length > retain + 100 then
    local beyond = redis.call('XRANGE', key, '-', '+', 'COUNT', math.min(length - retain, 1000))
    local cut = after(beyond[#beyond][1])
    local oldest = needed(key)
    if oldest ~= nil and before(oldest, cut) then cut = oldest end
    redis.call('XTRIM', key, 'MINID', '~', cut)
  end
end
local events = tonumber(ARGV[pos]); pos = pos + 1
for _ = 1, events do xadd(KEYS[1]) end
local publications, published = tonumber(ARGV[pos]), {1, version + events}
pos = pos + 1
for _ = 1, publications do
  local key = KEYS[tonumber(ARGV[pos])]; pos = pos + 1
  table.insert(published, xadd(key))
end
for i = 2, #KEYS do trim(KEYS[i]) end
return published
"""

# How many entries a stream holds, and how many were ever added to it: KEYS[1]. {0, 0} when it
# does not exist. (XINFO STREAM answers an error for a missing key; EXISTS first.)
HOLDS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
local info, length, added = redis.call('XINFO', 'STREAM', KEYS[1]), 0, 0
for i = 1, #info, 2 do
  if info[i] == 'length' then length = info[i + 1] end
  if info[i] == 'entries-added' then added = info[i + 1] end
end
return {length, added}
"""
