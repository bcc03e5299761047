"""skfer's pipeline: imbalanced-learn's, with bare steps and scheme-aware scoring."""

from __future__ import annotations

from collections import Counter

import numpy as np
from imblearn.pipeline import Pipeline as _ImbPipeline
from sklearn.utils.metaestimators import available_if

from .labels import native_space

__all__ = ["Pipeline", "make_pipeline"]


def _is_named(step) -> bool:
    return isinstance(step, tuple) and len(step) == 2 and isinstance(step[0], str)


def _base_name(step) -> str:
    if isinstance(step, str):
        return step.lower()
    return type(step).__name__.lower()


def name_steps(steps):
    """Give every bare step of ``steps`` a name, as :func:`make_pipeline` does.

    Named ``(name, step)`` tuples keep their names; a bare step is named after its
    class in lower case, with ``-1``, ``-2``... when that name is taken or repeated.
    Idempotent: a list whose steps are all named is returned unchanged (the same
    object), which keeps :func:`sklearn.base.clone` working.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> [name for name, _ in name_steps([StandardScaler(), ("scale", StandardScaler()),
    ...                                  LogisticRegression()])]
    ['standardscaler', 'scale', 'logisticregression']
    """
    if not isinstance(steps, (list, tuple)) or all(_is_named(s) for s in steps):
        return steps
    explicit = {s[0] for s in steps if _is_named(s)}
    bases = [None if _is_named(s) else _base_name(s) for s in steps]
    counts = Counter(b for b in bases if b is not None)
    taken = set(explicit)
    named = []
    for step, base in zip(steps, bases):
        if base is None:
            named.append(step)
            continue
        name = base
        if counts[base] > 1 or base in explicit:
            k = 1
            while f"{base}-{k}" in taken:
                k += 1
            name = f"{base}-{k}"
        taken.add(name)
        named.append((name, step))
    return named


def _final_estimator_has_score(self) -> bool:
    return hasattr(self._final_estimator, "score")


