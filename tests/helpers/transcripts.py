"""Shell transcripts in the docs, run and compared: a ```console block is a list of `$ `
commands (with their `\\` continuation lines), each followed by the output it printed.

The commands of a page run in one bash, in order, so that a variable one sets (`ORDER=$(…)`)
is there for the next. Outputs are compared after masking what differs on every run (ids,
entry ids, times, dates). A command that only reads (no request body, no -X) is run again
until its answer matches or a deadline passes: the system is eventually consistent, and a
reader typing the next command is slower than a test.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CONSOLE = re.compile(r"^```console\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
MASKS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\b\d{13}-\d+\b"), "<entry-id>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?"), "<time>"),
    (re.compile(r"\b\d{4}-\d\d-\d\d\b"), "<date>"),
    (re.compile(r"\b\d\d:\d\d:\d\d\b"), "<clock>"),
]


@dataclass(frozen=True)
class Command:
    line: str  # as the page shows it, continuation lines joined
    output: str  # what the page shows it printed

    @property
    def reads_only(self) -> bool:
        return not re.search(r"(^|\s)(-d|-X|--data)\s", self.line) and "=$(" not in self.line


def commands(page: Path) -> list[Command]:
    """Every command of every ```console block of the page, in order."""
    found: list[Command] = []
    for block in CONSOLE.findall(page.read_text()):
        line, output = "", list[str]()
        for row in block.splitlines():
            if row.startswith("$ ") or (line.endswith("\\") and not output):
                if row.startswith("$ ") and line:
                    found.append(Command(line, "\n".join(output)))
                    line, output = "", []
                line = f"{line}\n{row}" if line else row[2:]
            else:
                output.append(row)
        if line:
            found.append(Command(line, "\n".join(output)))
    return found


def masked(text: str) -> str:
    for pattern, placeholder in MASKS:
        text = pattern.sub(placeholder, text)
    return text.strip()


class Shell:
    """One bash for a whole page: each command's output (stdout and stderr) up to a marker."""

    MARK = "@@transcript-done@@"

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.bash = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=cwd,
        )

    def run(self, command: str) -> str:
        assert self.bash.stdin is not None
        assert self.bash.stdout is not None
        self.bash.stdin.write(f"{command}\necho; echo {self.MARK}\n")
        self.bash.stdin.flush()
        lines = []
        while (line := self.bash.stdout.readline()) and line.strip() != self.MARK:
            lines.append(line)
        return "".join(lines)

    def close(self) -> None:
        if self.bash.stdin is not None:
            self.bash.stdin.close()
        self.bash.wait(timeout=10)


def replay(page: Path, shell: Shell, rewrite: dict[str, str], timeout: float = 15) -> None:
    """Run the page's commands (each with ``rewrite``'s replacements: ports, hosts) and assert
    each prints what the page shows, masked."""
    for command in commands(page):
        line = command.line
        for old, new in rewrite.items():
            line = line.replace(old, new)
        deadline = time.monotonic() + timeout
        while True:
            printed = shell.run(line)
            if masked(printed) == masked(command.output):
                break
            if not command.reads_only or time.monotonic() > deadline:
                assert masked(printed) == masked(command.output), command.line
            time.sleep(0.2)  # between polls of an eventually consistent read
