"""The torch-free inference path: an exported skfer model run by ONNX Runtime.

:func:`skfer.export_onnx` writes the graph (preprocessing and TTA inside, config in
the metadata); :class:`OnnxEmotionModel` predicts with it. This module imports neither
torch nor anything of :mod:`skfer.models` (whose import loads torch), so a process that
predicts through it never loads torch. ONNX files of a weights file are found beside it
(``fer2013.onnx`` beside ``fer2013.safetensors``) or in the cache
(``$SKFER_CACHE/onnx``), and are used only when they were exported from exactly that
file (the SHA-256 of its bytes is in their metadata).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ._images import check_images, to_gray
from ._shipped import resolve_weights as weights_path

__all__ = ["OnnxEmotionModel", "find_onnx", "onnx_cache_path", "weights_path"]

#: network images (faces x TTA views) per run of the graph when ``batch_size`` is None:
#: ONNX Runtime keeps the largest run's activations in its arena. An ad-hoc check on 2
#: cores (2026-12, one session of random faces): film (6 views) 16 faces/run added 108 MB
#: at 443 faces/s, 64 faces/run 417 MB at 434; fer2013 (2 views) 32 faces/run 80 MB at
#: 1,803 faces/s, 256 faces/run 599 MB at 1,838. With one thread per run (2026-12-03,
#: 2 cores, 3 alternating rounds of the 3,589 PublicTest faces): fer2013 int8 with flip
#: 6,773-7,291 faces/s at 16 faces/run against 6,714-7,185 at 32, film int8 (6 views)
#: 2,102-2,359 at 16 against 2,114-2,126 at 32 faces/run
_IMAGES_PER_RUN = 32
_VIEWS = {False: 1, True: 2, "flip": 2, "flip+shift": 6}


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _require_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(
            "The ONNX backend needs onnxruntime: pip install 'skfer[onnx]' "
            "(or load the model with backend='torch')."
        ) from exc
    return onnxruntime


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def canonical_tta(tta):
    """One spelling per test-time augmentation setting: ``True`` is ``"flip"``, and
    None or False is False."""
    return "flip" if tta is True else (tta or False)


def same_tta(a, b) -> bool:
    """Whether two test-time augmentation settings are the same (``True`` is ``"flip"``)."""
    return canonical_tta(a) == canonical_tta(b)


def _tta_tag(tta) -> str:
    """``off``, ``flip`` or ``flip+shift``: the name of a TTA setting in file names."""
    return canonical_tta(tta) or "off"


def onnx_cache_path(weights: Path, sha256: str | None = None, *, tta=None) -> Path:
    """Where an ONNX file built at first use for ``weights`` lives: ``<cache>/onnx/``,
    named by the weights' stem and the first 16 hex digits of their SHA-256 (and
    ``-tta-<off|flip|flip+shift>`` for a TTA other than the model's own, ``tta``)."""
    from .datasets._base import get_cache_dir

    sha256 = sha256 or file_sha256(weights)
    tag = "" if tta is None else f"-tta-{_tta_tag(tta)}"
    return get_cache_dir() / "onnx" / f"{Path(weights).stem}-{sha256[:16]}{tag}.onnx"


def int8_path(weights: Path, *, tta=None) -> Path:
    """Where the int8 graph of ``weights`` lives: beside them, ``<stem>.int8.onnx`` (the
    model's own TTA) or, for ``tta`` given, ``<stem>.tta-<off|flip|flip+shift>.int8.onnx``."""
    if tta is None:
        return Path(weights).with_suffix(".int8.onnx")
    return Path(weights).with_suffix(f".tta-{_tta_tag(tta)}.int8.onnx")


def read_onnx_config(path) -> dict:
    """The skfer config in an ONNX file's metadata (read by ONNX Runtime)."""
    ort = _require_onnxruntime()
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    return _config_of(session, path)


def _config_of(session, path) -> dict:
    meta = session.get_modelmeta().custom_metadata_map
    if "skfer" not in meta:
        raise ValueError(
            f"{str(path)!r} has no skfer metadata: it was not written by skfer.export_onnx."
        )
    config = json.loads(meta["skfer"])
    if not isinstance(config, dict) or config.get("onnx_format") != 1:
        raise ValueError(
            f"{str(path)!r} uses skfer ONNX format {config.get('onnx_format')!r}; this "
            "skfer reads format 1. Re-export it with skfer.export_onnx."
        )
    return config


