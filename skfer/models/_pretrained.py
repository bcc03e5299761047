"""Pretrained backbone weights: from a local cache or a file, never a silent download.

``EmotionCNN(pretrained=True)`` looks for the architecture's weights in the
Hugging Face and torch-hub caches first; only when they are absent, the hub is
reachable and ``HF_HUB_OFFLINE`` is unset does timm download them. "Reachable"
means the hub answers an HTTP(S) request (TCP, TLS and an HTTP status line) within
3 seconds in all, name lookup included: a host that accepts connections but never
completes TLS, or never answers, counts as unreachable. Otherwise it fails within
seconds and says how to supply the weights.
``pretrained="path"`` loads a local safetensors file or torch state dict in timm's
layout (a timm model's ``state_dict``, timm's hub files, or an skfer model file).
In every case the classifier head is re-initialised for the new classes and the
first convolution is adapted to the input channels.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["create_pretrained_backbone", "load_state_dict_file"]

#: Seconds the hub has to answer the reachability probe, everything included.
_PROBE_TIMEOUT = 3.0


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def load_state_dict_file(path: str | os.PathLike) -> dict:
    """Read a state dict from a safetensors file or a torch checkpoint.

    Unwraps ``{"state_dict": ...}`` / ``{"model": ...}`` checkpoints and a
    ``module.`` prefix (DataParallel). Torch files are read with
    ``weights_only=True``: no code is unpickled.

    Raises
    ------
    FileNotFoundError, ValueError
        With the path in the message.
    """
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Pretrained weights file not found: {str(path)!r}")
    with open(path, "rb") as fh:
        head = fh.read(16)
    is_safetensors = path.suffix == ".safetensors" or (
        len(head) >= 9 and head[8:9] == b"{"  # 8-byte header length, then JSON
    )
    try:
        if is_safetensors:
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"Cannot read weights from {str(path)!r}: not a readable safetensors file or "
            f"torch state dict (truncated or corrupt?): {exc}"
        ) from exc
    for key in ("state_dict", "model", "state_dict_ema", "model_ema"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{str(path)!r} does not hold a state dict of tensors.")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def _as_prefixes(value) -> tuple[str, ...]:
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _adapt_conv(weight, in_chans: int):
    """First-convolution weights for ``in_chans`` inputs (sum for gray, tile otherwise)."""
    have = weight.shape[1]
    if have == in_chans:
        return weight
    if in_chans == 1:
        return weight.sum(dim=1, keepdim=True)
    reps = -(-in_chans // have)
    return weight.repeat(1, reps, 1, 1)[:, :in_chans] * (have / in_chans)


def _load_into(model, state: dict, cfg: dict, in_chans: int, source: str) -> None:
    """Load a timm-layout state dict, skipping the classifier; strict on everything else."""
    head = tuple(f"{p}." for p in _as_prefixes(cfg["classifier"]))
    state = {k: v for k, v in state.items() if not k.startswith(head)}
    for conv in _as_prefixes(cfg["first_conv"]):
        key = f"{conv}.weight"
        if key in state and state[key].ndim == 4:
            state[key] = _adapt_conv(state[key], in_chans)
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.startswith(head)]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        details = "; ".join(
            f"{label}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}"
            for label, items in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("shape mismatch", shapes),
            )
            if items
        )
        raise ValueError(f"Weights in {source} do not fit this backbone ({details}).")
    model.load_state_dict(state, strict=False)


def _hf_cached_file(cfg: dict) -> str | None:
    hub_id = cfg.get("hf_hub_id")
    if not hub_id:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    names = [cfg["hf_hub_filename"]] if cfg.get("hf_hub_filename") else []
    names += ["model.safetensors", "open_clip_pytorch_model.bin", "pytorch_model.bin"]
    for name in names:
        found = try_to_load_from_cache(hub_id, name)
        if isinstance(found, str) and os.path.isfile(found):
            return found
    return None


def _torch_hub_cached_file(cfg: dict) -> str | None:
    url = cfg.get("url")
    if not url:
        return None
    import torch

    path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)
    return str(path) if path.is_file() else None


def _reachable(
    host: str, port: int = 443, timeout: float = _PROBE_TIMEOUT, *, scheme: str = "https"
) -> bool:
    """Whether ``scheme://host:port/`` answers an HTTP HEAD request (any status),
    deciding within ``timeout`` seconds in all: name lookup, TCP connect, TLS handshake
    and the response's first line (the probe runs in a daemon thread that is given up
    on at the deadline; each socket operation also times out). Proxies in the
    environment are used, as the download would use them."""
    import urllib.error
    import urllib.request

    url = f"{scheme}://{host}:{port}/"
    result: list[bool] = []

    def probe():
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "skfer"})
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                result.append(True)
        except urllib.error.HTTPError:  # an HTTP answer, even 4xx/5xx: the host talks
            result.append(True)
        except Exception:  # noqa: BLE001 - refused, timed out, TLS failure, bad answer
            result.append(False)

    thread = threading.Thread(target=probe, name="skfer-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _hub_endpoint() -> str:
    """The Hugging Face endpoint a download would use (``HF_ENDPOINT``)."""
    endpoint = os.environ.get("HF_ENDPOINT")
    if not endpoint:
        try:
            from huggingface_hub import constants

            endpoint = constants.ENDPOINT
        except ImportError:  # pragma: no cover - timm depends on huggingface_hub
            endpoint = None
    return endpoint or "https://huggingface.co"


def _download_hosts(cfg: dict) -> list[tuple[str, int, str]]:
    """``(host, port, scheme)`` of the place timm would download ``cfg``'s weights from:
    the Hugging Face hub when the weights are there (timm prefers it), else their URL."""
    urls = []
    if cfg.get("hf_hub_id"):
        urls.append(_hub_endpoint())
    elif cfg.get("url"):
        urls.append(cfg["url"])
    hosts = []
    for url in urls:
        parts = urlparse(url)
        scheme = parts.scheme or "https"
        try:
            port = parts.port or (80 if scheme == "http" else 443)
        except ValueError:  # a malformed port: unreachable by definition
            port = 0
        if parts.hostname:
            hosts.append((parts.hostname, port, scheme))
    return hosts


def _probe(host: str, port: int, scheme: str) -> bool:
    if (port, scheme) == (443, "https"):
        return _reachable(host)
    return _reachable(host, port, scheme=scheme)


def create_pretrained_backbone(
    architecture: str, pretrained, *, num_classes: int, in_chans: int, **kwargs
):
    """Create ``architecture`` with pretrained weights (see the module docstring).

    Parameters
    ----------
    architecture : str
        timm model name.
    pretrained : True or path-like
        ``True``: the weights timm would download, read from the local caches.
        A path: a safetensors file or torch state dict.
    num_classes, in_chans : int
        The new head and input channels.
    **kwargs
        Extra keyword arguments for :func:`timm.create_model`.

    Raises
    ------
    RuntimeError
        ``pretrained=True`` and the weights are neither cached nor downloadable.
    FileNotFoundError, ValueError
        A missing, unreadable or non-matching weights file.
    """
    import timm

    from ._backbones import backbone_config, create_backbone

    cfg = backbone_config(architecture)
    if pretrained is True:
        pcfg = timm.get_pretrained_cfg(architecture)
        pcfg = pcfg.to_dict() if pcfg is not None else {}
        if not (pcfg.get("hf_hub_id") or pcfg.get("url") or pcfg.get("file")):
            # no hub weights (skfer_* models raise their own explanation)
            return timm.create_model(
                architecture,
                pretrained=True,
                num_classes=num_classes,
                in_chans=in_chans,
                **kwargs,
            )
        cached = pcfg.get("file") or _hf_cached_file(pcfg) or _torch_hub_cached_file(pcfg)
        if cached is None:
            offline = _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(
                os.environ.get("TIMM_OFFLINE")
            )
            hosts = _download_hosts(pcfg)
            if offline or not any(_probe(*h) for h in hosts):
                names = ", ".join(f"{s}://{h}:{p}" for h, p, s in hosts) or "no download URL"
                why = (
                    "HF_HUB_OFFLINE is set"
                    if offline
                    else f"{names} unreachable: no HTTP answer within {_PROBE_TIMEOUT:g} s"
                )
                raise RuntimeError(
                    f"No pretrained weights for {architecture!r} in the local caches "
                    f"(Hugging Face hub cache, torch hub {_torch_hub_dir()}) and no download "
                    f"possible ({why}). Supply them: on a machine with internet run "
                    f"`timm.create_model({architecture!r}, pretrained=True)` once to fill the "
                    "cache (then copy ~/.cache/huggingface or ~/.cache/torch here), or pass a "
                    "local file: EmotionCNN(..., pretrained='path/to/weights.safetensors' "
                    "or '.pth'). Use pretrained=False to train from scratch."
                )
            return timm.create_model(
                architecture, pretrained=True, num_classes=num_classes, in_chans=in_chans, **kwargs
            )
        return timm.create_model(
            architecture,
            pretrained=True,
            pretrained_cfg_overlay={"file": cached, "source": None},
            num_classes=num_classes,
            in_chans=in_chans,
            **kwargs,
        )

    path = Path(os.fspath(pretrained)).expanduser()
    state = load_state_dict_file(path)
    model = create_backbone(architecture, num_classes=num_classes, in_chans=in_chans, **kwargs)
    try:
        _load_into(model, state, cfg, in_chans, repr(str(path)))
    except ValueError as exc:
        raise ValueError(
            f"{exc} The file must hold {architecture!r} weights in timm's layout (a timm "
            "model's state_dict, or timm's hub files). Convert an original checkpoint with "
            f"timm.create_model({architecture!r}, pretrained=True, "
            "pretrained_cfg_overlay=dict(file=path)).state_dict()."
        ) from None
    return model


def _torch_hub_dir() -> str:
    import torch

    return str(Path(torch.hub.get_dir()) / "checkpoints")
