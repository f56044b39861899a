"""A non-editable install ships exactly one top-level package, and its `dcgan` command works."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_one_top_level_package_and_a_working_command(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(tmp_path / "dist"), str(ROOT)], check=True, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("dcgan-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"dcgan_cli"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "dcgan_cli/models/conditional.py" in names and "dcgan_cli/datasets/mnist.py" in names

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
                   check=True)
    assert not (target / "models").exists() and not (target / "datasets").exists()
    # Run the installed entry point from outside the source tree, against the installed copy only.
    env = dict(os.environ, PYTHONPATH=str(target))
    result = subprocess.run([str(target / "bin" / "dcgan"), "--help"], capture_output=True, text=True, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "train" in result.stdout and "sample" in result.stdout
    where = subprocess.run([sys.executable, "-c", "import dcgan_cli.models, sys; print(dcgan_cli.models.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path).stdout
    assert where.startswith(str(target))
