"""The ``skfer`` console script (``python -m skfer`` too): ``skfer.cli.main`` in a fresh process.

Before the command line's imports it defers ``scipy.stats``, which scikit-learn imports
at start-up and no ``skfer`` command needs to start (see ``skfer._deferred``): that is
0.4-0.8 s of ``skfer predict photo.jpg``'s cold start (1.97 against 1.52 s, idle). A
command that does use it imports it on first use. Calling ``skfer.cli.main`` from
Python defers nothing.
"""

from __future__ import annotations

from ._deferred import defer_import

__all__ = ["run"]

#: modules the console script defers (imported on first use)
DEFERRED = ("scipy.stats",)


def run() -> int:
    """Run the ``skfer`` command on ``sys.argv``; returns its exit status."""
    for name in DEFERRED:
        defer_import(name)
    from .cli import main

    return main()
