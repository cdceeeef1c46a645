"""Size-capped containers for state keyed by ids handed out without end.

A bot in many busy servers sees an unbounded stream of channel, thread and user
ids; anything remembered per id must forget the least recently used one once it
holds ``capacity`` of them, so memory stays flat however long the bot runs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, MutableMapping
from typing import Generic, TypeVar

KeyT = TypeVar("KeyT", bound=Hashable)
ValueT = TypeVar("ValueT")

DEFAULT_CAPACITY = 10_000
"""Ids remembered per structure: far more than the conversations active at once."""


class LruDict(MutableMapping[KeyT, ValueT]):
    """A mapping that forgets its least recently written or read key beyond ``capacity``."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            msg = f"an LRU mapping needs room for at least one key (got {capacity})"
            raise ValueError(msg)
        self.capacity = capacity
        self._items: OrderedDict[KeyT, ValueT] = OrderedDict()

    def __getitem__(self, key: KeyT) -> ValueT:
        value = self._items[key]
        self._items.move_to_end(key)
        return value

    def __setitem__(self, key: KeyT, value: ValueT) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __delitem__(self, key: KeyT) -> None:
        del self._items[key]

    def __contains__(self, key: object) -> bool:
        # Membership alone does not count as use: only reads and writes keep a key.
        return key in self._items

    def __iter__(self) -> Iterator[KeyT]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def drop_where(self, predicate: Callable[[KeyT, ValueT], bool]) -> int:
        """Forget every entry ``predicate`` holds for (recency untouched); return how many."""
        doomed = [key for key, value in self._items.items() if predicate(key, value)]
        for key in doomed:
            del self._items[key]
        return len(doomed)


class LruSet(Generic[KeyT]):
    """A set of ids that forgets the least recently added or touched one beyond ``capacity``."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._members: LruDict[KeyT, None] = LruDict(capacity)

    @property
    def capacity(self) -> int:
        """How many ids are kept at most."""
        return self._members.capacity

    def add(self, key: KeyT) -> None:
        """Remember ``key`` as the most recently used id."""
        self._members[key] = None

    def touch(self, key: KeyT) -> bool:
        """Whether ``key`` is remembered; if so it becomes the most recently used."""
        if key not in self._members:
            return False
        self._members[key] = None
        return True

    def discard(self, key: KeyT) -> None:
        """Forget ``key`` if it is remembered."""
        self._members.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._members

    def __iter__(self) -> Iterator[KeyT]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)
