"""Train skfer's shipped FER2013 model(s) from scratch: ``EmotionCNN.fit`` does the work.

Evaluation discipline: trains on FER2013 Training only, selects the epoch (and the
test-time augmentation: none, flip, or flip and shifts) on PublicTest only, and
touches PrivateTest once, at the end, for the reported figure. SFEW is never used.

Recipe (every option an :class:`skfer.EmotionCNN` parameter): SGD (Nesterov,
momentum 0.9), ``weight_decay`` 5e-4 on weights only, batch 128,
``lr_schedule="warmup-cosine"`` (linear warm-up for one epoch to ``--lr``, cosine
decay to zero), label smoothing 0.1, dropout 0.3, on-the-fly :class:`skfer.Augmenter`
(flip and 10 % shift as in the paper, plus 10 degree rotation and 20 % brightness,
each with p=0.5; ``--photometry`` adds the film-like contrast, gamma, blur and
noise of ``benchmarks/_film_dev.py``), ``--standardize`` per-face contrast
normalisation. PublicTest is ``EmotionCNN``'s validation set; the best epoch on it
is restored (early stopping with a patience longer than the run).

It runs on the CPU or on CUDA (``--device auto``, bf16 autocast on CUDA). A machine
without the FER2013 CSV trains from a file made by ``benchmarks/fer2013_pack.py``
(``--data``); that file holds no PrivateTest, which is then scored here, once, by
``--score-private``. Runs before 2026-12 (the shipped ``fer2013-fast`` and
``fer2013-large``, and the sweeps in model_selection.md) used an earlier loop of
this script with the same recipe; its ``--mixup``, ``--ferplus-weight`` and
``--budget-minutes`` options are gone (git history has them).

Usage::

    python benchmarks/train_shipped.py --arch skfer_cnn --epochs 50 --name fer2013 \
        --standardize --photometry
    python benchmarks/train_shipped.py --name fer2013 --score-private  # after --data runs

writes ``skfer/models/weights/<name>.safetensors`` and
``benchmarks/results/train_<name>.{md,json,log}``. Checkpoints go to
``benchmarks/checkpoints/<name>/`` after every epoch; ``--resume`` continues from them.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback, EpochScoring

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _film_dev import FILM_PHOTOMETRY, SHIPPED_AUGMENT  # noqa: E402  (beside this script)

from skfer import Augmenter, EmotionCNN, load_model  # noqa: E402
from skfer.datasets import load_fer2013  # noqa: E402
from skfer.emotions import EMOTIONS  # noqa: E402

#: test-time augmentation modes, cheapest first
TTA_CHOICES = (False, "flip", "flip+shift")


def select_tta(model: EmotionCNN, images: np.ndarray, target: np.ndarray) -> tuple[object, dict]:
    """Test-time augmentation chosen on PublicTest: the cheapest mode within 0.1 point
    of the best (modes in order of cost). Returns the mode and each mode's accuracy."""
    accuracy = {}
    for mode in TTA_CHOICES:
        accuracy[mode] = float((model.set_params(tta=mode).predict(images) == target).mean())
    best = max(accuracy.values())
    tta = next(m for m in TTA_CHOICES if accuracy[m] >= best - 0.001)
    model.set_params(tta=tta)
    return tta, accuracy


class EpochTimes(Callback):
    """Records per epoch the seconds spent in training and in validation batches."""

    def on_epoch_begin(self, net, **kwargs):
        self.seconds_ = {True: 0.0, False: 0.0}

    def on_batch_begin(self, net, training=False, **kwargs):
        self.t0_ = time.perf_counter()

    def on_batch_end(self, net, training=False, **kwargs):
        self.seconds_[training] += time.perf_counter() - self.t0_

    def on_epoch_end(self, net, **kwargs):
        net.history.record("epoch_seconds", self.seconds_[True])
        net.history.record("eval_seconds", self.seconds_[False])


class StopAfter(Callback):
    """Ends ``fit`` after ``n`` epochs of this call (the checkpoint is written first)."""

    def __init__(self, n: int):
        self.n = n

    def on_train_begin(self, net, **kwargs):
        self.start_ = len(net.history)

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) - self.start_ >= self.n:
            raise KeyboardInterrupt  # skorch ends the fit loop cleanly on it


def hardware(device: str, threads: int) -> str:
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device))
        return f"{name} (CUDA, bf16 autocast), torch {torch.__version__}"
    return f"{platform.machine()} CPU, {threads} threads (torch {torch.__version__})"


