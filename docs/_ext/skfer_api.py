"""The API reference's contents, computed from the ``__all__`` of skfer's public modules.

``skfer.__all__`` (the lazy top-level exports) and ``skfer.datasets.__all__`` first,
then the names that only another public submodule exports (``skfer.video``,
``skfer.faces``...). Pure Python (no Sphinx import), so the tests can check coverage
without building. Every object is documented once and lands in the section of the
module that defines it; names added to an ``__all__`` later appear without editing
the docs.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from dataclasses import dataclass
from pathlib import Path

#: Section order and titles, keyed by the first part of the defining module after
#: ``skfer.``; a module not listed here gets its own section at the end.
SECTIONS = {
    "emotions": ("Emotion vocabulary", "Canonical names, FER2013 codes, aliases, named label "
                 "schemes and valence/arousal coordinates."),
    "_images": ("Images", "Reading and validating images before they reach an estimator."),
    "faces": ("Faces", "Detection, landmark alignment and the :class:`~skfer.FaceCropper` "
              "transformer."),
    "augment": ("Augmentation", "The paper's flip and shift, on the fly or as a sampler."),
    "models": ("Emotion classifiers", "CNNs over timm backbones trained through skorch, and "
               "skfer's weight files."),
    "_load": ("Loading models", "One call from a shipped name or a file to a fitted model, on "
              "the torch or the ONNX backend."),
    "_onnx": ("Torch-free inference", "Exported models run by ONNX Runtime on the CPU "
              "(extra ``skfer[onnx]``); no torch is imported."),
    "labels": ("Label schemes", "Mapping emotions to the paper's top-4, clusters and other "
               "schemes."),
    "pipeline": ("Pipelines", "imbalanced-learn pipelines whose samplers act only in fit and "
                 "which score in their label scheme."),
    "resample": ("Resampling", "imbalanced-learn samplers on image arrays."),
    "evaluation": ("Evaluation", "Scheme-aware scorers, the cross-dataset splitter, tidy "
                   "reports and confusion matrices."),
    "video": ("Film analysis", "From a video file to emotion timelines and film profiles."),
    "cli": ("Command line", "The ``skfer`` command."),
    "distributed": ("Scale-out on Dask", "Grid searches and many films on a Dask cluster "
                    "(extra ``skfer[dask]``)."),
    "datasets": ("Datasets", "Loaders returning scikit-learn ``Bunch`` objects "
                 "(:mod:`skfer.datasets`). skfer ships no data."),
    "": ("Package", "Metadata of the installed package."),
}

_DOC_COMMENT = re.compile(r"^#:\s?(.*)$")


@dataclass(frozen=True)
class Entry:
    """One documented public name."""

    module: str  #: where users import it from: ``skfer`` or ``skfer.datasets``
    name: str
    kind: str  #: ``"class"``, ``"function"`` or ``"data"``
    home: str  #: the module that defines it (for data: holds its ``#:`` comment)
    aliases: tuple[str, ...] = ()  #: other public names of the same object

    @property
    def fullname(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def section(self) -> str:
        parts = self.home.split(".")
        return parts[1] if len(parts) > 1 else ""


def data_comment(module: str, name: str) -> str | None:
    """The ``#:`` doc-comment above ``name = ...`` at module level in ``module``, or None."""
    try:
        source = inspect.getsource(importlib.import_module(module))
    except (OSError, TypeError):
        return None
    lines = source.splitlines()
    assign = re.compile(rf"^{re.escape(name)}\s*(:[^=]*)?=")
    for i, line in enumerate(lines):
        if assign.match(line):
            comment = []
            j = i - 1
            while j >= 0 and (match := _DOC_COMMENT.match(lines[j])):
                comment.insert(0, match.group(1))
                j -= 1
            return "\n".join(comment) or None
    return None


def _kind(obj) -> str:
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def _data_home(module: str, name: str, obj) -> str:
    """The skfer module whose source documents ``name`` with a ``#:`` comment."""
    candidates = [module] + sorted(m for m in sys.modules if m.startswith("skfer."))
    for mod in candidates:
        if getattr(sys.modules.get(mod), name, object()) is obj and data_comment(mod, name):
            return mod
    return module


#: Modules whose ``__all__`` must be documented; other public (non-underscore)
#: subpackages of skfer are added after them, for the names they alone export.
REQUIRED_MODULES = ("skfer.datasets", "skfer")

#: Optional modules that could not be imported by the last :func:`entries` call.
SKIPPED: dict[str, str] = {}

#: Text for public names that cannot carry a docstring of their own.
DUNDER_DOCS = {"__version__": "The version of the installed skfer package (a PEP 440 string)."}


def public_modules() -> list[str]:
    """``skfer.datasets``, ``skfer``, then every other public submodule of skfer, sorted."""
    import skfer

    found = sorted(
        f"skfer.{info.name}"
        for info in pkgutil.iter_modules(skfer.__path__)
        if not info.name.startswith("_")
    )
    return list(REQUIRED_MODULES) + [m for m in found if m not in REQUIRED_MODULES]


