"""System: health, the config schema, and the registries the web form builds its menus from."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from server.deps import StateDep

router = APIRouter(prefix="/api", tags=["system"])


@router.get("/health")
def health(state: StateDep) -> dict[str, Any]:
    """Liveness, the database kind, and the job backend: slots or cluster nodes, CPUs and
    GPUs free and used, live workers, queued runs."""
    import gan_core

    state.db.ping()
    return {
        "status": "ok",
        "version": gan_core.__version__,
        "database": state.db.write_engine.dialect.name,
        "jobs": state.jobs.describe(),
        "images": {"pid": state.images.pid},  # the image service, once something used it
    }


@router.get("/config/schema")
def config_schema() -> dict[str, Any]:
    """The JSON schema of a run config (the web form is generated from it)."""
    from gan_core.config import RunConfig

    return RunConfig.model_json_schema()


@router.get("/registry")
def registry() -> dict[str, Any]:
    """Data sets (each with its kind, shape, classes and feature spaces), models, losses,
    evaluation metrics and presets, with their descriptions; the run page's charts and every
    reported metric (label, direction, chart); and the run statuses, each with its sets and
    the actions it allows."""
    from gan_core.config import DCGANModel, MLPModel
    from gan_core.data import DATASETS
    from gan_core.evaluations import EVALUATIONS, describe_metrics
    from gan_core.losses import LOSSES
    from gan_core.metrics.features import EXTRACTORS
    from gan_core.presets import PRESETS, preset_dict
    from gan_core.reports import CHARTS
    from gan_core.status import describe_statuses

    return {
        "datasets": DATASETS.describe(),
        "models": [{"name": "mlp", "description": MLPModel.__doc__ or ""},
                   {"name": "dcgan", "description": DCGANModel.__doc__ or ""}],
        "losses": LOSSES.describe(),
        "evaluations": EVALUATIONS.describe(),
        "features": [{"name": name, "suffix": kind.suffix, "label": kind.label,
                      "space": kind.space, "note": kind.note}
                     for name, kind in EXTRACTORS.items()],
        "charts": CHARTS.describe(),
        "metrics": describe_metrics(),
        "presets": [{**entry, "config": preset_dict(entry["name"])}
                    for entry in PRESETS.describe()],
        "statuses": describe_statuses(),
    }