class Pipeline(_ImbPipeline):
    """A pipeline whose samplers act only in fit and which scores in its label scheme.

    imbalanced-learn's :class:`~imblearn.pipeline.Pipeline` (samplers such as
    :class:`~skfer.EmotionLabelMapper`, :class:`~skfer.Augmenter` or
    :class:`~skfer.ImageResampler` resample only while fitting), with two additions:

    - steps may be bare estimators, named automatically as :func:`make_pipeline`
      names them (``FaceCropper()`` becomes ``"facecropper"``), mixed freely with
      ``(name, step)`` tuples; ``clone``, ``get_params``/``set_params`` with
      ``step__param`` names and grid searches work as usual;
    - :meth:`score` maps ``y`` with the pipeline's fitted
      :class:`~skfer.EmotionLabelMapper` steps and drops the samples their scheme
      leaves out before comparing with the predictions, so a pipeline scores in
      its own label space (see also :func:`skfer.scheme_scorer`).

    Parameters
    ----------
    steps : list
        Estimators or ``(name, estimator)`` tuples; all but the last must be
        transformers or samplers.
    transform_input : list of str, optional
        As in scikit-learn (metadata routing only).
    memory : str or object with the joblib.Memory interface, optional
        Caches fitted transformers.
    verbose : bool, default=False
        Print the time each step takes to fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skfer import EmotionLabelMapper, Pipeline
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 255, (60, 8, 8), dtype=np.uint8)
    >>> y = np.tile(["angry", "disgust", "fear", "happy", "sad", "surprise"], 10)
    >>> pipe = Pipeline([
    ...     ("labels", EmotionLabelMapper("top4")),
    ...     FunctionTransformer(lambda X: X.reshape(len(X), -1) / 255.0),
    ...     LogisticRegression(),
    ... ])
    >>> [name for name, _ in pipe.steps]
    ['labels', 'functiontransformer', 'logisticregression']
    >>> pipe.fit(X, y).classes_.tolist()
    ['angry', 'happy', 'surprise']
    >>> search = GridSearchCV(pipe, {"labels__scheme": ["ekman7", "clusters"]}, cv=2)
    >>> search.fit(X, y).cv_results_["mean_test_score"].shape
    (2,)
    """

    def __init__(self, steps, *, transform_input=None, memory=None, verbose=False):
        super().__init__(steps, transform_input=transform_input, memory=memory, verbose=verbose)

    @property
    def steps(self):
        """The ``(name, step)`` list (bare steps given to the constructor are named)."""
        return self.__dict__["steps"]

    @steps.setter
    def steps(self, value):
        self.__dict__["steps"] = name_steps(value)

    @available_if(_final_estimator_has_score)
    def score(self, X, y=None, sample_weight=None, **params):
        """Score the final estimator in the label space of the pipeline's scheme.

        With fitted :class:`~skfer.EmotionLabelMapper` steps, ``y`` is mapped by them
        and the samples they leave out are dropped (from ``X`` and ``sample_weight``
        too) before the final estimator's ``score`` (accuracy for a classifier).

        Raises
        ------
        ValueError
            If every sample of ``y`` is left out by the scheme.
        """
        if y is not None:
            X, y, sample_weight, keep = native_space(self, X, y, sample_weight)
            if keep is not None and not keep.any():
                raise ValueError(
                    f"None of the {len(keep)} samples of y belongs to the pipeline's label "
                    "scheme: nothing to score."
                )
            if keep is not None:
                y = np.asarray(list(y))
        return super().score(X, y, sample_weight=sample_weight, **params)


    def save(self, path, **kwargs):
        """Save a fitted face pipeline as one model file: the final estimator's weights
        with the framing of its :class:`~skfer.FaceCropper`.

        For pipelines such as ``make_pipeline(FaceCropper(...), EmotionCNN(...))``
        (samplers, which act only in fit, may sit in between).
        ``skfer.load_model(path, with_cropper=True)`` gives back a pipeline that
        predicts from raw images as this one does; :func:`~skfer.analyze_video` and
        the CLI crop film faces with the saved framing.

        Parameters
        ----------
        path : path-like
            Destination, conventionally ``*.safetensors``.
        **kwargs
            Passed to the final estimator's ``save`` (e.g. ``metrics``, ``dtype``).

        Returns
        -------
        pathlib.Path

        Raises
        ------
        ValueError
            If the final estimator cannot be saved, or a step other than one
            FaceCropper and samplers precedes it (it could not be restored).

        Examples
        --------
        >>> import numpy as np, os, tempfile
        >>> from skfer import EmotionCNN, FaceCropper, load_model, make_pipeline
        >>> X = np.random.default_rng(0).integers(0, 256, (20, 64, 64), dtype=np.uint8)
        >>> pipe = make_pipeline(FaceCropper(detector="hog", margin=0.7),
        ...                      EmotionCNN(max_epochs=1, validation=None, verbose=0))
        >>> path = pipe.fit(X, [0, 1] * 10).save(os.path.join(tempfile.mkdtemp(), "p.safetensors"))
        >>> again = load_model(path, with_cropper=True)
        >>> again[0].margin, bool(np.allclose(again.predict_proba(X), pipe.predict_proba(X)))
        (0.7, True)
        """
        from .faces import FaceCropper

        final = self._final_estimator
        if not hasattr(final, "save"):
            raise ValueError(
                f"The final step {type(final).__name__} has no save method; save an "
                "EmotionCNN pipeline, or pickle this one."
            )
        croppers, others = [], []
        for name, step in self.steps[:-1]:
            if isinstance(step, FaceCropper):
                croppers.append(step)
            elif step is not None and step != "passthrough" and not hasattr(step, "fit_resample"):
                others.append(name)
        if others or len(croppers) > 1:
            raise ValueError(
                "Only a FaceCropper (and samplers) may precede the saved model; "
                f"steps {others or [type(c).__name__ for c in croppers]} cannot be saved "
                "with it. Pickle the pipeline instead."
            )
        if croppers:
            kwargs.setdefault("framing", croppers[0].get_params())
        return final.save(path, **kwargs)


def make_pipeline(*steps, memory=None, transform_input=None, verbose=False) -> Pipeline:
    """Build a :class:`Pipeline` from estimators, naming them after their classes.

    Unlike scikit-learn's, ``(name, step)`` tuples are accepted too, so one step can
    get a short name for grid searches (``("labels", EmotionLabelMapper())`` gives
    ``labels__scheme``; unnamed it would be ``emotionlabelmapper__scheme``).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skfer import EmotionLabelMapper, make_pipeline
    >>> pipe = make_pipeline(EmotionLabelMapper("clusters"), LogisticRegression())
    >>> pipe.get_params()["emotionlabelmapper__scheme"]
    'clusters'
    """
    return Pipeline(list(steps), memory=memory, transform_input=transform_input, verbose=verbose)
