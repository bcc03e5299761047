"""How benchmark results describe the machine they ran on."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def hardware() -> str:
    """CPU model, logical cores and Python version."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}"


def load() -> float:
    """One-minute load average (NaN where the OS has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def int8_instructions() -> str:
    """The x86 dot-product instructions ONNX Runtime's int8 kernels get on this CPU."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")),
        [],
    )
    found = [f for f in ("avx512_vnni", "avx_vnni") if f in flags]
    if found:
        return " and ".join(found)
    return "AVX2 without VNNI" if "avx2" in flags else "neither AVX2 nor VNNI"
