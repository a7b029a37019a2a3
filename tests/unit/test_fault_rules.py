"""The rehearsal proxy's rules: reading them, matching calls, when a fault fires, and editing JSON (pure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_deploysmoke.faults.rules import Counter, Fault, RulesError, edit_json, load_rules, parse_rules


def one(table: dict[str, Any]) -> Fault:
    (fault,) = parse_rules({"fault": [table]})
    return fault


def fires(fault: Fault, calls: int) -> list[int]:
    """The (1-based) calls among *calls* matching ones that the fault fires on."""
    counter = Counter()
    return [n for n in range(1, calls + 1) if counter.fires(fault)]


def test_a_full_fault_is_read_with_its_defaults() -> None:
    fault = one({"match": "GET /health", "kind": "status"})
    assert (fault.name, fault.method, fault.path, fault.status, fault.rate, fault.after, fault.times) == (
        "status GET /health",
        "GET",
        "/health",
        503,
        1.0,
        0,
        None,
    )
    assert fault.body == "<html><body><h1>503</h1></body></html>"


def test_match_takes_a_method_and_a_glob_and_ignores_the_query() -> None:
    fault = one({"match": "GET /api/*", "kind": "reset"})
    assert fault.matches("get", "/api/markets?limit=5")
    assert not fault.matches("POST", "/api/markets")
    assert not fault.matches("GET", "/health")
    any_method = one({"match": "/files*", "kind": "reset"})
    assert any_method.matches("PUT", "/files/a.bin") and any_method.matches("GET", "/files?limit=oops")


def test_ws_matches_only_websocket_upgrades() -> None:
    fault = one({"match": "WS /stream", "kind": "status", "status": 502})
    assert fault.matches("GET", "/stream", websocket=True)
    assert not fault.matches("GET", "/stream")


def test_every_call_fires_by_default() -> None:
    assert fires(one({"match": "/x", "kind": "reset"}), 4) == [1, 2, 3, 4]


def test_a_rate_is_spread_evenly_and_the_same_every_run() -> None:
    fault = one({"match": "/x", "kind": "reset", "rate": 0.3})
    assert fires(fault, 10) == [4, 7, 10]
    assert fires(fault, 10) == [4, 7, 10]


def test_after_lets_the_first_calls_through_and_times_caps_the_firings() -> None:
    assert fires(one({"match": "/x", "kind": "reset", "after": 3}), 6) == [4, 5, 6]
    assert fires(one({"match": "/x", "kind": "reset", "after": 1, "times": 2}), 6) == [2, 3]
    assert fires(one({"match": "/x", "kind": "reset", "after": 2, "rate": 0.5}), 8) == [4, 6, 8]


def test_json_set_and_remove_change_the_body_and_say_what() -> None:
    fault = one(
        {"match": "/h", "kind": "json", "set": {"status": "degraded", "deps.0.ok": False}, "remove": ["version"]}
    )
    body, changed = edit_json(b'{"status": "ok", "version": "2.4.0", "deps": [{"ok": true}]}', fault)
    assert json.loads(body) == {"status": "degraded", "deps": [{"ok": False}]}
    assert changed == "status='degraded', deps.0.ok=False, version removed"


@pytest.mark.parametrize(
    ("body", "says"),
    [(b"<html>", "not JSON"), (b'{"deps": []}', "no 'deps.0.ok'"), (b'{"other": 1}', "no 'deps.0.ok'")],
)
def test_json_that_cannot_be_edited_is_not_a_firing(body: bytes, says: str) -> None:
    fault = one({"match": "/h", "kind": "json", "set": {"deps.0.ok": False}})
    with pytest.raises(RulesError, match=says):
        edit_json(body, fault)


def test_removing_a_missing_field_is_not_a_firing() -> None:
    fault = one({"match": "/h", "kind": "json", "remove": ["version"]})
    with pytest.raises(RulesError, match="no 'version'"):
        edit_json(b'{"status": "ok"}', fault)


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"match": "/x", "kind": "explode"}, "kind is 'explode'; expected one of status, delay"),
        ({"kind": "reset"}, "match must be a string"),
        ({"match": "FETCH /x", "kind": "reset"}, "names method 'FETCH'"),
        ({"match": "GET /x y", "kind": "reset"}, "has 3 words"),
        ({"match": "health", "kind": "reset"}, "must start with '/'"),
        ({"match": "/x", "kind": "reset", "rate": 0}, "rate is 0; expected a number > 0 and <= 1"),
        ({"match": "/x", "kind": "reset", "rate": 1.5}, "rate is 1.5"),
        ({"match": "/x", "kind": "reset", "after": -1}, "after is -1; expected a whole number >= 0"),
        ({"match": "/x", "kind": "reset", "times": 0}, "times is 0; expected a whole number >= 1"),
        ({"match": "/x", "kind": "status", "status": 700}, "status is 700"),
        ({"match": "/x", "kind": "delay"}, "needs seconds"),
        ({"match": "/x", "kind": "delay", "seconds": "2s"}, "seconds is '2s'"),
        ({"match": "/x", "kind": "json"}, "changes nothing"),
        ({"match": "/x", "kind": "headers", "set": {"X-A": 1}}, "string value"),
        ({"match": "/x", "kind": "ws_close", "code": 1006}, "code is 1006"),
        ({"match": "POST /x", "kind": "ws_silence"}, "match them as 'WS /x'"),
        ({"match": "/x", "kind": "reset", "seconds": 2}, "unknown key(s) seconds for kind 'reset'"),
    ],
)
def test_a_bad_fault_is_one_line_naming_it_and_the_fix(table: dict[str, Any], says: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules({"fault": [table]}, "faults.toml")
    message = str(caught.value)
    assert message.startswith("faults.toml: fault 1: ") and says in message and "\n" not in message


def test_a_bad_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "faults.toml"
    with pytest.raises(RulesError, match="cannot read it"):
        load_rules(path)
    path.write_text("[[fault]\n", encoding="utf-8")
    with pytest.raises(RulesError, match="not valid TOML"):
        load_rules(path)
    path.write_text('[fault]\nmatch = "/x"\n', encoding="utf-8")
    with pytest.raises(RulesError, match=r"array of tables: write each one as \[\[fault\]\]"):
        load_rules(path)
    path.write_text("faults = []\n", encoding="utf-8")
    with pytest.raises(RulesError, match="unknown top-level key"):
        load_rules(path)
    twice = '[[fault]]\nname = "a"\nmatch = "/x"\nkind = "reset"\n'
    path.write_text(twice * 2, encoding="utf-8")
    with pytest.raises(RulesError, match="used twice: a"):
        load_rules(path)


def test_an_empty_file_injects_nothing(tmp_path: Path) -> None:
    path = tmp_path / "faults.toml"
    path.write_text("", encoding="utf-8")
    assert load_rules(path) == ()


@pytest.mark.parametrize("module", ["rules.py", "addon.py"])
def test_the_addon_and_its_rules_need_nothing_but_mitmproxy(module: str) -> None:
    """mitmdump loads them in its own Python, where the plugin (and tomli-w, httpx, ...) may not be installed."""
    import ast
    import sys

    import pytest_deploysmoke.faults

    tree = ast.parse((Path(pytest_deploysmoke.faults.__file__).parent / module).read_text(encoding="utf-8"))
    allowed = set(sys.stdlib_module_names) | {"__future__", "mitmproxy", "wsproto", "tomli", "rules"}
    imported = {
        (alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not (isinstance(node, ast.ImportFrom) and node.level)
        for alias in node.names
    }
    assert imported and imported <= allowed, imported - allowed
