"""The console's page ships inside its package, and needs nothing from anywhere else.

The image installs the service as a wheel (services/Dockerfile: ``uv sync --no-editable``), so
the page's files must be in the wheel, not only in the source tree; and the page must work
offline, so it may refer to nothing but the console itself.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from console.api import STATIC

ROOT = Path(__file__).resolve().parents[2]
PAGE = ("index.html", "console.css", "console.js")


def test_the_page_refers_to_nothing_but_the_console() -> None:
    html = (STATIC / "index.html").read_text()
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(references) == ["/static/console.css", "/static/console.js"]
    assert '<script type="module"' in html  # console.js is an ES module
    for name in PAGE:
        text = (STATIC / name).read_text()
        assert not re.search(r"https?://|//cdn|@import|fonts\.googleapis", text), name
    script = (STATIC / "console.js").read_text()
    paths = set(re.findall(r'["`](/[a-z][^"`$]*)', script))  # what it fetches or listens to
    assert paths == {"/events", "/api/orders", "/api/payments", "/api/payments/"}, paths
    assert not re.search(r"^\s*import ", script, re.MULTILINE)  # nothing to bundle


def uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).is_file():
        pytest.skip("uv is not installed (make installs it into .tools/)")
    return found


def test_the_page_is_in_the_wheel(tmp_path: Path) -> None:
    build = [uv(), "build", "--package", "console", "--wheel", "--out-dir", str(tmp_path)]
    subprocess.run(build, cwd=ROOT, check=True, capture_output=True, timeout=120)
    (wheel,) = tmp_path.glob("console-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in PAGE:
        assert f"console/static/{name}" in names


def test_docs_list_exactly_the_modules_the_package_has() -> None:
    """docs/console.md's "Files" block names every module of the console, where it is, and no
    module that is not there (issue 24: the layout in the docs matches the tree)."""
    doc = (ROOT / "docs" / "console.md").read_text()
    block = doc.split("## Files", 1)[1].split("```")[1]
    listed, folder = set(), ""
    for line in block.splitlines()[2:]:  # after the fence's newline and the package's own line
        indent, name = len(line) - len(line.lstrip()), line.split()[0] if line.strip() else ""
        if name.endswith("/"):
            folder = name if indent == 2 else folder
        elif name.endswith(".py"):
            listed.add(name if indent == 2 else f"{folder}{name}")
    package = STATIC.parent
    modules = {
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "__init__.py"
    }
    assert listed == modules
