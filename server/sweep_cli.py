"""``ganscope sweep``: launch a sweep on a running server through its REST API, and optionally
follow it to the end.

It is a client like the browser: it posts the same body as the form's sweep mode to
``POST /api/sweeps``, so the server validates every point and queues the runs on whichever
backend it has. Exit codes: 0 launched (or, with ``--wait``, every run ended), 1 the server
cannot be reached or failed, 2 bad arguments or a sweep the server refused (the message names
the axis and the value).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

EXIT_OK, EXIT_SERVER, EXIT_USAGE = 0, 1, 2
POLL_S = 2.0


class UsageError(ValueError):
    pass


class ServerError(RuntimeError):
    def __init__(self, message: str, code: int = EXIT_SERVER) -> None:
        super().__init__(message)
        self.code = code


def parse_value(raw: str) -> Any:
    """A value as typed: JSON where it parses (1e-4, 3, true, null), else YAML's scalars,
    else the text itself (hinge)."""
    raw = raw.strip()
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        pass
    import yaml

    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    return value if isinstance(value, str | int | float | bool) or value is None else raw


def parse_axis(item: str, random_search: bool) -> tuple[str, Any]:
    """``field=v1,v2`` -> a list; with random search ``field=low:high`` or
    ``field=log:low:high`` -> a range."""
    name, sep, raw = item.partition("=")
    name = name.strip()
    if not sep or not name or not raw.strip():
        raise UsageError(f"--axis {item!r}: write it as FIELD=V1,V2,..., e.g. "
                         "--axis optim.d.lr=1e-4,5e-4")
    if random_search and ":" in raw and "," not in raw:
        parts = raw.split(":")
        log = parts[0].strip().lower() == "log"
        bounds = parts[1:] if log else parts
        try:
            low, high = (float(b) for b in bounds)
        except ValueError:
            raise UsageError(f"--axis {item!r}: a range is LOW:HIGH or log:LOW:HIGH, with "
                             "numbers") from None
        return name, {"low": low, "high": high, "log": log}
    return name, [parse_value(v) for v in raw.split(",") if v.strip()]


def build_body(args: argparse.Namespace) -> dict[str, Any]:
    from gan_core.config import ConfigError, load_config_file

    body: dict[str, Any] = {"axes": {}}
    if args.preset:
        body["preset"] = args.preset
    else:
        try:
            body["config"] = load_config_file(args.config)
        except ConfigError as exc:
            raise UsageError(f"--config: {exc}") from None
    for item in args.axis:
        name, values = parse_axis(item, args.random is not None)
        if name in body["axes"]:
            raise UsageError(f"--axis {name} is given twice: put all its values in one --axis")
        body["axes"][name] = values
    overrides = {}
    for item in args.overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: write it as key=value, e.g. train.steps=500")
        overrides[key.strip()] = parse_value(raw) if raw.strip() else None
    if overrides:
        body["overrides"] = overrides
    if args.random is not None:
        body.update(search="random", count=args.random, seed=args.seed)
    for key in ("name", "metric", "goal"):
        if getattr(args, key):
            body[key] = getattr(args, key)
    if args.stop_rule:
        body["stop_rule"] = args.stop_rule
    return body


class Client:
    def __init__(self, base: str, token: str | None) -> None:
        self.base = base.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("content-type", "application/json")
        if self.token:
            request.add_header("authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ServerError(_explain(exc.code, exc.read()),
                              EXIT_USAGE if 400 <= exc.code < 500 else EXIT_SERVER) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(f"cannot reach the GANscope server at {self.base}: {reason}; "
                              "start it with `ganscope serve` (or `make run`), or pass "
                              "--server URL") from None


def _explain(status: int, raw: bytes) -> str:
    try:
        detail = json.loads(raw).get("detail")
    except (ValueError, AttributeError):
        detail = raw.decode(errors="replace")[:500]
    if isinstance(detail, list):  # a 422: one line per field
        lines = []
        for issue in detail:
            loc = [str(p) for p in issue.get("loc", []) if p != "body"]
            lines.append(f"{'.'.join(loc) or 'request'}: {issue.get('msg')}")
        return "the server refused the sweep:\n  " + "\n  ".join(lines)
    return f"the server answered {status}: {detail}"


def default_server() -> str:
    host = os.environ.get("GANSCOPE_HOST", "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{os.environ.get('GANSCOPE_PORT', '8000')}"


def format_table(sweep: dict[str, Any]) -> str:
    axes, metric = sweep["axes"], sweep["metric"]
    from server.sweeps import axis_labels  # the server's packages, only to print the table

    labels = axis_labels(axes)
    header = ["run", "status", *(labels[a] for a in axes), f"final {metric}",
              f"best {metric}"]
    rows = []
    for run in sweep["runs"]:
        mark = "*" if run["id"] == sweep["best_run"] else " "
        rows.append([f"{mark}{run['id']}", run["status"],
                     *(_fmt(run["point"].get(a)) for a in axes), _fmt(run["final"]),
                     _fmt(run["best"])])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in [header, *rows]]
    goal = "lowest" if sweep["goal"] == "min" else "highest"
    return "\n".join([*lines, f"(* the best run: {goal} {metric})"])


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def run_sweep_command(args: argparse.Namespace) -> int:
    try:
        body = build_body(args)
    except UsageError as exc:
        print(f"ganscope: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    client = Client(args.server or default_server(),
                    args.token or os.environ.get("GANSCOPE_ADMIN_TOKEN"))
    try:
        created = client.call("POST", "/api/sweeps", body)
        page = f"{client.base}/sweeps/{created['id']}"
        print(f"sweep {created['id']}: {len(created['runs'])} runs queued; {page}")
        if not args.wait:
            return EXIT_OK
        sweep = client.call("GET", f"/api/sweeps/{created['id']}")
        while sweep["status"] != "finished":
            time.sleep(POLL_S)
            sweep = client.call("GET", f"/api/sweeps/{created['id']}")
    except ServerError as exc:
        print(f"ganscope: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("\nstopped following; the sweep's runs go on", file=sys.stderr)
        return 130
    print(format_table(sweep))
    return EXIT_OK
