"""skfer: scikit-learn-compatible facial expression recognition, aimed at film.

Everything public is importable from here; heavy dependencies (torch, timm,
OpenCV, dlib) load only when the object that needs them is first used, so
``import skfer`` stays fast.

Examples
--------
>>> import skfer
>>> skfer.EMOTIONS[:3]
('angry', 'disgust', 'fear')
"""

from __future__ import annotations

import importlib

from .emotions import (
    EMOTIONS,
    EMOTIONS_WITH_CONTEMPT,
    FER2013_CODES,
    SCHEMES,
    VALENCE_AROUSAL,
    normalize_emotion,
    normalize_emotions,
)

__version__ = "0.1.0"

# public name -> submodule that defines it (imported on first access)
_LAZY = {
    # images
    "read_image": "skfer._images",
    "check_image": "skfer._images",
    "check_images": "skfer._images",
    # augmentation
    "Augmenter": "skfer.augment",
    # faces (skfer.faces)
    "FaceCropper": "skfer.faces",
    "Face": "skfer.faces",
    "detect_faces": "skfer.faces",
    "resolve_detector": "skfer.faces",
    "align_face": "skfer.faces",
    # models (skfer.models)
    "EmotionCNN": "skfer.models",
    "load_model": "skfer._load",
    "export_onnx": "skfer.models._export",
    "OnnxEmotionModel": "skfer._onnx",
    "shipped_models": "skfer.models",
    "list_backbones": "skfer.models",
    "adapt_batchnorm": "skfer.models",
    "WarmupCosine": "skfer.models",
    # label schemes, pipeline, evaluation
    "EmotionLabelMapper": "skfer.labels",
    "Scheme": "skfer.labels",
    "Pipeline": "skfer.pipeline",
    "make_pipeline": "skfer.pipeline",
    "CrossDatasetSplit": "skfer.evaluation",
    "cross_dataset_report": "skfer.evaluation",
    "plot_confusion_matrices": "skfer.evaluation",
    "scheme_scorer": "skfer.evaluation",
    "predict_in_scheme": "skfer.evaluation",
    "proba_in_scheme": "skfer.evaluation",
    "ImageResampler": "skfer.resample",
    # film analysis (skfer.video)
    "analyze_video": "skfer.video",
    "analyze_images": "skfer.video",
    "film_profile": "skfer.video",
    "plot_timeline": "skfer.video",
    "plot_tracks": "skfer.video",
    "plot_persons": "skfer.video",
    "write_report": "skfer.video",
    "write_annotated_video": "skfer.video",
    "face_thumbnails": "skfer.video",
    "PersonGrouper": "skfer.video",
    "annotate_image": "skfer.video",
    # scale-out on Dask (skfer.distributed; extra skfer[dask])
    "analyze_videos": "skfer.distributed",
    "check_picklable": "skfer.distributed",
    "local_cluster": "skfer.distributed",
    # datasets (they live in skfer.datasets; re-exported for convenience)
    "get_data_home": "skfer.datasets",
    "load_dataset": "skfer.datasets",
    "load_fer2013": "skfer.datasets",
    "load_ferplus": "skfer.datasets",
    "load_image_folder": "skfer.datasets",
    "load_sfew": "skfer.datasets",
    "load_sample_images": "skfer.datasets",
}

__all__ = [
    "EMOTIONS",
    "EMOTIONS_WITH_CONTEMPT",
    "FER2013_CODES",
    "SCHEMES",
    "VALENCE_AROUSAL",
    "normalize_emotion",
    "normalize_emotions",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'skfer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
