"""runstack's metrics directory: its own, emptied at start, unless the operator names one."""

from __future__ import annotations

from project.observability import multiproc


def test_runstack_uses_a_fresh_directory_in_its_data_dir(tmp_path):
    stale = tmp_path / "metrics" / "counter_123.db"
    stale.parent.mkdir()
    stale.write_bytes(b"old run")

    directory = multiproc.stack_directory({}, tmp_path)

    assert directory == str(tmp_path / "metrics")
    assert list((tmp_path / "metrics").iterdir()) == []


def test_an_operators_directory_is_used_as_given_and_left_alone(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "counter_1.db").write_bytes(b"kept")

    directory = multiproc.stack_directory({multiproc.ENV: str(theirs)}, tmp_path / "data")

    assert directory == str(theirs)
    assert (theirs / "counter_1.db").exists()
    assert not (tmp_path / "data" / "metrics").exists()
