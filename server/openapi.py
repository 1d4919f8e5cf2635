"""The OpenAPI document says what the server requires, not only what Python types allow.

FastAPI derives the document from the route signatures; this module adds the rules that live
elsewhere, so that clients and generated forms can trust the document: a request it allows is
never refused (tests/server/test_api_contract.py fuzzes the server from it).

- ``preset`` is one of the registry's names; ``config`` holds RunConfig's fields (RunConfig's
  own schema, with the rules between its fields, is a component and GET /api/config/schema);
  ``overrides`` and a sweep's ``axes`` are keyed by the config's dotted fields and hold values
  of that field's schema.
- A new run gives a preset and/or a config, or a fork (and then only a name and steps).
- The rules between fields (gan_core.config.RULES) hold for the config the server builds: see
  "the rules, for what a request makes" below for how, and what that leaves out.
- A sweep's search: random needs a count; a grid takes lists and has at most
  GANSCOPE_MAX_SWEEP_RUNS points.
- This server's limits (GANSCOPE_MAX_STEPS, _MAX_BATCH_SIZE, _MAX_IMAGE_SIZE, fp16 only where
  a GPU may train) bound the config's fields and what a preset brings, and ``resources`` is
  empty unless the server runs on Ray.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from gan_core.config import (
    MISSING,
    RULES,
    Condition,
    ImageData,
    RunConfig,
    above,
    field_value,
    image_datasets,
    one_of,
    present,
    variant_defaults,
)
from gan_core.presets import PRESETS, preset_dict
from server.settings import Settings

__all__ = ["field_schemas", "install"]

PREFIX = "RunConfig_"  # the config's sub-schemas in components/schemas
FIELDS = "RunConfigFields"  # RunConfig without its rules: what a request's ``config`` holds
ANNOTATIONS = ("title", "description", "default")

When = dict[str, Condition]


def install(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` return the completed document (built once)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if not getattr(app.state, "openapi_completed", False):
            # the local backend's GPUs (a Ray cluster's are elsewhere), as check_limits reads them
            jobs = getattr(getattr(app.state, "ganscope", None), "jobs", None)
            complete(generate(), settings, getattr(jobs, "gpus", None))
            app.state.openapi_completed = True
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _walk_refs(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node
        for value in node.values():
            yield from _walk_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_refs(value)


def run_config_schemas(settings: Settings, gpus: int | None) -> dict[str, dict[str, Any]]:
    """RunConfig's JSON schema as components (``RunConfig`` with its rules, ``RunConfigFields``
    without them, and ``RunConfig_<Sub>``), with this server's limits."""
    schema = copy.deepcopy(RunConfig.model_json_schema(ref_template="#/$defs/{model}"))
    defs = schema.pop("$defs", {})
    fields = copy.deepcopy({key: value for key, value in schema.items() if key != "allOf"})
    fields["description"] = ("RunConfig's fields, each optional: a preset or the defaults fill "
                             "in the rest. The rules between fields are stated on the request, "
                             "where the preset and the overrides are known.")
    out = {"RunConfig": schema, FIELDS: fields,
           **{PREFIX + name: sub for name, sub in defs.items()}}
    for node in _walk_refs(out):
        node["$ref"] = "#/components/schemas/" + PREFIX + node["$ref"].rsplit("/", 1)[-1]
    for sub in out.values():
        if "discriminator" in sub:
            sub.pop("discriminator")
        for prop in sub.get("properties", {}).values():
            mapping = prop.get("discriminator", {}).get("mapping")
            if mapping:
                prop["discriminator"]["mapping"] = {
                    k: "#/components/schemas/" + PREFIX + v.rsplit("/", 1)[-1]
                    for k, v in mapping.items()}
    schedule = out[PREFIX + "ScheduleConfig"]["properties"]
    schedule["steps"]["maximum"] = min(schedule["steps"]["maximum"], settings.max_steps)
    schedule["batch_size"]["maximum"] = min(schedule["batch_size"]["maximum"],
                                            settings.max_batch_size)
    if gpus == 0:
        schedule["amp"]["enum"].remove("fp16")
    image = out[PREFIX + "ImageData"]["properties"]["image_size"]
    for option in image.get("anyOf", [image]):
        if "enum" in option:
            option["enum"] = [s for s in option["enum"] if s <= settings.max_image_size]
    return out


