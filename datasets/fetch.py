"""`dcgan download`: fetch and unpack the published LSUN archives; fetch MNIST, Fashion-MNIST, CIFAR-10.

LSUN publishes no checksums; a download is verified instead by the CRC32 of every member of the
zip (zipfile.testzip) before anything is unpacked. Unpacking goes to a hidden folder beside the
destination and is renamed into place when complete, so an interrupted run leaves no
half-database behind; running the command again resumes the download where it stopped.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from dcgan_cli.datasets.download import download
from dcgan_cli.errors import UserError

LSUN_URL = "http://dl.yf.io/lsun/scenes/"
LSUN_CATEGORIES = ("bedroom", "bridge", "church_outdoor", "classroom", "conference_room", "dining_room",
                   "kitchen", "living_room", "restaurant", "tower")
LSUN_SPLITS = ("train", "val", "test")


def lsun_archive(category: str, split: str) -> str:
    """The published archive's name (the test set is one archive for all categories)."""
    if split not in LSUN_SPLITS:
        raise UserError(f"--split {split!r} is not one of {', '.join(LSUN_SPLITS)}")
    if split == "test":
        return "test_lmdb.zip"
    if category not in LSUN_CATEGORIES:
        raise UserError(f"--category {category!r} is not an LSUN scene category; use one of {', '.join(LSUN_CATEGORIES)}")
    return f"{category}_{split}_lmdb.zip"


def download_lsun(category: str, split: str = "train", dest=".", log=print) -> Path:
    """Download and unpack one LSUN archive into dest; returns the LMDB folder."""
    name = lsun_archive(category, split)
    dest = Path(dest)
    target = dest / name[: -len(".zip")]
    if (target / "data.mdb").is_file():
        log(f"{target} is already there")
        return target
    base = os.environ.get("DCGAN_LSUN_URL", LSUN_URL)
    archive = dest / name
    if not archive.is_file():
        download(base.rstrip("/") + "/" + name, archive)
    unpack(archive, dest, target.name)
    archive.unlink()
    log(f"unpacked {target}")
    return target


def unpack(archive: Path, dest: Path, folder: str) -> None:
    """Check every member's CRC, then unpack the `folder` inside the zip to dest/folder atomically."""
    try:
        with zipfile.ZipFile(archive) as zf:
            damaged = zf.testzip()
            if damaged is not None:
                raise _damaged(archive, f"member {damaged} fails its CRC check")
            members = [m for m in zf.infolist() if not m.is_dir()]
            for member in members:
                parts = PurePosixPath(member.filename).parts
                if member.filename.startswith("/") or ".." in parts:
                    raise _damaged(archive, f"member {member.filename} points outside the archive")
            if not any(PurePosixPath(m.filename).name == "data.mdb" for m in members):
                raise _damaged(archive, "it holds no data.mdb")
            staging = dest / f".{folder}.unpacking"
            shutil.rmtree(staging, ignore_errors=True)
            zf.extractall(staging, members)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise _damaged(archive, f"not a readable zip ({exc})") from None
    # The archives hold one folder named like the archive; accept a bare data.mdb too.
    unpacked = staging / folder if (staging / folder / "data.mdb").is_file() else staging
    os.replace(unpacked, dest / folder)
    shutil.rmtree(staging, ignore_errors=True)


def _damaged(archive: Path, why: str) -> UserError:
    archive.unlink(missing_ok=True)
    return UserError(f"{archive} is damaged: {why}; it was deleted, run the same command again to download it afresh")


def download_dataset(name: str, dest=None, log=print) -> Path:
    """An in-memory dataset's published files (checksums verified) into dest, by default the cache
    folder `dcgan train NAME` looks in last; files already there are kept."""
    from dcgan_cli.datasets import DATASETS, resolve

    folder = Path(dest) if dest is not None else resolve(DATASETS[name].cache)()
    resolve(DATASETS[name].fetch)(folder)
    log(f"{name} is in {folder}")
    return folder
