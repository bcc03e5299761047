"""Cross-dataset reports: per-class precision/recall and accuracy per (dataset, scheme)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..emotions import normalize_emotion
from ._schemes import (
    Scored,
    _scheme,
    native,
    native_labels,
    predictions_in_scheme,
    resolve_method,
    scheme_name,
)

__all__ = ["cross_dataset_report", "plot_confusion_matrices"]

COLUMNS = ["dataset", "scheme", "label", "precision", "recall", "f1", "support", "accuracy"]
EXCLUDED_LABEL = "(other)"


@dataclass
class _Result:
    dataset: str
    scheme: str
    scored: Scored


def _scheme_specs(schemes) -> list[tuple[str, object]]:
    """``[(name, scheme or None)]``; ``None`` means the model's own label space."""
    if schemes is None:
        return [("native", None)]
    if isinstance(schemes, Mapping) and not _is_one_scheme(schemes):
        return list(schemes.items())
    if isinstance(schemes, (str, Mapping)) or not isinstance(schemes, (list, tuple)):
        schemes = [schemes]
    specs, names = [], set()
    for spec in schemes:
        name = scheme_name(spec) if spec is not None else "native"
        base, k = name, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.add(name)
        specs.append((name, spec))
    return specs


def _is_one_scheme(mapping: Mapping) -> bool:
    """A mapping keyed by emotions is one scheme; otherwise it is {report name: scheme}."""
    for key in mapping:
        try:
            normalize_emotion(key)
        except ValueError:
            return False
    return True


def _unpack(name, data):
    if isinstance(data, Mapping) and "images" in data and "target" in data:
        return data["images"], data["target"]
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data
    raise ValueError(
        f"datasets[{name!r}] must be an (X, y) pair or a Bunch with images and target "
        f"(as skfer's loaders return); got {type(data).__name__}."
    )


def _evaluate(estimator, datasets, schemes, method) -> list[_Result]:
    if not isinstance(datasets, Mapping) or not datasets:
        raise ValueError(
            "datasets must be a non-empty mapping {name: (X, y)}, e.g. "
            "{'fer2013': (X_test, y_test), 'sfew': load_sfew(return_X_y=True)}."
        )
    specs = _scheme_specs(schemes)
    resolved = [(name, spec, None if spec is None else _scheme(spec)) for name, spec in specs]
    results = []
    for dataset, data in datasets.items():
        X, y = _unpack(dataset, data)
        results.extend(_evaluate_dataset(estimator, dataset, X, y, resolved, method))
    return results


def _evaluate_dataset(estimator, dataset, X, y, resolved, method) -> list[_Result]:
    """Score one dataset in every scheme, predicting (or predict_proba) only once."""
    X, y_native, _ = native(estimator, X, y)
    cache: dict = {}

    def outputs(kind):
        if kind not in cache:
            cache[kind] = estimator.predict_proba(X) if kind == "proba" else estimator.predict(X)
        return cache[kind]

    classes = getattr(getattr(estimator, "best_estimator_", estimator), "classes_", None)
    results = []
    for name, spec, scheme in resolved:
        if spec is None:
            y_pred = np.asarray(outputs("predict"), dtype=object)
            labels = native_labels(estimator, y_native, y_pred)
            results.append(_Result(dataset, name, Scored(y_native, y_pred, labels)))
            continue
        kind = resolve_method(method, estimator, spec)
        keep, y_true = scheme.keep(y_native)
        raw = np.asarray(outputs(kind))[keep]
        if len(raw):
            y_pred = predictions_in_scheme(raw, scheme, name, kind, classes)
        else:
            y_pred = np.empty(0, dtype=object)
        results.append(_Result(dataset, name, Scored(y_true, y_pred, list(scheme.labels))))
    return results


def _rows(result: _Result) -> list[dict]:
    from sklearn.metrics import precision_recall_fscore_support

    scored = result.scored
    k = len(scored.labels)
    if len(scored.y_true):
        true, pred = scored.encode()
        precision, recall, f1, support = precision_recall_fscore_support(
            true, pred, labels=np.arange(k), zero_division=0.0
        )
        accuracy = float(np.mean(true == pred))
    else:
        precision = recall = f1 = np.full(k, np.nan)
        support, accuracy = np.zeros(k, dtype=int), float("nan")
    return [
        {
            "dataset": result.dataset,
            "scheme": result.scheme,
            "label": label,
            "precision": float(precision[j]),
            "recall": float(recall[j]),
            "f1": float(f1[j]),
            "support": int(support[j]),
            "accuracy": accuracy,
        }
        for j, label in enumerate(scored.labels)
    ]


def _safe(name) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name)).strip("-") or "unnamed"


def _plot(result: _Result, path: Path) -> None:
    from matplotlib.figure import Figure
    from sklearn.metrics import ConfusionMatrixDisplay

    scored = result.scored
    true, pred = scored.encode()
    codes = list(range(len(scored.labels)))
    names = [str(label) for label in scored.labels]
    if (pred < 0).any():  # predictions outside the scheme get their own column
        codes, names = codes + [-1], names + [EXCLUDED_LABEL]
    size = 2.5 + 0.55 * len(codes)
    fig = Figure(figsize=(size + 0.5, size), layout="constrained")
    ax = fig.subplots()
    ConfusionMatrixDisplay.from_predictions(
        true,
        pred,
        labels=codes,
        display_labels=names,
        normalize="true",
        ax=ax,
        colorbar=False,
        cmap="Blues",
        values_format=".2f",
        xticks_rotation=45,
    )
    accuracy = float(np.mean(true == pred)) if len(true) else float("nan")
    ax.set_title(f"{result.dataset}: {result.scheme} (accuracy {accuracy:.1%}, n={len(true)})")
    fig.savefig(path, dpi=110)


