"""The Trainer: alternating D/G phases, EMA of G, live controls, checkpoint and exact resume.

The loop owns the schedule; :class:`gan_core.losses.GANObjective` owns the math. The trainer
knows nothing about who listens: it calls the sinks it was given with
:mod:`gan_core.events` records, and it reads commands from any queue-like object (a
``queue.Queue`` in a notebook or the CLI, a ``multiprocessing`` queue in the server).
"""

from __future__ import annotations

import copy
import io
import logging
import math
import queue
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import torch
from torch import Tensor, nn

from gan_core.checkpoint import (
    Checkpoint,
    latest_checkpoint,
    load_checkpoint,
    optimizer_state_from_flat,
    optimizer_state_to_flat,
    save_checkpoint,
)
from gan_core.config import OptimizerConfig, RunConfig
from gan_core.data import build_data
from gan_core.data.convert import to_uint8
from gan_core.events import (
    CheckpointSaved,
    Event,
    HyperparamsChanged,
    Metrics,
    RunStarted,
    SampleGrid,
    Sink,
    StatusChanged,
    Toy2DView,
)
from gan_core.latent import sample_z
from gan_core.losses import GANObjective
from gan_core.metrics.spectral import SpectralMonitor
from gan_core.metrics.toy2d import mode_coverage, w1_exact
from gan_core.models import build_models
from gan_core.models.layers import repeat_for_pack
from gan_core.run_dir import RunDir
from gan_core.speed import Precision, check_speed_options, maybe_compile
from gan_core.status import RunStatus

__all__ = ["Command", "ControlSource", "TrainResult", "Trainer", "resolve_device"]

log = logging.getLogger(__name__)

# Sizes of the 2D evaluation, fixed so that curves are comparable across runs.
TOY_VIEW_POINTS = 512
TOY_COVERAGE_SAMPLES = 2500  # VEEGAN/PacGAN protocol
TOY_W1_POINTS = 1000
TOY_GRID_RESOLUTION = 64


@dataclass(frozen=True)
class Command:
    """A control for a running trainer, applied between steps."""

    action: Literal["pause", "resume", "step", "stop", "set", "checkpoint"]
    values: dict[str, float] = field(default_factory=dict)

    SETTABLE = ("lr_g", "lr_d", "n_critic")

    def __post_init__(self) -> None:
        if self.action not in ("pause", "resume", "step", "stop", "set", "checkpoint"):
            raise ValueError(f"unknown action {self.action!r}; use pause, resume, step, stop, "
                             "set, checkpoint")
        for key, value in self.values.items():
            if key not in self.SETTABLE:
                raise ValueError(f"{key!r} cannot be changed live; use one of {self.SETTABLE}")
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{key} must be a positive number, got {value!r}")
            if key == "n_critic" and (int(value) != value or not 1 <= value <= 100):
                raise ValueError(f"n_critic must be an integer from 1 to 100, got {value!r}")
            if key.startswith("lr") and value > 1:
                raise ValueError(f"{key} must be at most 1, got {value!r}")
        if self.action == "set" and not self.values:
            raise ValueError("a 'set' command needs at least one of lr_g, lr_d, n_critic")


class ControlSource(Protocol):
    """Anything with the ``queue.Queue`` reading interface (``multiprocessing`` queues too)."""

    def get(self, block: bool = True, timeout: float | None = None) -> Command: ...
    def get_nowait(self) -> Command: ...


@dataclass(frozen=True)
class TrainResult:
    status: RunStatus
    step: int
    message: str = ""


