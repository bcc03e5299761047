"""Label schemes: :class:`EmotionLabelMapper` (a pipeline step) and :class:`Scheme`.

A scheme maps each emotion of its vocabulary to a label, or to ``None`` to leave it
out. The mapper applies it to ``y`` while a pipeline is fitted (imbalanced-learn's
sampler protocol: :meth:`~EmotionLabelMapper.fit_resample` maps ``y`` and drops the
rows whose emotion the scheme leaves out), and keeps the fitted mapping so that
scoring can map ``y_true`` the same way (:meth:`~EmotionLabelMapper.map_labels`,
:meth:`~EmotionLabelMapper.keep_mask`). A :class:`Scheme` is a scheme applied to a
classifier's classes: its labels in display order, the matrix that sums the classes'
probabilities per label, and the rows of ``y`` it keeps; evaluation, video and
:meth:`skfer.Pipeline.score` all read predictions in a scheme through it.
"""

from ._resolve import SCHEME_NAMES as SCHEME_NAMES
from ._resolve import check_labels as check_labels
from ._resolve import display_labels as display_labels
from ._resolve import map_emotions as map_emotions
from ._resolve import resolve_scheme as resolve_scheme
from ._resolve import sorted_labels as sorted_labels
from ._scheme import Scheme

# the public names; the helpers serve skfer's evaluation, pipeline and CLI
__all__ = ["EmotionLabelMapper", "Scheme"]

# the mapper is an imbalanced-learn sampler, and importing imbalanced-learn costs ~0.4 s
# (it loads sklearn's test utilities and pytest): predicting never needs it
_MAPPER_NAMES = ("EmotionLabelMapper", "fitted_mappers", "map_through", "native_space")


def __getattr__(name: str):
    if name in _MAPPER_NAMES:
        from . import _mapper

        return getattr(_mapper, name)
    raise AttributeError(f"module 'skfer.labels' has no attribute {name!r}")
