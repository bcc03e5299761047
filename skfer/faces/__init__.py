"""Faces: detection (several backends), landmark alignment and the FaceCropper transformer.

Examples
--------
>>> from skfer.faces import DETECTORS
>>> DETECTORS
('haar', 'hog', 'cnn', 'mtcnn', 'yunet')
"""

from ._align import DEFAULT_EYE_LEVEL, DEFAULT_MARGIN, align_face, alignment_matrix
from ._cropper import FaceCropper
from ._detectors import DEFAULT_DETECTOR, DETECTORS, Face, detect_faces, resolve_detector

__all__ = [
    "DEFAULT_DETECTOR",
    "DEFAULT_EYE_LEVEL",
    "DEFAULT_MARGIN",
    "DETECTORS",
    "Face",
    "FaceCropper",
    "align_face",
    "alignment_matrix",
    "detect_faces",
    "resolve_detector",
]
