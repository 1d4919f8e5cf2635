"""Time the Trainer, with all its reporting on, against a bare pytorch/examples-style DCGAN loop.

Both sides train the ``mnist-dcgan`` preset's G and D (same config, same seed) on the same
in-memory batches; the reference is the inline training loop of pytorch/examples dcgan.

On a shared machine the load changes from one second to the next, so rounds of a few hundred
steps per side do not resolve a 3% difference. The two sides therefore take turns every
``report_every`` steps: a sink runs as many reference steps as the trainer has just reported,
and its time is subtracted from ``fit()``'s. Each round is one ``fit()`` of ``--steps`` steps
per trainer (the plain one and the preset's, with EMA, in alternating order); the ratio is
the median over rounds of trainer time / reference time. Round 0 is a warm-up and does not
count. It is a report, not a test: it exits 0 whatever the ratio, 1 on an error.

    python benchmarks/bench_trainer.py            # about 3-5 minutes on 2 CPU cores
    python benchmarks/bench_trainer.py --quick    # a smoke check, under a minute
    python benchmarks/bench_trainer.py --speed    # the speed options' table (below)

``--speed``: images/s of the reference loop and of the Trainer with each speed option
(``train.amp`` bf16, and fp16 on CUDA; ``channels_last``; ``fused_optimizer``; ``compile``;
all of them), the preset's G and D at 32 and 64 px, without EMA (the reference has none). The
sides take turns within each round (the order reversed every round); a round is
``--speed-steps`` steps per side; the figure is the median over ``--rounds`` rounds after a
warm-up round (which also pays torch.compile's compile time, printed apart). On the CPU, and on
CUDA when ``--device`` gets a GPU: the header names the device.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from torch import nn

from gan_core.config import RunConfig
from gan_core.data import build_data
from gan_core.events import Event, Metrics
from gan_core.models import build_models
from gan_core.presets import preset_config
from gan_core.sinks import RunDirSink
from gan_core.train import Trainer, resolve_device

PRESET = "mnist-dcgan"
TARGET = 1.03
INTERVALS = ("report_every", "spectral_every", "sample_every", "checkpoint_every")
# pytorch/examples dcgan's optimizer; the preset must use the same for a like-for-like ratio
LR, BETAS = 2e-4, (0.5, 0.999)


class ReferenceLoop:
    """The training step of pytorch/examples dcgan, written inline (no metrics, no syncs)."""

    def __init__(self, config: RunConfig, device: torch.device) -> None:
        self.device, self.batch_size = device, config.train.batch_size
        self.nz = config.model.z_dim
        self.data = build_data(config.data, seed=config.seed)  # the Trainer's batches
        torch.manual_seed(config.seed)  # the Trainer's initial weights
        netG, netD = build_models(config.model, shape=self.data.info.shape)
        self.netG, self.netD = netG.to(device), netD.to(device)
        self.optimizerG = torch.optim.Adam(self.netG.parameters(), lr=LR, betas=BETAS)
        self.optimizerD = torch.optim.Adam(self.netD.parameters(), lr=LR, betas=BETAS)
        self.criterion = nn.BCEWithLogitsLoss()  # our D returns logits (B,), not probabilities
        self.label_real = torch.full((self.batch_size,), 1.0, device=device)
        self.label_fake = torch.full((self.batch_size,), 0.0, device=device)

    def run(self, steps: int) -> None:
        netG, netD, criterion = self.netG, self.netD, self.criterion
        for _ in range(steps):
            real, _ = self.data.next_batch(self.batch_size)
            real = real.to(self.device, non_blocking=True)
            # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            errD_real = criterion(netD(real), self.label_real)
            errD_real.backward()
            noise = torch.randn(self.batch_size, self.nz, device=self.device)
            fake = netG(noise)
            errD_fake = criterion(netD(fake.detach()), self.label_fake)
            errD_fake.backward()
            self.optimizerD.step()
            # (2) Update G network: maximize log(D(G(z)))
            netG.zero_grad()
            errG = criterion(netD(fake), self.label_real)
            errG.backward()
            self.optimizerG.step()


class InterleavedReference:
    """A sink: on each Metrics event, run the reference for the steps it covers, and time it."""

    def __init__(self, reference: ReferenceLoop, device: torch.device) -> None:
        self.reference, self.device = reference, device
        self.steps, self.seconds = 0, 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, Metrics):
            self.seconds += seconds(lambda: self.reference.run(event.steps), self.device)
            self.steps += event.steps


def check_like_for_like(config: RunConfig) -> None:
    """The reference hard-codes pytorch/examples' math; refuse a preset that drifted from it."""
    optim = config.optim
    same = (
        config.loss.name == "nonsaturating"
        and optim.n_critic == 1
        and config.model.z_distribution == "gaussian"
        and not any(config.regularization.model_dump().values())
        and all((o.name, o.lr, (o.beta1, o.beta2)) == ("adam", LR, BETAS)
                for o in (optim.g, optim.d))
    )
    if not same:
        raise ValueError(f"preset {PRESET!r} no longer matches the reference loop's math")


