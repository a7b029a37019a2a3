"""Manual checklist items: the [manual.ID] tables, --deploy-confirm's values, who confirmed, the verdict's rules."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from pytest_deploysmoke.config.model import Target
from pytest_deploysmoke.config.parse import build_target, load_config
from pytest_deploysmoke.config.settings import read_confirmations
from pytest_deploysmoke.errors import ConfigError
from pytest_deploysmoke.reports.json_summary import render_json
from pytest_deploysmoke.reports.ticket import render_ticket
from pytest_deploysmoke.results import manual
from pytest_deploysmoke.results.manual import Confirmation, ManualItem, ManualResult, manual_results
from pytest_deploysmoke.results.verdict import (
    CheckResult,
    Ending,
    RunInfo,
    Selection,
    Verdict,
    against,
    decide,
    phase_results,
)

SHARED = """
phases = ["preflight", "health", "features"]

[manual.backup]
text = "Production DB backup taken"
phase = "preflight"
owner = "ops"
required = true

[manual.rollback]
text = "Rollback plan shared"

[targets.staging]
base_url = "https://staging.example.com"
"""
RUN = RunInfo(target="prod", base_url="https://x", production=True, started=1736850725.0)
PHASES = ("preflight", "health", "features")
BACKUP = ManualItem("backup", "Production DB backup taken", "preflight", owner="ops", required=True)
ROLLBACK = ManualItem("rollback", "Rollback plan shared", "features")
BACKUP_REASON = (
    "manual item 'backup' not confirmed: Production DB backup taken (owner: ops); "
    "confirm it with --deploy-confirm backup"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory, so messages show the file's name alone."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


Row = tuple[str, str, str, str, bool]  # id, text, phase, owner, required


def items_of(project: Path, text: str, name: str = "staging", environ: dict[str, str] | None = None) -> list[Row]:
    path = project / "deploysmoke.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    target = build_target(load_config(path), name, environ or {})
    return [(item.id, item.text, item.phase, item.owner, item.required) for item in target.manual]


def load_error(project: Path, text: str, name: str = "deploysmoke.toml") -> str:
    path = project / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    return str(excinfo.value)


# --------------------------------------------------------------------------- the config


def test_shared_items_reach_every_target_in_config_order_with_defaults(project: Path) -> None:
    """Top-level [manual.ID] items belong to every target; phase defaults to default_phase, owner to none."""
    assert items_of(project, SHARED) == [
        ("backup", "Production DB backup taken", "preflight", "ops", True),
        ("rollback", "Rollback plan shared", "features", "", False),
    ]


def test_a_targets_item_replaces_the_shared_one_of_the_same_id_whole(project: Path) -> None:
    """[targets.X.manual.ID] replaces the shared item wholesale (nothing of it is kept) and adds its own items."""
    text = SHARED + (
        '[targets.staging.manual.backup]\ntext = "Staging snapshot taken"\n'
        '[targets.staging.manual.smoke-data]\ntext = "Smoke data purged"\nphase = "health"\n'
    )
    assert items_of(project, text) == [
        ("backup", "Staging snapshot taken", "features", "", False),
        ("rollback", "Rollback plan shared", "features", "", False),
        ("smoke-data", "Smoke data purged", "health", "", False),
    ]


def test_a_target_inherits_the_items_of_the_target_it_extends(project: Path) -> None:
    """extends brings the parent's items; a child's item of the same ID merges key by key, as other tables do."""
    text = SHARED + (
        '[targets.staging.manual.freeze]\ntext = "Merge freeze announced"\nowner = "release manager"\n'
        '[targets.prod]\nextends = "staging"\nbase_url = "https://example.com"\n'
        "[targets.prod.manual.freeze]\nrequired = true\n"
    )
    assert items_of(project, text, "prod")[2] == (
        "freeze",
        "Merge freeze announced",
        "features",
        "release manager",
        True,
    )
    assert items_of(project, text, "staging")[2] == (
        "freeze",
        "Merge freeze announced",
        "features",
        "release manager",
        False,
    )


def test_item_strings_expand_variables_like_every_target_string(project: Path) -> None:
    """${VAR} in a shared item's text and owner is expanded for the selected target."""
    text = SHARED.replace('owner = "ops"', 'owner = "${ONCALL:-ops}"').replace(
        '"Production DB backup taken"', '"Backup of ${DB_NAME} taken"'
    )
    assert items_of(project, text, environ={"DB_NAME": "kifu", "ONCALL": "alice"})[0][1:4] == (
        "Backup of kifu taken",
        "preflight",
        "alice",
    )


