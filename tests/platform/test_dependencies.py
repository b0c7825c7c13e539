"""The installed packages are the ones pyproject.toml admits: its lower bounds are the
versions the suite runs on, so an environment outside them fails here, not at random."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["dev"]]


@pytest.mark.parametrize("line", _requirements())
def test_the_installed_version_is_within_the_declared_bounds(line):
    requirement = Requirement(line)
    installed = metadata.version(requirement.name)
    assert requirement.specifier.contains(installed, prereleases=True), (
        f"{requirement.name} {installed} installed; pyproject.toml admits {requirement.specifier}"
    )


@pytest.mark.parametrize("line", _requirements())
def test_every_bound_has_a_floor_and_a_ceiling(line):
    # a missing floor admits versions never run; a missing ceiling the next major
    operators = {spec.operator for spec in Requirement(line).specifier}
    assert {">=", "<"} <= operators, line