def _save_plots(results: list[_Result], out_dir) -> dict[tuple[str, str], Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for result in results:
        if len(result.scored.y_true) == 0:
            continue
        path = out_dir / f"confusion_{_safe(result.dataset)}_{_safe(result.scheme)}.png"
        _plot(result, path)
        paths[(result.dataset, result.scheme)] = path
    return paths


def cross_dataset_report(
    estimator,
    datasets: Mapping,
    *,
    schemes=None,
    method: str = "auto",
    confusion_dir: str | os.PathLike | None = None,
):
    """Per-class precision, recall and accuracy of a fitted model on several datasets.

    The tidy form of the paper's Tables 6 and 8: one row per (dataset, scheme,
    label). Each dataset is scored in the model's own label space (``y`` mapped by
    its fitted :class:`~skfer.EmotionLabelMapper` steps, samples they leave out
    dropped) and, with ``schemes``, re-read in each scheme as
    :func:`~skfer.scheme_scorer` does. The numbers are those of
    :func:`sklearn.metrics.precision_recall_fscore_support` (``zero_division=0``)
    on the scored samples.

    Parameters
    ----------
    estimator : fitted classifier or pipeline
        Predicts emotions when ``schemes`` are given.
    datasets : mapping
        ``{name: (X, y)}`` (or a Bunch with ``images`` and ``target``), e.g. the
        training dataset's test split and other datasets.
    schemes : scheme, list of schemes or {name: scheme}, optional
        Schemes as :class:`~skfer.EmotionLabelMapper` takes them (names, mappings,
        fitted mappers), named in the report by their name (``"custom"`` for a
        mapping) unless given as ``{report name: scheme}``. ``None`` (in a list, or
        as ``schemes=None``) is the model's own label space, named ``"native"``.
    method : {"auto", "predict", "proba"}, default="auto"
        How an emotion model's output is read in a scheme: map its predictions (a
        predicted emotion the scheme leaves out counts as wrong) or sum its
        probabilities per scheme label (:func:`~skfer.predict_in_scheme`); "auto"
        uses "proba" when the model has ``predict_proba``.
    confusion_dir : path-like, optional
        Also save one confusion matrix per (dataset, scheme), normalised by true
        label, as ``confusion_<dataset>_<scheme>.png`` (see
        :func:`plot_confusion_matrices`).

    Returns
    -------
    pandas.DataFrame
        Columns ``dataset, scheme, label, precision, recall, f1, support,
        accuracy``; ``accuracy`` is that of the whole (dataset, scheme) and repeats
        on its rows. Labels appear in the scheme's display order,
        ``labels`` of :class:`skfer.Scheme` (the seven emotions in FER2013's order for
        ``"ekman7"``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from skfer import cross_dataset_report
    >>> y = np.array(["happy", "happy", "sad", "surprise"])
    >>> model = DummyClassifier(strategy="most_frequent").fit(np.zeros((4, 1)), y)
    >>> report = cross_dataset_report(
    ...     model, {"a": (np.zeros((4, 1)), y)}, schemes=["ekman7", "clusters"])
    >>> report.shape
    (10, 8)
    >>> report.groupby(["scheme", "dataset"])["accuracy"].first().round(3).to_dict()
    {('clusters', 'a'): 0.667, ('ekman7', 'a'): 0.5}

    The paper's Table 6 (per-class precision and recall per dataset) is a pivot:

    >>> table6 = report[report.scheme == "ekman7"].pivot(
    ...     index="label", columns="dataset", values=["precision", "recall"])
    """
    import pandas as pd

    results = _evaluate(estimator, datasets, schemes, method)
    frame = pd.DataFrame([row for result in results for row in _rows(result)], columns=COLUMNS)
    if confusion_dir is not None:
        _save_plots(results, confusion_dir)
    return frame


def plot_confusion_matrices(
    estimator,
    datasets: Mapping,
    out_dir: str | os.PathLike,
    *,
    schemes=None,
    method: str = "auto",
) -> dict[tuple[str, str], Path]:
    """Save confusion matrices normalised by true label, one PNG per (dataset, scheme).

    Drawn with :class:`sklearn.metrics.ConfusionMatrixDisplay` on a matplotlib
    ``Figure`` (Agg canvas; pyplot state is untouched). Each row shows how the
    samples of one true label were classified, as the paper's figures do; when some
    predictions fall outside the scheme (``method="predict"``) they get an
    ``"(other)"`` column. Arguments are those of :func:`cross_dataset_report`.

    Returns
    -------
    dict
        ``{(dataset, scheme): path}`` of the files written,
        ``out_dir/confusion_<dataset>_<scheme>.png``.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from skfer import plot_confusion_matrices
    >>> y = np.array(["happy", "sad"])
    >>> model = DummyClassifier().fit(np.zeros((2, 1)), y)
    >>> paths = plot_confusion_matrices(model, {"a": (np.zeros((2, 1)), y)}, tempfile.mkdtemp())
    >>> [p.name for p in paths.values()]
    ['confusion_a_native.png']
    """
    return _save_plots(_evaluate(estimator, datasets, schemes, method), out_dir)
