"""Lessons: interactive figures of GAN theory, computed by gan_core (the numbers, never the
page, do the math)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from gan_core.divergences import divergence_curves
from server.deps import StateDep
from server.errors import answers

router = APIRouter(prefix="/api/lessons", tags=["lessons"])

Sigma = Annotated[float, Query(ge=0.0, le=1.0, description="Width of both distributions; 0: "
                               "point masses (the WGAN paper's parallel lines).")]


@router.get("/divergences")
async def divergences(
    sigma: Sigma = 0.05,
    max_theta: Annotated[float, Query(gt=0.0, le=10.0, description="Largest separation.")] = 2.0,
    points: Annotated[int, Query(ge=3, le=801, description="Values of theta.")] = 201,
) -> dict[str, Any]:
    """KL(P || Q_theta), JS and W1 between P at 0 and Q_theta at theta, for theta over
    [-max_theta, max_theta]; an infinite KL is null."""
    thetas = np.linspace(-max_theta, max_theta, points)
    curves = await run_in_threadpool(divergence_curves, thetas, sigma)
    curves["kl"] = [None if v == float("inf") else v for v in curves["kl"]]
    return {"sigma": sigma, **curves}


@router.get("/divergences/gradients", responses=answers(503))
async def generator_gradients(
    state: StateDep,
    theta: Annotated[float, Query(ge=-10.0, le=10.0, description="Where G's samples are.")],
    sigma: Annotated[float, Query(ge=0.01, le=1.0, description="Width of P and Q.")] = 0.05,
    d_steps: Annotated[int, Query(ge=10, le=2000, description="D's training steps.")] = 300,
) -> dict[str, Any]:
    """A small D trained against G's samples at theta with each loss (minimax,
    nonsaturating, wgan-gp): D's output over the line and the gradient G gets."""
    return await state.images.lesson_gradients(theta=theta, sigma=sigma, d_steps=d_steps)

