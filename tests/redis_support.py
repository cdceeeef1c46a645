"""The machine's Redis for tests of shared (several-instance) behaviour, or a printed skip."""

from __future__ import annotations

import socket
import uuid

import pytest

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 15


def redis_url_or_skip() -> str:
    """``redis://127.0.0.1:6379/15``, or skip (with the reason printed) when it is down."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=0.5):
            pass
    except OSError:
        reason = f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"


def unique_name() -> str:
    """A name no other test run uses (instances, namespaces)."""
    return uuid.uuid4().hex[:10]