def _bare(schema: dict[str, Any]) -> dict[str, Any]:
    """A field's schema without the words around it (so that equal rules compare equal)."""
    out = {k: v for k, v in schema.items() if k not in ANNOTATIONS}
    if "anyOf" in out:
        out["anyOf"] = [_bare(option) for option in out["anyOf"]]
    return out


def field_schemas(components: dict[str, Any]) -> dict[str, dict[Any, dict[str, Any]]]:
    """Each dotted field of a config, with its schema under each tag of its section (data.name,
    model.arch) that has it, or under None outside those sections."""
    out: dict[str, dict[Any, dict[str, Any]]] = {}

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        return components[node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node

    def visit(node: dict[str, Any], prefix: str, tags: tuple[Any, ...]) -> None:
        node = resolve(node)
        if "oneOf" in node and "properties" not in node:
            tag = node["discriminator"]["propertyName"]
            every_tag = {"type": "string", "enum": list(node["discriminator"]["mapping"])}
            for option in node["oneOf"]:
                variant = resolve(option)
                values = variant["properties"][tag]
                variant = {**variant, "properties": {**variant["properties"], tag: every_tag}}
                visit(variant, prefix, tuple(values.get("enum", [values.get("const")])))
        elif "properties" in node:
            for name, sub in node["properties"].items():
                visit(sub, f"{prefix}{name}.", tags)
        else:
            for tag_value in tags:
                out.setdefault(prefix.rstrip("."), {})[tag_value] = _bare(node)

    visit(components["RunConfig"], "", (None,))
    return dict(sorted(out.items()))


def _one(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    distinct = [s for i, s in enumerate(schemas) if s not in schemas[:i]]
    return distinct[0] if len(distinct) == 1 else {"anyOf": distinct}


# -- the rules, for what a request makes -------------------------------------------------------
#
# The server builds a run's config from a preset (or the defaults), ``config`` merged over it, the
# overrides (set_dotted) and a run's ``steps``; a sweep also checks every axis value and point.
# The rules between fields then hold for the values all of these give together. Stated that way
# ("not both: data.name from the overrides, or else from config, or else from the preset, is 2D;
# and model.arch from ... is dcgan", for each rule) they form a conjunction of disjunctions that
# a generator must expand into cases: jsonschema_rs, which schemathesis 4.32 generates through,
# gives up after a million intersections, and these rules need far more (2 rules already).
# So the document states the part of what the server accepts that can be written as few cases:
# one per starting point (presets with the same locks share one), where every field a rule reads
# is confined to values that break no rule with each other or with the preset's values ("locks",
# derived from gan_core.config.RULES and the preset). Precise per config, the rules are stated in
# RunConfig's own schema (components RunConfig, and GET /api/config/schema).

# Where more than one field could keep a rule from breaking, the one that keeps to the preset:
# its data set, no fp16 (only with a GPU), no weight clipping, and its pack size change less often
# than batch size, gradient penalty or evaluation.
LOCK_FIRST = ("data.name", "train.amp", "regularization.weight_clip", "model.pack")
TAGS = {"data": "data.name", "model": "model.arch"}


@dataclass(frozen=True)
class Start:
    """Where a request's config starts: a preset, or without one the defaults, where a config
    alone names its data and model sections (of the tags the base's locks allow)."""

    preset: str | None
    base: RunConfig


def starts() -> list[Start]:
    image = RunConfig.model_validate({"data": {"name": image_datasets()[0]},
                                      "model": {"arch": "dcgan"}})
    return [*(Start(name, RunConfig.model_validate({**preset_dict(name), "name": name}))
              for name in sorted(PRESETS.names())),
            Start(None, RunConfig()), Start(None, image)]


def limit_rules(settings: Settings, gpus: int | None) -> list[When]:
    """This server's limits on a config, as rules: the fields' bounds state them for what a
    request writes, these for what a preset brings too (RunService.check_limits)."""
    rules: list[When] = [{"train.steps": above(settings.max_steps)},
                         {"train.batch_size": above(settings.max_batch_size)},
                         {"train.amp": one_of("fp16"), "train.device": one_of("cpu")}]
    if gpus == 0:
        rules.append({"train.amp": one_of("fp16")})
    too_big = [size for size in (28, 32, 64) if size > settings.max_image_size]
    if too_big:
        rules.append({"data.image_size": one_of(*too_big)})
        native = [name for name in image_datasets()
                  if ImageData.model_construct(name=name).resolved_size > settings.max_image_size]
        rules.append({"data.image_size": one_of(None), "data.name": one_of(*native)})
    return rules


Locks = tuple[dict[str, list[Condition]], list[str]]


def locks(base: RunConfig, rules: list[When]) -> Locks | None:
    """For each field, the conditions a value a request writes into it must fail, so that no
    rule can break: of each rule, one field the base fails it with stays failing it (a field the
    base's variant lacks first, then LOCK_FIRST), and the others are free. And the fields the
    base breaks a limit with, which the request must write. None where the base breaks a limit
    of two fields (fp16 on the CPU): the document leaves that start out."""
    out: dict[str, list[Condition]] = {}
    written = []
    for when in rules:
        values = {path: field_value(base, path) for path in when}
        failing = [path for path, cond in when.items() if not cond.test(values[path])]
        if not failing:  # a valid config breaks only limits
            if len(when) > 1:
                return None
            failing = list(when)
            written += failing
        path = min(failing, key=lambda p: (values[p] is not MISSING,
                                           LOCK_FIRST.index(p) if p in LOCK_FIRST else 99,
                                           list(when).index(p)))
        out.setdefault(path, []).append(when[path])
    return out, written


def _types(schema: dict[str, Any]) -> list[str]:
    out = []
    for option in schema.get("anyOf", [schema]):
        kind = option.get("type") or ("string" if "enum" in option or "const" in option else None)
        if kind and kind not in out:
            out.append(kind)
    return out


# A field with at most this many values (an enum, a bool, an integer between close bounds) is
# locked by listing the values it keeps.
FEW_VALUES = 16


def _few_values(by_tag: dict[Any, dict[str, Any]]) -> list[Any] | None:
    """Every value a field can take (over its variants' schemas), where there are few."""
    values: list[Any] = []
    for schema in by_tag.values():
        for option in schema.get("anyOf", [schema]):
            kind = option.get("type")
            if "enum" in option or "const" in option:
                values += option.get("enum", [option.get("const")])
            elif kind == "null":
                values.append(None)
            elif kind == "boolean":
                values += [False, True]
            elif (kind == "integer" and "minimum" in option and "maximum" in option
                  and option["maximum"] - option["minimum"] < FEW_VALUES):
                values += range(option["minimum"], option["maximum"] + 1)
            else:
                return None
    unique = []
    for value in values:
        if not any(value == u and type(value) is type(u) for u in unique):
            unique.append(value)
    return unique if len(unique) <= FEW_VALUES else None


def _listed(kind: str | list[str]) -> list[str]:
    return [kind] if isinstance(kind, str) else kind


def _fails(conditions: list[Condition], by_tag: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    """The values of a field (of its types, from ``by_tag``) that meet none of ``conditions``:
    the list of them where the field has few (a generator negates an enum far more easily
    than a `not` of several conditions), else its types less the conditions. The types keep a
    generator's complement small: `not` alone admits every other JSON type."""
    few = _few_values(by_tag)
    if few is not None:
        return {"enum": [v for v in few if not any(cond.test(v) for cond in conditions)]}
    types: list[str] = []
    for schema in by_tag.values():
        types += [kind for kind in _types(schema) if kind not in types]
    kind: str | list[str] = types[0] if len(types) == 1 else types
    if all(cond.fails is not None for cond in conditions):
        out: dict[str, Any] = {"type": kind}
        for cond in conditions:
            for key, value in cond.fails.items():  # type: ignore[union-attr]
                if key == "type":  # the types both allow
                    both = [t for t in _listed(out["type"]) if t in _listed(value)]
                    out["type"] = both[0] if len(both) == 1 else both
                elif key in out and out[key] != value:
                    if {key: value} not in out.setdefault("allOf", []):
                        out["allOf"].append({key: value})
                else:
                    out[key] = value
        return out
    met: list[dict[str, Any]] = []
    for cond in conditions:
        if cond.schema not in met:
            met.append(cond.schema)
    return {"type": kind,
            "not": met[0] if len(met) == 1 else {"anyOf": met}}


def _nested(values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """{"a.b": S} as {"properties": {"a": {"properties": {"b": S}}}}."""
    out: dict[str, Any] = {}
    for path, schema in values.items():
        node = out
        *sections, name = path.split(".")
        for section in sections:
            node = node.setdefault("properties", {}).setdefault(section, {})
        node.setdefault("properties", {})[name] = schema
    return out


def _tags(start: Start, box: dict[str, list[Condition]], tag_path: str) -> list[Any]:
    """The tags a section given in ``config`` may have: the preset's (a new tag would start the
    section afresh, under a variant the overrides were not checked against), or for a config
    alone every tag whose variant's defaults keep the locks."""
    if start.preset is not None:
        return [field_value(start.base, tag_path)]
    section = tag_path.split(".")[0]
    defaults = variant_defaults(tag_path + ".x")[1]  # type: ignore[index]
    return [tag for tag in defaults if all(
        not cond.test(tag if path == tag_path else variant_default(path, tag))
        for path, conds in box.items() if path.startswith(section + ".") for cond in conds)]


def variant_default(path: str, tag: Any) -> Any:
    tagged = variant_defaults(path)
    return MISSING if tagged is None else tagged[1].get(tag, MISSING)


def case(start: Start, fields: dict[str, dict[Any, dict[str, Any]]],
         rules: list[When]) -> tuple[dict[str, Any], list[str]] | None:
    """The requests starting at ``start`` that the document states (less the preset), and the
    fields the request must write.

    A value written into a field the rules read (in ``config`` or ``overrides``) keeps to that
    field's locks, so any combination passes. A section given in ``config`` keeps its tag to
    :func:`_tags`. The overrides set no tag: set_dotted empties the section at its tag, and JSON
    Schema cannot see the order of an object's keys. Nor do they set a field of a section whose
    variant the document does not know (a config alone may choose among several), nor where
    nothing names the section's tag (set_dotted would make the section without it).
    """
    locked = locks(start.base, rules)
    if locked is None:
        return None
    box, written = locked
    config: dict[str, dict[str, Any]] = {path: _fails(conds, fields[path])
                                         for path, conds in box.items()}
    overrides: dict[str, Any] = dict(config)
    raw = preset_dict(start.preset) if start.preset else {}
    for section, tag_path in TAGS.items():
        tags = _tags(start, box, tag_path)
        config[tag_path] = {"enum": tags}
        named = start.preset is None or tag_path.split(".")[1] in raw.get(section, {})
        for path, by_tag in fields.items():
            if not path.startswith(section + "."):
                continue
            schemas = [by_tag.get(tag) for tag in tags]
            if path == tag_path or not named or None in schemas or any(
                    x != schemas[0] for x in schemas):
                overrides[path] = False
            elif len({repr(x) for x in by_tag.values()}) > 1 or len(by_tag) < len(
                    variant_defaults(path)[1]):  # type: ignore[index]
                # the variant's own field and bounds
                overrides[path] = ({"allOf": [schemas[0], overrides[path]]} if path in box
                                   else schemas[0])
    given: dict[str, Any] = {"type": "object", **_nested(config)}
    schema: dict[str, Any] = {"properties": {"overrides": {"properties": overrides}}}
    if start.preset is None:  # a config alone names its data set and model
        schema["required"] = ["config"]
        schema["properties"]["config"] = {**given, "required": list(TAGS)}
    else:
        schema["properties"]["config"] = {"anyOf": [{"type": "null"}, given]}
    return schema, written


def cases(fields: dict[str, dict[Any, dict[str, Any]]], rules: list[When],
          places: Callable[[str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One case per distinct :func:`case` (its presets named together), and in each, one per
    place a field the request must write may be written in (``places(path)``)."""
    by_case: dict[str, tuple[dict[str, Any], list[str], list[str | None]]] = {}
    for start in starts():
        made = case(start, fields, rules)
        if made is None:
            continue
        schema, written = made
        key = json.dumps([schema, written], sort_keys=True)
        by_case.setdefault(key, (schema, written, []))[2].append(start.preset)
    out = []
    for schema, written, presets in by_case.values():
        if presets == [None]:
            preset: dict[str, Any] = {"properties": {"preset": {"type": "null"}}}
        else:
            preset = {"required": ["preset"], "properties": {"preset": {"enum": presets}}}
        for ways in itertools.product(*(places(path) for path in written)):
            out.append({"allOf": [preset, schema, *ways]})
    return out


# -- sweep axes ----------------------------------------------------------------------------------


def free_fields(fields: dict[str, dict[Any, dict[str, Any]]], rules: list[When]) -> list[str]:
    """The fields a sweep's axes may vary in every case: those no rule reads, and in a tagged
    section those every variant has alike (every start names the section's tag). An axis writes
    like an override, and per-case axes would make the sweep's cases too many to expand."""
    read = {path for when in rules for path in when}
    named = {section for section, tag_path in TAGS.items() if all(
        tag_path.split(".")[1] in preset_dict(name).get(section, {}) for name in PRESETS.names())}
    out = []
    for path, by_tag in fields.items():
        tagged = variant_defaults(path)
        if path in read or (tagged is not None and (
                tagged[0] == path or path.split(".")[0] not in named
                or len(by_tag) < len(tagged[1]) or len({repr(x) for x in by_tag.values()}) > 1)):
            continue
        out.append(path)
    return out


def _numbers(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [option for option in schema.get("anyOf", [schema])
            if option.get("type") in ("integer", "number")]


def _six_digits(value: float) -> float:
    return float(f"{value:.6g}")


def axis_range(path: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """A random-search range of a numeric field. Its draws (rounded to a whole number, or to 6
    significant digits) stay within the field's bounds. JSON Schema cannot compare ``low`` with
    ``high``, so the document asks them to straddle one value: the field's default, or the
    middle of its bounds (a choice among several such values would again be cases to expand)."""
    numbers = _numbers(schema)
    if len(numbers) != 1:
        return None
    number = numbers[0]
    integer = number["type"] == "integer"
    bound: dict[str, Any] = {"type": "number"}
    if "minimum" in number:
        bound["minimum"] = low = number["minimum"]
    elif "exclusiveMinimum" in number:  # 6 digits keep a draw above 0, not above other bounds
        low = number["exclusiveMinimum"]
        bound.update({"exclusiveMinimum": 0} if low == 0 else
                     {"minimum": _six_digits(low + abs(low) * 1e-5)})
    else:
        return None
    if "maximum" in number:
        bound["maximum"] = high = number["maximum"]
    elif "exclusiveMaximum" in number:  # 0.9999996 would be drawn as 1
        bound["maximum"] = high = _six_digits(number["exclusiveMaximum"] * (1 - 1e-5))
    else:
        return None
    default = field_value(RunConfig(), path)
    if (isinstance(default, int | float) and not isinstance(default, bool)
            and low <= default < high and not (default == low and "exclusiveMinimum" in bound)):
        middle = default
    else:
        middle = _six_digits(math.sqrt(max(low, high * 1e-3) * high) if high > 0
                             else (low + high) / 2)
    positive = low > 0 or ("exclusiveMinimum" in bound and low >= 0)
    return {
        "allOf": [{"$ref": "#/components/schemas/AxisRange"}],
        "description": f"A range that holds {middle:g}: low <= {middle:g} < high.",
        "required": ["low", "high", *(["integer"] if integer else [])],
        "properties": {
            "low": {**bound, "maximum": middle},
            "high": {**{k: v for k, v in bound.items() if "inimum" not in k},
                     "exclusiveMinimum": middle},
            # a whole number for an integer field; a float field's draws stay unrounded (a
            # rounded learning rate could be 0)
            "integer": {"const": integer},
            # a log range needs low > 0 (an if/then on ``log`` would double the cases)
            **({} if positive else {"log": {"const": False}})},
    }


def axis(path: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A sweep axis of a field: a list of its values, or (random search) a range of them."""
    values = {"type": "array", "minItems": 1, "items": schema}
    span = axis_range(path, schema)
    return values if span is None else {"anyOf": [values, span]}


def grid_size_bound(limit: int, max_axes: int) -> list[dict[str, Any]]:
    """A grid has the product of its axes' lengths as points, at most ``limit``. JSON Schema
    cannot multiply, so with n axes each holds at most the n-th root of the limit."""
    by_root: dict[int, list[int]] = {}
    for n in range(1, max_axes + 1):
        root = round(limit ** (1 / n))
        while root ** n > limit:
            root -= 1
        while (root + 1) ** n <= limit:
            root += 1
        by_root.setdefault(root, []).append(n)
    return [{"minProperties": min(ns), "maxProperties": max(ns),
             "additionalProperties": {"maxItems": root}} for root, ns in by_root.items()]


# -- the document --------------------------------------------------------------------------------


def complete(doc: dict[str, Any], settings: Settings, gpus: int | None = None) -> None:
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components.update(run_config_schemas(settings, gpus))
    fields = field_schemas(components)
    presets = sorted(PRESETS.names())
    rules = [rule.when for rule in RULES] + limit_rules(settings, gpus)
    config = {"anyOf": [{"$ref": "#/components/schemas/" + FIELDS}, {"type": "null"}],
              "description": "A RunConfig (see GET /api/config/schema); with a preset, only the "
              "fields to change. A data or model section names its data.name or model.arch."}
    overrides = {"type": "object", "additionalProperties": False,
                 "properties": {path: _one(list(by_tag.values()))
                                for path, by_tag in fields.items()}}
    for name in ("RunCreate", "SweepCreate"):
        props = components[name]["properties"]
        props["preset"] = {"anyOf": [{"type": "string", "enum": presets}, {"type": "null"}],
                           "description": "A preset (GET /api/registry lists them)."}
        props["config"] = config
        props["overrides"] = {**overrides, "description": props["overrides"]["description"] +
                              " Not data.name or model.arch: give those sections in config."}
        if settings.jobs_backend != "ray":
            props["resources"]["maxProperties"] = 0
            props["resources"]["description"] += " Empty: this server runs jobs locally."
    runs = components["RunCreate"]
    for name in ("RunCreate", "ControlRequest"):
        components[name]["properties"]["steps"]["anyOf"][0]["maximum"] = settings.max_steps

    def run_places(path: str) -> list[dict[str, Any]]:
        return [present(("overrides", path)), present(("config", *path.split("."))),
                *([present(("steps",), {"type": "integer"})] if path == "train.steps" else [])]

    # a preset and/or a config, or a fork that continues a checkpoint as it is
    runs["oneOf"] = [
        {"properties": {"fork": {"type": "null"}}, "anyOf": cases(fields, rules, run_places)},
        {"required": ["fork"], "properties": {
            "fork": {"type": "object"}, "preset": {"type": "null"},
            "config": {"type": "null"}, "overrides": {"maxProperties": 0}}},
    ]
    sweeps = components["SweepCreate"]
    props = sweeps["properties"]
    generated = props["axes"]
    props["axes"] = {
        "type": "object", "minProperties": generated["minProperties"],
        "maxProperties": generated["maxProperties"], "additionalProperties": False,
        "description": generated["description"] + " The fields no rule between fields reads, "
        "alike in every data set and model (for the others: a sweep per value).",
        "properties": {path: axis(path, _one(list(fields[path].values())))
                       for path in free_fields(fields, rules)},
    }
    props["count"]["anyOf"][0]["maximum"] = min(props["count"]["anyOf"][0]["maximum"],
                                                settings.max_sweep_runs)
    # random search: a count of points; grid: every combination of lists, at most the limit
    grid = {"properties": {"count": {"type": "null"}, "axes": {
        "additionalProperties": {"type": "array"},
        "anyOf": grid_size_bound(settings.max_sweep_runs, props["axes"]["maxProperties"])}}}
    sweeps["allOf"] = [
        {"if": {"required": ["search"], "properties": {"search": {"const": "random"}}},
         "then": {"required": ["count"], "properties": {"count": {"type": "integer"}}},
         "else": grid},
        # a field a sweep's runs must all write (a limit its preset breaks) goes in overrides
        {"anyOf": cases(fields, rules, lambda path: [present(("overrides", path))])},
    ]
