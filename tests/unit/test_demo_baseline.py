"""tasks.py demo judges each run against the last demo run that was a GO, and never against a bad one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tasks


def write_summary(path: Path, decision: str) -> None:
    path.write_text(json.dumps({"verdict": {"decision": decision}}), encoding="utf-8")


@pytest.fixture
def reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tasks, "ROOT", tmp_path)
    return tmp_path


@pytest.mark.parametrize("decision", ["GO", "GO with warnings"])
def test_a_good_run_becomes_the_baseline(reports: Path, decision: str) -> None:
    summary, previous = reports / "kifu.json", reports / "kifu-previous.json"
    write_summary(summary, decision)
    assert tasks.keep_as_baseline(summary, previous) == previous
    assert not summary.exists()
    assert json.loads(previous.read_text(encoding="utf-8"))["verdict"]["decision"] == decision


@pytest.mark.parametrize("decision", ["NO-GO", "ROLLBACK"])
def test_a_bad_run_never_replaces_the_last_good_baseline(reports: Path, decision: str) -> None:
    summary, previous = reports / "kifu.json", reports / "kifu-previous.json"
    write_summary(previous, "GO")
    write_summary(summary, decision)
    assert tasks.keep_as_baseline(summary, previous) == previous
    assert json.loads(previous.read_text(encoding="utf-8"))["verdict"]["decision"] == "GO"
    assert summary.exists()


def test_without_any_good_run_there_is_no_baseline(reports: Path) -> None:
    summary = reports / "kifu.json"
    assert tasks.keep_as_baseline(summary, reports / "kifu-previous.json") is None
    summary.write_text("{not json", encoding="utf-8")
    assert tasks.keep_as_baseline(summary, reports / "kifu-previous.json") is None
