"""Film analysis: from a video file to an emotion timeline per face track, and its summaries.

- :func:`analyze_video`: stream a video, sample frames, detect, align and classify every
  face in batches, link faces into tracks; returns a timeline DataFrame.
- :func:`analyze_images`: the same table for still images (no tracks).
- :func:`film_profile`: per-track, per-scene-window and whole-film summaries.
- :func:`plot_timeline`, :func:`plot_tracks`, :func:`annotate_image`: figures.
- :func:`iter_frames`, :class:`FaceTracker`: the streaming and tracking building blocks.

Examples
--------
>>> from skfer.video import FaceTracker
>>> FaceTracker().update([[0, 0, 10, 10]]).tolist()
[0]
"""

from ._analyze import IMAGE_MODEL, VIDEO_MODEL, analyze_images, analyze_video
from ._frames import VideoInfo, iter_frames, open_video
from ._plots import annotate_image, label_colors, plot_timeline, plot_tracks
from ._profile import film_profile, timeline_labels
from ._tracking import FaceTracker, ShotCuts, box_iou

__all__ = [
    "IMAGE_MODEL",
    "VIDEO_MODEL",
    "FaceTracker",
    "ShotCuts",
    "VideoInfo",
    "analyze_images",
    "analyze_video",
    "annotate_image",
    "box_iou",
    "film_profile",
    "iter_frames",
    "label_colors",
    "open_video",
    "plot_timeline",
    "plot_tracks",
    "timeline_labels",
]
