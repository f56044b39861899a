"""Downloading a file with checksum verification and a clear offline error.

Partial downloads go to DEST.part and are resumed with an HTTP Range request; DEST itself only
appears once the whole file is there and its checksum (when known) matches. A checksum is written
"ALGORITHM:HEX", in the algorithm its publisher gives: MNIST's npz has a sha256 (Keras's),
Fashion-MNIST's and CIFAR-10's files have md5s (their publishers').
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from dcgan_cli.errors import UserError

CHUNK = 1 << 20
ALGORITHMS = ("sha256", "md5")


def digest_of(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    # md5 identifies the published file, as its publisher states it; it is no security claim.
    digest = hashlib.new(algorithm, usedforsecurity=False) if algorithm == "md5" else hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def split_checksum(checksum: str) -> tuple[str, str]:
    """"md5:HEX" -> ("md5", "HEX"); a programming error (not a user's) for any other form."""
    algorithm, _, expected = checksum.partition(":")
    if algorithm not in ALGORITHMS or not expected:
        raise ValueError(f"checksum {checksum!r} is not ALGORITHM:HEX with ALGORITHM one of {ALGORITHMS}")
    return algorithm, expected.lower()


def download(url: str, dest: str | os.PathLike, checksum: str | None = None, timeout: float = 30.0,
             progress: bool = True, offline_fix: str = "download it elsewhere and pass its folder with --data-dir") -> Path:
    """Fetch url to dest (resuming dest.part if present) and verify its checksum ("sha256:HEX", "md5:HEX");
    offline_fix ends the error line when there is no network."""
    algorithm, expected = split_checksum(checksum) if checksum else (None, None)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the .part is already complete
            response = None
        else:
            raise UserError(f"downloading {url} failed: HTTP {exc.code} {exc.reason}; check the address or download it by hand") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"cannot download {url} ({reason}): you seem to be offline; {offline_fix}") from None
    if response is not None:
        with response:
            resumed = have and response.status == 206
            total = response.headers.get("Content-Length")
            total = int(total) + (have if resumed else 0) if total else None
            done = have if resumed else 0
            with open(part, "ab" if resumed else "wb") as out:
                try:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        out.write(block)
                        done += len(block)
                        if progress:
                            _show_progress(dest.name, done, total)
                except (OSError, urllib.error.URLError) as exc:
                    raise UserError(f"download of {url} was interrupted ({exc}); run the same command again to resume") from None
            if progress:
                sys.stderr.write("\n")
            if total is not None and done < total:  # the server hung up early: keep .part to resume
                raise UserError(f"download of {url} was interrupted at {done} of {total} bytes; "
                                f"run the same command again to resume")
    if algorithm is not None:
        actual = digest_of(part, algorithm)
        if actual != expected:
            part.unlink()
            raise UserError(f"{url} downloaded with {algorithm} {actual}, expected {expected}; the file was deleted, try again")
    os.replace(part, dest)
    return dest


def _show_progress(name: str, done: int, total: int | None) -> None:
    if total:
        width = 30
        filled = int(width * done / total)
        sys.stderr.write(f"\r{name} [{'=' * filled}{' ' * (width - filled)}] {done / 1e6:.1f}/{total / 1e6:.1f} MB")
    else:
        sys.stderr.write(f"\r{name} {done / 1e6:.1f} MB")
    sys.stderr.flush()
