"""The code's layout keeps its promises to a reader: the pattern code is about the patterns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATTERN_FILES = ("domain.py", "handlers.py", "commands.py", "publications.py")


@pytest.mark.parametrize("service", ["payments", "orders", "notifications"])
def test_the_pattern_code_never_mentions_partitions(service: str) -> None:
    """Partitioning is a deployment concern (eventkit.partitions, the composition roots, the
    adapters): a reader of the pattern learns nothing about it there. import-linter keeps the
    imports out; this keeps out the word, in code and comments alike."""
    package = ROOT / "services" / service / service
    files = [package / name for name in PATTERN_FILES if (package / name).exists()]
    assert files, f"no pattern files in {package}"
    mentions = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search("partition", line, re.IGNORECASE)
    ]
    assert mentions == []


FIRST_FILES = {
    "__init__.py", "__main__.py", "bootstrap.py", "config.py", "api.py", "domain.py",
    "handlers.py", "ports.py", "adapters.py",
}  # fmt: skip


# payments consumes nothing: its kernel is commands.py, with the wrappers and the producer side
# of its commands beside it.
PAYMENTS_FILES = FIRST_FILES - {"handlers.py"} | {
    "commands.py",
    "idempotency.py",
    "publications.py",
}


# notifications' kernel (handlers.notify) has its batch runner beside it, as payments' commands
# have their wrappers; the call back to payments is its second adapter, and keys.py keeps the
# key names out of the first screen of adapters.py.
NOTIFICATIONS_FILES = FIRST_FILES | {"batches.py", "callback.py", "keys.py"}


@pytest.mark.parametrize(
    ("service", "first", "extras"),
    [
        ("payments", PAYMENTS_FILES, {"history"}),
        ("orders", FIRST_FILES, {"projections"}),
        ("notifications", NOTIFICATIONS_FILES, {"mail"}),
    ],
)
def test_a_service_opens_with_the_same_first_files_and_keeps_its_extras_one_level_down(
    service: str, first: set[str], extras: set[str]
) -> None:
    """A reader who knows one service knows where to look in the next: the same first files,
    everything beyond the pattern in a named subpackage."""
    package = ROOT / "services" / service / service
    assert {path.name for path in package.glob("*.py")} == first
    assert {path.parent.name for path in package.glob("*/__init__.py")} == extras


def documented_tree(service: str) -> set[str]:
    """The paths docs/architecture.md's layout block of ``service`` lists (directories end in
    /), from its indentation: two spaces a level."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    header = f"services/{service}/{service}/\n"
    start = text.index(header) + len(header)
    block = text[start : text.index("```", start)]
    paths, parents = set(), list[str]()
    for line in block.splitlines():
        depth = (len(line) - len(line.lstrip(" "))) // 2 - 1
        name = line.split()[0]
        parents[depth:] = [name]
        paths.add("".join(parents))
    return paths


def actual_tree(service: str) -> set[str]:
    package = ROOT / "services" / service / service
    return {
        str(path.relative_to(package)) + ("/" if path.is_dir() else "")
        for path in package.rglob("*")
        if "__pycache__" not in path.parts and not path.name.endswith(".pyc")
    }


@pytest.mark.parametrize("service", ["payments", "orders", "notifications", "console"])
def test_the_layout_in_the_docs_is_the_tree(service: str) -> None:
    assert documented_tree(service) == actual_tree(service)