def test_items_in_pyproject_are_read_from_the_tool_table(project: Path) -> None:
    """[tool.deploysmoke.manual.ID] in pyproject.toml is the same as [manual.ID] in deploysmoke.toml."""
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        '[tool.deploysmoke.manual.backup]\ntext = "Backup taken"\nrequired = true\n'
        '[tool.deploysmoke.targets.prod]\nbase_url = "https://example.com"\n',
        encoding="utf-8",
    )
    target = build_target(load_config(pyproject), "prod", {})
    assert target.manual == (ManualItem("backup", "Backup taken", "features", required=True),)


def test_a_config_without_items_gives_none(project: Path) -> None:
    assert items_of(project, '[targets.staging]\nbase_url = "https://x.example"\n') == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[manual.backup]\ntext = "x"\nrequried = true\n',
            "deploysmoke.toml: [manual.backup] unknown key 'requried'; did you mean 'required'?",
        ),
        (
            '[manual.backup]\ntext = "x"\nrequired = "yes"\n',
            "deploysmoke.toml: [manual.backup] required is 'yes'; expected true or false",
        ),
        (
            "[manual.backup]\ntext = 3\n",
            "deploysmoke.toml: [manual.backup] text is int 3; expected a string",
        ),
        (
            '[manual.backup]\nowner = "ops"\n',
            'deploysmoke.toml: [manual.backup] has no text; add text = "what to do"',
        ),
        (
            '[manual.backup]\ntext = "  "\n',
            'deploysmoke.toml: [manual.backup] text is empty; add text = "what to do"',
        ),
        (
            '[manual.backup]\ntext = "x"\nphase = "prefligt"\n',
            "deploysmoke.toml: [manual.backup] phase is unknown phase 'prefligt'; did you mean 'preflight'? "
            "known phases: preflight, migrations, health, auth, features, performance, monitoring",
        ),
        (
            '[manual.backup]\ntext = "x"\nphase = "zzz"\n',
            "deploysmoke.toml: [manual.backup] phase is unknown phase 'zzz'; "
            "known phases: preflight, migrations, health, auth, features, performance, monitoring",
        ),
        (
            '[manual."db backup"]\ntext = "x"\n',
            "deploysmoke.toml: [manual.db backup] has ID 'db backup', which is not a simple name; use letters, "
            "digits, '-' and '_', starting with a letter (--deploy-confirm ID names it)",
        ),
        (
            '[manual]\nbackup = "Backup taken"\n',
            "deploysmoke.toml: [manual.backup] is 'Backup taken'; expected a table with text = \"...\"",
        ),
        ('manual = ["backup"]\n', "deploysmoke.toml: manual is a list; expected a table"),
        (
            '[targets.prod]\nbase_url = "https://x.example"\n[targets.prod.manual.backup]\ntext = "x"\nowner = 1\n',
            "deploysmoke.toml: [targets.prod.manual.backup] owner is int 1; expected a string",
        ),
        (
            '[targets.prod]\nbase_url = "https://x.example"\n[targets.prod.manual.backup]\ntxt = "x"\n',
            "deploysmoke.toml: [targets.prod.manual.backup] unknown key 'txt'; did you mean 'text'?",
        ),
    ],
    ids=[
        "unknown-key",
        "required-not-bool",
        "text-not-string",
        "no-text",
        "empty-text",
        "unknown-phase-close",
        "unknown-phase",
        "id-not-simple",
        "item-not-table",
        "manual-not-table",
        "target-item-type",
        "target-item-key",
    ],
)
def test_bad_item_is_one_line_naming_the_file_and_key(project: Path, text: str, message: str) -> None:
    """Each mistake in a [manual.ID] table is one line: the file, the table and key, what to write instead."""
    error = load_error(project, text)
    assert error == message
    assert "\n" not in error