def find_onnx(model, *, quantized: bool = False, tta=None) -> Path | None:
    """The ONNX file exported from ``model`` (a shipped name or a weights file): beside
    the weights, else in the cache (``quantized``: the int8 graph beside the weights);
    None when there is none, or none exported from these exact weights (a file left
    stale by retrained weights is not used). ``tta`` given: only a graph with that
    test-time augmentation inside."""
    weights = weights_path(model)
    sha = file_sha256(weights)
    if quantized:
        candidates = (int8_path(weights), int8_path(weights, tta=tta))
    else:
        candidates = (
            weights.with_suffix(".onnx"),
            onnx_cache_path(weights, sha),
            onnx_cache_path(weights, sha, tta=tta),
        )
    candidates = tuple(dict.fromkeys(candidates))
    for candidate in candidates:
        if not candidate.is_file():
            continue
        try:
            config = read_onnx_config(candidate)
        except Exception:  # unreadable or foreign: not ours to use
            continue
        is_int8 = config.get("quantized") == "int8"
        wanted_tta = tta is None or same_tta(config.get("tta", False), tta)
        if config.get("source_sha256") == sha and is_int8 == quantized and wanted_tta:
            return candidate
    return None


class OnnxEmotionModel(ClassifierMixin, BaseEstimator):
    """A fitted skfer emotion classifier run by ONNX Runtime on the CPU, without torch.

    The graph is a model written by :func:`skfer.export_onnx` (resizing, normalisation
    and test-time augmentation inside); its metadata gives ``classes_``, ``framing_``
    and the rest. Usually made by ``skfer.load_model(name_or_path, backend="onnx")``.
    ``fit`` trains nothing: it reads the file (training uses :class:`~skfer.EmotionCNN`).

    Parameters
    ----------
    path : path-like
        An ``.onnx`` file from :func:`skfer.export_onnx`.
    n_threads : int or None, default=None
        Threads that run the graph (None: one per usable core). Each runs whole
        batches on its own (ONNX Runtime's ``intra_op_num_threads=1``; the runtime
        releases the GIL), rather than splitting every layer of one batch between
        threads: the networks are small enough that the per-layer hand-offs cost more
        than they save (``fer2013`` int8 with flip on 2 cores, an ad-hoc A/B on the
        3,589 PublicTest faces: 6,700 against 5,500 faces/s). A call of more than one
        batch but fewer than ``n_threads`` is split into ``n_threads`` smaller ones; a call
        of one batch or less runs in the calling thread, as starting the threads costs
        about a millisecond.
    batch_size : int or None, default=None
        Faces per run of the graph. None: 32 network images, i.e. 32 faces without
        TTA, 16 with flip, 5 with flip+shift (memory grows with the run's size).

    Attributes
    ----------
    classes_ : ndarray
        The labels, in output order.
    in_chans_ : int
    input_size_ : tuple of int
    framing_ : dict or None
        The :class:`~skfer.FaceCropper` parameters of the model's faces.
    tta : bool or str
        The test-time augmentation inside the graph.
    quantized : None or "int8"
        ``"int8"`` for a graph from ``export_onnx(..., quantize="int8")``.
    config_ : dict
        The skfer config from the file's metadata.
    n_workers_ : int
        The threads that run the graph (``n_threads``, or the usable cores).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skfer import EmotionCNN, OnnxEmotionModel, export_onnx
    >>> X = np.random.default_rng(0).integers(0, 256, (20, 48, 48), dtype=np.uint8)
    >>> cnn = EmotionCNN(max_epochs=1, validation=None, verbose=0).fit(X, [0, 1] * 10)
    >>> path = export_onnx(cnn, os.path.join(tempfile.mkdtemp(), "m.onnx"))
    >>> model = OnnxEmotionModel(path, n_threads=1).fit()
    >>> model.predict(X[:4]).shape, model.input_size_
    ((4,), (48, 48))
    """

    def __init__(self, path, *, n_threads=None, batch_size=None):
        self.path = path
        self.n_threads = n_threads
        self.batch_size = batch_size

    def fit(self, X=None, y=None):
        """Read the graph and its metadata (nothing is trained; ``X``, ``y`` are ignored).

        Returns
        -------
        self
        """
        ort = _require_onnxruntime()
        if self.n_threads is not None and (
            isinstance(self.n_threads, bool)
            or not isinstance(self.n_threads, int)
            or self.n_threads < 1
        ):
            raise ValueError(f"n_threads must be None or a positive int, got {self.n_threads!r}.")
        path = Path(os.fspath(self.path)).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"No ONNX file {str(path)!r}.")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # parallel over batches instead: see n_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session_ = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.n_workers_ = int(self.n_threads or usable_cores())
        config = self.config_ = _config_of(self.session_, path)
        kind = np.int64 if config["classes_kind"] == "int" else str
        self.classes_ = np.asarray(config["classes"], dtype=kind)
        self.in_chans_ = int(config["in_chans"])
        self.input_size_ = tuple(int(v) for v in config["input_size"])
        self.framing_ = dict(config["framing"]) if config.get("framing") else None
        self.tta = config.get("tta", False)
        self.standardize = bool(config.get("standardize", False))
        self.metrics_ = dict(config.get("metrics") or {})
        self.quantized = config.get("quantized")
        return self

    def __sklearn_is_fitted__(self):
        return hasattr(self, "session_")

    def _faces(self, X) -> np.ndarray:
        """Images -> uint8 ``(n, in_chans_, h, w)``, channels as ``images_to_tensor``."""
        images = check_images(X, stack=True)
        if images.ndim == 4:
            if self.in_chans_ == 1:
                n, h, w, _ = images.shape
                flat = np.ascontiguousarray(images).reshape(n * h, w, 3)
                return to_gray(flat).reshape(n, 1, h, w)
            return np.ascontiguousarray(images.transpose(0, 3, 1, 2))
        faces = images[:, None]
        if self.in_chans_ != 1:  # gray into a colour net: equal channels, same statistics
            faces = np.repeat(faces, self.in_chans_, axis=1)
        return np.ascontiguousarray(faces)

    def _logits(self, X) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        faces = self._faces(X)
        bs = self.batch_size or _IMAGES_PER_RUN // _VIEWS.get(self.tta, 6)
        # one run's worth or less: the calling thread (starting threads costs ~1 ms)
        workers = min(self.n_workers_, len(faces)) if len(faces) > bs else 1
        if workers > 1:  # enough batches to keep every thread busy
            bs = min(bs, -(-len(faces) // workers))
        bs = max(1, int(bs))
        chunks = [faces[start : start + bs] for start in range(0, len(faces), bs)]

        def run(chunk):
            return self.session_.run(["logits"], {"faces": chunk})[0]

        if workers > 1 and len(chunks) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers, thread_name_prefix="skfer-onnx") as pool:
                out = list(pool.map(run, chunks))
        else:
            out = [run(chunk) for chunk in chunks]
        if not out:
            return np.empty((0, len(self.classes_)), dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)

    def decision_function(self, X):
        """Class scores: the logits averaged over the TTA views (for two classes, the
        logit difference of ``classes_[1]`` over ``classes_[0]``), as
        :meth:`skfer.EmotionCNN.decision_function`."""
        logits = self._logits(X)
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X):
        """Class probabilities ``(n, n_classes)``, columns in ``classes_`` order (a
        float64 softmax of the float32 logits, as the torch path)."""
        logits = self._logits(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        return logits / logits.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted labels (values of ``classes_``)."""
        return self.classes_[self._logits(X).argmax(axis=1)]

    def cropper(self, **overrides):
        """The :class:`~skfer.FaceCropper` that frames faces as this model's were
        (see :meth:`skfer.EmotionCNN.cropper`)."""
        from sklearn.utils.validation import check_is_fitted

        from .faces._framing import framed_cropper

        check_is_fitted(self)
        return framed_cropper(self.framing_, in_chans=self.in_chans_, **overrides)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("session_", None)  # ONNX Runtime sessions do not pickle: rebuilt
        return state

    def __setstate__(self, state):
        fitted = "config_" in state
        self.__dict__.update(state)
        if fitted:
            self.fit()
