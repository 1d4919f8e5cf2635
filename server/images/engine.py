"""What the image process does: the generators it keeps loaded and the operations it answers
(explorer renders, directions, interpolation, neighbours, study pools, support draws, the
lesson's gradients). Plain methods, so tests can call them in-process."""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from server.images.encoding import gif_bytes, png_data_url, tile

log = logging.getLogger(__name__)

MAX_GENERATORS = 4  # loaded checkpoints kept; a 64 px DCGAN is tens of MB
MAX_DIRECTION_SETS = 16
NEIGHBOUR_BANK = 20_000  # training images searched (all of them in the offline sets)
SUPPORT_MAX_S = 5000  # samples in one birthday-paradox draw
SUPPORT_BATCH = 500
SUPPORT_SPACES = ("auto", "mnist", "critic", "pixel")


def serve_images(conn: Connection, threads: int) -> None:
    """Entry point of the image process: answer ``(id, op, params)`` until told to stop."""
    import torch

    torch.set_num_threads(max(1, threads))
    engine = ImageEngine()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the server went away
        if message is None:
            return
        request_id, op, params = message
        start = time.perf_counter()
        try:
            result = engine.handle(op, params)
            result["render_ms"] = round((time.perf_counter() - start) * 1e3, 3)
            reply = (request_id, True, result)
        except (ValueError, TypeError) as exc:  # bad input; CheckpointError is a ValueError
            reply = (request_id, False, ("invalid", str(exc)))
        except Exception as exc:  # the service must outlive one bad request
            log.exception("image service: %s failed", op)
            reply = (request_id, False,
                     ("internal", f"internal error in {op}: {type(exc).__name__}: {exc}"))
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