def test_bad_item_in_pyproject_names_the_tool_table(project: Path) -> None:
    error = load_error(project, '[tool.deploysmoke.manual.backup]\ntext = "x"\nrequired = 1\n', "pyproject.toml")
    assert error == "pyproject.toml: [tool.deploysmoke.manual.backup] required is int 1; expected true or false"


def test_an_item_missing_its_text_after_a_target_replaced_it_is_an_error(project: Path) -> None:
    """A target's item replaces the shared one whole, so it needs its own text (checked when the file is read)."""
    error = load_error(
        project,
        SHARED + "[targets.staging.manual.backup]\nrequired = false\n",
    )
    assert error == 'deploysmoke.toml: [targets.staging.manual.backup] has no text; add text = "what to do"'


# --------------------------------------------------------------------------- --deploy-confirm and who


TARGET = Target(name="prod", base_url="https://x", ws_url="wss://x", manual=(BACKUP, ROLLBACK))


def test_confirm_values_are_id_and_note() -> None:
    """ID alone has no note; ID=NOTE keeps everything after the first '=' (a note may hold '=')."""
    assert read_confirmations(["backup", "rollback=plan in #releases, owner=ops"], TARGET) == (
        ("backup", ""),
        ("rollback", "plan in #releases, owner=ops"),
    )


