"""From a video (or still images) to a table of faces, emotions and valence/arousal.

The work per sampled frame is: crop every face through the model's own framing
(:meth:`skfer.FaceCropper.crop_faces` of :meth:`skfer.EmotionCNN.cropper`, the one crop
path of skfer), give each a track id (:class:`FaceTracker`) and put its crop in a
buffer. The buffer is classified in one batch every ``batch_size`` faces, across
frames, so the model runs on full batches however few faces each frame has.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .._load import serving_backend
from ..faces import resolve_detector
from ._classify import FaceClassifier, served_by
from ._frames import ReadReport, check_sampling, open_video, read_sampled
from ._tracking import FaceTracker, ShotCuts

__all__ = ["IMAGE_MODEL", "VIDEO_MODEL", "analyze_images", "analyze_video"]

#: Default model of :func:`analyze_video`: the shipped ``"film"`` model, ``fer2013``
#: fine-tuned on SFEW 2.0 Train, the most accurate on films it has not seen
#: (leave-films-out cross-validation, ``benchmarks/results/train_film.md``).
VIDEO_MODEL = "film"

#: Default model of :func:`analyze_images` (photos): the shipped ``"fer2013"`` model.
IMAGE_MODEL = "fer2013"


def cropper_and_classifier(model, default: str, *, backend: str = "auto", **framing):
    """The face cropper and the classifier of its crops for ``model``.

    ``model``: None (the shipped ``default``), a name or file (:func:`skfer.load_model`),
    a fitted classifier, or a fitted ``skfer.Pipeline`` that starts with a
    :class:`~skfer.FaceCropper` (that cropper, then the rest of the pipeline). The
    cropper frames faces as the model's were (:meth:`skfer.EmotionCNN.cropper`);
    ``framing`` values that are not None replace its parameters. ``backend`` serves a
    name or file (:func:`skfer.load_model`).
    """
    from .._load import load_model  # torch-free for an ONNX model
    from ..faces import FaceCropper
    from ..faces._framing import framed_cropper

    model = load_model(default if model is None else model, backend=backend)
    steps = getattr(model, "steps", None)
    if steps and isinstance(steps[0][1], FaceCropper):
        from sklearn.base import clone

        cropper = clone(steps[0][1]).set_params(
            **{k: v for k, v in framing.items() if v is not None}
        )
        model = model[1:]
    elif hasattr(model, "cropper"):
        cropper = model.cropper(**framing)
    else:  # any classifier: FaceCropper defaults, colour crops for a 3-channel model
        cropper = framed_cropper(None, in_chans=getattr(model, "in_chans_", 1), **framing)
    cropper.fit()  # checks the parameters once, before the film is read
    return cropper, model


def check_min_score(min_score) -> None:
    """A number, or a dict of detector name -> number (or None)."""
    from numbers import Real

    def number(value) -> bool:
        return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)

    if min_score is None or number(min_score):
        return
    if isinstance(min_score, dict) and all(
        isinstance(k, str) and number(v) for k, v in min_score.items()
    ):
        from ..faces import DETECTORS

        unknown = sorted(set(min_score) - set(DETECTORS))
        if unknown:
            raise ValueError(
                f"min_score names no detector {unknown}: its keys are detector names, "
                f"{', '.join(DETECTORS)} (a chain's faces carry the name of the one that "
                "found them)."
            )
        return
    raise ValueError(
        "min_score must be a number or a dict {detector: number} such as {'yunet': 0.7}, "
        f"got {min_score!r}."
    )


def keep_sure(crops, faces, min_score):
    """The crops and faces whose detector score reaches ``min_score``."""
    if min_score is None or not faces:
        return crops, faces
    if isinstance(min_score, dict):
        keep = [f.score >= min_score.get(f.detector, -math.inf) for f in faces]
    else:
        keep = [f.score >= min_score for f in faces]
    return crops[np.asarray(keep, dtype=bool)], [f for f, k in zip(faces, keep) if k]


def _person_grouper(persons):
    if not isinstance(persons, bool):
        raise ValueError(f"persons must be True or False, got {persons!r}.")
    if not persons:
        return None
    from ._persons import PersonGrouper

    return PersonGrouper()


def _box_row(face) -> tuple:
    return (*face.box, face.score)


def analyze_video(
    path: str | os.PathLike,
    model=None,
    *,
    every: float | None = 0.5,
    every_n_frames: int | None = None,
    detector: str | None = None,
    scheme: str | None = "ekman7",
    batch_size: int = 64,
    min_size: float | None = None,
    work_size: int | None = None,
    landmarks: bool | None = None,
    crop_size: int | None = None,
    iou_threshold: float = 0.3,
    max_distance: float = 0.5,
    max_gap: int = 2,
    cut_threshold: float | None = 0.3,
    min_score=None,
    persons: bool = True,
    adapt: str | None = None,
    backend: str = "auto",
    progress: bool | None = None,
):
    """Emotion timeline of a film: one row per face per sampled frame, linked into tracks.

    The video is read as a stream with OpenCV (one frame in memory at a time), so
    memory does not grow with the film's length. Each sampled frame's faces are
    detected and aligned; their crops are classified in batches across frames; boxes
    are linked across frames into face tracks (see :class:`~skfer.video.FaceTracker`).

    Parameters
    ----------
    path : path-like
        A video file OpenCV's FFmpeg backend decodes (mp4, avi, mkv, mov...).
    model : EmotionCNN, Pipeline, classifier, str or path-like, optional
        A model file or a shipped model name (see :func:`skfer.load_model`), a fitted
        :class:`~skfer.EmotionCNN`, a fitted ``skfer.Pipeline`` starting with a
        :class:`~skfer.FaceCropper`, or any fitted classifier with ``predict_proba``
        and ``classes_`` taking uint8 face crops. Faces are cropped as the model's
        were framed (:meth:`skfer.EmotionCNN.cropper`, the pipeline's cropper, or
        ``FaceCropper()`` defaults for another classifier). Default:
        :data:`VIDEO_MODEL`, the shipped ``"film"`` model.
    every : float, default=0.5
        Seconds between sampled frames: the first frame of every ``every``-second slot
        is analysed (see :func:`~skfer.video.iter_frames`).
    every_n_frames : int, optional
        Analyse every n-th frame instead; takes precedence over ``every``.
    detector : str, optional
        Face detector (names as :func:`skfer.faces.detect_faces` takes them). Default:
        the model's framing, normally ``"auto"`` (:data:`skfer.faces.DEFAULT_DETECTOR`:
        ``"hog+yunet"`` where YuNet is installed, else ``"hog+cnn"``, which is slow on
        frames without faces; ``"hog"`` is the fast choice then).
    scheme : {"ekman7", "top4", "clusters", "valence"}, mapping or None, default="ekman7"
        Label scheme of the probability columns and ``label``: the model's
        probabilities are summed per scheme label over the emotions the scheme keeps
        and renormalised (:func:`skfer.evaluation.proba_in_scheme`). ``None`` keeps
        the model's own classes (needed for models whose classes are not emotions).
    batch_size : int, default=64
        Faces classified together.
    min_size, work_size : optional
        Passed to :func:`~skfer.faces.detect_faces` (default: the model's framing).
    landmarks : bool, optional
        ``False`` skips dlib's landmark predictor for detectors without their own
        landmarks (faster; the crop is then placed from the box, not rotated):
        ``FaceCropper(align=False)``. Default: the model's framing (aligned).
    crop_size : int, optional
        Side of the aligned crops given to the model. Default: the model's framing
        (48, FER2013's).
    iou_threshold, max_distance, max_gap
        Tracking (see :class:`~skfer.video.FaceTracker`); ``max_gap`` counts sampled
        frames a track may miss and still continue.
    cut_threshold : float or None, default=0.3
        Every track ends at a shot cut: a colour-histogram distance of at least this
        between two sampled frames (see :class:`~skfer.video.ShotCuts`). ``None``
        links faces across cuts.
    min_score : float or dict, optional
        Drop faces the detector is less sure of, before tracking and classifying them:
        a number for every detector's own score, or ``{detector: threshold}`` (say
        ``{"yunet": 0.7}``: the back of a head found by YuNet scored 0.54). Scores are
        on each detector's own scale (:class:`skfer.faces.Face`; the ``detector``
        column says which found each face). None keeps every face found.
    persons : bool, default=True
        Group the tracks into persons (characters) across shots, by a face descriptor
        of a few faces of each track (dlib's face recognition network, see
        :class:`~skfer.video.PersonGrouper`), giving the ``person`` column. False
        skips it (faster; no ``person`` column).
    adapt : "batchnorm" or None, default=None
        Adapt the model to this film's faces before classifying them, without labels
        (AdaBN, see :class:`~skfer.EmotionCNN`'s ``adapt``): all faces of the film are
        then classified together at the end, as one domain (their 48x48 crops, about
        2.3 kB each, are kept until then), and films with fewer than 16 faces are
        classified unadapted. Use it with the FER2013-trained
        models: on the film development set it brought the share of faces they read
        as *sad* down to the true share and raised frame accuracy
        (``benchmarks/results/film_adaptation.md``). It does not help the ``film``
        model, already trained on film faces (``benchmarks/results/train_film.md``),
        hence off by default. None classifies every face on its own.
    backend : {"auto", "onnx", "torch"}, default="auto"
        What serves a model given by name or file (:func:`skfer.load_model`):
        ``"auto"`` is ONNX Runtime on a CPU (no torch imported once the model's ONNX
        file is cached, built at first use), torch on a GPU or when ``adapt`` is set.
        A fitted model object is used as it is.
    progress : bool or None, default=None
        Progress over the film's frames on stderr (tqdm, ASCII, with an ETA). None:
        shown unless the environment variable ``SKFER_PROGRESS`` is ``"0"``, as a live
        bar on a terminal, as a plain line at most every 30 s elsewhere (a log file;
        none for a film read in under 10 s); False: none; True: the lines start at
        once. ``skfer video --quiet`` is False.

    Returns
    -------
    timeline : pandas.DataFrame
        One row per detected face per sampled frame, in frame order (largest face
        first within a frame), with columns

        - ``time`` (s), ``frame`` (index in the video);
        - ``shot`` (0, 1...: the shot the frame belongs to, counted at each cut
          :class:`~skfer.video.ShotCuts` finds between sampled frames), ``track``
          (0, 1...: a face followed within one shot), ``person`` (0, 1...: the
          tracks of one face across shots, with ``persons=True``);
        - ``x, y, w, h`` (box in frame pixels), ``score`` (detector confidence, on
          the scale of ``detector``, the detector that found the face: see
          :class:`skfer.faces.Face`);
        - one probability column ``p_<label>`` per label of the scheme (they sum
          to 1);
        - ``label``: the most probable one;
        - ``valence``, ``arousal`` in [-1, 1]: the mean of
          :data:`skfer.emotions.VALENCE_AROUSAL` weighted by the model's emotion
          probabilities (before the scheme is applied). The coordinates are those
          of the NRC Valence, Arousal and Dominance Lexicon (Mohammad, ACL 2018)
          for each emotion's word, rescaled to [-1, 1], with neutral at the origin.
          NaN when the model's classes are not emotions.

        Sampled frames without faces add no row; a film without faces gives an
        empty table with these columns. ``timeline.attrs`` records ``source``,
        ``fps``, ``step`` (seconds between samples), ``duration``, ``n_sampled``
        (frames analysed), ``shots`` (start time of each shot, s), ``scheme``,
        ``labels``, ``detector`` (as resolved, e.g. ``"hog+yunet"``), ``framing`` (the
        cropper's parameters), ``backend`` (what ran the model: ``"onnx"``,
        ``"onnx-int8"``, ``"torch"``, or another classifier's class name), ``complete``
        (False for a truncated or corrupted film
        read only in part), ``covered``
        (``[start, end]`` in seconds: the part of the film that was read, a list so
        that it survives Parquet and JSON) and ``damage`` (what was missing, or None).

    Raises
    ------
    FileNotFoundError
        If ``path`` or a model file does not exist.
    ValueError
        For a file that is empty or not a readable video, or invalid arguments.

    Warns
    -----
    UserWarning
        For a film the decoder stops reading before its container's end (truncated
        or corrupted): the message names the film and the range read; the timeline
        holds that range, with ``attrs["complete"]`` False.

    See Also
    --------
    film_profile : per-track and whole-film summaries of a timeline.
    plot_timeline, plot_tracks : the timeline as PNG figures.

    Examples
    --------
    >>> from skfer.video import analyze_video
    >>> timeline = analyze_video("film.mp4", every=1.0)  # doctest: +SKIP
    >>> timeline.groupby("track")["label"].agg(lambda s: s.mode()[0])  # doctest: +SKIP
    """
    every, every_n = check_sampling(every, every_n_frames)
    check_min_score(min_score)
    cropper, model = cropper_and_classifier(
        model,
        VIDEO_MODEL,
        backend=serving_backend(backend, adapt),
        detector=detector,
        min_size=min_size,
        work_size=work_size,
        align=landmarks,
        size=crop_size,
    )
    tracker = FaceTracker(iou_threshold=iou_threshold, max_distance=max_distance, max_gap=max_gap)
    tracker.reset()
    cuts = ShotCuts(cut_threshold)
    grouper = _person_grouper(persons)
    capture, info = open_video(path)
    try:
        classifier = FaceClassifier(model, scheme=scheme, batch_size=batch_size, adapt=adapt)
    except BaseException:
        capture.release()
        raise
    bar = None
    from .._progress import progress_bar, progress_enabled

    if progress_enabled(progress):
        bar = progress_bar(
            info.n_frames or None, desc=os.path.basename(info.path), unit="frame", enabled=progress
        )
    n_sampled = 0
    report = ReadReport()
    try:
        frames = read_sampled(
            capture,
            info,
            every=every,
            every_n=every_n,
            on_frame=bar.update if bar else None,
            report=report,
        )
        shot, shot_starts = 0, []
        for index, time, frame in frames:
            n_sampled += 1
            crops, faces = keep_sure(*cropper.crop_faces(frame), min_score)
            if cuts.is_cut(frame):
                tracker.end_tracks()
                shot += 1
            if len(shot_starts) == shot:
                shot_starts.append(float(time))
            tracks = tracker.update([f.box for f in faces])
            if faces:
                rows = [(time, index, shot, t, *_box_row(f)) for f, t in zip(faces, tracks)]
                classifier.add(rows, crops, [f.detector for f in faces])
                if grouper is not None:
                    grouper.add(frame, faces, tracks)
            del frame
    finally:
        capture.release()
        if bar is not None:
            bar.close()
    timeline = classifier.table(["time", "frame", "shot", "track"])
    if grouper is not None:
        person = timeline["track"].map(grouper.persons()).astype(int)
        timeline.insert(timeline.columns.get_loc("track") + 1, "person", person)
    step = every if every_n is None else (every_n / info.fps if info.fps > 0 else math.nan)
    timeline.attrs.update(
        source=info.path,
        fps=info.fps,
        step=step,
        duration=info.duration,
        n_sampled=n_sampled,
        scheme=scheme if isinstance(scheme, str) or scheme is None else "custom",
        labels=list(classifier.labels),
        detector=resolve_detector(cropper.detector),
        framing=cropper.get_params(),
        backend=served_by(model),
        adapt=classifier.adapt,
        shots=shot_starts,
        persons=persons,
        complete=report.complete,
        covered=report.covered,
        damage=report.message,
    )
    return timeline


def analyze_images(
    images,
    model=None,
    *,
    detector: str | None = None,
    scheme: str | None = "ekman7",
    batch_size: int = 64,
    min_size: float | None = None,
    work_size: int | None = None,
    landmarks: bool | None = None,
    crop_size: int | None = None,
    adapt: str | None = None,
    backend: str = "auto",
    on_missing: str = "skip",
    min_score=None,
):
    """Every face in still images with its emotion: the one-frame case of :func:`analyze_video`.

    Parameters
    ----------
    images : sequence of images or paths
        RGB or gray arrays (anything :func:`skfer.check_image` accepts) or image files.
    model, detector, scheme, batch_size, min_size, work_size, landmarks, crop_size
        As :func:`analyze_video`, except that the default model is
        :data:`IMAGE_MODEL`; faces are cropped as the model's were framed.
    adapt : "batchnorm" or None, default=None
        As :func:`analyze_video`, with all images as one domain (say, frames of one
        film).
    backend : {"auto", "onnx", "torch"}, default="auto"
        As :func:`analyze_video`.
    on_missing : {"skip", "full", "center", "raise"}, default="skip"
        An image where no face is found (or under 8 px on a side, too small to
        search): ``"skip"`` reports it with no emotion, ``"full"`` classifies the
        whole image resized as if it were a face, ``"center"`` its central square
        (both as :class:`~skfer.FaceCropper`'s ``on_missing``, for pre-cropped
        faces), ``"raise"`` raises ``ValueError`` naming ``images[i]``.
    min_score : float or dict, optional
        As :func:`analyze_video`; an image whose faces are all dropped counts as an
        image without faces.

    Returns
    -------
    pandas.DataFrame
        One row per face: ``image`` (position in ``images``), ``face`` (0 = largest in
        its image), ``face_found`` (True), ``x, y, w, h, score, detector``, one probability
        column ``p_<label>`` per scheme label, ``label``, ``valence``, ``arousal``. An image
        without faces has one row with ``face`` -1 and ``face_found`` False: with
        ``on_missing="skip"`` its box, probabilities, ``label`` and valence/arousal
        are missing (NaN / None); with ``"full"`` or ``"center"`` they are those of
        the whole image or its centre (box in image pixels, ``score`` NaN).
        ``attrs`` records ``detector`` (as resolved), ``framing`` (the cropper's
        parameters) and ``backend`` (as :func:`analyze_video`).

    Examples
    --------
    >>> import numpy as np
    >>> from skimage.data import astronaut
    >>> from sklearn.dummy import DummyClassifier
    >>> from skfer.video import analyze_images
    >>> model = DummyClassifier(strategy="prior").fit(np.zeros((4, 1)), ["happy"] * 3 + ["sad"])
    >>> table = analyze_images([astronaut()], model, detector="hog")
    >>> first = table.iloc[0]
    >>> int(first["face"]), first["label"], round(float(first["p_happy"]), 2), round(first["x"])
    (0, 'happy', 0.75, 184)
    """
    from .._images import check_image, read_image

    if isinstance(images, (str, os.PathLike)) or (
        isinstance(images, np.ndarray)
        and images.ndim in (2, 3)
        and images.dtype != object
        and (images.ndim == 2 or images.shape[-1] in (3, 4))
    ):
        raise ValueError(
            "images must be a sequence of images or paths; wrap a single image or path in a list."
        )
    if on_missing not in ON_MISSING:
        raise ValueError(f"on_missing must be one of {ON_MISSING}; got {on_missing!r}.")
    check_min_score(min_score)
    cropper, model = cropper_and_classifier(
        model,
        IMAGE_MODEL,
        backend=serving_backend(backend, adapt),
        detector=detector,
        min_size=min_size,
        work_size=work_size,
        align=landmarks,
        size=crop_size,
    )
    whole = None if on_missing == "skip" else cropper_with(cropper, on_missing=on_missing)
    classifier = FaceClassifier(model, scheme=scheme, batch_size=batch_size, adapt=adapt)
    faceless = []
    for i, image in enumerate(images):
        if isinstance(image, (str, os.PathLike)):
            image = read_image(image)
        else:
            image = check_image(image, name=f"images[{i}]")
        crops, faces = keep_sure(*cropper.crop_faces(image), min_score)
        if faces:
            rows = [(i, k, *_box_row(f)) for k, f in enumerate(faces)]
            classifier.add(rows, crops, [f.detector for f in faces])
        elif whole is None:
            faceless.append(i)
        else:  # the whole image (or its centre) as the face: FaceCropper's fallback
            crop = whole._fallback(whole._colour(image), f"images[{i}]")
            classifier.add([(i, -1, *_whole_box(image.shape, on_missing), np.nan)], [crop])
    table = _flag_faceless(classifier.table(["image", "face"]), faceless)
    table.attrs.update(
        detector=resolve_detector(cropper.detector),
        framing=cropper.get_params(),
        backend=served_by(model),
    )
    return table


#: What :func:`analyze_images` does with an image where no face is found.
ON_MISSING = ("skip", "full", "center", "raise")


def cropper_with(cropper, **params):
    from sklearn.base import clone

    return clone(cropper).set_params(**params).fit()


def _whole_box(shape, on_missing: str) -> tuple:
    """The box (x, y, w, h) FaceCropper's ``on_missing`` fallback classifies."""
    h, w = shape[:2]
    if on_missing == "center":
        side = min(h, w)
        return ((w - side) // 2, (h - side) // 2, side, side)
    return (0, 0, w, h)


def _flag_faceless(table, faceless: list[int]):
    """``table`` with a ``face_found`` column and one row per faceless image (no emotion)."""
    import pandas as pd

    if faceless:
        empty = pd.DataFrame(index=range(len(faceless)), columns=table.columns)
        empty["image"], empty["face"] = faceless, -1
        empty = empty.astype({c: table[c].dtype for c in table.columns if c != "label"})
        empty["label"] = None
        table = table.astype({"label": object}) if table.empty else table
        table = pd.concat([table, empty], ignore_index=True)
        table = table.sort_values("image", kind="stable", ignore_index=True)
    table.insert(table.columns.get_loc("face") + 1, "face_found", table["face"] >= 0)
    return table
