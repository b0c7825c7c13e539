"""The README's "Try it" requests, sent as written to the real HTTP server.

A newcomer copies them first; a request the README shows must answer as the README
says, so a changed route, header or body shape fails here rather than on them.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def try_it_block() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("**Try it.**")
    block = re.search(r"```sh\n(.*?)```", readme[start:], re.S)
    assert block, "the README's Try it section has no sh block"
    return block.group(1)


def tenant_headers(block: str) -> dict[str, str]:
    line = next(line for line in block.splitlines() if line.startswith("T=("))
    words = shlex.split(line[len("T=(") : line.rindex(")")])
    return dict(
        (name.strip(), value.strip())
        for flag, header in zip(words[::2], words[1::2], strict=True)
        if flag == "-H"
        for name, value in [header.split(":", 1)]
    )


def requests_of(block: str) -> list[tuple[str, str, str | None]]:
    """Each ``curl`` line as (method, path under /api, body)."""
    found = []
    for line in block.splitlines():
        if not line.startswith("curl "):
            continue
        words = shlex.split(line.replace('"${T[@]}"', "").replace("$API", "API"))
        method, body, path = "GET", None, None
        for i, word in enumerate(words):
            if word == "-X":
                method = words[i + 1]
            elif word == "-d":
                body = words[i + 1]
            elif word.startswith("API/"):
                path = word[len("API") :]
        assert path, f"no $API path in {line!r}"
        found.append((method, path, body))
    return found


def test_the_readme_shows_one_request_per_service():
    paths = " ".join(path for _, path, _ in requests_of(try_it_block()))
    for route in ("/notes", "/parties", "/messengers", "/invites", "/transports/"):
        assert route in paths


@pytest.mark.django_db(transaction=True)
def test_every_try_it_request_answers_as_the_readme_says(rest_server):
    block = try_it_block()
    headers = tenant_headers(block)
    assert set(headers) == {"TENANT_ID", "REGION", "MAJOR_VERSION", "MINOR_VERSION"}
    with httpx.Client(base_url=f"{rest_server.url}/api", headers=headers, timeout=10) as client:
        for method, path, body in requests_of(block):
            response = client.request(method, path, content=body)
            # the note POST answers with the note, the party POST is a 202 command
            assert response.status_code in (200, 202), (method, path, response.status_code)
        notes = client.get("/characters/1002/notes").json()["data"]
    assert [note["attributes"]["message"] for note in notes] == ["Hello"]
