"""``ganscope``: train headless from a preset or a config file, resume, list presets.

Exit codes: 0 success, 2 bad config or usage (the message names the field), 3 the run
diverged, 130 interrupted (a checkpoint was saved; ``--resume`` continues).
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gan_core.status import RunStatus

EXIT_OK, EXIT_CONFIG, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 2, 3, 130


class ProgressBar:
    """A console progress bar fed by Metrics events (a sink)."""

    def __init__(self, total: int, initial: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)

    def __call__(self, event: Any) -> None:
        from gan_core.events import Metrics, StatusChanged

        if isinstance(event, Metrics):
            self.bar.update(event.step - self.bar.n)
            shown = {}
            for key in ("loss_d", "loss_g", "w_estimate", "modes_captured", "hq_fraction"):
                if key in event.values:
                    shown[key] = f"{event.values[key]:.3g}"
            self.bar.set_postfix(shown, refresh=False)
        elif isinstance(event, StatusChanged) and event.status == RunStatus.PAUSED:
            self.bar.set_description(str(event.status))

    def close(self) -> None:
        self.bar.close()


def build_parser() -> tuple[argparse.ArgumentParser, Any]:
    """The parser and its subcommands (the server's CLI adds ``serve`` and ``import``)."""
    parser = argparse.ArgumentParser(prog="ganscope", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a GAN headless")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="a named preset (see `ganscope presets`)")
    source.add_argument("--config", help="a run config file (.yaml, .yml or .json)")
    source.add_argument("--resume", metavar="DIR", help="continue the run in DIR")
    train.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config field, e.g. --set optim.g.lr=1e-4 (repeatable)",
    )
    train.add_argument("--steps", type=int, help="train to this many steps (extends a resume)")
    train.add_argument("--out", help="run folder (default: runs/<name>-<time>)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    presets = sub.add_parser("presets", help="list the presets")
    presets.add_argument("--json", action="store_true", help="print the presets as JSON")

    schema = sub.add_parser("schema", help="print the run config's JSON schema")
    schema.add_argument("--indent", type=int, default=2)
    return parser, sub


def main(argv: Sequence[str] | None = None) -> int:
    parser, _ = build_parser()
    return dispatch(parser.parse_args(argv))


def dispatch(args: argparse.Namespace) -> int:
    """Run a parsed gan_core command: train, presets or schema."""
    if args.command == "presets":
        return _cmd_presets(args)
    if args.command == "schema":
        from gan_core.config import RunConfig

        print(json.dumps(RunConfig.model_json_schema(), indent=args.indent))
        return EXIT_OK
    return _cmd_train(args)


def _cmd_presets(args: argparse.Namespace) -> int:
    from gan_core.presets import PRESETS

    if args.json:
        print(json.dumps({e.name: {"description": e.description, "config": e.value}
                          for e in PRESETS}, indent=2))
    else:
        width = max(len(n) for n in PRESETS.names())
        for entry in PRESETS:
            print(f"{entry.name:<{width}}  {entry.description}")
    return EXIT_OK


def _fail(message: str, code: int = EXIT_CONFIG) -> int:
    print(f"ganscope: error: {message}", file=sys.stderr)
    return code


def _resolve_config(args: argparse.Namespace) -> Any:
    from gan_core.config import ConfigError, RunConfig, apply_overrides, load_config_file
    from gan_core.presets import preset_dict

    if args.preset:
        try:
            data = {**preset_dict(args.preset), "name": args.preset}
        except ValueError as exc:
            raise ConfigError(f"--preset: {exc}") from None
    else:
        data = load_config_file(args.config)
    data = apply_overrides(data, args.overrides)
    if args.steps is not None:
        data = apply_overrides(data, [f"train.steps={args.steps}"])
    return RunConfig.from_dict(data)


def _cmd_train(args: argparse.Namespace) -> int:
    from gan_core.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint
    from gan_core.config import ConfigError
    from gan_core.sinks import RunDirSink
    from gan_core.train import Command, Trainer

    controls: queue.Queue[Command] = queue.Queue()
    try:
        if args.resume:
            if args.overrides:
                return _fail("--set cannot change a resumed run; start a new run instead")
            run_dir = Path(args.resume)
            ckpt_path = latest_checkpoint(run_dir) if run_dir.is_dir() else None
            if ckpt_path is None:
                return _fail(f"--resume {run_dir}: no checkpoint in {run_dir / 'checkpoints'}")
            ckpt = load_checkpoint(ckpt_path)
            steps = args.steps if args.steps is not None else ckpt.config.train.steps
            if steps <= ckpt.step:
                return _fail(f"the run is at step {ckpt.step} already; pass --steps N with "
                             f"N > {ckpt.step} to train further")
            sink = RunDirSink(run_dir, resume_step=ckpt.step)
            bar = None if args.quiet else ProgressBar(steps, ckpt.step)
            config = ckpt.config.model_copy(
                update={"train": ckpt.config.train.model_copy(update={"steps": steps})}
            )
            trainer = Trainer.from_checkpoint(ckpt, config=config, out_dir=run_dir,
                                              controls=controls,
                                              sinks=[sink] + ([bar] if bar else []))
        else:
            config = _resolve_config(args)
            run_dir = Path(args.out) if args.out else _default_run_dir(config.name)
            sink = RunDirSink(run_dir)
            bar = None if args.quiet else ProgressBar(config.train.steps, 0)
            trainer = Trainer(config, out_dir=run_dir, controls=controls,
                              sinks=[sink] + ([bar] if bar else []))
    except (ConfigError, CheckpointError) as exc:
        return _fail(str(exc))
    except ValueError as exc:  # e.g. data files missing, a device that is not there
        return _fail(str(exc))

    def request_stop(signum: int, frame: Any) -> None:
        controls.put(Command("stop"))

    previous = signal.signal(signal.SIGINT, request_stop)
    try:
        result = trainer.fit()
    finally:
        signal.signal(signal.SIGINT, previous)
        sink.close()
        if bar:
            bar.close()
    if result.status == RunStatus.DIVERGED:
        return _fail(f"the run diverged: {result.message}; see {run_dir}", EXIT_DIVERGED)
    if result.status == RunStatus.STOPPED:
        print(f"interrupted at step {result.step}; checkpoint saved; continue with "
              f"`ganscope train --resume {run_dir}`", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"done: {result.step} steps in {run_dir}")
    return EXIT_OK


def _default_run_dir(name: str | None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{name or 'run'}-{stamp}"


if __name__ == "__main__":
    sys.exit(main())