class ImageEngine:
    """What the image process does; plain methods, so tests can call it in-process."""

    def __init__(self, device: str | None = None) -> None:
        import torch

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.generators: OrderedDict[tuple, Any] = OrderedDict()
        self.directions: OrderedDict[tuple, Any] = OrderedDict()
        self.banks: OrderedDict[tuple, Any] = OrderedDict()
        self._mnist: Any = None  # the MNIST feature net, loaded on first use

    def handle(self, op: str, params: dict[str, Any]) -> dict[str, Any]:
        method = getattr(self, f"op_{op}", None)
        if method is None:
            raise ValueError(f"unknown operation {op!r}")
        return method(**params)

    # -- loading ------------------------------------------------------------------------------

    def generator(self, checkpoint: str, ema: bool) -> Any:
        from gan_core.generate import load_generator

        path = Path(checkpoint)
        key = (str(path), path.stat().st_mtime_ns if path.exists() else 0, ema)
        loaded = self.generators.get(key)
        if loaded is None:
            loaded = load_generator(path, ema=ema, device=self.device)
            self.generators[key] = loaded
            while len(self.generators) > MAX_GENERATORS:
                self.generators.popitem(last=False)
        self.generators.move_to_end(key)
        return loaded

    def _latents(self, g: Any, z: list[float] | None, seed: int | None) -> Any:
        """(1, z_dim): ``z`` as given, or the seed's draw from the run's prior."""
        import torch

        if z is not None:
            if len(z) != g.z_dim:
                raise ValueError(f"z must have {g.z_dim} numbers (this generator's z size), "
                                 f"got {len(z)}")
            return torch.tensor([z], dtype=torch.float32)
        return g.sample_z(1, seed if seed is not None else 0)

    # -- operations ---------------------------------------------------------------------------

    def op_info(self, checkpoint: str, ema: bool = True) -> dict[str, Any]:
        from gan_core.latent import activation_layers

        g = self.generator(checkpoint, ema)
        return {"step": g.step, "ema": g.ema, "z_dim": g.z_dim,
                "z_distribution": g.z_distribution, "num_classes": g.num_classes,
                "image_shape": list(g.image_shape), "layers": activation_layers(g.G),
                "device": str(g.device)}

    def op_render(self, checkpoint: str, ema: bool = True, z: list[float] | None = None,
                  seed: int | None = None, psi: float = 1.0, label: int | None = None,
                  variations: int = 0, spread: float = 0.5,
                  variation_seed: int = 0) -> dict[str, Any]:
        """The image for ``z`` (or the seed's z), truncated by ``psi``; with ``variations``,
        also a grid of that many neighbours ``z + spread * noise``."""
        import torch

        from gan_core.generate import to_uint8
        from gan_core.latent import truncate

        g = self.generator(checkpoint, ema)
        base = self._latents(g, z, seed)
        batch = [truncate(base, psi)]
        if variations:
            noise = g.sample_z(variations, variation_seed)
            batch.append(truncate(base + spread * noise, psi))
        latents = torch.cat(batch)
        images = to_uint8(g(latents, g.labels(label, len(latents))))
        out = {"image": png_data_url(images[0]), "z": base[0].tolist(), "step": g.step,
               "ema": g.ema, "grid": None}
        if variations:
            out["grid"] = png_data_url(tile(images[1:]))
        return out

    def op_directions(self, checkpoint: str, ema: bool = True, layer: str | None = None,
                      k: int = 10, samples: int = 2000, seed: int = 0) -> dict[str, Any]:
        """Principal directions (GANSpace) over ``samples`` latents of the seed."""
        from gan_core.latent import principal_directions

        g = self.generator(checkpoint, ema)
        key = (checkpoint, g.ema, layer, k, samples, seed)
        found = self.directions.get(key)
        if found is None:
            z = g.sample_z(samples, seed)
            labels = g.labels(None, samples)
            found = principal_directions(g.G, z, k=min(k, g.z_dim), layer=layer, labels=labels)
            self.directions[key] = found
            while len(self.directions) > MAX_DIRECTION_SETS:
                self.directions.popitem(last=False)
        return {"space": found.space, "samples": found.samples,
                "vectors": found.vectors.tolist(), "stddev": found.stddev.tolist(),
                "explained": found.explained.tolist()}

    def op_interpolate(self, checkpoint: str, keyframes: list[dict[str, Any]], ema: bool = True,
                       steps: int = 8, method: str = "slerp", psi: float = 1.0,
                       label: int | None = None, strip: bool = True,
                       gif_ms: int | None = None) -> dict[str, Any]:
        """``steps`` images between each pair of consecutive keyframes (ends included once),
        as data URLs; optionally a PNG strip of them all and an animated GIF."""
        import torch

        from gan_core.generate import to_uint8
        from gan_core.latent import lerp, slerp, truncate

        g = self.generator(checkpoint, ema)
        if method not in ("lerp", "slerp"):
            raise ValueError(f"method must be 'lerp' or 'slerp', got {method!r}")
        if len(keyframes) < 2:
            raise ValueError("an interpolation needs at least two keyframes")
        keys = torch.cat([self._latents(g, k.get("z"), k.get("seed")) for k in keyframes])
        path = lerp if method == "lerp" else slerp
        t = torch.linspace(0, 1, steps)[:, None]
        segments = [path(keys[i][None], keys[i + 1][None], t)[:-1] for i in range(len(keys) - 1)]
        latents = torch.cat([*segments, keys[-1:]])
        images = to_uint8(g(truncate(latents, psi), g.labels(label, len(latents))))
        out: dict[str, Any] = {"frames": [png_data_url(im) for im in images],
                               "count": len(images), "step": g.step, "ema": g.ema}
        if strip:
            out["strip"] = png_data_url(tile(images, nrow=len(images)))
        if gif_ms is not None:
            out["gif"] = gif_bytes(images, gif_ms)
        return out

    def op_neighbours(self, checkpoint: str, ema: bool = True, z: list[float] | None = None,
                      seed: int | None = None, psi: float = 1.0, label: int | None = None,
                      k: int = 5, space: str = "pixel") -> dict[str, Any]:
        """The ``k`` training images nearest to the image of ``z``, in pixel space or in the
        run's own critic's feature space."""
        from gan_core.generate import to_uint8
        from gan_core.latent import truncate
        from gan_core.neighbours import nearest

        if space not in ("pixel", "critic"):
            raise ValueError(f"space must be 'pixel' or 'critic', got {space!r}")
        g = self.generator(checkpoint, ema)
        image = g(truncate(self._latents(g, z, seed), psi), g.labels(label, 1))
        images, labels = self._bank(g)
        bank = self._features(g, checkpoint, space, images)
        query = image.flatten(1).cpu() if space == "pixel" else g.critic_features(image).cpu()
        distances, indices = nearest(query, bank, k)
        chosen = to_uint8(images[indices[0]])
        return {"image": png_data_url(to_uint8(image)[0]), "space": space,
                "bank_size": len(images), "step": g.step, "ema": g.ema,
                "neighbours": [{"image": png_data_url(im), "distance": float(d),
                                "label": None if labels is None else int(labels[i])}
                               for im, d, i in zip(chosen, distances[0], indices[0],
                                                   strict=True)]}

    def _bank(self, g: Any) -> tuple[Any, Any]:
        """Training images (all, or a fixed random subset of ``NEIGHBOUR_BANK``) in [-1, 1]."""
        import torch

        from gan_core.data import build_data

        key = ("data", json.dumps(g.config.data.model_dump(mode="json"), sort_keys=True))
        found = self.banks.get(key)
        if found is None:
            source = build_data(g.config.data, seed=g.config.seed)
            try:
                size = min(source.info.size or NEIGHBOUR_BANK, NEIGHBOUR_BANK)
                found = source.sample(size, torch.Generator().manual_seed(0))
            finally:
                source.close()
            self._remember(key, found)
        return found

    def _features(self, g: Any, checkpoint: str, space: str, images: Any) -> Any:
        import torch

        if space == "pixel":
            return images.flatten(1)
        key = ("critic", checkpoint, g.ema, len(images))
        found = self.banks.get(key)
        if found is None:
            found = torch.cat([g.critic_features(chunk).cpu() for chunk in images.split(512)])
            self._remember(key, found)
        return found

    def _remember(self, key: tuple, value: Any) -> None:
        self.banks[key] = value
        while len(self.banks) > 4:
            self.banks.popitem(last=False)

    # -- study image pools ----------------------------------------------------------------------

    def op_pool(self, checkpoint: str, kind: str, folder: str, names: list[str],
                ema: bool = True, seed: int = 0) -> dict[str, Any]:
        """Write one PNG per name into ``folder``: samples of G (``fake``), images of the
        run's data set (``real``; held out of training where the set allows), or images of an
        untrained G of the same architecture (``vigilance``: obviously fake, same size and
        format). Returns what the images are, in words."""
        import torch

        from gan_core.generate import to_uint8

        g = self.generator(checkpoint, ema)
        n = len(names)
        if kind == "fake":
            images = to_uint8(g(g.sample_z(n, seed), g.labels(None, n)))
            source = f"G{' (EMA)' if g.ema else ''} at step {g.step}"
        elif kind == "vigilance":
            from gan_core.models import build_models

            torch.manual_seed(seed)
            untrained, _ = build_models(g.config.model, shape=g.image_shape,
                                        num_classes=g.num_classes)
            labels = g.labels(None, n)
            with torch.inference_mode():
                images = to_uint8(untrained.eval()(g.sample_z(n, seed),
                                                   None if labels is None else labels.cpu()))
            source = "an untrained generator of the same architecture"
        elif kind == "real":
            images, source = self._real_images(g, n, seed)
        else:
            raise ValueError(f"kind must be 'fake', 'real' or 'vigilance', got {kind!r}")
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        from PIL import Image

        for name, image in zip(names, images, strict=True):
            Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).save(
                out / f"{name}.png", "PNG")
        return {"source": source, "count": n, "step": g.step, "ema": g.ema}

    def _real_images(self, g: Any, n: int, seed: int) -> tuple[Any, str]:
        """``n`` images of the run's data set as uint8 (n, H, W, C): images past
        ``data.limit`` (never in the training stream) when there are enough, else a seeded
        draw from the training images, and a sentence saying which."""
        import torch

        from gan_core.data import build_data
        from gan_core.generate import to_uint8

        data = g.config.data
        generator = torch.Generator().manual_seed(int(seed))
        if data.limit is not None:
            full = build_data(data.model_copy(update={"limit": None}), seed=g.config.seed)
            try:
                spare = (full.info.size or 0) - data.limit
                fetch = getattr(full, "_fetch", None)  # index access: in-memory and file sets
                if spare >= n and fetch is not None:
                    picks = data.limit + torch.randperm(spare, generator=generator)[:n]
                    pixels, _ = fetch(picks)
                    return (pixels.permute(0, 2, 3, 1).numpy(),
                            f"held out: {n} of the {spare} {data.name} images past "
                            f"data.limit={data.limit}, never in the training stream")
            finally:
                full.close()
        source = build_data(data, seed=g.config.seed)
        try:
            images, _ = source.sample(n, generator)
        finally:
            source.close()
        return (to_uint8(images),
                f"{data.name} training images (a seeded draw; this run trained on the whole "
                "set, so none is held out)")

    # -- the birthday-paradox support test ------------------------------------------------------

    def op_support_draw(self, checkpoint: str, ema: bool = True, s: int = 100, seed: int = 0,
                        top: int = 20, features: str = "auto") -> dict[str, Any]:
        """Draw ``s`` samples of G (the seed's latents), and return the ``top`` closest pairs
        in a feature space as images, closest first: the candidates a person judges.

        ``features``: ``mnist`` (the MNIST feature net; MNIST-like sets only), ``critic``
        (the run's own D), ``pixel``; ``auto``: mnist where it fits, else critic."""
        import torch

        from gan_core.config import mnist_feature_sets
        from gan_core.evaluate import check_features_fit, generated_features
        from gan_core.generate import to_uint8
        from gan_core.metrics.support import closest_pairs

        if not 2 <= s <= SUPPORT_MAX_S:
            raise ValueError(f"s must lie in 2..{SUPPORT_MAX_S}, got {s}")
        if features not in SUPPORT_SPACES:
            raise ValueError(f"features must be one of {', '.join(SUPPORT_SPACES)}, got "
                             f"{features!r}")
        g = self.generator(checkpoint, ema)
        data_name = g.config.data.name
        space = features
        if space == "auto":
            space = "mnist" if data_name in mnist_feature_sets() else "critic"
        if space == "mnist":
            check_features_fit("mnist", data_name)
        z = g.sample_z(s, seed)  # (s, z_dim)
        labels = g.labels(None, s)
        if space == "mnist":
            feats = generated_features(g, z, labels, self._mnist_extractor()).features
        else:
            chunks = []
            for i in range(0, s, SUPPORT_BATCH):
                images = g(z[i:i + SUPPORT_BATCH],
                           None if labels is None else labels[i:i + SUPPORT_BATCH])
                chunks.append(images.flatten(1).cpu() if space == "pixel"
                              else g.critic_features(images).cpu())
            feats = torch.cat(chunks)  # (s, D)
        pairs = closest_pairs(feats, top)
        shown = sorted({k for i, j, _ in pairs for k in (i, j)})
        picked = torch.tensor(shown)
        images = to_uint8(g(z[picked], None if labels is None else labels[picked]))
        url = {k: png_data_url(im) for k, im in zip(shown, images, strict=True)}
        return {"s": s, "seed": seed, "space": space, "step": g.step, "ema": g.ema,
                "pairs": [{"i": i, "j": j, "distance": d, "image_i": url[i], "image_j": url[j]}
                          for i, j, d in pairs]}

    # -- the divergence lesson ------------------------------------------------------------------

    def op_lesson_gradients(self, theta: float, sigma: float, d_steps: int) -> dict[str, Any]:
        """For each of the lesson's losses: a D trained against a generator at ``theta``, its
        output over the line and the gradient G gets (gan_core.divergences)."""
        from dataclasses import asdict

        from gan_core.divergences import generator_gradients

        return {"theta": theta, "sigma": sigma, "losses": [
            asdict(g) for g in generator_gradients(theta, sigma=sigma, d_steps=d_steps)]}

    def _mnist_extractor(self) -> Any:
        if self._mnist is None:
            from gan_core.metrics.features import build_extractor

            self._mnist = build_extractor("mnist", self.device)
        return self._mnist