def benchmark_config(steps: int, device: str, threads: int, *, ema: bool) -> RunConfig:
    """The preset with its intervals capped at one round: every fit() ends with a grid and a
    checkpoint, so a round cannot space them further apart than its own length."""
    config = preset_config(PRESET)
    capped = {name: min(getattr(config.train, name), steps) for name in INTERVALS}
    schedule = config.train.model_copy(update={**capped, "device": device, "num_threads": threads})
    optim = config.optim if ema else config.optim.model_copy(update={"ema_decay": None})
    return config.model_copy(update={"train": schedule, "optim": optim})


def seconds(run: Callable[[], None], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # work still queued on the GPU belongs to this side
    return time.perf_counter() - start


def paired_round(
    trainer: Trainer, paced: InterleavedReference, steps: int, device: torch.device
) -> tuple[float, float]:
    """fit() ``steps`` more steps, the reference taking turns with it: (trainer s, reference s)."""
    schedule = trainer.config.train.model_copy(update={"steps": trainer.step + steps})
    trainer.config = trainer.config.model_copy(update={"train": schedule})  # as resume() does
    paced.steps, paced.seconds = 0, 0.0
    total = seconds(trainer.fit, device)
    if trainer.step != schedule.steps or paced.steps != steps:
        raise RuntimeError(f"the trainer stopped at step {trainer.step} of {schedule.steps}, "
                           f"having reported {paced.steps} of {steps} steps")
    return total - paced.seconds, paced.seconds


def describe(args: argparse.Namespace, device: torch.device, config: RunConfig) -> None:
    used, preset = config.train, preset_config(PRESET).train
    print(f"GANscope Trainer benchmark: preset {PRESET}, batch {used.batch_size}, {device}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"  {args.rounds} rounds (after a warm-up round) of {args.steps} steps per trainer, "
          f"the reference taking turns with it every {used.report_every} steps")
    print("  reference    pytorch/examples dcgan loop inline: BCE-with-logits, Adam 2e-4 "
          "(0.5, 0.999), the same G, D, seed and batches; no reporting")
    print("  trainer      Trainer.fit() with ema_decay=None: the reference's training math, "
          "all reporting on (the headline)")
    print(f"  trainer+EMA  Trainer.fit() on the preset as is: it also keeps an EMA of G "
          f"(decay {config.optim.ema_decay}), work the reference does not do")
    print("  reporting every N steps (the preset's N in brackets): "
          + ", ".join(f"{name} {getattr(used, name)} ({getattr(preset, name)})"
                      for name in INTERVALS))
    print("  sinks: RunDirSink (stats.jsonl, PNG grids, events.jsonl) and safetensors "
          "checkpoints in a temp dir")
    if any(getattr(used, name) < getattr(preset, name) for name in INTERVALS):
        print("  rounds are shorter than some of the preset's intervals, so that work comes "
              "more often than in a real run: this can only slow the trainer down")


SPEED_OPTIONS: dict[str, dict[str, object]] = {
    "trainer": {},
    "bf16": {"amp": "bf16"},
    "fp16": {"amp": "fp16"},  # CUDA only
    "channels_last": {"channels_last": True},
    "fused": {"fused_optimizer": True},
    "compile": {"compile": True},
}


def speed_table(args: argparse.Namespace, device: torch.device) -> None:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"speed options: preset {PRESET} without EMA, {device} ({name}), "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}; {args.rounds} rounds "
          f"of {args.speed_steps} steps per side after a warm-up round; images/s (median, "
          f"min-max) and the ratio to the reference")
    options = {k: v for k, v in SPEED_OPTIONS.items() if k != "fp16" or device.type == "cuda"}
    amp = "fp16" if device.type == "cuda" else "bf16"
    options["all"] = {"amp": amp, "channels_last": True, "fused_optimizer": True,
                      "compile": True}
    for size in (32, 64):
        base = benchmark_config(args.speed_steps, args.device, args.threads, ema=False)
        base = base.model_copy(update={"data": base.data.model_copy(
            update={"image_size": size})})
        batch = base.train.batch_size
        reference = ReferenceLoop(base, device)
        trainers = {}
        with tempfile.TemporaryDirectory(prefix="bench_speed_") as tmp:
            for label, update in options.items():
                config = RunConfig.model_validate({
                    **base.model_dump(mode="json"),
                    "train": {**base.train.model_dump(mode="json"), **update}})
                trainers[label] = Trainer(config, out_dir=Path(tmp) / label)
            rates: dict[str, list[float]] = {"reference": [], **{k: [] for k in trainers}}
            compile_s: dict[str, float] = {}
            for r in range(args.rounds + 1):
                order = ["reference", *trainers]
                for label in order[:: 1 if r % 2 else -1]:
                    if label == "reference":
                        t = seconds(partial(reference.run, args.speed_steps), device)
                    else:
                        trainer = trainers[label]
                        schedule = trainer.config.train.model_copy(
                            update={"steps": trainer.step + args.speed_steps})
                        trainer.config = trainer.config.model_copy(update={"train": schedule})
                        t = seconds(trainer.fit, device)
                        if trainer.compile_s is not None and label not in compile_s:
                            compile_s[label] = trainer.compile_s
                    if r > 0:
                        rates[label].append(batch * args.speed_steps / t)
        ref = statistics.median(rates["reference"])
        print(f"\n{size} px, batch {batch}:")
        print(f"  {'side':<14}{'images/s':>10}{'(min-max)':>18}{'x reference':>13}")
        for label, values in rates.items():
            med = statistics.median(values)
            note = (f"   compile {compile_s[label]:.1f} s in the warm-up round"
                    if label in compile_s else "")
            print(f"  {label:<14}{med:>10.1f}{f'({min(values):.1f}-{max(values):.1f})':>18}"
                  f"{med / ref:>13.3f}{note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=250, help="steps per trainer and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 20 steps: a smoke check")
    parser.add_argument("--speed", action="store_true",
                        help="the speed options' table instead of the reporting-cost ratio")
    parser.add_argument("--speed-steps", type=int, default=10,
                        help="steps per side and round of --speed (default 10)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = 20, 3
    if min(args.steps, args.rounds, args.threads) < 1:
        parser.error("--steps, --rounds and --threads must be positive")

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.speed:
        if args.quick:
            args.speed_steps, args.rounds = 3, 1
        speed_table(args, device)
        return 0
    configs = {
        "trainer": benchmark_config(args.steps, args.device, args.threads, ema=False),
        "trainer+EMA": benchmark_config(args.steps, args.device, args.threads, ema=True),
    }
    check_like_for_like(configs["trainer"])
    describe(args, device, configs["trainer+EMA"])

    # per side and round: (trainer seconds, reference seconds over the same steps)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory(prefix="bench_trainer_") as tmp:
        paced = InterleavedReference(ReferenceLoop(configs["trainer"], device), device)
        trainers = {}
        for name, config in configs.items():
            run_dir = RunDirSink(Path(tmp) / name)
            trainers[name] = Trainer(config, out_dir=run_dir.run_dir, sinks=[run_dir, paced])
        print(f"\n{'round':>11}" + "".join(f"{'reference':>11}{name:>13}{'ratio':>7}"
                                          for name in configs) + "   (ms per step)")
        for r in range(args.rounds + 1):
            for name in list(configs)[:: 1 if r % 2 else -1]:
                times[name].append(paired_round(trainers[name], paced, args.steps, device))
            row = "".join(f"{ref * 1e3 / args.steps:>11.1f}{own * 1e3 / args.steps:>13.1f}"
                          f"{own / ref:>7.3f}" for own, ref in (times[n][-1] for n in configs))
            print(f"{'0 (warm-up)' if r == 0 else r:>11}{row}")
        for trainer in trainers.values():
            for sink in trainer.sinks:
                if isinstance(sink, RunDirSink):
                    sink.close()

    print(f"\n{'side':<12}{'ms/step':>9}{'images/s':>10}{'reference ms/step':>19}   ratio: median "
          "of the rounds (min-max)")
    batch, ratio = configs["trainer"].train.batch_size, {}
    for name, pairs in times.items():
        pairs = pairs[1:]  # the warm-up round pays for lazy imports and first writes
        own_ms = statistics.median(own for own, _ in pairs) * 1e3 / args.steps
        ref_ms = statistics.median(ref for _, ref in pairs) * 1e3 / args.steps
        # a median of paired ratios: one round caught by a burst of load cannot carry the result
        per_round = [own / ref for own, ref in pairs]
        ratio[name] = statistics.median(per_round)
        print(f"{name:<12}{own_ms:>9.1f}{batch * 1e3 / own_ms:>10.1f}{ref_ms:>19.1f}   "
              f"{ratio[name]:.3f} ({min(per_round):.3f}-{max(per_round):.3f})")
        if max(per_round) - min(per_round) > TARGET - 1:
            print(f"{'':<12}noisy: the rounds' ratios spread wider than the target's margin; "
                  "other work was sharing the machine: run again, or with more --rounds")
    print(f"\npreset as is, whose EMA of G the reference does not do: trainer+EMA/reference "
          f"{ratio['trainer+EMA']:.3f}")
    print("headline, the same training math with all reporting on (ema_decay=None):")
    print(f"trainer/reference step time ratio: {ratio['trainer']:.3f} (target <= {TARGET:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
