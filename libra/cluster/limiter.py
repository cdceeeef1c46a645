"""Per-user rate limits every instance spends from: a token bucket in Redis.

The same rule as :class:`libra.discord.permissions.TokenBucket` (``rate`` per minute,
``burst`` saved), evaluated atomically by one Lua script on Redis's clock, so two
instances answering the same user in two guilds cannot both let a message through
that one would refuse. The script also remembers when the user was last refused, so
only the first refusal during a wait is announced, whichever instance saw it.
"""

from __future__ import annotations

from libra.cluster.link import RedisLink
from libra.config import DiscordSettings

# KEYS[1] user hash; ARGV rate per ms, burst. Returns {wait ms, repeated 0|1}.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'refused')
local tokens = tonumber(s[1]) or burst
local at = tonumber(s[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local keep = math.ceil(burst / rate) + 1000
if tokens >= 1 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', now)
  redis.call('PEXPIRE', KEYS[1], keep)
  return {0, 0}
end
local wait = math.ceil((1 - tokens) / rate)
local repeated = 0
if (tonumber(s[3]) or 0) > now then
  repeated = 1
else
  redis.call('HSET', KEYS[1], 'refused', now + wait)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], keep)
return {wait, repeated}
"""


class RedisUserBuckets:
    """Implements :class:`libra.discord.api.SharedUserBuckets` on Redis."""

    def __init__(self, link: RedisLink, settings: DiscordSettings) -> None:
        self._link = link
        self._per_ms = settings.user_rate_per_minute / 60_000.0
        self._burst = settings.user_burst
        self._script = link.script(_TAKE)

    async def take(self, user_id: int) -> tuple[float, bool]:
        """Spend one token of ``user_id``'s shared bucket (one round trip)."""
        wait_ms, repeated = await self._link.run(
            self._script, [self._link.key("user-rate", user_id)],
            [repr(self._per_ms), self._burst])
        return int(wait_ms) / 1000.0, bool(repeated)
