"""Worker entry points for job-manager tests (importable, so that ``spawn`` can run them)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any


def report_gpu(spec: Any, channel: Any, controls: Any) -> None:
    """Finish at once, saying which GPU and thread budget the manager gave it."""
    from gan_core.events import StatusChanged
    from server.jobs.worker import ChannelSender

    sender = ChannelSender(channel, spec.run_id)
    time.sleep(0.5)  # long enough for the jobs to overlap
    sender(StatusChanged(step=0, status="completed",
                         extra={"gpu": spec.gpu, "threads": spec.threads}))
    sender.close()


def segfault(spec: Any, channel: Any, controls: Any) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def exit_quietly(spec: Any, channel: Any, controls: Any) -> None:
    raise SystemExit(7)
