"""The work queue's moves in Redis (eventkit.queue_redis), one Lua script each.

Redis runs a script atomically, so a message is in exactly one place before a move and in
exactly one place after it, whatever crashes. Every key a script touches is passed in KEYS and
shares the queue's hash tag: legal on Redis Cluster. A script that finds the message no longer
where the worker left it (a reaper took the worker for dead and returned it) moves nothing, but
for DONE, which then takes back the copy the reaper returned, if nobody has taken it yet.
"""

from __future__ import annotations


def timed(body: str) -> str:
    """A script that knows ``now``: Redis's clock in ms, the same for every worker's host."""
    return "local t = redis.call('TIME')\nlocal now = t[1] * 1000 + math.floor(t[2] / 1000)" + body


# KEYS: processing, queue, receipt. ARGV: element. If the message is not in our processing
# list, a reaper took us for dead and returned it: remove that copy too, if nobody took it yet.
DONE = timed("""
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
end
redis.call('HSET', KEYS[3], 'state', 'sent', 'error', '', 'at', now)
""")

# KEYS: processing, delayed, receipt. ARGV: element, delay (ms), error. Nothing happens if the
# message is not in our processing list any more (reaped: the copy in the queue is retried).
RETRY = timed("""
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'queued', 'error', ARGV[3], 'at', now)
return 1
""")

# KEYS: processing, failed, receipt. ARGV: element, error.
FAIL = timed("""
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'failed', 'error', ARGV[2], 'at', now)
return 1
""")

# KEYS: delayed, queue. ARGV: how many at most. Due messages join the back of the queue.
PROMOTE = timed("""
local due = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, ARGV[1])
for _, element in ipairs(due) do
  redis.call('ZREM', KEYS[1], element)
  redis.call('LPUSH', KEYS[2], element)
end
return #due
""")

# KEYS: workers, heartbeat, processing, queue. ARGV: worker, mode. Mode "dead": only if the
# heartbeat expired (checked here, in the same step as the move: a worker that came back to
# life in between keeps its messages), then unregister it. "own": a live worker gives back
# what it holds. "leave": that, and unregister. Messages go back to the front of the queue
# (the right end, where BLMOVE takes from), oldest first.
RETURN = """
if ARGV[2] == 'dead' and redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local moved = 0
while redis.call('LMOVE', KEYS[3], KEYS[4], 'LEFT', 'RIGHT') do moved = moved + 1 end
if ARGV[2] ~= 'own' then
  redis.call('SREM', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[2])
end
return moved
"""

# KEYS: workers, heartbeat. ARGV: worker, ttl (ms). Registered and alive in one step: a worker
# registered without a heartbeat would be reaped while it works.
HEARTBEAT = """
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[1], ARGV[1])
"""

# KEYS: failed, queue, receipt. ARGV: element. Attempts start again from 0.
REQUEUE = timed("""
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'queued', 'attempts', 0, 'error', '', 'at', now)
return 1
""")
