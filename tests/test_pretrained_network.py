"""``pretrained=True`` fails fast when the hub cannot be talked to (issue 17).

A local server accepts TCP connections and never says a word, like a host behind a
broken proxy or firewall that lets the connection through but not TLS: the probe
must give up within seconds (it waited 47 s when only TCP was checked).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

from skfer.models import _pretrained  # noqa: E402


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "torch_hub"))
    for name in ("HF_HUB_OFFLINE", "TIMM_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def silent_server():
    """A TCP server on 127.0.0.1 that accepts connections and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:  # timeout: look at stop again
                continue
            accepted.append(conn)  # held open, silent

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    server.close()


def test_pretrained_true_fails_fast_when_the_hub_never_speaks_tls(
    empty_caches, silent_server, monkeypatch
):
    port, accepted = silent_server
    monkeypatch.setenv("HF_ENDPOINT", f"https://127.0.0.1:{port}")
    monkeypatch.setattr(
        "timm.create_model",
        lambda *a, **k: pytest.fail("tried to download from a hub that does not answer"),
    )
    start = time.monotonic()
    with pytest.raises(RuntimeError) as info:
        _pretrained.create_pretrained_backbone("resnet18", True, num_classes=3, in_chans=1)
    elapsed = time.monotonic() - start
    assert elapsed < 6.0, f"took {elapsed:.1f} s to give up"
    assert accepted, "the probe never reached the local server"
    message = str(info.value)
    assert f"https://127.0.0.1:{port} unreachable" in message
    assert "no HTTP answer within 3 s" in message
    # how to supply the weights: a local file, or the cache filled elsewhere
    assert "pretrained='path/to/weights.safetensors'" in message
    assert "~/.cache/huggingface" in message


def test_probe_accepts_any_http_answer(silent_server):
    """A host that answers HTTP (here 404) is reachable; one that is silent is not."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer():
        conn, _ = server.accept()
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        assert _pretrained._reachable("127.0.0.1", server.getsockname()[1], scheme="http")
    finally:
        thread.join(5)
        server.close()
    start = time.monotonic()
    assert not _pretrained._reachable("127.0.0.1", silent_server[0], timeout=1.0, scheme="http")
    assert time.monotonic() - start < 2.0
