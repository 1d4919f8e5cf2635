"""What a study's requests look like: a study, a session start, a judgment."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, model_validator

from server.schemas import MAX_INT, RUN_ID_PATTERN, Strict

STUDY_ID_PATTERN = r"^[0-9a-f]{12}$"
IMAGE_ID_PATTERN = r"^[0-9a-f]{32}$"
PARTICIPANT_PATTERN = r"^[A-Za-z0-9_.:@\-]{1,100}$"


class ConditionSpec(Strict):
    run_id: str = Field(pattern=RUN_ID_PATTERN, description="The run whose generator is tested.")
    step: int | None = Field(None, ge=0, le=MAX_INT,
                             description="Its checkpoint (default: the newest).")
    ema: bool = Field(True, description="The EMA weights of G when the run kept them.")
    label: str = Field(min_length=1, max_length=100, description="How results name it.")


class StudyCreate(Strict):
    """A new study. Real images come from the first condition's data set."""

    name: str = Field(min_length=1, max_length=200)
    conditions: list[ConditionSpec] = Field(min_length=1, max_length=8)
    protocol: Literal["2afc", "single"] = Field(
        "2afc", description="2afc: a real and a fake image per trial, 'which was fake?' "
        "(pix2pix). single: one image, real or fake with equal odds, 'real or fake?' (HYPE).")
    presentation: Literal["sequential", "side_by_side"] = Field(
        "sequential", description="2afc only: one image after the other, or both at once.")
    exposure_ms: int = Field(1000, ge=50, le=10_000, description="How long each image shows "
                             "(2afc; a single image stays until the answer).")
    gap_ms: int = Field(300, ge=0, le=5_000, description="Blank between sequential images.")
    practice_trials: int = Field(10, ge=0, le=100, description="With feedback.")
    main_trials: int = Field(40, ge=1, le=500, description="Without feedback; scored.")
    vigilance_rate: float = Field(0.1, ge=0.0, le=0.5, description="Share of main trials that "
                                  "are obviously fake (an untrained generator).")
    vigilance_pass: float = Field(0.75, ge=0.0, le=1.0, description="Share of vigilance trials "
                                  "a participant must get right not to be flagged.")
    pool_size: int = Field(50, ge=2, le=2000, description="Images generated per condition "
                           "(and real images): the pool every participant draws from.")
    instructions: str = Field("", max_length=5000, description="Shown after the standard text.")
    completion_code: str | None = Field(None, pattern=r"^[A-Za-z0-9_\-]{1,100}$",
                                        description="Shown at the end (e.g. Prolific's).")
    seed: int = Field(0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _labels_unique(self) -> StudyCreate:
        labels = [c.label for c in self.conditions]
        if len(set(labels)) != len(labels):
            raise ValueError("conditions: each condition needs its own label")
        return self


class SessionStart(Strict):
    participant: str | None = Field(None, pattern=PARTICIPANT_PATTERN, description="From the "
                                    "recruiting platform (PROLIFIC_PID, workerId); none: a new "
                                    "anonymous id.")
    token: str | None = Field(None, max_length=64, description="The session's token, to resume.")


class JudgmentIn(Strict):
    position: int = Field(ge=0, le=2**31 - 1, description="The trial's position in the session.")
    response: Literal[0, 1] = Field(description="2afc: the index of the image judged fake. "
                                    "single: 1 fake, 0 real.")
    exposures_ms: list[Annotated[float, Field(ge=0, le=86_400_000)]] = Field(
        min_length=1, max_length=2, description="Measured on-screen time of each image shown.")
    response_ms: float = Field(ge=0, le=86_400_000, description="From the answer prompt to "
                               "the answer.")

    @model_validator(mode="after")
    def _finite(self) -> JudgmentIn:
        if not all(math.isfinite(x) and 0 <= x <= 86_400_000 for x in self.exposures_ms):
            raise ValueError("exposures_ms: each must be a time in ms")
        return self
