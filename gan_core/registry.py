"""Named registries that validate on registration and can list themselves.

The server exposes these lists (``GET /api/registry``) so the web form never hard-codes a menu.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    description: str
    value: T
    meta: dict[str, Any] = field(default_factory=dict)  # what a client needs to know of it


class Registry(Generic[T]):
    """A name -> value map whose keys are unique and whose lookups fail with the allowed names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def add(self, name: str, value: T, description: str, **meta: Any) -> T:
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"{self.kind} name {name!r} must be letters, digits, '-' or '_'")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if not description:
            raise ValueError(f"{self.kind} {name!r} needs a description")
        self._entries[name] = Entry(name, description, value, meta)
        return value

    def register(self, name: str, description: str, **meta: Any) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(value: T) -> T:
            return self.add(name, value, description, **meta)

        return decorate

    def remove(self, name: str) -> None:
        """Take ``name`` out (a test's own entry, once the test is done with it)."""
        self.get(name)  # an unknown name: ValueError listing the known ones
        del self._entries[name]

    def get(self, name: str) -> T:
        try:
            return self._entries[name].value
        except KeyError:
            raise ValueError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def names(self) -> list[str]:
        return list(self._entries)

    def describe(self) -> list[dict[str, Any]]:
        """Each entry's name, description and metadata (as ``GET /api/registry`` serves them)."""
        return [{"name": e.name, "description": e.description, **e.meta}
                for e in self._entries.values()]
