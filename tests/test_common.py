"""scikit-learn's common estimator checks over every skfer estimator, transformer and sampler.

skfer's estimators take images ``(n, H, W[, C])`` (or lists of images/paths), never the
2-D tabular ``X`` that most of sklearn's checks generate. They declare this honestly with
``input_tags.two_d_array = False``, and sklearn then skips all of its checks
(:class:`~sklearn.exceptions.SkipTestWarning`): :func:`parametrize_with_checks` would
yield only ``check_estimator_cloneable``, which :func:`test_api_check` runs anyway, so it
is not used (:func:`test_image_input_tags` pins that sklearn yields nothing).

To get more than that, :func:`test_api_check` runs sklearn's public API checks one by one
on each estimator. The checks that cannot apply to image inputs are listed in
``EXPECTED_FAILED`` with a one-line reason each, in the manner of imbalanced-learn's
``test_common.py``; they run as strict ``xfail``, so a check that starts passing shows up.
"""

import warnings

import joblib
import numpy as np
import pytest
import sklearn.utils.estimator_checks as sk_checks
from conftest import tiny_cnn
from sklearn.base import clone
from sklearn.exceptions import NotFittedError, SkipTestWarning
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from skfer import Augmenter, EmotionLabelMapper, FaceCropper, ImageResampler


def _estimators():
    return [
        # without routed module__ options: check_param_validation wants a constraint for
        # every parameter, and routed ones have none
        tiny_cnn(module__widths=None),
        FaceCropper(detector="haar"),
        Augmenter(random_state=0),
        EmotionLabelMapper(),
        ImageResampler(),
    ]


# Checks that feed 2-D tabular X (n_samples, n_features): an image estimator rejects it
# with a ValueError naming the expected shape, which is the documented behaviour.
_TABULAR = "generates 2-D tabular X; skfer takes images (n, H, W[, C]) and rejects it"

EXPECTED_FAILED = {
    "EmotionCNN": {
        # EmotionCNN.__init__ takes **kwargs for skorch-style module__/optimizer__
        # routing; the check calls set_params(kwargs=...), which is not a parameter.
        "check_do_not_raise_errors_in_init_or_set_params": (
            "introspects **kwargs (skorch-style module__/optimizer__ routing) as a "
            "parameter named 'kwargs'"
        ),
        "check_estimators_overwrite_params": _TABULAR,
        "check_dont_overwrite_parameters": _TABULAR,
        "check_fit_check_is_fitted": _TABULAR,
    },
    "Augmenter": {
        "check_estimators_overwrite_params": _TABULAR,
        "check_dont_overwrite_parameters": _TABULAR,
        "check_fit_check_is_fitted": _TABULAR,
    },
    "ImageResampler": {
        "check_estimators_overwrite_params": _TABULAR,
        "check_dont_overwrite_parameters": _TABULAR,
        "check_fit_check_is_fitted": _TABULAR,
    },
    "EmotionLabelMapper": {},
    "FaceCropper": {},
}

# sklearn's public API checks, run one by one below (those that do not need tabular
# data pass; the others are in EXPECTED_FAILED).
API_CHECKS = [
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_mixin_order",
    "check_valid_tag_types",
    "check_estimator_tags_renamed",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimators_unfitted",
    "check_param_validation",
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_fit_check_is_fitted",
]


@pytest.mark.parametrize("estimator", _estimators(), ids=lambda e: type(e).__name__)
def test_image_input_tags(estimator):
    """Every skfer estimator says it takes images, so sklearn skips tabular checks."""
    tags = get_tags(estimator)
    assert tags.input_tags.two_d_array is False
    assert tags.input_tags.three_d_array is True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checks = list(sk_checks._yield_all_checks(estimator, legacy=True))
    assert checks == []
    assert any(issubclass(w.category, SkipTestWarning) for w in caught)


def _api_cases():
    for estimator in _estimators():
        name = type(estimator).__name__
        for check in API_CHECKS:
            reason = EXPECTED_FAILED[name].get(check)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(estimator, check, id=f"{name}-{check}", marks=marks)


@pytest.mark.parametrize(("estimator", "check"), list(_api_cases()))
def test_api_check(estimator, check):
    getattr(sk_checks, check)(type(estimator).__name__, estimator)


def _public(estimator):
    return {k: v for k, v in vars(estimator).items() if not k.startswith("_") and k[-1] != "_"}


@pytest.mark.parametrize("estimator", _estimators(), ids=lambda e: type(e).__name__)
def test_fitting_on_images(estimator):
    """What the checks xfailed for want of images check, on images: fitting (or
    ``fit_resample``) changes no parameter (check_estimators_overwrite_params) and adds
    or rebinds no public attribute (check_dont_overwrite_parameters); an estimator that
    needs fitting is unfitted before and fitted after (check_fit_check_is_fitted)."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (24, 48, 48), dtype=np.uint8)
    y = np.repeat(["happy", "sad", "neutral"], [12, 8, 4])  # unbalanced: a resampler acts
    estimator = clone(estimator)
    params, public = joblib.hash(estimator.get_params()), _public(estimator)
    if hasattr(estimator, "fit") and get_tags(estimator).requires_fit:
        with pytest.raises(NotFittedError):
            check_is_fitted(estimator)
    if hasattr(estimator, "fit_resample"):
        X_res, y_res = estimator.fit_resample(X, y)
        assert len(X_res) == len(y_res) >= len(X)
    else:
        estimator.fit(X, y)
    assert joblib.hash(estimator.get_params()) == params
    after = _public(estimator)
    assert set(after) == set(public)
    assert [k for k, v in public.items() if after[k] is not v] == []
    if hasattr(estimator, "fit"):
        check_is_fitted(estimator)


def test_expected_failed_table_is_exact():
    """The table covers every estimator, and each entry names a check that is run."""
    assert set(EXPECTED_FAILED) == {type(e).__name__ for e in _estimators()}
    for name, table in EXPECTED_FAILED.items():
        assert set(table) <= set(API_CHECKS), name
        assert all(reason.strip() and "\n" not in reason for reason in table.values())
