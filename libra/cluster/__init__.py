"""Several Libra processes as one bot: what they share through Redis (docs/scale-out.md).

``topology`` decides whether this process is one of several and refuses what cannot
work then; ``link`` is the one Redis connection the shared parts use; ``limiter``,
``slots``, ``flushes``, ``instances`` and ``discord_gates`` are the shared
implementations the composition root picks when ``redis.url`` is set.
"""
