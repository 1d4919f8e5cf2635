"""Real-vs-fake studies behind the routes: create (pools frozen), sessions, judgments, results.

A study's images are generated once, at creation, by the image service and kept as PNG files
under ``DATA_DIR/studies/<study_id>/images/<opaque id>.png``; every participant draws from the
same pool. A session's trials are fixed when it starts, from a seed derived from the study's
seed and the participant id, so a reload serves exactly the same next trial. Judgments are
stored by ``server.judgments.JudgmentWriter`` (group commits, acknowledged after the commit):
what a participant's browser was told is stored is stored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import random
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from sqlalchemy import func, select

from gan_core.metrics.human import (
    bootstrap_interval,
    exposure_quality,
    fooling_rate,
    prob_greater,
)
from server.db import Database
from server.errors import Conflict, NotFound
from server.models import (
    Judgment,
    PoolImage,
    Study,
    StudyCondition,
    StudySession,
    StudyTrial,
)
from server.schemas import RUN_ID_PATTERN, Strict

__all__ = ["JudgmentIn", "SessionStart", "StudyCreate", "StudyStore", "plan_trials"]

STUDY_ID_PATTERN = r"^[0-9a-f]{12}$"
IMAGE_ID_PATTERN = r"^[0-9a-f]{32}$"
PARTICIPANT_PATTERN = r"^[A-Za-z0-9_.:@\-]{1,100}$"
RESAMPLES = 10_000


# -- schemas ------------------------------------------------------------------------------------


class ConditionSpec(Strict):
    run_id: str = Field(pattern=RUN_ID_PATTERN, description="The run whose generator is tested.")
    step: int | None = Field(None, ge=0, description="Its checkpoint (default: the newest).")
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


# -- trials -------------------------------------------------------------------------------------


@dataclass
class PlannedTrial:
    phase: str
    vigilance: bool
    images: list[str]
    answer: int
    fake_shown: bool


def _cycle(pool: list[str], rng: random.Random):
    """Each image once in a shuffled order, then again in a new order: no repeats until the
    pool is used up."""
    while True:
        order = pool[:]
        rng.shuffle(order)
        yield from order


def plan_trials(protocol: str, practice: int, main: int, vigilance_rate: float,
                fakes: list[str], reals: list[str], vigilance: list[str],
                seed: int) -> list[PlannedTrial]:
    """A session's trials, the same for the same seed: practice first, then the main trials
    with ``round(main * vigilance_rate)`` vigilance trials at random main positions."""
    rng = random.Random(seed)
    fake_it, real_it = _cycle(fakes, rng), _cycle(reals, rng)
    vig_it = _cycle(vigilance, rng) if vigilance else None
    n_vig = round(main * vigilance_rate) if vig_it is not None else 0
    vig_at = set(rng.sample(range(main), n_vig))
    trials = []
    for i in range(practice + main):
        phase = "practice" if i < practice else "main"
        is_vig = phase == "main" and (i - practice) in vig_at
        fake = next(vig_it) if is_vig else next(fake_it)  # type: ignore[arg-type]
        if protocol == "2afc":
            position = rng.randrange(2)  # where the fake goes: first/left or second/right
            real = next(real_it)
            images = [fake, real] if position == 0 else [real, fake]
            trials.append(PlannedTrial(phase, is_vig, images, position, True))
        else:
            shown_fake = is_vig or rng.random() < 0.5
            trials.append(PlannedTrial(phase, is_vig, [fake if shown_fake else next(real_it)],
                                       int(shown_fake), shown_fake))
    return trials


def participant_seed(study_seed: int, participant: str) -> int:
    digest = hashlib.sha256(f"ganscope-study:{study_seed}:{participant}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


# -- the store ----------------------------------------------------------------------------------


def study_public(study: Study, conditions: list[StudyCondition],
                 counts: dict[int, int] | None = None) -> dict[str, Any]:
    return {
        "id": study.id, "name": study.name, "protocol": study.protocol,
        "presentation": study.presentation, "exposure_ms": study.exposure_ms,
        "gap_ms": study.gap_ms, "practice_trials": study.practice_trials,
        "main_trials": study.main_trials, "vigilance_rate": study.vigilance_rate,
        "vigilance_pass": study.vigilance_pass, "instructions": study.instructions,
        "completion_code": study.completion_code, "real_source": study.real_source,
        "seed": study.seed, "status": study.status, "created_at": study.created_at,
        "participant_url": f"/s/{study.id}",
        "conditions": [{"id": c.id, "label": c.label, "run_id": c.run_id, "step": c.step,
                        "ema": c.ema, "sessions": (counts or {}).get(c.id, 0)}
                       for c in conditions],
    }


def participant_view(study: Study) -> dict[str, Any]:
    """What a participant's page may know: the procedure, nothing about the conditions."""
    return {"id": study.id, "protocol": study.protocol, "presentation": study.presentation,
            "exposure_ms": study.exposure_ms, "gap_ms": study.gap_ms,
            "practice_trials": study.practice_trials, "main_trials": study.main_trials,
            "instructions": study.instructions, "open": study.status == "open"}


