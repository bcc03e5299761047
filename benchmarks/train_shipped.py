"""Train skfer's shipped FER2013 model(s) from scratch on the CPU.

Evaluation discipline: trains on FER2013 Training only, selects the epoch (and the
test-time augmentation: none, flip, or flip and shifts) on PublicTest only, and
touches PrivateTest once, at the end, for the reported figure. SFEW is never used.

Recipe: SGD (Nesterov, momentum 0.9, weight decay 5e-4), batch 128, a one-cycle
schedule (linear warm-up for one epoch to ``--lr``, cosine decay to zero), label
smoothing 0.1, on-the-fly :class:`skfer.Augmenter` (flip and 10 % shift as in the
paper, plus 10 degree rotation and 20 % brightness, each with p=0.5). Options:
``--ferplus-weight`` mixes the FER+ crowd's vote shares into the (Training) targets,
``--mixup`` mixes image pairs, ``--budget-minutes`` fits the epoch count to a time
budget after timing the first (warm-up) epoch.

It runs on the CPU or on CUDA (``--device auto``, bf16 autocast on CUDA). A machine
without the FER2013 CSV trains from a file made by ``benchmarks/fer2013_pack.py``
(``--data``); that file holds no PrivateTest, which is then scored here, once, by
``--score-private``.

Usage::

    python benchmarks/train_shipped.py --arch skfer_cnn --epochs 16 --name fer2013
    python benchmarks/train_shipped.py --name fer2013 --score-private  # after --data runs

writes ``skfer/models/weights/<name>.safetensors`` and
``benchmarks/results/train_<name>.{md,json,log}``. Checkpoints go to
``benchmarks/checkpoints/`` after every epoch; ``--resume`` continues from the last one.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import timm  # noqa: E402

import skfer  # noqa: E402
import skfer.models._compact  # noqa: E402,F401  (registers the compact architectures)
from skfer.augment import Augmenter  # noqa: E402
from skfer.datasets import load_fer2013  # noqa: E402
from skfer.emotions import EMOTIONS  # noqa: E402
from skfer.models._inference import tta_views  # noqa: E402
from skfer.models._io import write_weights  # noqa: E402

#: test-time augmentation modes, cheapest first
TTA_CHOICES = (False, "flip", "flip+shift")

MEAN, STD = 0.5077, 0.2550  # FER2013 Training pixel statistics (see skfer/models/_compact.py)


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 48, 48) -> normalised float (N, 1, 48, 48), channels-last."""
    x = images[:, None].float().div_(255.0)
    return x.sub_(MEAN).div_(STD).contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def predict_proba(model, images: torch.Tensor, *, tta=False, batch: int = 512) -> np.ndarray:
    """Class probabilities; with ``tta``, of the logits averaged over the views
    EmotionCNN averages (:func:`skfer.models._inference.tta_views`)."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(images), batch):
        x = to_input(images[i : i + batch].to(device))
        with autocast(device):
            logits = torch.stack([model(view).float() for view in tta_views(x, tta)]).mean(0)
        out.append(logits.softmax(1).cpu())
    return torch.cat(out).numpy()


def select_tta(model, images: torch.Tensor, target: np.ndarray) -> tuple[object, dict]:
    """Test-time augmentation chosen on PublicTest: the cheapest mode within 0.1 point
    of the best (modes in order of cost). Returns the mode and each mode's accuracy."""
    accuracy = {
        mode: float((predict_proba(model, images, tta=mode).argmax(1) == target).mean())
        for mode in TTA_CHOICES
    }
    best = max(accuracy.values())
    return next(m for m in TTA_CHOICES if accuracy[m] >= best - 0.001), accuracy


