"""Torch vs ONNX Runtime: faces/s, agreement, cold start and memory of the shipped models.

For each model and TTA setting (as shipped, and off): ``predict_proba`` throughput on
``--n`` FER2013 PublicTest faces (uint8 48x48 in, probabilities out; median of 3 after a
warm-up) with ``--threads`` threads on each backend, the PublicTest accuracy of each,
the share of faces with the same label and the largest probability difference. Then,
in fresh processes, the cold start (``import skfer``, load, predict one face) and the
peak RSS of a process that predicted the PublicTest faces, per backend. The machine's
one-minute load average is recorded beside each row.

Usage::

    python benchmarks/onnx_speed.py [--models fer2013-fast fer2013] [--threads 2]

writes ``benchmarks/results/onnx_speed.{md,csv}``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._machine import hardware, load  # noqa: E402
from skfer import export_onnx, load_model  # noqa: E402
from skfer.datasets import load_fer2013  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"

_PROCESS = """
import resource, sys, time
start = time.perf_counter()
import numpy as np
import skfer
model = skfer.load_model({name!r}, backend={backend!r}, device="cpu"{threads})
model.predict_proba(np.zeros((1, 48, 48), np.uint8))
cold = time.perf_counter() - start
if {faces!r}:
    model.predict_proba(np.load({faces!r}))
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")]
maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rss = (int(hwm[0].split()[1]) if hwm else maxrss) / 1024
print(cold, rss, "torch" in sys.modules)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["fer2013-fast", "fer2013"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=3589)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    data = load_fer2013(usage="PublicTest")
    faces, target = data.images[: args.n], np.asarray(data.target)[: args.n]
    rows, tmp = [], Path(tempfile.mkdtemp())
    for name in args.models:
        torch_model = load_model(name, device="cpu")
        for tta in [torch_model.tta, False] if torch_model.tta else [False]:
            torch_model.set_params(tta=tta)
            path = export_onnx(name, tmp / f"{name}-{tta}.onnx", tta=tta)
            onnx_model = load_model(path, backend="onnx", n_threads=args.threads)
            probas = {}
            for backend, model in (("torch", torch_model), ("onnx", onnx_model)):
                model.predict_proba(faces[:256])  # warm-up
                times, machine_load = [], load()
                for _ in range(3):
                    start = time.perf_counter()
                    probas[backend] = model.predict_proba(faces)
                    times.append(time.perf_counter() - start)
                labels = model.classes_[probas[backend].argmax(1)]
                rows.append(
                    {
                        "model": name,
                        "tta": tta,
                        "backend": backend,
                        "faces_per_s": len(faces) / statistics.median(times),
                        "public_test": float((labels == target).mean()),
                        "load_1min": machine_load,
                    }
                )
            same = float((probas["torch"].argmax(1) == probas["onnx"].argmax(1)).mean())
            diff = float(np.abs(probas["torch"] - probas["onnx"]).max())
            for row in rows[-2:]:
                row.update(same_label=same, max_abs_proba_diff=diff)
            rows[-1]["speedup"] = rows[-1]["faces_per_s"] / rows[-2]["faces_per_s"]
            print(rows[-2], rows[-1], sep="\n", flush=True)
    table = pd.DataFrame(rows)
    processes, faces_file = [], tmp / "faces.npy"
    np.save(faces_file, faces)  # not load_fer2013 in the child: its parse would be the peak
    for name in args.models:
        load_model(name, backend="onnx")  # built into the cache now, not in a cold start
    for name in args.models:
        for backend in ("torch", "onnx"):
            threads = f", n_threads={args.threads}" if backend == "onnx" else ""
            cold = _process(name, backend, threads, faces="")
            full = _process(name, backend, threads, faces=str(faces_file))
            processes.append(
                {
                    "model": name,
                    "backend": backend,
                    "cold_start_s": cold[0],
                    "peak_rss_mb_after_public_test": full[1],
                    "torch_imported": full[2],
                }
            )
            print(processes[-1], flush=True)
    procs = pd.DataFrame(processes)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / "onnx_speed.csv", index=False)
    procs.to_csv(RESULTS / "onnx_speed_processes.csv", index=False)
    shown = table.round({"faces_per_s": 0, "public_test": 4, "load_1min": 2, "speedup": 2})
    text = "\n".join(
        [
            "# Torch vs ONNX Runtime on the shipped models",
            "",
            f"Command: `python benchmarks/onnx_speed.py --threads {args.threads}`. "
            f"{hardware()}; torch {torch.__version__}, onnxruntime {_ort_version()}. "
            f"`predict_proba` on {len(faces)} FER2013 PublicTest faces (uint8 48x48 in, "
            f"probabilities out), median of 3 after a warm-up, {args.threads} threads per "
            "backend; `load_1min` is the machine's load average when the row ran.",
            "",
            shown.to_markdown(index=False),
            "",
            "Fresh processes (median of 3 cold starts: `import skfer`, load, predict one "
            "face; peak RSS after predicting all PublicTest faces):",
            "",
            procs.round(2).to_markdown(index=False),
        ]
    )
    (RESULTS / "onnx_speed.md").write_text(text + "\n")
    print(text)


def _process(name, backend, threads, *, faces):
    code = textwrap.dedent(_PROCESS).format(
        name=name, backend=backend, threads=threads, faces=faces
    )
    runs = []
    for _ in range(1 if faces else 3):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout.split()
        runs.append((float(out[0]), float(out[1]), out[2] == "True"))
    cold = statistics.median(r[0] for r in runs)
    return cold, runs[-1][1], runs[-1][2]


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


if __name__ == "__main__":
    main()
