"""Install the project's pinned uv into a folder of the repository, with nothing but python3.

``make`` runs this when ``uv`` is not on the PATH: ``python3 scripts/install_uv.py .tools/bin``.
No root, no pip, no venv module (Debian and Ubuntu ship python3 without them): the uv wheel is
downloaded from PyPI, checked against the SHA-256 pinned below, and its ``uv`` binary unpacked.
Set UV_WHEEL_INDEX to a mirror's files URL to download elsewhere (the hash is still checked).
"""

from __future__ import annotations

import hashlib
import os
import platform
import stat
import sys
import urllib.request
import zipfile
from io import BytesIO
from pathlib import Path

VERSION = "0.13.9"
FILES = "https://files.pythonhosted.org/packages"
# (system, machine) → (path under FILES, sha256), from https://pypi.org/simple/uv/
WHEELS = {
    ("Linux", "x86_64"): (
        "3d/aa/26d64642d808de4a652579ef950d7cd2d37f080a8babf9c67c6b75fc4c3f/"
        "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19",
    ),
    ("Linux", "aarch64"): (
        "57/15/94b6cd62ac3ff6550288328e8035288875197cbc183f51554b266a69877b/"
        "uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
        "5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe",
    ),
    ("Darwin", "x86_64"): (
        "1e/db/08e9ef4879bd667e6d7b4705e594e5bd3e4585f10fc63cb16b9fa2fac63e/"
        "uv-0.13.9-py3-none-macosx_10_12_x86_64.whl",
        "c16ed11e013557536b3e60065f1b912f6407bd6518e041b961e23ef9e6b4fbf5",
    ),
    ("Darwin", "arm64"): (
        "f3/a7/a8d7b074798c7fb3b26b37584b8fe2e29df2ccdc24ce7902caab2a53edbf/"
        "uv-0.13.9-py3-none-macosx_11_0_arm64.whl",
        "66c512266d633bef48384a1f53003f41f2a8e7b36fe6e7fbfd3e0fd52d96fa63",
    ),
}


def main(target: Path) -> int:
    where = (platform.system(), platform.machine())
    if where not in WHEELS:
        sys.stderr.write(
            f"no pinned uv wheel for {where}: install uv {VERSION} yourself\n"
            f"  (python3 -m pip install uv=={VERSION}, or https://docs.astral.sh/uv/)\n"
        )
        return 1
    path, expected = WHEELS[where]
    url = f"{os.environ.get('UV_WHEEL_INDEX', FILES).rstrip('/')}/{path}"
    print(f"downloading uv {VERSION} for {where[0]} {where[1]} from {url}")
    with urllib.request.urlopen(url, timeout=120) as response:
        wheel = response.read()
    digest = hashlib.sha256(wheel).hexdigest()
    if digest != expected:
        sys.stderr.write(f"uv wheel's SHA-256 is {digest}, not {expected}: not installed\n")
        return 1
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(BytesIO(wheel)) as archive:
        for name in ("uv", "uvx"):
            member = f"uv-{VERSION}.data/scripts/{name}"
            binary = target / name
            binary.write_bytes(archive.read(member))
            binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    print(f"installed {target / 'uv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".tools/bin")))
