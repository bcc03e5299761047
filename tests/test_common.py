"""scikit-learn's common estimator checks over every skfer estimator, transformer and sampler.

skfer's estimators take images ``(n, H, W[, C])`` (or lists of images/paths), never the
2-D tabular ``X`` that most of sklearn's checks generate. They declare this honestly with
``input_tags.two_d_array = False``, and sklearn then skips its data-driven checks
(:class:`~sklearn.exceptions.SkipTestWarning`): only the API checks that need no data run
through :func:`parametrize_with_checks`.

To get more than that, :func:`test_api_check` runs sklearn's public API checks one by one
on each estimator. The checks that cannot apply to image inputs (or to a sampler that,
like imbalanced-learn's, only resamples) are listed in ``EXPECTED_FAILED`` with a one-line
reason each, in the manner of imbalanced-learn's ``test_common.py``; they run as strict
``xfail``, so a check that starts passing shows up.
"""

import warnings

import pytest
import sklearn.utils.estimator_checks as sk_checks
from sklearn.exceptions import SkipTestWarning
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfer import Augmenter, EmotionCNN, EmotionLabelMapper, FaceCropper, ImageResampler


def _estimators():
    return [
        EmotionCNN(
            backbone="skfer_cnn_fast",
            max_epochs=1,
            batch_size=8,
            validation=None,
            device="cpu",
            random_state=0,
        ),
        FaceCropper(detector="haar"),
        Augmenter(random_state=0),
        EmotionLabelMapper(),
        ImageResampler(),
    ]


# Checks that feed 2-D tabular X (n_samples, n_features): an image estimator rejects it
# with a ValueError naming the expected shape, which is the documented behaviour.
_TABULAR = "generates 2-D tabular X; skfer takes images (n, H, W[, C]) and rejects it"
# skfer's samplers expose fit_resample only (they act in Pipeline.fit), no fit.
_NO_FIT = "sampler: exposes fit_resample only (applied in Pipeline.fit), no fit method"

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
        "check_estimators_overwrite_params": _NO_FIT,
        "check_dont_overwrite_parameters": _NO_FIT,
        "check_fit_check_is_fitted": _NO_FIT,
    },
    "ImageResampler": {
        "check_estimators_overwrite_params": _NO_FIT,
        "check_dont_overwrite_parameters": _NO_FIT,
        "check_fit_check_is_fitted": _NO_FIT,
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
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_fit_check_is_fitted",
]


def _expected_failed_checks(estimator):
    """Map check name to the one-line reason it cannot apply to ``estimator``."""
    return EXPECTED_FAILED[type(estimator).__name__]


@parametrize_with_checks(_estimators(), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


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


def test_expected_failed_table_is_exact():
    """Every table entry names a check that is actually run."""
    for name, table in EXPECTED_FAILED.items():
        assert set(table) <= set(API_CHECKS), name
        assert all(reason.strip() and "\n" not in reason for reason in table.values())
