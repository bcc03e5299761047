"""Film analysis: from a video file to an emotion timeline per face track, and its summaries.

- :func:`analyze_video`: stream a video, sample frames, detect, align and classify every
  face in batches, link faces into tracks; returns a timeline DataFrame.
- :func:`analyze_images`: the same table for still images (no tracks).
- :func:`film_profile`: per-track, per-scene-window and whole-film summaries.
- :func:`plot_timeline`, :func:`plot_tracks`, :func:`plot_persons`, :func:`annotate_image`:
  figures (each returns its matplotlib Figure, draws into ``ax=``, saves when given a path).
- :func:`write_report`: a self-contained HTML report of a film; :func:`face_thumbnails`:
  faces of each person or track read back from the film; :func:`write_annotated_video`:
  a copy of the film with the boxes and labels drawn.
- :class:`PersonGrouper`: groups face tracks into persons across shots.
- :func:`iter_frames`, :class:`FaceTracker`: the streaming and tracking building blocks.

Examples
--------
>>> from skfer.video import FaceTracker
>>> FaceTracker().update([[0, 0, 10, 10]]).tolist()
[0]
"""

from ._analyze import IMAGE_MODEL, VIDEO_MODEL, analyze_images, analyze_video
from ._annotated import write_annotated_video
from ._frames import VideoInfo, iter_frames, open_video
from ._lanes import plot_persons, plot_tracks
from ._persons import PersonGrouper
from ._plots import annotate_image, label_colors, plot_timeline
from ._profile import film_profile, timeline_labels
from ._report import write_report
from ._thumbnails import face_thumbnails
from ._tracking import FaceTracker, ShotCuts, box_iou

__all__ = [
    "IMAGE_MODEL",
    "VIDEO_MODEL",
    "FaceTracker",
    "PersonGrouper",
    "ShotCuts",
    "VideoInfo",
    "analyze_images",
    "analyze_video",
    "annotate_image",
    "box_iou",
    "face_thumbnails",
    "film_profile",
    "iter_frames",
    "label_colors",
    "open_video",
    "plot_persons",
    "plot_timeline",
    "plot_tracks",
    "timeline_labels",
    "write_annotated_video",
    "write_report",
]
