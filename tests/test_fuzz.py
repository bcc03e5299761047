"""Hypothesis property tests: any image in the documented domain gives the documented output.

Domain (``skfer._images`` module docstring): shapes ``(H, W)``, ``(H, W, 1|2|3|4)``;
dtypes uint8, uint16, bool, integers in [0, 255], floats in [0, 1] or [0, 255].
Outside the domain (NaN/inf, out-of-range values) the only documented exception is
``ValueError``.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skfer import Augmenter, FaceCropper, check_image

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_CHANNELS = st.sampled_from([None, 1, 2, 3, 4])


@st.composite
def images(draw, max_side=24):
    """An image within the documented domain."""
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    c = draw(_CHANNELS)
    shape = (h, w) if c is None else (h, w, c)
    kind = draw(st.sampled_from(["uint8", "uint16", "bool", "int32", "float01", "float255"]))
    if kind == "bool":
        return draw(arrays(np.bool_, shape))
    if kind in ("uint8", "uint16"):
        return draw(arrays(np.dtype(kind), shape))
    if kind == "int32":
        return draw(arrays(np.int32, shape, elements=st.integers(0, 255)))
    hi = 1.0 if kind == "float01" else 255.0
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    elements = st.floats(0, hi, width=32, allow_nan=False, allow_infinity=False)
    return draw(arrays(dtype, shape, elements=elements))


def _expected_shape(image):
    h, w = image.shape[:2]
    return (h, w, 3) if image.ndim == 3 and image.shape[2] in (3, 4) else (h, w)


@FUZZ
@given(image=images())
def test_check_image_output(image):
    out = check_image(image)
    assert out.dtype == np.uint8
    assert out.shape == _expected_shape(image)
    assert out.flags.c_contiguous or out.flags.f_contiguous


@FUZZ
@given(
    image=images(),
    bad=st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 256.0]),
    where=st.floats(0, 1, exclude_max=True),
)
def test_check_image_rejects_outside_domain(image, bad, where):
    image = image.astype(np.float64)
    h, w = image.shape[:2]
    i, j = np.unravel_index(int(where * h * w), (h, w))
    image[i, j] = bad  # in every channel: a dropped alpha channel is not checked
    with pytest.raises(ValueError, match="image"):
        check_image(image)


@FUZZ
@given(
    batch=st.lists(images(max_side=40), min_size=1, max_size=3),
    size=st.integers(8, 32),
    grayscale=st.booleans(),
    on_missing=st.sampled_from(["full", "center"]),
)
def test_face_cropper_haar_output(batch, size, grayscale, on_missing):
    cropper = FaceCropper(detector="haar", size=size, grayscale=grayscale, on_missing=on_missing)
    out = cropper.fit_transform(batch)
    expected = (len(batch), size, size) if grayscale else (len(batch), size, size, 3)
    assert out.shape == expected
    assert out.dtype == np.uint8
    assert cropper.fallback_.shape == (len(batch),)


@FUZZ
@given(
    data=st.data(),
    n=st.integers(1, 4),
    h=st.integers(4, 24),
    w=st.integers(4, 24),
    colour=st.booleans(),
    n_copies=st.integers(1, 2),
    seed=st.integers(0, 2**16),
)
def test_augmenter_output(data, n, h, w, colour, n_copies, seed):
    shape = (n, h, w, 3) if colour else (n, h, w)
    X = data.draw(arrays(np.uint8, shape))
    y = np.arange(n)
    aug = Augmenter(flip=True, shift=0.2, rotation=15, brightness=0.3, p=0.5)
    X_res, y_res = aug.set_params(n_copies=n_copies, random_state=seed).fit_resample(X, y)
    assert X_res.shape == (n * (1 + n_copies), *shape[1:])
    assert X_res.dtype == np.uint8
    np.testing.assert_array_equal(X_res[:n], X)  # originals first, unchanged
    np.testing.assert_array_equal(y_res, np.tile(y, 1 + n_copies))