def resolve_device(choice: str) -> torch.device:
    """'auto' -> CUDA when available else CPU; 'cuda' without a GPU is a config error."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device is 'cuda' but no CUDA GPU is visible; use 'auto' or 'cpu'")
    if choice not in ("cpu", "cuda"):
        raise ValueError(f"train.device {choice!r}: use 'auto', 'cpu' or 'cuda'")
    return torch.device(choice)


def make_optimizer(params: Iterable[nn.Parameter], cfg: OptimizerConfig,
                   fused: bool = False) -> torch.optim.Optimizer:
    """``fused``: torch's fused kernel where it has one (Adam, SGD), else its foreach one."""
    impl: dict[str, bool] = {}
    if fused:
        impl = {"fused": True} if cfg.name in ("adam", "sgd") else {"foreach": True}
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), **impl)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, **impl)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, **impl)
    raise ValueError(f"unknown optimizer {cfg.name!r}; use adam, rmsprop or sgd")


def _grad_norm(module: nn.Module) -> Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.nn.utils.get_total_norm(grads)


def _match_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give loaded optimizer state its parameter's memory layout: a checkpoint stores it
    contiguous, and a fused kernel pairs elements by memory, not by index, so a channels-last
    parameter with contiguous moments would be updated with the wrong ones."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            for key, value in state.items():
                if isinstance(value, Tensor) and value.shape == p.shape:
                    state[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)


class _Diverged(Exception):
    """A loss became NaN or inf; the message says which and at which step."""


