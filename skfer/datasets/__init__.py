"""Dataset loaders returning scikit-learn ``Bunch`` objects.

skfer ships no data. Point the loaders at your copies, or set ``SKFER_DATA``
to a folder laid out like ``fer2013/fer2013.csv.gz``, ``fer2013/fer2013new.csv``,
``sfew/Train/<Class>/`` and ``sfew_frames/<Class>/``.
"""

from ._base import get_cache_dir, get_data_home
from ._dispatch import load_dataset
from ._fer2013 import load_fer2013, load_ferplus
from ._folder import load_image_folder, load_sfew
from ._samples import load_sample_images

__all__ = [
    "get_cache_dir",
    "get_data_home",
    "load_dataset",
    "load_fer2013",
    "load_ferplus",
    "load_image_folder",
    "load_sample_images",
    "load_sfew",
]
