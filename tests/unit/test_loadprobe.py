"""The load probe's own logic: the client-bound judgement and the generated locustfile (no requests)."""

from __future__ import annotations

import math

from pytest_deploysmoke.perf.load.locust import locustfile_for
from pytest_deploysmoke.perf.load.stats import LoopLag, judge_client


def test_client_bound_note_flags_the_client() -> None:
    """A client at a full core, or a lagging loop, is named as the bottleneck; a quiet one is not."""
    quiet = LoopLag(p95=0.3, max=2.0, samples=100)
    assert judge_client(0.4, quiet) == (
        False,
        "client 0.40 of a core, event-loop lag p95 0.3, max 2.0 ms: not the bottleneck",
    )
    busy, note = judge_client(0.97, LoopLag(p95=14.0, max=40.0, samples=100))
    assert busy and note.startswith("CLIENT-BOUND (client 0.97 of a core, event-loop lag p95 14, max 40 ms: ")
    assert "CPU at or over 0.8 of a core, loop lag p95 over 5 ms" in note and "engine='locust'" in note
    assert judge_client(0.5, LoopLag(p95=6.0, max=30.0, samples=9))[0]
    assert judge_client(math.nan, None, warned=True)[0]


def test_locustfile_compiles() -> None:
    """The generated locustfile is valid Python with the scenario in it."""
    source = locustfile_for([("GET", "/health"), ("POST", "/items")], 5.0, True, 0)
    compile(source, "locustfile.py", "exec")
    assert "[['GET', '/health'], ['POST', '/items']]" in source
