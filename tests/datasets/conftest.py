"""Fixtures for the dataset tests: an isolated cache, a local HTTP server, the raw files.

No test here may reach the network: every test gets a fresh ``$JGNN_CACHE`` and a
``$JGNN_PLANETOID_URL`` pointing at a closed local port unless it starts its own server on
127.0.0.1.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("JGNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("JGNN_PLANETOID_URL", "http://127.0.0.1:9/never")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_GET(self):
        # /truncated/<n>: promise n bytes, send 10, then hang up.
        if self.path.startswith("/truncated/"):
            self.send_response(200)
            self.send_header("Content-Length", self.path.rsplit("/", 1)[1])
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def http_dir(tmp_path):
    """Serves a fresh folder over HTTP on 127.0.0.1; yields (base_url, folder)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def raw_dir() -> Path:
    """Folder holding the real raw Planetoid files, from ``$JGNN_DATA``; skips when unset."""
    env = os.environ.get("JGNN_DATA")
    if not env:
        pytest.skip("$JGNN_DATA is not set: the real Planetoid raw files are unavailable")
    for folder in (Path(env), Path(env) / "planetoid"):
        if (folder / "ind.cora.x").is_file():
            return folder
    pytest.skip(f"no ind.cora.x in $JGNN_DATA={env} or its planetoid/ subfolder")
