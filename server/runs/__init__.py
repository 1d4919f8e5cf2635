"""Runs behind the routes: the service, the hub that streams and stores their events, history.

``RunService`` (service.py) creates, forks, controls, resumes, deletes and recovers runs and
answers every query the routes make of them. Every event, a worker's or the server's own,
goes through the ``Hub`` (hub.py): numbered with the run's next ``seq``, stored by its writer
thread in one transaction per burst, then pushed to the WebSocket subscribers. A client that
connects first gets the run's ``history`` (history.py), whose metric series come from the
``SeriesCache`` (series.py: rows decoded once into columns, decimated). ``import_run_dir``
(importer.py, ``ganscope import``) adds a run folder written elsewhere to the database.

The modules of this package import each other by module (``server.runs.hub``); everyone else
imports from ``server.runs``.
"""

from server.runs.history import build_history, checkpoint_public, sample_public
from server.runs.hub import Frame, Hub, Subscriber, apply_message, event_to_message
from server.runs.importer import RunImportError, import_run_dir, run_dir_messages
from server.runs.series import SeriesCache, decimate
from server.runs.service import RunService

__all__ = ["Frame", "Hub", "RunImportError", "RunService", "SeriesCache", "Subscriber",
           "apply_message", "build_history", "checkpoint_public", "decimate",
           "event_to_message", "import_run_dir", "run_dir_messages", "sample_public"]
