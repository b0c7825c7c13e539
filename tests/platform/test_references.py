"""Every document the repo points at is in the repo.

A reader with only a clone must be able to follow each reference: a Markdown link,
a ``docs/…`` file named in code or in a document, a section of the design notes
named in a docstring. A reference to a file that moved or never existed fails here.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
NAMED_DOC = re.compile(r"(?<![\w/>.-])((?:docs|deploy)/[\w./-]+\.(?:md|json|yaml))\b")
OUTSIDE = re.compile(r"§|\bspec/[a-z-]+\.md|ARCHITECTURE\.md|STYLE\.md")


def tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *patterns],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [ROOT / name for name in out.split() if (ROOT / name).is_file()]


def test_every_markdown_link_resolves_to_a_file_of_the_repo():
    broken = []
    for document in tracked("*.md"):
        for target in LINK.findall(document.read_text()):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            if not (document.parent / target).resolve().exists():
                broken.append(f"{document.relative_to(ROOT)} → {target}")
    assert broken == []


def test_every_document_named_in_code_and_docs_exists():
    missing = []
    for source in tracked("*.py", "*.md", "*.sh", "*.toml", "*.yaml", "bin/*", "Dockerfile"):
        for name in NAMED_DOC.findall(source.read_text(errors="replace")):
            if not (ROOT / name).exists():
                missing.append(f"{source.relative_to(ROOT)}: {name}")
    assert missing == []


def test_nothing_cites_a_document_outside_the_repo():
    citing = [
        f"{source.relative_to(ROOT)}:{number}"
        for source in tracked("*.py", "*.md", "*.sh", "*.toml", "*.html")
        if source != Path(__file__).resolve()
        for number, line in enumerate(source.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert citing == []