def test_confirming_an_item_twice_keeps_the_later_note() -> None:
    """The later --deploy-confirm of the same ID wins, as a later option does."""
    assert read_confirmations(["backup=first", "rollback", "backup=second"], TARGET) == (
        ("rollback", ""),
        ("backup", "second"),
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "bakup",
            "--deploy-confirm 'bakup' is not a manual item of target 'prod'; did you mean 'backup'? "
            "known items: backup, rollback",
        ),
        ("zzz=1", "--deploy-confirm 'zzz' is not a manual item of target 'prod'; known items: backup, rollback"),
        ("=a note", "--deploy-confirm '=a note' names no item; give ID or ID=NOTE"),
    ],
    ids=["close", "unknown", "no-id"],
)
def test_bad_confirm_is_one_line_listing_the_items(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        read_confirmations([value], TARGET)
    assert str(excinfo.value) == message


def test_confirm_without_any_item_configured_says_so() -> None:
    with pytest.raises(ConfigError) as excinfo:
        read_confirmations(["backup"], Target(name="prod", base_url="https://x", ws_url="wss://x"))
    assert str(excinfo.value) == (
        "--deploy-confirm 'backup' is not a manual item of target 'prod'; no [manual.ID] item is configured"
    )


@pytest.mark.parametrize(
    ("environ", "by"),
    [
        ({"GITHUB_ACTOR": "octocat", "USER": "runner"}, "octocat"),
        ({"GITHUB_TRIGGERING_ACTOR": "rerunner", "GITHUB_ACTOR": "octocat"}, "rerunner"),
        ({"GITLAB_USER_LOGIN": "gitlab-user"}, "gitlab-user"),
        ({"BUILD_REQUESTEDFOR": "Ada Lovelace"}, "Ada Lovelace"),
        ({"BUILDKITE_BUILD_CREATOR": "Buildkite User"}, "Buildkite User"),
        ({"CIRCLE_USERNAME": "circle-user"}, "circle-user"),
        ({"GITHUB_ACTOR": "  "}, None),  # blank: not a name, so the login name answers
    ],
)
def test_who_confirmed_is_the_ci_user_else_the_login_name(environ: dict[str, str], by: str | None) -> None:
    import getpass

    assert manual.confirmer(environ) == (by or getpass.getuser())


def test_who_confirmed_is_unknown_when_nothing_names_a_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CI variable and no login name (a bare container without a passwd entry): "unknown", never a crash."""
    import getpass

    def no_user() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert manual.confirmer({}) == "unknown"


# --------------------------------------------------------------------------- the verdict


def passed(phase: str = "health") -> CheckResult:
    return CheckResult(f"t.py::{phase}", phase, phase, "passed", 0.1)


def decide_with(
    results: tuple[ManualResult, ...], *checks: CheckResult, rollback: Sequence[str] = (), ending: Ending | None = None
) -> Verdict:
    phases = phase_results(PHASES, ("preflight", "health"), checks)
    return decide(RUN, phases, checks, manual=results, rollback=rollback, ending=ending)


def test_unconfirmed_required_item_is_no_go_naming_text_id_and_how_to_confirm() -> None:
    results = manual_results((BACKUP, ROLLBACK), {}, by="", at=0.0)
    verdict = decide_with(results, passed())
    assert verdict.decision == "NO-GO"
    assert verdict.reasons == (BACKUP_REASON,)
    assert verdict.manual == results
    assert against(RUN, verdict.phases, verdict.checks, manual=results) == "NO-GO"  # the watch window is not run


def test_unconfirmed_optional_item_changes_nothing() -> None:
    """An open optional item is listed (on the verdict) and is no reason and no warning."""
    results = manual_results((ROLLBACK,), {}, by="", at=0.0)
    verdict = decide_with(results, passed())
    assert (verdict.decision, verdict.reasons, verdict.warnings) == ("GO", (), ())
    assert [result.confirmed for result in verdict.manual] == [False]
    assert against(RUN, verdict.phases, verdict.checks, manual=results) is None


def test_confirmed_required_item_is_go_with_who_when_and_note() -> None:
    results = manual_results((BACKUP, ROLLBACK), {"backup": "snapshot 03:00"}, by="alice", at=RUN.started)
    verdict = decide_with(results, passed())
    assert verdict.decision == "GO"
    assert verdict.manual[0].confirmation == Confirmation("alice", RUN.started, "snapshot 03:00")
    assert verdict.manual[1].confirmation is None


def test_confirmations_never_count_as_a_passed_check() -> None:
    """Every item confirmed and no check passed: still NO-GO, nothing was checked."""
    results = manual_results((BACKUP,), {"backup": ""}, by="alice", at=0.0)
    skipped = CheckResult("t.py::h", "health", "h", "skipped", 0.0, message="no target")
    verdict = decide_with(results, skipped)
    assert verdict.decision == "NO-GO"
    assert verdict.reasons == ("nothing was checked: all 1 selected checks were skipped",)


def test_nothing_checked_and_an_open_required_item_are_both_reasons() -> None:
    verdict = decide_with(manual_results((BACKUP,), {}, by="", at=0.0))
    assert verdict.reasons == ("nothing was checked: no check was collected", BACKUP_REASON)


def test_required_item_counts_in_a_partial_run_whatever_its_phase() -> None:
    """A run narrowed to the health phase still needs the preflight phase's required item."""
    selection = Selection(selected=1, collected=5, narrowed_by=("--deploy-phase=health",))
    verdict = decide_with(manual_results((BACKUP,), {}, by="", at=0.0), passed(), ending=Ending(selection=selection))
    assert verdict.decision == "NO-GO" and verdict.reasons == (BACKUP_REASON,)
    assert verdict.headline() == f"NO-GO (partial: 1 of 5 checks, narrowed by --deploy-phase=health): {BACKUP_REASON}"


def test_a_failed_check_comes_before_the_open_item() -> None:
    failed = CheckResult("t.py::h", "health", "h", "failed", 0.1, message="503")
    verdict = decide_with(manual_results((BACKUP,), {}, by="", at=0.0), failed)
    assert verdict.reasons == (
        "gate 'health' failed (t.py::h); later phases not run",
        "h failed (t.py::h): 503",
        BACKUP_REASON,
    )


def test_a_rollback_rule_outranks_an_open_item() -> None:
    verdict = decide_with(manual_results((BACKUP,), {}, by="", at=0.0), passed(), rollback=["error_rate: 9% > 5%"])
    assert verdict.decision == "ROLLBACK" and verdict.reasons == (BACKUP_REASON,)


# --------------------------------------------------------------------------- the ticket


def test_ticket_shows_items_in_their_phase_after_its_checks() -> None:
    """Each phase lists its checks, then its manual items: open boxes to do by hand, or confirmed by X at T: note.

    A phase with only manual items gets its section too.
    """
    results = manual_results(
        (BACKUP, ROLLBACK, ManualItem("frontend", "Frontend deployed", "health")),
        {"frontend": "build 512 is live"},
        by="alice",
        at=RUN.started,
    )
    ticket = render_ticket(decide_with(results, passed()))
    assert (
        "### preflight (gate): not run\n\n- [ ] Production DB backup taken — to do by hand (**required**; owner: ops); confirm with `--deploy-confirm backup`\n\n"
        in ticket
    )
    assert (
        "### health (gate): passed\n\n- [x] health — 100 ms\n"
        "- [x] Frontend deployed — confirmed by alice at 2025-01-14 10:32:05 UTC: build 512 is live\n\n"
    ) in ticket
    assert (
        "### features: not run\n\n- [ ] Rollback plan shared — to do by hand (optional); confirm with `--deploy-confirm rollback`\n\n"
        in ticket
    )
    assert "No checks in this run" not in ticket


def test_ticket_keeps_a_note_literal() -> None:
    results = manual_results((ROLLBACK,), {"rollback": "see [plan](x) <b>now</b>"}, by="alice", at=RUN.started)
    ticket = render_ticket(decide_with(results, passed()))
    assert "confirmed by alice at 2025-01-14 10:32:05 UTC: see \\[plan\\](x) \\<b>now\\</b>" in ticket


# --------------------------------------------------------------------------- the JSON summary


def schema_validator() -> jsonschema.Draft202012Validator:
    resource = files("pytest_deploysmoke") / "schemas" / "summary-1.schema.json"
    return jsonschema.Draft202012Validator(json.loads(resource.read_text(encoding="utf-8")))


def test_json_lists_each_item_with_exactly_its_fields() -> None:
    """``manual`` holds id, text, phase, owner, required, confirmed, by, at (ISO 8601 UTC) and note; it validates."""
    results = manual_results((BACKUP, ROLLBACK), {"backup": "snapshot 03:00"}, by="alice", at=RUN.started + 0.25)
    document = json.loads(render_json(decide_with(results, passed())))
    schema_validator().validate(document)
    assert document["manual"] == [
        {
            "id": "backup",
            "text": "Production DB backup taken",
            "phase": "preflight",
            "owner": "ops",
            "required": True,
            "confirmed": True,
            "by": "alice",
            "at": "2025-01-14T10:32:05.250Z",
            "note": "snapshot 03:00",
        },
        {
            "id": "rollback",
            "text": "Rollback plan shared",
            "phase": "features",
            "owner": None,
            "required": False,
            "confirmed": False,
            "by": None,
            "at": None,
            "note": None,
        },
    ]


@pytest.mark.parametrize(
    ("index", "changes"),
    [
        (0, {"by": None}),  # confirmed, by nobody
        (0, {"at": None}),
        (1, {"by": "alice"}),  # open, yet by someone
        (1, {"note": "done"}),
        (1, {"confirmed": "no"}),
        (1, {"id": "db backup"}),
        (1, {"extra": 1}),
    ],
)
def test_schema_refuses_an_item_the_reports_could_not_agree_on(index: int, changes: dict[str, object]) -> None:
    results = manual_results((BACKUP, ROLLBACK), {"backup": ""}, by="alice", at=RUN.started)
    document = json.loads(render_json(decide_with(results, passed())))
    document["manual"][index].update(changes)
    assert not schema_validator().is_valid(document)
