"""A study's results: per-participant scores, fooling rates with intervals, the CSV."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from gan_core.metrics.human import (
    bootstrap_interval,
    exposure_quality,
    fooling_rate,
    prob_greater,
)
from server.models import (
    Judgment,
    PoolImage,
    Study,
    StudyCondition,
    StudySession,
    StudyTrial,
)

RESAMPLES = 10_000  # bootstrap resamples of each interval and pairwise comparison


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


class StudyResults:
    """The results side of :class:`server.studies.store.StudyStore` (which supplies ``db``,
    ``get``, ``_study``, ``_conditions`` and ``_session_counts``)."""

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
