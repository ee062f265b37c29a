"""Revenue per currency per day: a catch-up projection of payments' state stream.

Kept by eventkit.ProjectionRunner (plain XREAD from a checkpoint, not the ``orders`` consumer
group): each batch of state events and the new checkpoint are written by ONE Lua script, so
each event counts exactly once, without idempotency keys (eventkit.projection).

What an event adds: each state event carries its payment's whole state, so the payment's net
(amount - refunded) after it is known; the event adds to its day the difference from the net
counted for that payment so far. A payment received adds its amount on the day it was received,
a refund takes the refunded part off on the day of the refund. A state event older than the one
counted for its payment changes nothing.

One projection per partition of the state stream (each with its checkpoint in that stream),
its keys named after the projection under the partition's tag of orders (one slot: the
script's keys and the checkpoint together); with one partition:

- ``{orders}:revenue:checkpoint``  the last state-stream entry applied
- ``{orders}:revenue:by-day``      hash ``<currency>:<YYYY-MM-DD>`` → net revenue, minor units
- ``{orders}:revenue:counted``     hash payment id → ``<version>:<net>`` counted so far
- ``{orders}:revenue:skipped``     stream: entries it could not apply, with the reason
"""

from __future__ import annotations

from datetime import date

from contracts import payments as contract
from contracts.payments import STATE_STREAM, PaymentState
from eventkit import BEGINNING, Batch, Client, Event, commit_script, committed, parse_data
from eventkit.partitions import Partitions

from orders.adapters import NAMESPACE, TAG
from orders.domain import Counted

NAME = "revenue"
SKIPPED_MAXLEN = 10_000  # approximate: the reasons of the latest skipped entries


def decode(event: Event) -> Counted:
    """The revenue's view of a state event (InvalidEvent if its data is not a payment)."""
    return Counted.of(parse_data(PaymentState, event), event.time)


def day_field(currency: str, day: date) -> str:
    return f"{currency}:{day.isoformat()}"


# KEYS: keys(name). ARGV: the checkpoint expected, the new one, the number of events, then per
# event its entry id, payment id, version, net and day field; then per skipped entry its id and
# reason. First every change is decided, writing nothing: a counted value that is not
# "<version>:<net>", or a day whose total would leave the range where Lua's numbers (doubles)
# are exact integers, makes the event skipped with the reason. Then the writes, which cannot
# fail on what was decided. Numbers go back to Redis through string.format('%d'): Lua would
# write 10^12 as "1e+12".
COMMIT = commit_script(
    """
local EXACT = 2^53
local counted, totals, changed, order = {}, {}, {}, {}
local pos = 4
for _ = 1, tonumber(ARGV[3]) do
  local entry, payment, version, net, field =
    ARGV[pos], ARGV[pos + 1], tonumber(ARGV[pos + 2]), tonumber(ARGV[pos + 3]), ARGV[pos + 4]
  pos = pos + 5
  local seen = counted[payment]
  if seen == nil then
    local stored = redis.call('HGET', KEYS[3], payment)
    if stored then
      local v, n = string.match(stored, '^(%d+):(-?%d+)$')
      seen = v and {tonumber(v), tonumber(n)} or false
    else
      seen = {0, 0}
    end
  end
  if seen == false then
    table.insert(skipped, entry)
    table.insert(skipped, "its payment's counted value is not <version>:<net>")
  elseif version > seen[1] then
    local total = totals[field]
    if net ~= seen[2] then
      if total == nil then total = tonumber(redis.call('HGET', KEYS[2], field) or '0') end
      total = total + net - seen[2]
    end
    if total ~= nil and math.abs(total) >= EXACT then
      table.insert(skipped, entry)
      table.insert(skipped, 'the revenue of ' .. field .. ' would pass 2^53')
    else
      counted[payment] = {version, net}
      if net ~= seen[2] then totals[field] = total end
      if not changed[payment] then table.insert(order, payment) end
      changed[payment] = true
    end
  end
end
for _, payment in ipairs(order) do
  local value = counted[payment]
  redis.call('HSET', KEYS[3], payment, string.format('%d:%d', value[1], value[2]))
end
for field, total in pairs(totals) do
  redis.call('HSET', KEYS[2], field, string.format('%d', total))
end
for i = 1, #skipped, 2 do
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', 'SKIPPED_MAXLEN', '*',
    'entry', skipped[i], 'error', skipped[i + 1])
end
while pos <= #ARGV do
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', 'SKIPPED_MAXLEN', '*',
    'entry', ARGV[pos], 'error', ARGV[pos + 1])
  pos = pos + 2
end
""".replace("SKIPPED_MAXLEN", str(SKIPPED_MAXLEN))
)
# KEYS: the checkpoint, the by-day hash. ARGV: the fields. Returns the checkpoint, then values.
READ = """
local values = redis.call('HMGET', KEYS[2], unpack(ARGV))
table.insert(values, 1, redis.call('GET', KEYS[1]) or '0-0')
return values
"""


def keys(name: str, tag: str = TAG) -> list[str]:
    """The projection's checkpoint, revenue by day, counted nets and skipped entries."""
    return [f"{tag}:{name}:{part}" for part in ("checkpoint", "by-day", "counted", "skipped")]


class RedisRevenue:
    """orders.ports.Revenue in Redis, for one partition: the projection's commit, reset and
    query. ``name`` names its keys; a test gives its own, and a stream of its own."""

    def __init__(
        self, redis: Client, name: str = NAME, stream: str = STATE_STREAM, tag: str = TAG
    ) -> None:
        self.redis, self.name, self.stream = redis, name, stream
        self.keys = keys(name, tag)
        self.checkpoint_key, self.by_day_key, _, self.skipped_key = self.keys
        self._commit = redis.register_script(COMMIT)
        self._read = redis.register_script(READ)

    def decode(self, event: Event) -> Counted:
        return decode(event)

    async def checkpoint(self) -> str:
        found = await self.redis.get(self.checkpoint_key)
        return found.decode() if found else BEGINNING

    async def commit(self, batch: Batch[Counted]) -> list[tuple[str, str]] | None:
        args: list[str | int] = [batch.after, batch.through, len(batch.items)]
        for entry_id, item in batch.items:
            field = day_field(item.currency, item.day)
            args += [entry_id, item.payment_id, item.version, item.net, field]
        for entry_id, reason in batch.skipped:
            args += [entry_id, reason]
        return committed(await self._commit(keys=self.keys, args=args))

    async def reset(self) -> None:
        await self.redis.unlink(*self.keys)  # one command: the read model and checkpoint together

    async def revenue(self, currency: str, days: list[date]) -> tuple[dict[date, int], str]:
        """Net revenue on each of ``days`` that has any, and the checkpoint it is as of."""
        fields = [day_field(currency, day) for day in days]
        checkpoint, *values = await self._read(
            keys=[self.checkpoint_key, self.by_day_key], args=fields
        )
        found = {day: int(v) for day, v in zip(days, values, strict=True) if v is not None}
        return found, checkpoint.decode()


def per_partition(redis: Client, partitions: Partitions, name: str = NAME) -> list[RedisRevenue]:
    """The projection of each partition's state stream, ``[p]`` for partition p."""
    return [
        RedisRevenue(
            redis,
            name,
            partitions.key(contract.NAMESPACE, p, contract.STATE),
            partitions.tag(NAMESPACE, p),
        )
        for p in partitions
    ]
