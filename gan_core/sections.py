"""What every section of a run config is made of: strict pydantic models, tagged variants, and
rules between fields (checked by the models, stated by their JSON schema).

:mod:`gan_core.config` assembles the sections into a run; the sections that live with their
code (a data set's, in :mod:`gan_core.data`) build on this module, not on the config, so that
the config can list them from their registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "MISSING",
    "Condition",
    "ConfigError",
    "Rule",
    "StrictModel",
    "above",
    "field_value",
    "is_set",
    "not_multiple_of",
    "not_one_of",
    "one_of",
    "tag_required",
]


class ConfigError(ValueError):
    """A config that cannot be used; the message names the field and what to change."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def tag_required(tag: str) -> ConfigDict:
    """A variant of a tagged section (data, model): pydantic picks the variant by its tag, so a
    section that is given must name it (the tag's default serves only where the whole section
    is left out), and the JSON schema says so."""

    def extra(schema: dict[str, Any]) -> None:
        schema["required"] = [tag, *(name for name in schema.get("required", []) if name != tag)]

    return ConfigDict(json_schema_extra=extra)


# ---------------------------------------------------------------------------------------------
# Rules between fields: declared once, checked by the models and stated by their JSON schema
# ---------------------------------------------------------------------------------------------

# the value of a field the config's variant lacks (an MLP's d_norm): it meets no condition
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


@dataclass(frozen=True)
class Condition:
    """A test of one field's value, written once for Python and once as JSON Schema."""

    test: Callable[[Any], bool]
    schema: dict[str, Any]
    # the values that fail the test, stated positively where JSON Schema can (a generator
    # handles {"maximum": 8} far better than {"not": {"exclusiveMinimum": 8}})
    fails: dict[str, Any] | None = None


def one_of(*values: Any) -> Condition:
    # equal as JSON Schema's enum compares: true is not 1
    return Condition(lambda v: any(v == x and isinstance(v, bool) == isinstance(x, bool)
                                   for x in values), {"enum": list(values)},
                     {"not": {"enum": list(values)}})


def not_one_of(*values: Any) -> Condition:
    return Condition(lambda v: v is not MISSING and v not in values,
                     {"not": {"enum": list(values)}})


def is_set() -> Condition:
    """Given (not empty): a number, where the field is optional."""
    return Condition(lambda v: v is not None and v is not MISSING, {"not": {"type": "null"}},
                     {"type": "null"})


def above(limit: int | float) -> Condition:
    return Condition(lambda v: isinstance(v, int | float) and v > limit,
                     {"type": "number", "exclusiveMinimum": limit}, {"maximum": limit})


def not_multiple_of(k: int) -> Condition:
    return Condition(lambda v: isinstance(v, int) and v % k != 0,
                     {"type": "integer", "not": {"multipleOf": k}}, {"multipleOf": k})


@dataclass(frozen=True)
class Rule:
    """Values that may not come together: a config where every condition of ``when`` holds
    (each for its dotted field; a field the chosen variant lacks meets none) is refused with
    ``message(config)``."""

    when: dict[str, Condition]
    message: Callable[[Any], str]

    def broken_by(self, config: BaseModel) -> bool:
        return all(cond.test(field_value(config, path)) for path, cond in self.when.items())

    def under(self, section: str) -> Rule:
        """The rule of a section's model, with paths from the config's top."""
        return Rule({f"{section}.{path}": cond for path, cond in self.when.items()}, self.message)


def field_value(config: BaseModel, path: str) -> Any:
    """The value at a dotted field path, MISSING where the config has no such field."""
    node: Any = config
    for part in path.split("."):
        node = getattr(node, part, MISSING) if isinstance(node, BaseModel) else MISSING
    return node
