"""From a video to a table of faces, emotions and valence/arousal (:func:`analyze_video`),
and the default models of it and of :func:`analyze_images` (``_stills``, re-exported here).

The work per sampled frame is: crop every face through the model's own framing
(:meth:`skfer.FaceCropper.crop_faces` of :meth:`skfer.EmotionCNN.cropper`, the one crop
path of skfer), give each a track id (:class:`FaceTracker`) and put its crop in a
buffer. The buffer is classified in one batch every ``batch_size`` faces, across
frames, so the model runs on full batches however few faces each frame has.
"""

from __future__ import annotations

import math
import os

from ..faces import resolve_detector
from ._classify import FaceClassifier, served_by
from ._cropping import _box_row, cropper_and_classifier, keep_sure
from ._frames import ReadReport, check_sampling, open_video, read_sampled
from ._stills import analyze_images
from ._tracking import FaceTracker, ShotCuts

__all__ = ["IMAGE_MODEL", "VIDEO_MODEL", "analyze_images", "analyze_video"]

#: Default model of :func:`analyze_video`: the shipped ``"film"`` model, ``fer2013``
#: fine-tuned on SFEW 2.0 Train, the most accurate on films it has not seen
#: (leave-films-out cross-validation, ``benchmarks/results/train_film.md``).
VIDEO_MODEL = "film"

#: Default model of :func:`analyze_images` (photos): the shipped ``"fer2013"`` model.
IMAGE_MODEL = "fer2013"


def _person_grouper(persons):
    if not isinstance(persons, bool):
        raise ValueError(f"persons must be True or False, got {persons!r}.")
    if not persons:
        return None
    from ._persons import PersonGrouper

    return PersonGrouper()


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
    cropper, model = cropper_and_classifier(
        model,
        VIDEO_MODEL,
        backend=backend,
        adapt=adapt,
        min_score=min_score,
        detector=detector,
        min_size=min_size,
        work_size=work_size,
        landmarks=landmarks,
        crop_size=crop_size,
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
