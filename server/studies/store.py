"""The database side of studies: create, list, open/close, sessions and their trials."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

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
from server.studies.results import StudyResults
from server.studies.schemas import SessionStart
from server.studies.trials import participant_seed, plan_trials


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


class StudyStore(StudyResults):
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
