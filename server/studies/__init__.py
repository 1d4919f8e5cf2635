"""Real-vs-fake studies behind the routes: create (pools frozen), sessions, judgments, results.

A study's images are generated once, at creation, by the image service and kept as PNG files
under ``DATA_DIR/studies/<study_id>/images/<opaque id>.png``; every participant draws from the
same pool. A session's trials are fixed when it starts, from a seed derived from the study's
seed and the participant id, so a reload serves exactly the same next trial. Judgments are
stored by ``JudgmentWriter`` (judgments.py: group commits, acknowledged after the commit): what
a participant's browser was told is stored is stored.
"""

from server.studies.judgments import JudgmentWriter
from server.studies.schemas import (
    IMAGE_ID_PATTERN,
    PARTICIPANT_PATTERN,
    STUDY_ID_PATTERN,
    ConditionSpec,
    JudgmentIn,
    SessionStart,
    StudyCreate,
)
from server.studies.store import StudyStore
from server.studies.trials import plan_trials

__all__ = ["IMAGE_ID_PATTERN", "PARTICIPANT_PATTERN", "STUDY_ID_PATTERN", "ConditionSpec",
           "JudgmentIn", "JudgmentWriter", "SessionStart", "StudyCreate", "StudyStore",
           "plan_trials"]
