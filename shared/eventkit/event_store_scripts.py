"""The event store's Lua script (eventkit.event_store_redis runs it): append an aggregate's
events and publish their public events, atomically, if the stream is still at the version the
caller saw.

KEYS: the aggregate's stream, then the public streams (one hash tag: one slot). ARGV: the
expected version, the public streams' MAXLEN (0: no trim), the number of events, each event as
a field count and its fields, the number of publications, each as its stream's index in KEYS,
a field count and its fields. Returns ``{1, new version, each publication's entry id}``, or
``{0, the version found}`` (a conflict: nothing written).
"""

# Validate first, write last: Redis does not roll back a script that fails halfway, so every
# check happens before the first XADD.
#
# The version of a stream is the number of events appended to it. Not its length alone: the
# owner's Redis user may XADD (it must, to append), and `XADD … MAXLEN 0` empties a stream —
# Redis 7.0's ACL cannot forbid an argument. A stream that holds fewer entries than were ever
# added to it (XINFO STREAM's entries-added) has lost events, and appending to it would reuse
# their versions: the script refuses it with EVENTSLOST.
APPEND_AND_PUBLISH = """
for _, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'stream' and kind ~= 'none' then
    return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. kind .. ', not a stream')
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
  version = length
end
if version ~= tonumber(ARGV[1]) then
  return {0, version}
end
local maxlen, pos = ARGV[2], 3
local function xadd(key, trim)
  local n = tonumber(ARGV[pos])
  local args = {key}
  if trim and maxlen ~= '0' then
    args = {key, 'MAXLEN', '~', maxlen}
  end
  table.insert(args, '*')
  for i = pos + 1, pos + n do table.insert(args, ARGV[i]) end
  pos = pos + n + 1
  return redis.call('XADD', unpack(args))
end
local events = tonumber(ARGV[pos]); pos = pos + 1
for _ = 1, events do xadd(KEYS[1], false) end
local publications, published = tonumber(ARGV[pos]), {1, version + events}
pos = pos + 1
for _ = 1, publications do
  local key = KEYS[tonumber(ARGV[pos])]; pos = pos + 1
  table.insert(published, xadd(key, true))
end
return published
"""
