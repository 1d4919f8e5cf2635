"""The ``ganscope`` command: gan_core's commands plus ``serve`` and ``import``.

Exit codes as in gan_core.cli: 0 success, 2 bad settings, arguments or input (the message
says what to change); ``db copy`` exits 1 when the row counts of source and target differ.

gan_core's commands (train, presets, schema) need only the core install; the server's need
the ``server`` extra, and without it they exit 2 saying ``pip install 'ganscope[server]'``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from gan_core import cli as core_cli

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# what `pip install 'ganscope[server]'` adds to the core install (import names)
SERVER_PACKAGES = frozenset({"fastapi", "starlette", "uvicorn", "websockets", "sqlalchemy",
                             "alembic", "pydantic_settings", "jinja2", "plotly"})

# uvicorn options of `ganscope serve` (benchmarks run the server with the same ones)
UVICORN_OPTIONS = {
    "ws_max_size": 1 << 20,
    # per-client compression costs server CPU for every frame and every watcher, on the
    # machine that trains; frames are small or already compact, so send them as they are
    "ws_per_message_deflate": False,
    # longer than browsers' and HTTP clients' idle pools keep connections: with uvicorn's
    # default 5 s, a busy server closed pooled connections just as requests went out on them
    "timeout_keep_alive": 75,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser, sub = core_cli.build_parser()
    serve = sub.add_parser("serve", help="start the dashboard server")
    serve.add_argument("--host", help="address to bind (GANSCOPE_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (GANSCOPE_PORT; default 8000)")
    serve.add_argument("--data-dir", help="data directory (GANSCOPE_DATA_DIR; default "
                       "~/.ganscope)")
    serve.add_argument("--max-jobs", type=int, help="runs that train at once")
    serve.add_argument("--log-level", default="info",
                       choices=("critical", "error", "warning", "info", "debug"))

    imp = sub.add_parser("import", help="add a run folder (as `ganscope train` writes it) to "
                         "the server's database")
    imp.add_argument("folder", help="the run folder (config.json, stats.jsonl, ...)")
    imp.add_argument("--name", help="a name for the run (default: the config's)")
    imp.add_argument("--data-dir", help="the server's data directory")

    ev = sub.add_parser("eval", help="measure a checkpoint: FID, KID, IS, precision/recall, "
                        "density/coverage against its training data")
    source = ev.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="a run id of the server (its latest checkpoint)")
    source.add_argument("--checkpoint", help="a checkpoint file or a run folder")
    ev.add_argument("--metrics", default="fid",
                    help="comma-separated: fid, kid, prdc, is (default: fid)")
    ev.add_argument("--n", type=int, default=10_000,
                    help="generated samples, and real ones up to the set's size (default 10000)")
    ev.add_argument("--features", choices=("inception", "mnist"), default="inception",
                    help="inception: comparable with papers; mnist: fast digit features "
                    "(values named *_mnist, not comparable)")
    ev.add_argument("--seed", type=int, default=0, help="seed of the latents")
    ev.add_argument("--no-ema", action="store_true", help="use G's raw weights, not the EMA")
    ev.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ev.add_argument("--out", help="JSON report (default: <run>/evals/eval_<step>_<features>"
                    ".json)")
    ev.add_argument("--data-dir", help="the server's data directory (for --run)")

    sw = sub.add_parser("sweep", help="launch a sweep on a running server: one run per point "
                        "of the axes, queued on its job backend")
    base = sw.add_mutually_exclusive_group(required=True)
    base.add_argument("--preset", help="a named preset (see `ganscope presets`)")
    base.add_argument("--config", help="a run config file (.yaml, .yml or .json)")
    sw.add_argument("--axis", action="append", default=[], required=True,
                    metavar="FIELD=V1,V2,...",
                    help="a dotted config field and its values, e.g. --axis optim.d.lr=1e-4,5e-4 "
                    "(repeatable; with --random also FIELD=LOW:HIGH or FIELD=log:LOW:HIGH)")
    sw.add_argument("--set", dest="overrides", action="append", default=[],
                    metavar="KEY=VALUE", help="a config field for every run (repeatable)")
    sw.add_argument("--name", help="the sweep's name (its runs are named after it)")
    sw.add_argument("--random", type=int, metavar="COUNT",
                    help="draw COUNT points instead of running the whole grid")
    sw.add_argument("--seed", type=int, default=0, help="the random search's seed")
    sw.add_argument("--metric", help="the metric that ranks the runs (default: w1_exact on 2D "
                    "data, else loss_g)")
    sw.add_argument("--goal", choices=("min", "max"), help="less or more of the metric is "
                    "better (default: by metric)")
    sw.add_argument("--stop-rule", choices=("median",), help="median: stop runs that fall "
                    "behind the sweep's median")
    sw.add_argument("--server", help="the server's URL (default: http://GANSCOPE_HOST:"
                    "GANSCOPE_PORT, i.e. http://127.0.0.1:8000)")
    sw.add_argument("--token", help="the server's admin token (default: GANSCOPE_TOKEN)")
    sw.add_argument("--wait", action="store_true",
                    help="follow the sweep until every run has ended, then print its table")

    db = sub.add_parser("db", help="the server's database: status, migrate, copy to another")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="{status,migrate,copy}")
    for name, text in (("status", "print the URL (password hidden), the revision and the row "
                        "counts"), ("migrate", "bring the database to this GANscope's newest "
                                    "revision (every row is kept)")):
        p = db_sub.add_parser(name, help=text)
        p.add_argument("--url", help="a database URL (default: the configured one, "
                       "GANSCOPE_DATABASE_URL or the SQLite file in the data directory)")
        p.add_argument("--data-dir", help="the server's data directory")
    copy = db_sub.add_parser(
        "copy", help="copy every run, sweep, study and their rows to another database, e.g. "
        "SQLite -> PostgreSQL; the run folders stay in the data directory")
    copy.add_argument("--to", required=True, dest="to_url", metavar="URL",
                      help="the target, e.g. postgresql+psycopg://user:password@host/ganscope "
                      "(migrated first; it must be empty unless --merge)")
    copy.add_argument("--from", dest="from_url", metavar="URL",
                      help="the source (default: the configured database)")
    copy.add_argument("--merge", action="store_true",
                      help="add to a target that holds data: what it already has (same run, "
                      "sweep or study id) is kept, the rest is added")
    copy.add_argument("--data-dir", help="the server's data directory")

    args = parser.parse_args(argv)
    command = {"db": _db, "sweep": _sweep, "eval": _eval, "serve": _serve,
               "import": _import}.get(args.command)
    if command is None:
        return core_cli.dispatch(args)
    try:
        return command(args)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in SERVER_PACKAGES:
            raise
        print(f"ganscope: error: `ganscope {args.command}` needs the server's packages "
              f"({missing} is not installed): pip install 'ganscope[server]'", file=sys.stderr)
        return EXIT_USAGE


def _sweep(args: argparse.Namespace) -> int:
    from server.sweep_cli import run_sweep_command

    return run_sweep_command(args)


def _settings(args: argparse.Namespace, **fields: object):
    from pydantic import ValidationError

    from server.settings import Settings

    given = {k: v for k, v in fields.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc'])) or 'settings'}: "
                 f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]
        print("ganscope: error: " + "\n  ".join(lines), file=sys.stderr)
        return None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app

    settings = _settings(args, host=args.host, port=args.port, data_dir=args.data_dir,
                         max_jobs=args.max_jobs)
    if settings is None:
        return EXIT_USAGE
    from server.db import DatabaseError, open_database

    try:  # a database the server cannot use is said before anything starts
        open_database(settings.resolved_database_url).dispose()
    except DatabaseError as exc:
        print(f"ganscope: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"GANscope dashboard: http://{settings.host}:{settings.port}/  "
          f"(data in {settings.data_dir})", file=sys.stderr)
    try:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                    log_level=args.log_level, **UVICORN_OPTIONS)
    except OSError as exc:  # e.g. the port is taken
        print(f"ganscope: error: cannot serve on {settings.host}:{settings.port}: {exc}; "
              "pick another --port", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _db(args: argparse.Namespace) -> int:
    from server import db_tools
    from server.db import DatabaseError, migrate, open_database

    settings = _settings(args, data_dir=args.data_dir)
    if settings is None:
        return EXIT_USAGE
    opened = []
    try:
        if args.db_command == "copy":
            source = open_database(args.from_url or settings.resolved_database_url)
            opened.append(source)
            target = open_database(args.to_url)
            opened.append(target)
            report = db_tools.copy_database(source, target, merge=args.merge,
                                            progress=_progress_bar)
            print(f"copied {source.safe_url} -> {target.safe_url}")
            print(report.table())
            if report.mismatches:
                print("ganscope: error: the row counts differ in " + ", ".join(report.mismatches),
                      file=sys.stderr)
                return EXIT_FAILED
            return EXIT_OK
        db = open_database(args.url or settings.resolved_database_url)
        opened.append(db)
        if args.db_command == "migrate":
            migrate(db)
        info = db_tools.describe(db)
        print(f"database  {info['url']}")
        print(f"revision  {info['revision'] or 'none (empty)'}"
              + ("" if info["revision"] == info["head"] else
                 f"; this GANscope's is {info['head']}: `ganscope db migrate` brings it there"))
        for table, n in info["counts"].items():
            print(f"  {table:<18} {n:>10}")
        return EXIT_OK
    except DatabaseError as exc:
        print(f"ganscope: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        for db in opened:
            db.dispose()


def _progress_bar(table: str, total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc=f"{table:<18}", unit=" rows", file=sys.stderr,
                disable=None, leave=True)


def _import(args: argparse.Namespace) -> int:
    from server.db import DatabaseError, migrate, open_database
    from server.runs import RunImportError, import_run_dir

    settings = _settings(args, data_dir=args.data_dir)
    if settings is None:
        return EXIT_USAGE
    try:
        db = open_database(settings.resolved_database_url)
    except DatabaseError as exc:
        print(f"ganscope: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        migrate(db)
        run_id = import_run_dir(db, settings.runs_dir, Path(args.folder), name=args.name)
    except RunImportError as exc:
        print(f"ganscope: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        db.dispose()
    print(f"imported {args.folder} as run {run_id}")
    return EXIT_OK


def _eval(args: argparse.Namespace) -> int:
    import json

    from gan_core.evaluate import default_report_path, evaluate_checkpoint, resolve_checkpoint
    from gan_core.train import resolve_device

    try:
        if args.run:
            settings = _settings(args, data_dir=args.data_dir)
            if settings is None:
                return EXIT_USAGE
            run_dir = settings.runs_dir / args.run
            if not run_dir.is_dir() or Path(args.run).name != args.run:
                raise ValueError(f"--run {args.run}: no run folder {run_dir}; see the run ids on "
                                 "the dashboard or pass --checkpoint PATH")
            checkpoint = resolve_checkpoint(run_dir)
        else:
            checkpoint = resolve_checkpoint(args.checkpoint)
        device = resolve_device(args.device)
        report = evaluate_checkpoint(checkpoint, metrics=args.metrics.split(","), n=args.n,
                                     features=args.features, seed=args.seed,
                                     ema=not args.no_ema, device=str(device))
    except ValueError as exc:  # bad arguments, checkpoints, data or missing weights
        print(f"ganscope: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out) if args.out else default_report_path(checkpoint, report.step,
                                                              args.features)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.to_dict(), indent=2))
    print(f"{checkpoint} (step {report.step}, {'EMA ' if report.ema else ''}G), "
          f"{report.n_generated} generated vs {report.n_real} real, {report.feature_label} "
          f"features ({report.feature_identity}), {report.seconds:.1f} s")
    print(report.table())
    for note in report.notes:
        print(f"note: {note}")
    print(f"wrote {out}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