def load_data(path: str | None) -> dict:
    """FER2013 as a dict of arrays: from the CSV, or from a packed file."""
    if path:
        from fer2013_pack import unpack  # beside this script, so on sys.path

        return unpack(path)
    data = load_fer2013()
    return {"images": data.images, "target_code": data.target_code, "usage": data.usage}


def write_reports(name: str, config: dict, history: list, command: str) -> None:
    metrics = config["metrics"]
    results_dir = ROOT / "benchmarks" / "results"
    (results_dir / f"train_{name}.json").write_text(
        json.dumps({"config": config, "history": history, "command": command}, indent=2)
    )
    priv = metrics.get("private_test_accuracy")
    lines = [
        f"# Shipped model `{name}` ({config['architecture']})",
        "",
        f"Command: `{command}`",
        f"Hardware: {metrics['hardware']}; training time {metrics['train_minutes']:.1f} min.",
        "",
        "| split | accuracy |",
        "|---|---|",
        f"| FER2013 PublicTest (selection; TTA={config['tta']}) | "
        f"{metrics['public_test_accuracy']:.4f} |",
        f"| FER2013 PrivateTest (reported) | {'-' if priv is None else f'{priv:.4f}'} |",
        "",
        "Test-time augmentation on PublicTest (the cheapest mode within 0.1 point of the best "
        "is kept): "
        + ", ".join(
            f"{mode} {acc:.4f}"
            for mode, acc in metrics.get("public_test_accuracy_by_tta", {}).items()
        )
        + ".",
        "",
        "| epoch | train loss | train acc | PublicTest acc | minutes |",
        "|---|---|---|---|---|",
        *[
            f"| {r['epoch']} | {r['train_loss']:.4f} | {r['train_acc']:.4f} | "
            f"{r['public_acc']:.4f} | {r['train_minutes']:.1f} |"
            for r in history
        ],
    ]
    (results_dir / f"train_{name}.md").write_text("\n".join(lines) + "\n")