class Trainer:
    """Trains one GAN described by a :class:`RunConfig`.

    ``out_dir`` receives checkpoints (``out_dir/checkpoints``); without it none are written.
    Every step's scalars are kept on the device and averaged over ``train.report_every`` steps
    before they leave as one :class:`Metrics` event, so reporting costs one sync per window.
    """

    def __init__(
        self,
        config: RunConfig,
        *,
        out_dir: str | Path | None = None,
        sinks: Sequence[Sink] = (),
        controls: ControlSource | None = None,
    ) -> None:
        self.config = config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.sinks = list(sinks)
        self.controls = controls
        sched = config.train
        self.device = resolve_device(sched.device)

        self.data = build_data(config.data, seed=config.seed)
        info = self.data.info
        self.conditional = bool(getattr(config.model, "conditional", False))
        torch.manual_seed(config.seed)  # weight init is the only user of the global RNG
        num_classes = info.num_classes if self.conditional else None
        G, D = build_models(config.model, shape=info.shape, num_classes=num_classes)
        check_speed_options(sched.amp, self.device)
        self.memory_format = torch.channels_last if sched.channels_last else None
        if self.memory_format is not None:
            G, D = G.to(memory_format=self.memory_format), D.to(memory_format=self.memory_format)
        self.G, self.D = G.to(self.device), D.to(self.device)
        # what the steps call (compiled when asked); self.G / self.D keep the state
        self._G_step = maybe_compile(self.G, sched.compile)
        self._D_step = maybe_compile(self.D, sched.compile)
        self.precision = Precision(sched.amp, self.device)
        self.compile_s: float | None = None  # the first step's time when compiling
        self._compile_reported = False
        self.G_ema: nn.Module | None = None
        if config.optim.ema_decay:
            self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
            # the same tensor objects for the whole run (load_state_dict copies in place)
            self._ema_params = (list(self.G_ema.parameters()), list(self.G.parameters()))
            self._ema_buffers = list(zip(self.G_ema.buffers(), self.G.buffers(), strict=True))
        self.opt_g = make_optimizer(self.G.parameters(), config.optim.g, sched.fused_optimizer)
        self.opt_d = make_optimizer(self.D.parameters(), config.optim.d, sched.fused_optimizer)
        # the learning rates as set (config, or a live change); a schedule scales them per step
        self.lr_base = {"g": config.optim.g.lr, "d": config.optim.d.lr}
        self.objective = GANObjective(config.loss, config.regularization,
                                      pack=config.model.pack, precision=self.precision)
        self.n_critic = config.optim.n_critic

        # One generator for z and the penalty's interpolation, on the training device.
        self.rng = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        # Fixed noise for grids and 2D views: the same latents for the whole run.
        fixed = torch.Generator(device="cpu").manual_seed(config.seed + 2)
        n_fixed = TOY_COVERAGE_SAMPLES if config.is_toy else sched.grid_size
        self.fixed_z = sample_z(
            n_fixed, config.model.z_dim, config.model.z_distribution, generator=fixed
        ).to(self.device)
        self.fixed_labels: Tensor | None = None
        if self.conditional:
            self.fixed_labels = (torch.arange(n_fixed) % info.num_classes).to(self.device)
        self.toy_real: Tensor | None = None
        if config.is_toy:
            real, _ = self.data.sample(TOY_W1_POINTS, fixed)
            self.toy_real = real

        self.spectral = SpectralMonitor(self.D)
        self._evaluator: Any = None  # built at the first evaluation (eval.every)
        self._best_fid = math.inf
        self._save_best = False
        self.step = 0
        self.paused = False
        self._report_next = False  # after a single step, so its numbers show at once
        self._window: list[dict[str, Tensor]] = []
        self._elapsed = 0.0
        self._clock = time.perf_counter()

    # ------------------------------------------------------------------------------------------
    # construction from a checkpoint
    # ------------------------------------------------------------------------------------------

    @classmethod
    def resume(
        cls,
        source: str | Path,
        *,
        out_dir: str | Path | None = None,
        sinks: Sequence[Sink] = (),
        controls: ControlSource | None = None,
        steps: int | None = None,
    ) -> Trainer:
        """Rebuild a trainer from a checkpoint file or a run folder (its latest checkpoint).

        ``steps`` extends the run's total; the continuation is step-for-step identical to a run
        that was never interrupted.
        """
        source = Path(source)
        path = latest_checkpoint(source) if source.is_dir() else source
        if path is None:
            raise ValueError(f"{source}: no checkpoint under {source / 'checkpoints'}")
        ckpt = load_checkpoint(path)
        config = ckpt.config
        if steps is not None:
            schedule = config.train.model_copy(update={"steps": steps})
            config = config.model_copy(update={"train": schedule})
        if out_dir is None and source.is_dir():
            out_dir = source
        return cls.from_checkpoint(ckpt, config=config, out_dir=out_dir, sinks=sinks,
                                   controls=controls)

    @classmethod
    def from_checkpoint(
        cls,
        ckpt: Checkpoint,
        *,
        config: RunConfig | None = None,
        out_dir: str | Path | None = None,
        sinks: Sequence[Sink] = (),
        controls: ControlSource | None = None,
    ) -> Trainer:
        """A trainer in the state ``ckpt`` holds. ``config`` may change the schedule (more
        steps, threads, intervals) but not what the weights and the data stream depend on."""
        config = config or ckpt.config
        for section in ("data", "model", "loss", "regularization", "seed"):
            if getattr(config, section) != getattr(ckpt.config, section):
                raise ValueError(
                    f"{section}: differs from the checkpoint's; a resumed run keeps its "
                    f"{section} (start a new run to change it)"
                )
        trainer = cls(config, out_dir=out_dir, sinks=sinks, controls=controls)
        trainer._load_state(ckpt)
        return trainer

    def _state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors: dict[str, Tensor] = {}
        for prefix, module in (("G", self.G), ("D", self.D), ("G_ema", self.G_ema)):
            if module is not None:
                tensors.update({f"{prefix}.{k}": v for k, v in module.state_dict().items()})
        opt_g_t, opt_g_rest = optimizer_state_to_flat(self.opt_g.state_dict(), "opt_g")
        opt_d_t, opt_d_rest = optimizer_state_to_flat(self.opt_d.state_dict(), "opt_d")
        tensors.update(opt_g_t)
        tensors.update(opt_d_t)
        tensors["rng.train"] = self.rng.get_state()
        data_meta = {}
        for key, value in self.data.state_dict().items():
            if isinstance(value, Tensor):
                tensors[f"data.{key}"] = value
            else:
                data_meta[key] = value
        tensors.update({f"spectral.{k}": v for k, v in self.spectral._u.items()})
        meta = {
            "opt_g": opt_g_rest,
            "opt_d": opt_d_rest,
            "data": data_meta,
            "n_critic": self.n_critic,
            "lr_base": self.lr_base,
            "device": str(self.device),
            "grad_scalers": self.precision.state_dict(),
        }
        return tensors, meta

    def _load_state(self, ckpt: Checkpoint) -> None:
        section, meta = ckpt.section, ckpt.meta
        self.G.load_state_dict(section("G"))
        self.D.load_state_dict(section("D"))
        if self.G_ema is not None:
            ema = section("G_ema")
            self.G_ema.load_state_dict(ema if ema else self.G.state_dict())
        self.opt_g.load_state_dict(optimizer_state_from_flat(section("opt_g"), meta["opt_g"]))
        self.opt_d.load_state_dict(optimizer_state_from_flat(section("opt_d"), meta["opt_d"]))
        for opt in (self.opt_g, self.opt_d):
            _match_layouts(opt)
        self.rng.set_state(ckpt.tensors["rng.train"].cpu())
        self.data.load_state_dict({**meta["data"], **section("data")})
        for name, u in section("spectral").items():
            if name in self.spectral._u:
                self.spectral._u[name] = u.to(self.device)
        self.n_critic = int(meta.get("n_critic", self.n_critic))
        self.lr_base = {  # older checkpoints: the optimizers' own (a constant schedule)
            "g": float(meta.get("lr_base", {}).get("g", self.opt_g.param_groups[0]["lr"])),
            "d": float(meta.get("lr_base", {}).get("d", self.opt_d.param_groups[0]["lr"])),
        }
        self.precision.load_state_dict(meta.get("grad_scalers", {}))
        self.step = ckpt.step

    def save_checkpoint(self) -> Path | None:
        if self.out_dir is None:
            return None
        tensors, meta = self._state()
        path = RunDir(self.out_dir).checkpoint(self.step)
        save_checkpoint(path, self.config, self.step, tensors, meta)
        self._emit(CheckpointSaved(step=self.step, path=str(path)))
        return path

    # ------------------------------------------------------------------------------------------
    # the loop
    # ------------------------------------------------------------------------------------------

    def fit(self) -> TrainResult:
        """Train until ``train.steps``, a stop command, or divergence."""
        threads = torch.get_num_threads()
        if self.config.train.num_threads:
            torch.set_num_threads(self.config.train.num_threads)
        try:
            return self._fit()
        finally:
            torch.set_num_threads(threads)  # the process's setting is the caller's
            self.data.close()

    def _fit(self) -> TrainResult:
        sched = self.config.train
        resumed = self.step > 0
        self._emit(
            RunStarted(
                step=self.step,
                config=self.config.model_dump(mode="json"),
                device=str(self.device),
                resumed=resumed,
            )
        )
        self._emit(StatusChanged(step=self.step, status=RunStatus.RUNNING))
        self._restart_clock()
        try:
            while self.step < sched.steps:
                if self._apply_controls():
                    return self._finish(RunStatus.STOPPED, "stopped by request")
                if self.config.train.compile and self.compile_s is None:
                    started = time.perf_counter()
                    stats = self.train_step()  # compiles G and D
                    self.compile_s = time.perf_counter() - started
                    self._clock += self.compile_s  # not a training step's time
                else:
                    stats = self.train_step()
                self.step += 1
                self._window.append(stats)
                if self._report_next or self._periodic_due() or self.step == sched.steps:
                    self._report_next = False
                    self._report()
                    due = self.step % sched.checkpoint_every == 0 or self._save_best
                    if due and self.step < sched.steps:
                        self.save_checkpoint()
                    self._save_best = False
                    self._restart_clock()
            return self._finish(RunStatus.COMPLETED, "")
        except _Diverged as exc:
            # no checkpoint: the weights are already NaN; the last good one stays the latest
            self._emit(StatusChanged(step=self.step, status=RunStatus.DIVERGED, message=str(exc)))
            return TrainResult(RunStatus.DIVERGED, self.step, str(exc))

    def _finish(self, status: RunStatus, message: str) -> TrainResult:
        if self._window:
            self._report()
        self.save_checkpoint()
        self._emit(StatusChanged(step=self.step, status=status, message=message))
        return TrainResult(status, self.step, message)

    def _periodic_due(self) -> bool:
        s = self.config.train
        return any(
            self.step % every == 0
            for every in (s.report_every, s.sample_every, s.spectral_every, s.checkpoint_every,
                          self.config.eval.every or s.report_every)
        )

    def train_step(self) -> dict[str, Tensor]:
        """One G step after ``n_critic`` D steps. Returns detached 0-d tensors (no sync)."""
        cfg, G, D = self.config, self._G_step, self._D_step
        batch, device, precision = cfg.train.batch_size, self.device, self.precision
        z_dim, z_dist = cfg.model.z_dim, cfg.model.z_distribution
        d_stats: dict[str, Tensor] = {}
        grad_d = torch.zeros((), device=device)
        fake = labels = None
        if cfg.optim.lr_decay != "constant":
            self._set_lrs(self._lr_factor())

        # (1) Update D: minimize the loss's D objective (+ penalties) n_critic times
        self.D.requires_grad_(True)
        for _ in range(self.n_critic):
            real, labels = self.data.next_batch(batch)
            real = real.to(device, non_blocking=True)
            if self.memory_format is not None:
                real = real.contiguous(memory_format=self.memory_format)
            if labels is not None:
                labels = labels.to(device, non_blocking=True) if self.conditional else None
            z = sample_z(batch, z_dim, z_dist, generator=self.rng, device=device)
            # with one D step, the G step reuses this batch of fakes (as pytorch/examples does)
            with torch.set_grad_enabled(self.n_critic == 1), precision.autocast():
                fake = G(z, labels)
            self.opt_d.zero_grad(set_to_none=True)
            stats = self.objective.d_phase(D, real, fake, labels, generator=self.rng)
            precision.unscale("d", self.opt_d)
            grad_d = grad_d + _grad_norm(self.D)
            precision.step("d", self.opt_d)
            self.objective.after_d_step(D)
            for k, v in stats.items():
                d_stats[k] = d_stats[k] + v if k in d_stats else v

        # (2) Update G: minimize the loss's G objective through the updated D
        self.D.requires_grad_(False)
        if self.n_critic > 1:
            z = sample_z(batch, z_dim, z_dist, generator=self.rng, device=device)
            with precision.autocast():
                fake = G(z, labels)
        self.opt_g.zero_grad(set_to_none=True)
        g_stats = self.objective.g_phase(D, fake, labels)
        precision.unscale("g", self.opt_g)
        grad_g = _grad_norm(self.G)
        precision.step("g", self.opt_g)
        if self.G_ema is not None:
            self._update_ema()

        out = {k: v / self.n_critic for k, v in d_stats.items()}
        out.update(g_stats)
        out["grad_norm_d"] = grad_d / self.n_critic
        out["grad_norm_g"] = grad_g
        return out

    @torch.no_grad()
    def _update_ema(self) -> None:
        # warm-up (as TF's ExponentialMovingAverage with num_updates): without it a 0.999 EMA
        # still weighs the random initial weights 67% after 400 steps, and early grids are noise
        decay = min(self.config.optim.ema_decay, (1 + self.step) / (10 + self.step))
        ema_params, params = self._ema_params
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)
        for b_ema, b in self._ema_buffers:
            b_ema.copy_(b)

    # ------------------------------------------------------------------------------------------
    # reporting
    # ------------------------------------------------------------------------------------------

    def _restart_clock(self) -> None:
        self._elapsed = 0.0
        self._clock = time.perf_counter()

    def _report(self) -> None:
        """Average the window, add periodic measurements, emit; raise _Diverged on NaN/inf."""
        window, self._window = self._window, []
        keys = list(dict.fromkeys(k for stats in window for k in stats))
        # (steps, keys) on the device -> one transfer to the host
        table = torch.stack([torch.stack([s[k].float() for k in keys]) for s in window]).cpu()
        self._elapsed += time.perf_counter() - self._clock
        first_step = self.step - len(window) + 1
        for name in ("loss_d", "loss_g"):
            if name not in keys:
                continue
            col = table[:, keys.index(name)]
            finite = torch.isfinite(col)
            if not finite.all():
                at = first_step + int((~finite).nonzero()[0])
                raise _Diverged(f"{name} became {col[~finite][0].item()} at step {at}")
        values = dict(zip(keys, table.mean(0).tolist(), strict=True))
        step_time = self._elapsed / len(window)
        values["step_time"] = step_time
        values["images_per_s"] = self.config.train.batch_size * self.n_critic / step_time
        if self.compile_s is not None and not self._compile_reported:
            values["compile_s"] = self.compile_s
            self._compile_reported = True
        sched = self.config.train
        if self.step % sched.spectral_every == 0:
            values.update(
                {f"sigma/{name}": float(v) for name, v in self.spectral.measure().items()}
            )
        if self.step % sched.sample_every == 0 or self.step == sched.steps:
            values.update(self._sample())
        every = self.config.eval.every
        if every and (self.step % every == 0 or self.step == sched.steps):
            values.update(self._evaluate())
        self._emit(Metrics(step=self.step, values=values, steps=len(window)))

    def _sampling_generator(self) -> nn.Module:
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def _sample(self) -> dict[str, float]:
        """Emit a grid (images) or a 2D view; return the 2D measurements."""
        G = self._sampling_generator()
        was_training = G.training
        G.eval()
        try:
            fake = G(self.fixed_z, self.fixed_labels)
        finally:
            G.train(was_training)
        if self.config.is_toy:
            return self._toy_view(fake)
        self._emit_grid(fake)
        return {}

    def _evaluate(self) -> dict[str, float]:
        """The eval.metrics of the sampling G (after the window's clock stopped, so its time
        shows as eval_time, not in step_time); flags a new best FID for a checkpoint."""
        from gan_core.evaluate import PeriodicEvaluator

        start = time.perf_counter()
        if self._evaluator is None:
            num_classes = self.data.info.num_classes if self.conditional else None
            self._evaluator = PeriodicEvaluator(self.config, self.data, self.device, num_classes)
        values = self._evaluator(self._sampling_generator())
        values["eval_time"] = time.perf_counter() - start
        best = self._evaluator.kept_best(values)  # FID: lower is better
        if best is not None and best < self._best_fid:
            self._best_fid = best
            self._save_best = self.config.eval.checkpoint_best
        return values

    def _emit_grid(self, fake: Tensor) -> None:
        from PIL import Image
        from torchvision.utils import make_grid

        nrow = max(1, int(math.sqrt(len(fake))))
        # (C, H, W) in [-1, 1], the padding 0 (mid grey) -> (H, W, C) uint8
        grid = make_grid(fake.float().cpu(), nrow=nrow, pad_value=0.0)
        array = to_uint8(grid).permute(1, 2, 0).numpy()
        buf = io.BytesIO()
        Image.fromarray(array.squeeze(-1) if array.shape[2] == 1 else array).save(buf, "PNG")
        self._emit(SampleGrid(step=self.step, png=buf.getvalue(), nrow=nrow, count=len(fake)))

    def _toy_view(self, fake: Tensor) -> dict[str, float]:
        info = self.data.info
        values: dict[str, float] = {}
        fake_cpu = fake.float().cpu()
        if info.mode_centers is not None:
            cov = mode_coverage(fake_cpu, info.mode_centers, info.sigma)
            values["modes_captured"] = float(cov.modes_captured)
            values["hq_fraction"] = cov.hq_fraction
        values["w1_exact"] = w1_exact(self.toy_real, fake_cpu[:TOY_W1_POINTS])

        # where G's loss pushes each shown fake point: -dL_G/dx; a packed D (PacGAN) judges
        # each point as a pack of copies of itself
        pack = self.config.model.pack
        shown = fake[:TOY_VIEW_POINTS].detach().float().requires_grad_(True)
        with torch.enable_grad():
            d_shown = self.D(repeat_for_pack(shown, pack), None)
            loss = self.objective.loss.g_loss(d_shown) * len(shown)
            (grad,) = torch.autograd.grad(loss, shown)
        xmin, xmax, ymin, ymax = info.extent
        res = TOY_GRID_RESOLUTION
        ys, xs = torch.meshgrid(
            torch.linspace(ymin, ymax, res), torch.linspace(xmin, xmax, res), indexing="ij"
        )
        plane = torch.stack([xs.flatten(), ys.flatten()], dim=1).to(self.device)  # (res*res, 2)
        d_plane = self.D(repeat_for_pack(plane, pack), None).float().cpu()
        self._emit(
            Toy2DView(
                step=self.step,
                real=self.toy_real[:TOY_VIEW_POINTS].tolist(),
                fake=shown.detach().cpu().tolist(),
                grad_field=(-grad).cpu().tolist(),
                d_grid=d_plane.tolist(),
                resolution=res,
                extent=(xmin, xmax, ymin, ymax),
                mode_centers=info.mode_centers.tolist() if info.mode_centers is not None else None,
            )
        )
        return values

    # ------------------------------------------------------------------------------------------
    # controls
    # ------------------------------------------------------------------------------------------

    def _apply_controls(self) -> bool:
        """Apply pending commands; block while paused. Returns True when asked to stop."""
        if self.controls is None:
            return False
        while True:
            try:
                if self.paused:
                    self._elapsed += time.perf_counter() - self._clock
                    cmd = self.controls.get(timeout=0.5)
                    self._clock = time.perf_counter()
                else:
                    cmd = self.controls.get_nowait()
            except queue.Empty:
                if self.paused:
                    continue
                return False
            if cmd.action == "stop":
                return True
            if cmd.action == "pause" and not self.paused:
                if self._window:
                    self._report()  # a paused run shows its latest numbers
                self.paused = True
                self._emit(StatusChanged(step=self.step, status=RunStatus.PAUSED))
            elif cmd.action == "resume" and self.paused:
                self.paused = False
                self._emit(StatusChanged(step=self.step, status=RunStatus.RUNNING))
            elif cmd.action == "step" and self.paused:
                self._report_next = True
                return False  # run exactly one step, then stay paused
            elif cmd.action == "set":
                self.set_hyperparams(**cmd.values)
            elif cmd.action == "checkpoint":
                self.save_checkpoint()  # the weights as they are now, e.g. for the explorer

    def set_hyperparams(self, **values: float) -> None:
        """Change lr_g, lr_d and n_critic for the steps that follow (with a schedule, the
        learning rates it scales)."""
        Command("set", values)  # validates
        for key, value in values.items():
            if key in ("lr_g", "lr_d"):
                self.lr_base[key[-1]] = float(value)
            elif key == "n_critic":
                self.n_critic = int(value)
        self._set_lrs(self._lr_factor())
        self._emit(HyperparamsChanged(step=self.step, changes=dict(values)))

    def _lr_factor(self) -> float:
        """What the schedule makes of the set learning rates at this step."""
        if self.config.optim.lr_decay == "linear":
            return max(0.0, 1.0 - self.step / self.config.train.steps)
        return 1.0

    def _set_lrs(self, factor: float) -> None:
        for opt, base in ((self.opt_g, self.lr_base["g"]), (self.opt_d, self.lr_base["d"])):
            for group in opt.param_groups:
                group["lr"] = base * factor

    def _emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink(event)