@dataclass
class ParticipantScore:
    participant: str
    condition_id: int
    completed: bool
    trials: int = 0  # scored main trials (a fake was shown, not vigilance)
    fooled: int = 0
    correct: int = 0
    answered: int = 0
    vigilance: int = 0
    vigilance_correct: int = 0
    exposures: list[float] = field(default_factory=list)
    response_ms: list[float] = field(default_factory=list)
    flagged: bool = False


class StudyStore:
    """The database side of studies; every method is synchronous (run it in a thread)."""

    def __init__(self, db: Database, studies_dir: Path) -> None:
        self.db = db
        self.studies_dir = studies_dir

    def image_path(self, study_id: str, image_id: str) -> Path:
        return self.studies_dir / study_id / "images" / f"{image_id}.png"

    # -- admin ------------------------------------------------------------------------------

    def insert(self, study: Study, conditions: list[StudyCondition],
               pools: dict[tuple[str, int | None], list[str]]) -> dict[str, Any]:
        """Store a study whose pool files exist; ``pools``: (kind, condition position) ->
        image ids."""
        with self.db.write() as session:
            session.add(study)
            session.flush()
            for c in conditions:
                session.add(c)
            session.flush()
            by_position = {c.position: c.id for c in conditions}
            for (kind, position), ids in pools.items():
                for i, image_id in enumerate(ids):
                    session.add(PoolImage(id=image_id, study_id=study.id, kind=kind, position=i,
                                          condition_id=by_position.get(position)))
        return study_public(study, conditions)

    def _study(self, session, study_id: str) -> Study:
        study = session.get(Study, study_id)
        if study is None:
            raise NotFound(f"no study {study_id}")
        return study

    def _conditions(self, session, study_id: str) -> list[StudyCondition]:
        return list(session.execute(select(StudyCondition).where(
            StudyCondition.study_id == study_id).order_by(StudyCondition.position)).scalars())

    def _session_counts(self, session, study_id: str) -> dict[int, int]:
        rows = session.execute(select(StudySession.condition_id, func.count()).where(
            StudySession.study_id == study_id).group_by(StudySession.condition_id)).all()
        return {cid: n for cid, n in rows}

    def get(self, study_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            study = self._study(session, study_id)
            return study_public(study, self._conditions(session, study_id),
                                self._session_counts(session, study_id))

    def list(self) -> list[dict[str, Any]]:
        with self.db.read() as session:
            studies = session.execute(select(Study).order_by(Study.created_at.desc())).scalars()
            return [study_public(s, self._conditions(session, s.id),
                                 self._session_counts(session, s.id)) for s in studies]

    def set_status(self, study_id: str, status: str) -> dict[str, Any]:
        with self.db.write() as session:
            self._study(session, study_id).status = status
        return self.get(study_id)

    def delete(self, study_id: str) -> None:
        with self.db.write() as session:
            session.delete(self._study(session, study_id))

    # -- participants -----------------------------------------------------------------------

    def public(self, study_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            return participant_view(self._study(session, study_id))

    def start(self, study_id: str, body: SessionStart, user_agent: str | None) -> dict[str, Any]:
        """A new session (condition assigned in balance), or the same one resumed with its
        token; a second attempt by the same participant is refused."""
        with self.db.write() as session:
            study = self._study(session, study_id)
            participant = body.participant or f"anon-{secrets.token_hex(8)}"
            found = session.execute(select(StudySession).where(
                StudySession.study_id == study_id,
                StudySession.participant == participant)).scalar_one_or_none()
            if found is not None:
                if body.token is None or not secrets.compare_digest(body.token, found.token):
                    raise Conflict(f"participant {participant} has already taken part in this "
                                   "study; each person takes part once")
                return {"token": found.token, "participant": participant}
            if study.status != "open":
                raise Conflict("this study is closed and takes no new participants")
            conditions = self._conditions(session, study_id)
            counts = self._session_counts(session, study_id)
            condition = min(conditions, key=lambda c: (counts.get(c.id, 0), c.position))
            pool = self._pool(session, study_id)
            seed = participant_seed(study.seed, participant)
            trials = plan_trials(study.protocol, study.practice_trials, study.main_trials,
                                 study.vigilance_rate, pool[("fake", condition.id)],
                                 pool[("real", None)], pool.get(("vigilance", None), []), seed)
            row = StudySession(study_id=study_id, participant=participant,
                               token=secrets.token_urlsafe(24), condition_id=condition.id,
                               seed=seed, total_trials=len(trials),
                               user_agent=(user_agent or "")[:300] or None)
            session.add(row)
            session.flush()
            session.add_all(StudyTrial(session_id=row.id, position=i, phase=t.phase,
                                       vigilance=t.vigilance, images=t.images, answer=t.answer,
                                       fake_shown=t.fake_shown) for i, t in enumerate(trials))
            return {"token": row.token, "participant": participant}

    def _pool(self, session, study_id: str) -> dict[tuple[str, int | None], list[str]]:
        pool: dict[tuple[str, int | None], list[str]] = {}
        rows = session.execute(select(PoolImage).where(PoolImage.study_id == study_id)
                               .order_by(PoolImage.kind, PoolImage.position)).scalars()
        for image in rows:
            pool.setdefault((image.kind, image.condition_id), []).append(image.id)
        return pool

    def _session(self, session, study_id: str, token: str) -> StudySession:
        found = session.execute(select(StudySession).where(
            StudySession.study_id == study_id, StudySession.token == token)).scalar_one_or_none()
        if found is None:
            raise NotFound("no such session in this study")
        return found

    def state(self, study_id: str, token: str) -> dict[str, Any]:
        """Where a session stands: the next trial (opaque image URLs only), or done."""
        with self.db.read() as session:
            study = self._study(session, study_id)
            row = self._session(session, study_id, token)
            answered = session.execute(select(func.count()).where(
                Judgment.session_id == row.id)).scalar_one()
            out: dict[str, Any] = {"participant": row.participant, "answered": answered,
                                   "total": row.total_trials,
                                   "practice_trials": study.practice_trials,
                                   "done": row.completed_at is not None, "trial": None}
            if out["done"]:
                out["completion_code"] = study.completion_code
                return out
            trial = session.execute(select(StudyTrial).where(
                StudyTrial.session_id == row.id,
                StudyTrial.position == answered)).scalar_one()
            out["trial"] = {"position": trial.position, "phase": trial.phase,
                            "images": [f"/api/studies/{study_id}/images/{i}.png"
                                       for i in trial.images]}
            return out

    # -- results ----------------------------------------------------------------------------

    def scores(self, study_id: str) -> tuple[Study, list[StudyCondition], list[ParticipantScore]]:
        with self.db.read() as session:
            study = self._study(session, study_id)
            conditions = self._conditions(session, study_id)
            sessions = {s.id: ParticipantScore(s.participant, s.condition_id,
                                               s.completed_at is not None)
                        for s in session.execute(select(StudySession).where(
                            StudySession.study_id == study_id)).scalars()}
            rows = session.execute(
                select(StudyTrial.phase, StudyTrial.vigilance, StudyTrial.fake_shown,
                       Judgment.session_id, Judgment.correct, Judgment.fooled,
                       Judgment.exposures_ms, Judgment.response_ms)
                .join(Judgment, (Judgment.session_id == StudyTrial.session_id)
                      & (Judgment.position == StudyTrial.position))
                .join(StudySession, StudySession.id == Judgment.session_id)
                .where(StudySession.study_id == study_id)).all()
        for phase, vigilance, fake_shown, sid, correct, fooled, exposures, response_ms in rows:
            score = sessions[sid]
            if phase != "main":
                continue
            if vigilance:
                score.vigilance += 1
                score.vigilance_correct += int(correct)
                continue
            score.answered += 1
            score.correct += int(correct)
            score.exposures.extend(exposures)
            score.response_ms.append(response_ms)
            if fake_shown:
                score.trials += 1
                score.fooled += int(fooled)
        for score in sessions.values():
            score.flagged = score.vigilance > 0 and (
                score.vigilance_correct / score.vigilance < study.vigilance_pass)
        return study, conditions, list(sessions.values())

    def results(self, study_id: str, exclude_flagged: bool = True,
                include_incomplete: bool = False) -> dict[str, Any]:
        study, conditions, scores = self.scores(study_id)
        per_condition = []
        included_by_condition: dict[int, list[ParticipantScore]] = {}
        for c in conditions:
            mine = [s for s in scores if s.condition_id == c.id]
            included = [s for s in mine if (s.completed or include_incomplete)
                        and not (exclude_flagged and s.flagged) and s.trials > 0]
            included_by_condition[c.id] = included
            fooled = [s.fooled for s in included]
            trials = [s.trials for s in included]
            low, high = bootstrap_interval(fooled, trials, resamples=RESAMPLES, seed=study.seed)
            timing = exposure_quality([x for s in included for x in s.exposures],
                                      study.exposure_ms)
            per_condition.append({
                "condition_id": c.id, "label": c.label, "run_id": c.run_id, "step": c.step,
                "ema": c.ema, "fooling_rate": _num(fooling_rate(fooled, trials)),
                "ci_low": _num(low), "ci_high": _num(high),
                "participants": len(included), "trials": int(sum(trials)),
                "sessions": len(mine), "completed": sum(s.completed for s in mine),
                "flagged": sum(s.flagged for s in mine),
                "excluded": len(mine) - len(included),
                "exposure": {"mean_ms": _num(timing.mean_ms), "std_ms": _num(timing.std_ms),
                             "min_ms": _num(timing.min_ms), "max_ms": _num(timing.max_ms),
                             "within_frame": _num(timing.within_frame),
                             "count": timing.count},
            })
        pairwise = []
        for a in conditions:
            for b in conditions:
                if a.id == b.id:
                    continue
                sa, sb = included_by_condition[a.id], included_by_condition[b.id]
                p = prob_greater([s.fooled for s in sa], [s.trials for s in sa],
                                 [s.fooled for s in sb], [s.trials for s in sb],
                                 resamples=RESAMPLES, seed=study.seed)
                pairwise.append({"a": a.label, "b": b.label, "p_a_fools_more": _num(p)})
        labels = {c.id: c.label for c in conditions}
        participants = [{
            "participant": s.participant, "condition": labels.get(s.condition_id),
            "completed": s.completed, "flagged": s.flagged, "trials": s.trials,
            "fooled": s.fooled, "fooling_rate": _num(s.fooled / s.trials) if s.trials else None,
            "accuracy": _num(s.correct / s.answered) if s.answered else None,
            "vigilance": s.vigilance, "vigilance_correct": s.vigilance_correct,
            "exposure_mean_ms": _num(sum(s.exposures) / len(s.exposures))
            if s.exposures else None,
            "response_median_ms": _num(sorted(s.response_ms)[len(s.response_ms) // 2])
            if s.response_ms else None,
        } for s in scores]
        return {"study": self.get(study_id), "exclude_flagged": exclude_flagged,
                "include_incomplete": include_incomplete, "resamples": RESAMPLES,
                "conditions": per_condition, "pairwise": pairwise,
                "participants": participants}

    def csv(self, study_id: str) -> str:
        """Every raw judgment with its trial and timings, one row each."""
        with self.db.read() as session:
            self._study(session, study_id)
            kinds = {i.id: i.kind for i in session.execute(select(PoolImage).where(
                PoolImage.study_id == study_id)).scalars()}
            rows = session.execute(
                select(StudySession, StudyCondition, StudyTrial, Judgment)
                .join(StudyCondition, StudyCondition.id == StudySession.condition_id)
                .join(StudyTrial, StudyTrial.session_id == StudySession.id)
                .join(Judgment, (Judgment.session_id == StudyTrial.session_id)
                      & (Judgment.position == StudyTrial.position))
                .where(StudySession.study_id == study_id)
                .order_by(StudySession.id, StudyTrial.position)).all()
            _, _, scores = self.scores(study_id)
        flagged = {s.participant: s.flagged for s in scores}
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["study_id", "participant", "condition", "run_id", "step", "ema",
                         "position", "phase", "vigilance", "image_1", "kind_1", "image_2",
                         "kind_2", "answer", "response", "correct", "fooled", "exposure_1_ms",
                         "exposure_2_ms", "response_ms", "judged_at", "session_completed",
                         "participant_flagged"])
        for s, c, t, j in rows:
            images = [*t.images, ""][:2]
            exposures = [*j.exposures_ms, ""][:2]
            writer.writerow([study_id, s.participant, c.label, c.run_id, c.step, int(c.ema),
                             t.position, t.phase, int(t.vigilance), images[0],
                             kinds.get(images[0], ""), images[1], kinds.get(images[1], ""),
                             t.answer, j.response, int(j.correct), int(j.fooled),
                             *[round(x, 3) if x != "" else "" for x in exposures],
                             round(j.response_ms, 3), j.created_at.isoformat(),
                             int(s.completed_at is not None), int(flagged[s.participant])])
        return out.getvalue()

    def run_studies(self, run_id: str) -> list[dict[str, Any]]:
        """The fooling rate of each of a run's checkpoints in every study that tested it."""
        with self.db.read() as session:
            study_ids = sorted(set(session.execute(select(StudyCondition.study_id).where(
                StudyCondition.run_id == run_id)).scalars()))
        out = []
        for study_id in study_ids:
            results = self.results(study_id)
            for c in results["conditions"]:
                if c["run_id"] == run_id:
                    out.append({"study_id": study_id, "study": results["study"]["name"],
                                "protocol": results["study"]["protocol"],
                                "label": c["label"], "step": c["step"], "ema": c["ema"],
                                "fooling_rate": c["fooling_rate"], "ci_low": c["ci_low"],
                                "ci_high": c["ci_high"], "participants": c["participants"],
                                "trials": c["trials"]})
        return sorted(out, key=lambda r: (r["step"], r["study_id"]))


def _num(x: float) -> float | None:
    """JSON has no NaN: an undefined number is null."""
    return None if x is None or not math.isfinite(x) else round(float(x), 6)
