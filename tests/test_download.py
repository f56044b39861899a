"""`dcgan download` code paths against a local HTTP server on 127.0.0.1 (never the network)."""

from __future__ import annotations

import http.server
import socket
import threading
import zipfile
from functools import partial

import pytest

from dcgan_cli.datasets.fetch import download_lsun, download_mnist
from dcgan_cli.errors import UserError


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with HTTP Range support (resuming needs it); counts requests; can cut transfers."""

    cut_after = None  # bytes: close the connection after sending this many (a dropped download)
    requests: list

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.requests.append(self.headers.get("Range"))
        path = self.translate_path(self.path)
        try:
            data = open(path, "rb").read()
        except OSError:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.cut_after is not None:
            self.wfile.write(body[: self.cut_after])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A server for tmp_path/www; DCGAN_LSUN_URL points at it."""
    root = tmp_path / "www"
    root.mkdir()
    handler = type("Handler", (RangeHandler,), {"requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("DCGAN_LSUN_URL", f"http://127.0.0.1:{httpd.server_port}/")
    handler.base_url = f"http://127.0.0.1:{httpd.server_port}/"
    yield root, handler
    httpd.shutdown()
    httpd.server_close()


def lsun_zip(path, records=b"0" * 200_000):
    """An archive shaped like LSUN's: bedroom_val_lmdb/{data,lock}.mdb."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("bedroom_val_lmdb/data.mdb", records)
        zf.writestr("bedroom_val_lmdb/lock.mdb", b"\0" * 64)
    return path


def test_download_lsun_unpacks(server, tmp_path):
    root, _ = server
    lsun_zip(root / "bedroom_val_lmdb.zip")
    dest = tmp_path / "lsun"
    target = download_lsun("bedroom", "val", dest, log=lambda m: None)
    assert target == dest / "bedroom_val_lmdb"
    assert (target / "data.mdb").read_bytes() == b"0" * 200_000
    assert not (dest / "bedroom_val_lmdb.zip").exists()  # the archive is removed once unpacked
    assert sorted(p.name for p in dest.iterdir()) == ["bedroom_val_lmdb"]
    # A second run finds it and does not download again.
    assert download_lsun("bedroom", "val", dest, log=lambda m: None) == target


def test_download_lsun_resumes(server, tmp_path):
    root, handler = server
    archive = lsun_zip(root / "bedroom_val_lmdb.zip")
    dest = tmp_path / "lsun"
    handler.cut_after = 50_000
    with pytest.raises(UserError, match="interrupted|damaged"):
        download_lsun("bedroom", "val", dest, log=lambda m: None)
    part = dest / "bedroom_val_lmdb.zip.part"
    have = part.stat().st_size
    assert 0 < have < archive.stat().st_size
    assert not (dest / "bedroom_val_lmdb").exists()
    handler.cut_after = None
    target = download_lsun("bedroom", "val", dest, log=lambda m: None)
    assert handler.requests[-1] == f"bytes={have}-"  # resumed, not restarted
    assert (target / "data.mdb").read_bytes() == b"0" * 200_000


def test_download_lsun_damaged_archive(server, tmp_path):
    root, _ = server
    (root / "bedroom_val_lmdb.zip").write_bytes(b"PK\x03\x04 not really a zip" * 100)
    dest = tmp_path / "lsun"
    with pytest.raises(UserError, match="damaged.*download it afresh"):
        download_lsun("bedroom", "val", dest, log=lambda m: None)
    assert not any(dest.iterdir())


def test_download_offline_is_one_line(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DCGAN_LSUN_URL", f"http://127.0.0.1:{port}/")
    with pytest.raises(UserError) as info:
        download_lsun("bedroom", "train", tmp_path, log=lambda m: None)
    assert "\n" not in str(info.value) and "offline" in str(info.value)
    assert not list(tmp_path.glob("*.zip"))


def test_download_rejects_unknown_category(tmp_path):
    with pytest.raises(UserError, match="not an LSUN scene category"):
        download_lsun("bedrooms", "train", tmp_path)
    with pytest.raises(UserError, match="--split"):
        download_lsun("bedroom", "training", tmp_path)


def test_download_mnist_checks_sha256(server, tmp_path, monkeypatch):
    root, handler = server
    (root / "mnist.npz").write_bytes(b"not mnist")
    monkeypatch.setenv("DCGAN_MNIST_URL", handler.base_url + "mnist.npz")
    with pytest.raises(UserError, match="sha256"):
        download_mnist(tmp_path / "mnist", log=lambda m: None)
    assert not list((tmp_path / "mnist").iterdir())  # nothing half-written left behind