def score_private(name: str, *, reselect_tta: bool = False) -> None:
    """Score a model trained elsewhere (``--data``) on PrivateTest, once, and record it.

    ``reselect_tta``: first choose its test-time augmentation again on PublicTest
    (for models trained before a TTA mode was added), then re-score PrivateTest."""
    path = ROOT / "skfer" / "models" / "weights" / f"{name}.safetensors"
    model = load_model(path)
    metrics = dict(model.metrics_)
    if metrics.get("private_test_accuracy") is not None and not reselect_tta:
        raise SystemExit(f"{name} already has a PrivateTest figure; it is scored once.")
    data = load_fer2013()
    names = np.asarray(EMOTIONS)
    if reselect_tta:
        public = data.usage == "PublicTest"
        tta, accuracy = select_tta(model, data.images[public], names[data.target_code[public]])
        metrics["public_test_accuracy"] = accuracy[tta]
        metrics["public_test_accuracy_by_tta"] = {str(k): v for k, v in accuracy.items()}
    private = data.usage == "PrivateTest"
    metrics["private_test_accuracy"] = float(
        (model.predict(data.images[private]) == names[data.target_code[private]]).mean()
    )
    print(json.dumps(metrics))
    dtype = "float16" if metrics.get("weights_dtype") == "float16" else "float32"
    model.save(path, metrics=metrics, dtype=dtype)
    report = json.loads((ROOT / "benchmarks" / "results" / f"train_{name}.json").read_text())
    report["config"]["metrics"] = metrics
    report["config"]["tta"] = model.tta
    write_reports(name, report["config"], report["history"], report["command"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="skfer_cnn")
    parser.add_argument("--name", default="fer2013")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--drop-rate", type=float, default=0.3)
    parser.add_argument("--standardize", action="store_true", help="per-face normalisation")
    parser.add_argument("--photometry", action="store_true", help="film-like photometry")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--half-weights", action="store_true", help="store float16 weights")
    parser.add_argument("--data", default=None, help="a file from benchmarks/fer2013_pack.py")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--stop-after", type=int, default=None, help="stop after N epochs (to time a protocol)"
    )
    parser.add_argument("--score-private", action="store_true")
    parser.add_argument(
        "--reselect-tta", action="store_true", help="with --score-private: choose TTA again"
    )
    parser.add_argument("--model-kwargs", default="{}", help="JSON kwargs for create_model")
    args = parser.parse_args()
    command = "python benchmarks/train_shipped.py " + shlex.join(sys.argv[1:])

    torch.set_num_threads(args.threads)
    if args.score_private:
        score_private(args.name, reselect_tta=args.reselect_tta)
        return
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"

    data = load_data(args.data)
    labels = np.asarray(EMOTIONS)[data["target_code"]]
    usages = ("Training", "PublicTest", "PrivateTest")
    split = {u: np.flatnonzero(data["usage"] == u) for u in usages}
    train = split["Training"][: args.limit]
    x_pub, y_pub = data["images"][split["PublicTest"]], labels[split["PublicTest"]]

    results_dir = ROOT / "benchmarks" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = ROOT / "benchmarks" / "checkpoints" / args.name
    if not args.resume and ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)  # a fresh run; EmotionCNN resumes from any checkpoint it finds
    log_path = results_dir / f"train_{args.name}.log"
    log = open(log_path, "a" if args.resume else "w")

    def say(msg: str) -> None:
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    augment = Augmenter(**SHIPPED_AUGMENT, **(FILM_PHOTOMETRY if args.photometry else {}))
    model_kwargs = {"drop_rate": args.drop_rate, **json.loads(args.model_kwargs)}
    callbacks = [
        ("train_acc", EpochScoring("accuracy", on_train=True, name="train_acc")),
        ("epoch_times", EpochTimes()),
    ]
    if args.stop_after:
        callbacks.append(("stop_after", StopAfter(args.stop_after)))
    model = EmotionCNN(
        args.arch,
        in_chans=1,
        standardize=args.standardize,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer="sgd",
        optimizer__nesterov=True,
        weight_decay=args.weight_decay,
        lr_schedule="warmup-cosine",
        early_stopping=args.epochs,  # never stops early; restores PublicTest's best epoch
        validation=(x_pub, y_pub),
        augment=augment,
        label_smoothing=args.label_smoothing,
        device=device,
        callbacks=callbacks,
        checkpoint_dir=ckpt_dir,
        random_state=args.seed,
        verbose=0,
        **{f"module__{k}": v for k, v in model_kwargs.items()},
    )
    say(
        f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {command}\n"
        f"# n_train={len(train)} {hardware(device, args.threads)}"
    )

    class Log(Callback):
        def on_epoch_end(self, net, **kwargs):
            row = net.history[-1]
            say(json.dumps(history_row(row, net.history)))

    model.set_params(callbacks=[*callbacks, ("log", Log())])
    model.fit(data["images"][train], labels[train])
    history = [history_row(row, model.history_) for row in model.history_]
    if len(history) < args.epochs:
        say(f"# stopped after {len(history)} of {args.epochs} epoch(s); --resume continues")
        return

    # model selection on PublicTest: best epoch (restored by fit), then test-time augmentation
    best = max(history, key=lambda r: r["public_acc"])
    tta, accuracy = select_tta(model, x_pub, y_pub)
    metrics = {
        "public_test_accuracy": accuracy[tta],
        "public_test_accuracy_no_tta": accuracy[False],
        "public_test_accuracy_by_tta": {str(k): v for k, v in accuracy.items()},
        "private_test_accuracy": None,
        "best_epoch": best["epoch"],
        "epochs": args.epochs,
        "train_minutes": history[-1]["train_minutes"],
        "threads": args.threads,
        "hardware": hardware(device, args.threads),
        "recipe": command,
        "weights_dtype": "float16" if args.half_weights else "float32",
    }
    if len(split["PrivateTest"]):
        # PrivateTest: touched once, for the reported figure
        private = split["PrivateTest"]
        pred = model.predict(data["images"][private])
        metrics["private_test_accuracy"] = float((pred == labels[private]).mean())
    say(json.dumps(metrics))
    path = ROOT / "skfer" / "models" / "weights" / f"{args.name}.safetensors"
    model.save(path, metrics=metrics, dtype=metrics["weights_dtype"])
    config = {
        "architecture": model.architecture_,
        "standardize": args.standardize,
        "augment": augment.get_params(),
        "model_kwargs": model.model_kwargs_,
        "tta": tta,
        "metrics": metrics,
    }
    write_reports(args.name, config, history, command)


def history_row(row: dict, history) -> dict:
    """One epoch of ``EmotionCNN.history_`` in the log's terms."""
    epochs = history[: row["epoch"]]
    minutes = sum(r.get("epoch_seconds", r["dur"]) + r.get("eval_seconds", 0) for r in epochs)
    return {
        "epoch": row["epoch"],
        "train_loss": row["train_loss"],
        "train_acc": row["train_acc"],
        "public_acc": row["valid_acc"],
        "epoch_seconds": row.get("epoch_seconds", row["dur"]),
        "eval_seconds": row.get("eval_seconds", 0.0),
        "train_minutes": minutes / 60,
    }


if __name__ == "__main__":
    main()
