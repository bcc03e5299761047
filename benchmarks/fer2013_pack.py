"""Pack FER2013 (Training and PublicTest) with FER+ vote shares into one small lossless file.

The canonical CSV is 94 MB gzipped, more than a GPU machine's 64 MiB transfer
allows. This file holds the Training and PublicTest images (PrivateTest stays
behind: it is scored on this machine, once), their FER2013 labels and the FER+
vote shares over the seven emotions, compressed losslessly with the LOCO-I
median predictor and LZMA (about 50 MB).

Usage::

    python benchmarks/fer2013_pack.py .gpu/fer2013_train_public.npz

and ``python benchmarks/train_shipped.py --data .gpu/fer2013_train_public.npz`` there.
"""

from __future__ import annotations

import argparse
import lzma
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

USAGES = ("Training", "PublicTest")


def _neighbours(im: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b, c = (np.zeros_like(im) for _ in range(3))
    a[..., :, 1:] = im[..., :, :-1]
    b[..., 1:, :] = im[..., :-1, :]
    c[..., 1:, 1:] = im[..., :-1, :-1]
    return a, b, c


def _median_predict(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))


def encode(images: np.ndarray) -> bytes:
    """uint8 (N, H, W) -> LZMA bytes of the median-predictor residuals."""
    im = images.astype(np.int16)
    residual = ((im - _median_predict(*_neighbours(im))) % 256).astype(np.uint8)
    return lzma.compress(residual.tobytes(), preset=6)


def decode(blob: bytes, shape: tuple[int, int, int]) -> np.ndarray:
    """Inverse of :func:`encode` (pixel by pixel in raster order, vectorised over images)."""
    residual = np.frombuffer(lzma.decompress(blob), dtype=np.uint8).reshape(shape)
    out = np.zeros(shape, dtype=np.int16)
    zero = np.zeros(shape[0], dtype=np.int16)
    for r in range(shape[1]):
        for c in range(shape[2]):
            a = out[:, r, c - 1] if c else zero
            b = out[:, r - 1, c] if r else zero
            d = out[:, r - 1, c - 1] if r and c else zero
            out[:, r, c] = (_median_predict(a, b, d) + residual[:, r, c]) % 256
    return out.astype(np.uint8)


def ferplus_shares(n_rows: int) -> np.ndarray:
    """FER+ vote shares over the seven FER2013 emotions per CSV row (NaN where FER+ has none)."""
    from skfer.datasets import load_ferplus

    plus = load_ferplus(mode="probability")
    seven = plus.target_proba[:, :7]  # contempt (column 7) has no FER2013 counterpart
    total = seven.sum(1, keepdims=True)
    shares = np.full((n_rows, 7), np.nan, dtype=np.float32)
    ok = total[:, 0] > 0
    shares[plus.index[ok]] = seven[ok] / total[ok]
    return shares


def pack(path: Path) -> None:
    from skfer.datasets import load_fer2013

    data = load_fer2013()
    keep = np.isin(data.usage, USAGES)
    images = data.images[keep]
    arrays = {
        "images_lzma": np.frombuffer(encode(images), dtype=np.uint8),
        "shape": np.array(images.shape),
        "target_code": data.target_code[keep].astype(np.int8),
        "usage": data.usage[keep].astype(str),
        "ferplus": ferplus_shares(len(data.images))[keep],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)


def unpack(path: str | Path) -> dict:
    """Read a packed file: ``images`` (N, 48, 48) uint8, ``target_code``, ``usage``, ``ferplus``."""
    with np.load(path) as z:
        shape = tuple(int(s) for s in z["shape"])
        return {
            "images": decode(z["images_lzma"].tobytes(), shape),
            "target_code": z["target_code"].astype(np.int64),
            "usage": z["usage"],
            "ferplus": z["ferplus"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    pack(args.path)
    print(f"wrote {args.path} ({args.path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