def entries() -> list[Entry]:
    """Every public name of skfer's public modules, once each (other names as aliases).

    ``skfer.datasets`` comes first, so its loaders are documented there (their home,
    as scikit-learn documents ``sklearn.datasets``) and ``skfer.load_fer2013`` is an
    alias; every other object is documented under ``skfer`` when exported there, else
    under the submodule that exports it.
    """
    found: dict[object, dict] = {}
    SKIPPED.clear()
    for module in public_modules():
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:  # an optional extra that is not installed
            if module in REQUIRED_MODULES:
                raise
            SKIPPED[module] = str(exc)
            continue
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            kind = _kind(obj)
            if kind == "data":
                home = _data_home(module, name, obj)
                key = ("data", home, name)
            else:
                home = getattr(obj, "__module__", None) or module
                home = home if home.startswith("skfer") else module
                key = ("obj", id(obj))
            if key in found:
                found[key]["aliases"].append(f"{module}.{name}")
            else:
                found[key] = {"module": module, "name": name, "kind": kind, "home": home,
                              "aliases": []}
    return [Entry(**{**e, "aliases": tuple(e["aliases"])}) for e in found.values()]


def documented_names() -> set[str]:
    """Every public dotted name that the reference documents (aliases included)."""
    return {n for e in entries() for n in (e.fullname, *e.aliases)}


def docstring(entry: Entry) -> str | None:
    """The text the reference shows for ``entry``: its docstring or ``#:`` comment."""
    if entry.kind == "data":
        return DUNDER_DOCS.get(entry.name) or data_comment(entry.home, entry.name)
    obj = getattr(importlib.import_module(entry.module), entry.name)
    return inspect.getdoc(obj)


def summary(entry: Entry) -> str:
    """First sentence of the entry's documentation, on one line."""
    text = (docstring(entry) or "").strip().split("\n\n")[0].replace("\n", " ")
    match = re.match(r"(.+?[.:])(\s|$)", text)
    return (match.group(1) if match else text).rstrip(":") or "(no docstring)"


def grouped() -> list[tuple[str, str, list[Entry]]]:
    """``[(title, intro, entries)]`` in section order."""
    by_section: dict[str, list[Entry]] = {}
    for entry in entries():
        by_section.setdefault(entry.section, []).append(entry)
    order = list(SECTIONS) + sorted(k for k in by_section if k not in SECTIONS)
    return [
        (*SECTIONS.get(key, (f"skfer.{key}", "")), by_section[key])
        for key in order
        if key in by_section
    ]


def _rst_escape(text: str) -> str:
    return text.replace("_", r"\_")


def stub(entry: Entry) -> str:
    """The reST page of one name."""
    title = _rst_escape(entry.fullname)
    head = f"{title}\n{'=' * len(title)}\n\n.. currentmodule:: {entry.module}\n\n"
    also = ""
    if entry.aliases:
        names = ", ".join(f"``{a}``" for a in entry.aliases)
        also = f"\n   Also importable as {names}.\n"
    if entry.kind == "class":
        return head + f".. autoclass:: {entry.name}\n   :members:\n{also}"
    if entry.kind == "function":
        return head + f".. autofunction:: {entry.name}\n{also}"
    obj = getattr(importlib.import_module(entry.module), entry.name)
    value = repr(obj)
    body = docstring(entry) or "(not documented yet)"
    lines = [f".. data:: {entry.name}"]
    if len(value) <= 100:
        lines.append(f"   :value: {value}")
    lines.append("")
    lines.extend(f"   {line}" if line else "" for line in body.splitlines())
    if entry.home != entry.module:
        lines += ["", f"   Defined in ``{entry.home}``."]
    return head + "\n".join(lines) + "\n" + also


def index(intro: str) -> str:
    """The reST of the API index: one table per section, and the hidden toctree."""
    out = [intro.rstrip(), ""]
    docnames = []
    for title, blurb, items in grouped():
        out += [title, "-" * len(title), "", blurb, "", ".. list-table::", "   :widths: 35 65", ""]
        for e in items:
            role = {"class": "class", "function": "func", "data": "data"}[e.kind]
            if e.module == "skfer":
                ref = f":{role}:`~{e.fullname}`"
            else:  # e.g. "video.FaceTracker": the submodule matters
                ref = f":{role}:`{e.fullname.removeprefix('skfer.')} <{e.fullname}>`"
            out += [f"   * - {ref}", f"     - {summary(e)}"]
            docnames.append(f"generated/{e.fullname}")
        out.append("")
    out += [".. toctree::", "   :hidden:", ""] + [f"   {d}" for d in docnames]
    return "\n".join(out) + "\n"


def write(api_dir: Path, intro: str) -> list[Path]:
    """Write ``index.rst`` and one page per name under ``api_dir``; only changed files."""
    pages = {api_dir / "index.rst": index(intro)}
    for e in entries():
        pages[api_dir / "generated" / f"{e.fullname}.rst"] = stub(e)
    (api_dir / "generated").mkdir(parents=True, exist_ok=True)
    for old in (api_dir / "generated").glob("*.rst"):
        if old not in pages:
            old.unlink()
    written = []
    for path, text in pages.items():
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written
