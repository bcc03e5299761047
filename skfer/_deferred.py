"""Deferred imports for the ``skfer`` command: a module that loads on first use.

scikit-learn imports ``scipy.stats`` when it starts (``sklearn.utils.fixes``), which
costs 0.4-0.8 s on 2 cores (most of it scipy building docstrings), and ``skfer predict``
never calls it. The console script (``skfer._console``) therefore puts a
:class:`DeferredModule` in ``sys.modules`` first: ``import scipy.stats`` binds the
stand-in, and the first attribute looked up on it imports the real module, which
then takes its place everywhere (``sys.modules``, the parent package, the stand-in's
own namespace), so later use costs nothing extra and behaves as the real module does.

Only the console script does this: importing ``skfer`` (or ``skfer.cli``) from Python
changes nothing in the importing process.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types

__all__ = ["DeferredModule", "defer_import"]

_LOCK = threading.RLock()


class DeferredModule(types.ModuleType):
    """Stands in for a module not imported yet; the first attribute lookup imports it.

    Parameters
    ----------
    name : str
        Dotted name of the module.
    spec : importlib.machinery.ModuleSpec
        Its spec (kept as ``__spec__``, so that the import system treats the stand-in
        as an imported module and does not load it again).
    """

    def __init__(self, name: str, spec) -> None:
        super().__init__(name)
        self.__spec__ = spec
        self.__loader__ = spec.loader
        self.__file__ = spec.origin

    def __getattr__(self, attr: str):
        # Called only for names the stand-in lacks: once loaded it has them all.
        return getattr(_load(self), attr)


def _load(stand_in: DeferredModule) -> types.ModuleType:
    name = stand_in.__name__
    with _LOCK:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        real = importlib.import_module(name)  # sets it on the parent package too
        stand_in.__dict__.update(real.__dict__)
    return real


def defer_import(name: str) -> types.ModuleType | None:
    """Put a stand-in for module ``name`` in ``sys.modules``; it imports on first use.

    Nothing is done when the module is already imported, or cannot be found (the
    import that needs it then fails as it would have).

    Parameters
    ----------
    name : str
        Dotted module name, e.g. ``"scipy.stats"``; its parent package is imported.

    Returns
    -------
    module or None
        What ``sys.modules[name]`` holds afterwards (the stand-in, or the module
        imported before), or None where there is no such module.

    Examples
    --------
    >>> import sys
    >>> from skfer._deferred import defer_import
    >>> defer_import("json") is sys.modules["json"]  # imported already: left as it is
    True
    >>> print(defer_import("no_such_module"))
    None
    """
    if name in sys.modules:
        return sys.modules[name]
    parent, _, child = name.rpartition(".")
    try:
        spec = importlib.util.find_spec(name)  # imports the parent package
    except ModuleNotFoundError:  # no parent package
        return None
    if spec is None:
        return None
    stand_in = DeferredModule(name, spec)
    sys.modules[name] = stand_in
    if parent:
        setattr(sys.modules[parent], child, stand_in)
    return stand_in
