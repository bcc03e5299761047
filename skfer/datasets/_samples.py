"""Sample photos for demos and examples (shipped by scikit-image, nothing downloaded)."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_sample_images"]


def load_sample_images() -> Bunch:
    """Real photographs with faces, shipped inside scikit-image.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images``: list of RGB uint8 arrays; ``filenames``: their names;
        ``DESCR``.

    Examples
    --------
    >>> data = load_sample_images()
    >>> data.images[0].shape
    (512, 512, 3)
    """
    from skimage import data as skdata

    astronaut = skdata.astronaut()  # Eileen Collins, NASA portrait (public domain)
    camera = np.repeat(skdata.camera()[..., None], 3, axis=2)  # "cameraman", MIT (public domain)
    return Bunch(
        images=[astronaut, camera],
        filenames=["astronaut.png", "camera.png"],
        DESCR=(
            "Two photographs shipped by scikit-image: astronaut() (NASA portrait of "
            "Eileen Collins) and camera() (the 'cameraman'), both public domain."
        ),
    )
