"""Fixtures for the dataset tests: an isolated cache, a local HTTP server, the raw files.

No test here may reach the network: every test gets a fresh ``$JGNN_CACHE`` and a
``$JGNN_PLANETOID_URL`` pointing at a closed local port unless it starts its own server on
127.0.0.1.
"""

from __future__ import annotations

import functools
import gzip
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


def write_csv_gz(path: Path, rows) -> None:
    """Writes rows (lists of already-formatted strings or numbers) as a gzip CSV, no header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(",".join(str(v) for v in row) + "\n" for row in rows)
    with gzip.open(path, "wt") as f:
        f.write(text)


def write_ogb_folder(folder: Path, split: str, edges, features, labels, splits) -> Path:
    """Writes a dataset in OGB's raw node-property layout, exactly as given.

    ``edges`` is ``[E, 2]`` (one line per edge), ``features`` a ``[N, F]`` array of strings or
    numbers, ``labels`` ``[N]`` and ``splits`` a dict with ``train``/``valid``/``test`` ids.
    """
    raw = folder / "raw"
    write_csv_gz(raw / "num-node-list.csv.gz", [[len(labels)]])
    write_csv_gz(raw / "num-edge-list.csv.gz", [[len(edges)]])
    write_csv_gz(raw / "edge.csv.gz", [[int(u), int(v)] for u, v in edges])
    write_csv_gz(raw / "node-feat.csv.gz", list(features))
    write_csv_gz(raw / "node-label.csv.gz", [[int(y)] for y in labels])
    for part in ("train", "valid", "test"):
        write_csv_gz(folder / "split" / split / f"{part}.csv.gz", [[int(i)] for i in splits[part]])
    return folder


@pytest.fixture
def csv_writer():
    """The gzip CSV writer above, for tests that build OGB files by hand."""
    return write_csv_gz


@pytest.fixture
def ogb_writer():
    """The OGB raw-layout writer above."""
    return write_ogb_folder
