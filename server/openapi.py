"""The OpenAPI document says what the server requires, not only what Python types allow.

FastAPI derives the document from the route signatures; this module adds the rules that live
elsewhere, so that clients and generated forms can trust the document (and
tests/server/test_api_contract.py fuzzes the server from it):

- ``preset`` is one of the registry's names; ``config`` is a RunConfig (its own schema, served
  at /api/config/schema too); ``overrides`` keys are the config's dotted fields.
- A new run gives a preset and/or a config, or a fork (and then only a name and steps).
- This server's limits (GANSCOPE_MAX_STEPS, _MAX_BATCH_SIZE) bound the config's fields, and
  ``resources`` is empty unless the server runs on Ray.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI

from gan_core.config import RunConfig
from gan_core.presets import PRESETS
from server.settings import Settings

__all__ = ["config_fields", "install"]

PREFIX = "RunConfig_"  # the config's sub-schemas in components/schemas


def install(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` return the completed document (built once)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if not getattr(app.state, "openapi_completed", False):
            complete(generate(), settings)
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


def run_config_schemas(settings: Settings) -> dict[str, dict[str, Any]]:
    """RunConfig's JSON schema as components (``RunConfig`` and ``RunConfig_<Sub>``), with
    this server's limits."""
    schema = copy.deepcopy(RunConfig.model_json_schema(ref_template="#/$defs/{model}"))
    defs = schema.pop("$defs", {})
    out = {"RunConfig": schema, **{PREFIX + name: sub for name, sub in defs.items()}}
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
    image = out[PREFIX + "ImageData"]["properties"]["image_size"]
    for option in image.get("anyOf", [image]):
        if "enum" in option:
            option["enum"] = [s for s in option["enum"] if s <= settings.max_image_size]
    return out


def config_fields() -> list[str]:
    """Every dotted field a config can have, across the data sets' and models' variants."""
    schema = RunConfig.model_json_schema()
    defs = schema.get("$defs", {})
    fields: set[str] = set()

    def visit(node: dict[str, Any], prefix: str) -> None:
        if "$ref" in node:
            visit(defs[node["$ref"].rsplit("/", 1)[-1]], prefix)
            return
        options = node.get("oneOf") or node.get("anyOf")
        if options and "properties" not in node:
            for option in options:
                visit(option, prefix)
            return
        if "properties" in node:
            for name, sub in node["properties"].items():
                visit(sub, f"{prefix}{name}.")
            return
        fields.add(prefix.rstrip("."))

    visit(schema, "")
    return sorted(f for f in fields if f)


def complete(doc: dict[str, Any], settings: Settings) -> None:
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components.update(run_config_schemas(settings))
    presets = sorted(PRESETS.names())
    dotted = {"type": "string", "enum": config_fields()}
    config = {"anyOf": [{"$ref": "#/components/schemas/RunConfig"}, {"type": "null"}],
              "description": "A RunConfig (see GET /api/config/schema); with a preset, only the "
              "fields to change."}
    for name in ("RunCreate", "SweepCreate"):
        props = components[name]["properties"]
        props["preset"] = {"anyOf": [{"type": "string", "enum": presets}, {"type": "null"}],
                           "description": "A preset (GET /api/registry lists them)."}
        props["config"] = config
        props["overrides"]["propertyNames"] = dotted
        if settings.jobs_backend != "ray":
            props["resources"]["maxProperties"] = 0
            props["resources"]["description"] += " Empty: this server runs jobs locally."
    runs = components["RunCreate"]
    for name in ("RunCreate", "ControlRequest"):
        components[name]["properties"]["steps"]["anyOf"][0]["maximum"] = settings.max_steps
    # a preset and/or a config, or a fork that continues a checkpoint as it is
    runs["oneOf"] = [
        {"anyOf": [{"required": ["preset"], "properties": {"preset": {"type": "string"}}},
                   {"required": ["config"], "properties": {"config": {"type": "object"}}}],
         "properties": {"fork": {"type": "null"}}},
        {"required": ["fork"], "properties": {
            "fork": {"type": "object"}, "preset": {"type": "null"},
            "config": {"type": "null"}, "overrides": {"maxProperties": 0}}},
    ]
    sweeps = components["SweepCreate"]
    sweeps["properties"]["axes"]["propertyNames"] = dotted
    sweeps["anyOf"] = [{"required": ["preset"], "properties": {"preset": {"type": "string"}}},
                       {"required": ["config"], "properties": {"config": {"type": "object"}}}]