def autocast(device: torch.device):
    """bf16 autocast on CUDA; a no-op context on the CPU."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def load_data(path: str | None) -> dict:
    """FER2013 as a dict of arrays: from the CSV (with FER+), or from a packed file."""
    if path:
        from fer2013_pack import unpack  # beside this script, so on sys.path

        return unpack(path)
    from fer2013_pack import ferplus_shares

    data = load_fer2013()
    out = {"images": data.images, "target_code": data.target_code.astype(np.int64)}
    out["usage"] = data.usage
    out["ferplus"] = ferplus_shares(len(data.images))
    return out


def soft_targets(
    codes: torch.Tensor, ferplus: torch.Tensor, *, smoothing: float, ferplus_weight: float
):
    """Per-image target distributions: smoothed one-hot, mixed with FER+ vote shares."""
    k = len(EMOTIONS)
    target = F.one_hot(codes, k).float() * (1 - smoothing) + smoothing / k
    if ferplus_weight > 0:
        has = ~torch.isnan(ferplus).any(1, keepdim=True)
        mixed = (1 - ferplus_weight) * target + ferplus_weight * torch.nan_to_num(ferplus)
        target = torch.where(has, mixed, target)
    return target


def hardware(device: torch.device, threads: int) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"{name} (CUDA, bf16 autocast), torch {torch.__version__}"
    return f"{platform.machine()} CPU, {threads} threads (torch {torch.__version__})"


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
    from skfer.models._io import read_weights

    path = ROOT / "skfer" / "models" / "weights" / f"{name}.safetensors"
    state, config = read_weights(path)
    if config["metrics"].get("private_test_accuracy") is not None and not reselect_tta:
        raise SystemExit(f"{name} already has a PrivateTest figure; it is scored once.")
    model = timm.create_model(
        config["architecture"], num_classes=len(EMOTIONS), in_chans=1, **config["model_kwargs"]
    )
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    model = model.to(memory_format=torch.channels_last)
    data = load_fer2013()
    if reselect_tta:
        public = data.usage == "PublicTest"
        tta, accuracy = select_tta(
            model, torch.from_numpy(data.images[public]), data.target_code[public]
        )
        config["tta"] = tta
        config["metrics"]["public_test_accuracy"] = accuracy[tta]
        config["metrics"]["public_test_accuracy_by_tta"] = {str(k): v for k, v in accuracy.items()}
    mask = data.usage == "PrivateTest"
    images = torch.from_numpy(data.images[mask])
    proba = predict_proba(model, images, tta=config["tta"])
    config["metrics"]["private_test_accuracy"] = float(
        (proba.argmax(1) == data.target_code[mask]).mean()
    )
    print(json.dumps(config["metrics"]))
    write_weights(path, state, config)
    report = json.loads((ROOT / "benchmarks" / "results" / f"train_{name}.json").read_text())
    write_reports(name, config, report["history"], report["command"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="skfer_cnn")
    parser.add_argument("--name", default="fer2013")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--ferplus-weight", type=float, default=0.0)
    parser.add_argument("--mixup", type=float, default=0.0, help="Beta(a, a) mixup; 0 is off")
    parser.add_argument("--drop-rate", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--budget-minutes", type=float, default=None)
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
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    generator = torch.Generator().manual_seed(args.seed)

    data = load_data(args.data)
    codes = torch.from_numpy(data["target_code"])
    images = torch.from_numpy(data["images"])
    usages = ("Training", "PublicTest", "PrivateTest")
    split = {u: np.flatnonzero(data["usage"] == u) for u in usages}
    train_idx = split["Training"][: args.limit]
    x_train, y_train = images[train_idx].to(device), codes[train_idx].to(device)
    t_train = soft_targets(
        codes[train_idx],
        torch.from_numpy(data["ferplus"][train_idx]),
        smoothing=args.label_smoothing,
        ferplus_weight=args.ferplus_weight,
    ).to(device)
    x_pub, y_pub = images[split["PublicTest"]], codes[split["PublicTest"]].numpy()

    model_kwargs = json.loads(args.model_kwargs)
    model = timm.create_model(
        args.arch, num_classes=len(EMOTIONS), in_chans=1, drop_rate=args.drop_rate, **model_kwargs
    ).to(device=device, memory_format=torch.channels_last)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD(
        [
            {"params": decay, "weight_decay": args.weight_decay},
            {"params": no_decay, "weight_decay": 0},
        ],
        lr=args.lr,
        momentum=0.9,
        nesterov=True,
    )
    augmenter = Augmenter(flip=True, shift=0.1, rotation=10.0, brightness=0.2, p=0.5)

    ckpt_dir = ROOT / "benchmarks" / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = ckpt_dir / f"{args.name}.pt"
    results_dir = ROOT / "benchmarks" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    log_path = results_dir / f"train_{args.name}.log"

    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    epochs = args.epochs
    history: list[dict] = []
    best = {"acc": -1.0, "epoch": -1, "state": None}
    start_epoch, elapsed_before = 0, 0.0
    if args.resume and ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        start_epoch, history, best = ckpt["epoch"] + 1, ckpt["history"], ckpt["best"]
        elapsed_before = ckpt["train_seconds"]
        epochs = ckpt.get("epochs", epochs)
        rng = ckpt["rng"]
        generator.set_state(ckpt["generator"])
    log = open(log_path, "a")

    def say(msg: str) -> None:
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    say(
        f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {command}\n"
        f"# n_train={len(x_train)} start_epoch={start_epoch} {hardware(device, args.threads)}"
    )
    train_seconds = elapsed_before
    epoch = start_epoch
    while epoch < epochs:
        model.train()
        t0 = time.perf_counter()
        order = torch.from_numpy(rng.permutation(len(x_train))).to(device)
        total_loss = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        total_steps = steps_per_epoch * epochs
        for b in range(steps_per_epoch):
            step = epoch * steps_per_epoch + b
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, total_steps, steps_per_epoch, args.lr)
            idx = order[b * args.batch_size : (b + 1) * args.batch_size]
            x = augmenter.augment_batch(to_input(x_train[idx]), generator)
            x = x.contiguous(memory_format=torch.channels_last)
            y, target = y_train[idx], t_train[idx]
            if args.mixup > 0:
                lam = float(rng.beta(args.mixup, args.mixup))
                perm = torch.from_numpy(rng.permutation(len(idx))).to(device)
                x = lam * x + (1 - lam) * x[perm]
                target = lam * target + (1 - lam) * target[perm]
            with autocast(device):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.detach() * len(idx)
            correct += (logits.argmax(1) == y).sum()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        epoch_seconds = time.perf_counter() - t0
        train_seconds += epoch_seconds
        if epoch == 0 and args.budget_minutes:
            # the first epoch is the linear warm-up: it does not depend on the epoch count
            fit = int(args.budget_minutes * 60 // epoch_seconds)
            epochs = max(2, min(args.epochs, fit))
            say(f"# budget {args.budget_minutes} min, {epoch_seconds:.1f} s/epoch: {epochs} epochs")
        t0 = time.perf_counter()
        pub_acc = float((predict_proba(model, x_pub, tta=False).argmax(1) == y_pub).mean())
        eval_seconds = time.perf_counter() - t0
        row = {
            "epoch": epoch + 1,
            "train_loss": float(total_loss) / len(x_train),
            "train_acc": int(correct) / len(x_train),
            "public_acc": pub_acc,
            "epoch_seconds": epoch_seconds,
            "eval_seconds": eval_seconds,
            "train_minutes": train_seconds / 60,
        }
        history.append(row)
        if pub_acc > best["acc"]:
            best = {
                "acc": pub_acc,
                "epoch": epoch + 1,
                "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            }
        say(json.dumps(row))
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "epoch": epoch,
                "epochs": epochs,
                "history": history,
                "best": best,
                "train_seconds": train_seconds,
                "rng": rng,
                "generator": generator.get_state(),
            },
            tmp,
        )
        tmp.replace(ckpt_path)
        epoch += 1
        if args.stop_after and epoch - start_epoch >= args.stop_after and epoch < epochs:
            say(f"# stopped after {args.stop_after} epoch(s); --resume continues")
            return

    # model selection on PublicTest: best epoch, then test-time augmentation
    model.load_state_dict(best["state"])
    tta, accuracy = select_tta(model, x_pub, y_pub)
    metrics = {
        "public_test_accuracy": accuracy[tta],
        "public_test_accuracy_no_tta": accuracy[False],
        "public_test_accuracy_by_tta": {str(k): v for k, v in accuracy.items()},
        "private_test_accuracy": None,
        "best_epoch": best["epoch"],
        "epochs": epochs,
        "train_minutes": train_seconds / 60,
        "threads": args.threads,
        "hardware": hardware(device, args.threads),
    }
    if len(split["PrivateTest"]):
        # PrivateTest: touched once, for the reported figure
        x_priv, y_priv = images[split["PrivateTest"]], codes[split["PrivateTest"]].numpy()
        proba = predict_proba(model, x_priv, tta=tta)
        metrics["private_test_accuracy"] = float((proba.argmax(1) == y_priv).mean())
    say(json.dumps(metrics))

    config = {
        "format_version": 1,
        "architecture": args.arch,
        "backbone": args.arch,
        "num_classes": len(EMOTIONS),
        "in_chans": 1,
        "input_size": [48, 48],
        "mean": [MEAN],
        "std": [STD],
        "classes": list(EMOTIONS),
        "classes_kind": "str",
        "model_kwargs": {"drop_rate": args.drop_rate, **model_kwargs},
        "skfer_version": skfer.__version__,
        "tta": tta,
        "metrics": metrics,
    }
    state = model.state_dict()
    if args.half_weights:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    write_weights(ROOT / "skfer" / "models" / "weights" / f"{args.name}.safetensors", state, config)
    write_reports(args.name, config, history, command)


if __name__ == "__main__":
    main()
