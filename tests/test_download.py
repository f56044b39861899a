"""`dcgan download` code paths against a local HTTP server on 127.0.0.1 (never the network)."""

from __future__ import annotations

import http.server
import socket
import threading
import zipfile
from functools import partial

import pytest

from dcgan_cli.datasets.fetch import download_dataset, download_lsun
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
        download_dataset("mnist", tmp_path / "mnist", log=lambda m: None)
    assert not list((tmp_path / "mnist").iterdir())  # nothing half-written left behind


# --- Fashion-MNIST and CIFAR-10: the publishers' files, checked against their md5s ----------------

def md5(path) -> str:
    import hashlib

    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest()


def test_download_fashion_mnist_checks_each_md5_then_loads(server, tmp_path, monkeypatch):
    from dcgan_cli.datasets import fashion_mnist
    from dcgan_cli.datasets.testdata import write_idx_dataset

    root, handler = server
    write_idx_dataset(root, train=60, test=20)
    monkeypatch.setenv("DCGAN_FASHION_MNIST_URL", handler.base_url)
    # The published md5s do not match our small files: the first file is refused and deleted.
    with pytest.raises(UserError, match=r"md5 .*expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d.*deleted"):
        download_dataset("fashion-mnist", tmp_path / "f", log=lambda m: None)
    assert not list((tmp_path / "f").iterdir())
    # With the served files' own md5s, all four arrive, and `dcgan train fashion-mnist` finds them in the cache.
    monkeypatch.setattr(fashion_mnist, "CHECKSUMS", {stem: md5(root / (stem + ".gz")) for stem in fashion_mnist.CHECKSUMS})
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("DCGAN_DATA_DIR", raising=False)
    folder = download_dataset("fashion-mnist", log=lambda m: None)
    assert folder == tmp_path / "keras" / "datasets" / "fashion-mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(stem + ".gz" for stem in fashion_mnist.CHECKSUMS)
    data = fashion_mnist.load_fashion_mnist(download_ok=False)
    assert data.train_images.shape == (60, 28, 28, 1) and data.test_labels.shape == (20,)


def test_download_cifar10_checks_its_md5(server, tmp_path, monkeypatch):
    from dcgan_cli.datasets import cifar10
    from dcgan_cli.datasets.testdata import write_cifar10

    root, handler = server
    archive = write_cifar10(root, per_batch=10)
    monkeypatch.setenv("DCGAN_CIFAR10_URL", handler.base_url + archive.name)
    with pytest.raises(UserError, match="md5 .*expected c58f30108f718f92721af3b95e74349a"):
        download_dataset("cifar10", tmp_path / "c", log=lambda m: None)
    assert not list((tmp_path / "c").iterdir())
    monkeypatch.setattr(cifar10, "CHECKSUM", md5(archive))
    assert download_dataset("cifar10", tmp_path / "c", log=lambda m: None) == tmp_path / "c"
    assert (tmp_path / "c" / archive.name).read_bytes() == archive.read_bytes()
    assert cifar10.load_cifar10(tmp_path / "c").train_images.shape == (50, 32, 32, 3)


@pytest.mark.parametrize("dataset, variable", [("fashion-mnist", "DCGAN_FASHION_MNIST_URL"), ("cifar10", "DCGAN_CIFAR10_URL")])
def test_offline_training_says_where_it_looked_in_one_line(dataset, variable, tmp_path, monkeypatch, capsys):
    from conftest import run_cli
    from test_cli_errors import assert_one_line_error

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("DCGAN_DATA_DIR", raising=False)
    monkeypatch.setenv(variable, "http://127.0.0.1:9/")  # the discard port: refused
    code, _, err = run_cli(["train", dataset, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, "offline", "--data-dir", str(tmp_path / "keras"))
    assert not (tmp_path / "run").exists()
    assert not [p for p in (tmp_path / "keras").rglob("*") if p.is_file() and not p.name.endswith(".part")]
