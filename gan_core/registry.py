"""Named registries that validate on registration and can list themselves.

The server exposes these lists (``GET /api/registry``) so the web form never hard-codes a menu.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    description: str
    value: T


class Registry(Generic[T]):
    """A name -> value map whose keys are unique and whose lookups fail with the allowed names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def add(self, name: str, value: T, description: str) -> T:
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"{self.kind} name {name!r} must be letters, digits, '-' or '_'")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if not description:
            raise ValueError(f"{self.kind} {name!r} needs a description")
        self._entries[name] = Entry(name, description, value)
        return value

    def register(self, name: str, description: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(value: T) -> T:
            return self.add(name, value, description)

        return decorate

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

    def describe(self) -> list[dict[str, str]]:
        return [{"name": e.name, "description": e.description} for e in self._entries.values()]
