"""The README is a front door that cannot go stale: its code runs, its links lead somewhere.

Its Python block is run as a reader would run it (a fresh interpreter at the repository's root)
and must print exactly the text block that follows it. The shell transcripts of the quickstart
are checked where they run: the compose one by tests/e2e/test_docker_stack.py, `make demo`'s by
tests/e2e/test_docs.py.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block of a Markdown text: (its language, its body)."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def python_examples(text: str) -> list[tuple[str, str]]:
    """Each ```python block with the ```text block right after it: (code, expected output)."""
    found = blocks(text)
    return [
        (code, output)
        for (lang, code), (next_lang, output) in itertools.pairwise(found)
        if lang == "python" and next_lang == "text"
    ]


def test_the_readme_is_a_front_door_of_at_most_250_lines() -> None:
    assert len(README.read_text().splitlines()) <= 250


def test_the_three_patterns_come_first_as_running_code() -> None:
    text = README.read_text()
    [(code, _)] = python_examples(text)
    first_heading = text.index("\n## ")
    assert text.index("```python") < text.index("\n## ", first_heading + 1), "not the first section"
    for pattern in ("Event sourcing", "Event-carried state transfer", "Event notification"):
        assert pattern in code


@pytest.mark.parametrize("example", range(len(python_examples(README.read_text()))))
def test_each_python_block_prints_the_output_shown_below_it(example: int) -> None:
    code, expected = python_examples(README.read_text())[example]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == expected


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_of_the_tree(page: Path) -> None:
    broken = [
        target
        for target in LINK.findall(page.read_text())
        if not re.match(r"[a-z]+:|#", target) and not (page.parent / target.split("#")[0]).exists()
    ]
    assert broken == []


def test_the_docs_index_lists_every_page() -> None:
    index = (ROOT / "docs" / "README.md").read_text()
    listed = set(LINK.findall(index))
    assert {page.name for page in DOCS if page.name != "README.md"} <= listed
