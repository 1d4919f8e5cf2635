"""Sweeps: many runs from one config and a set of axes, ranked by one metric, pruned by the
median stopping rule.

``SweepService`` (service.py) expands the axes into points, builds every point's config
through ``RunService`` before any run is created, writes the sweep and its runs in one
transaction, and reads the table and CSV from the metric rows; ``MedianRule`` is a hub
observer that stops a run falling behind the sweep's median. ``ganscope sweep`` is a REST
client of its own (server/sweep_cli.py): it imports this package only to print the table.
"""

from server.sweeps.service import (
    MedianRule,
    SweepService,
    axis_labels,
    default_goal,
    default_metric,
    expand_points,
    point_label,
)

__all__ = ["MedianRule", "SweepService", "axis_labels", "default_goal", "default_metric",
           "expand_points", "point_label"]
