"""A session's trials: planned from a seed, so a reload serves exactly the same next trial."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass


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
