"""Manual checklist items: what a person does or confirms by hand, and whether they confirmed it (no pytest)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

#: The CI variables that name who started the run, first match wins: GitHub Actions (the actor who
#: started this attempt, then the one who started the workflow), GitLab CI, Azure Pipelines,
#: Buildkite, CircleCI and Jenkins (its build-user-vars plugin).
CI_USER_VARIABLES: Final = (
    "GITHUB_TRIGGERING_ACTOR",
    "GITHUB_ACTOR",
    "GITLAB_USER_LOGIN",
    "BUILD_REQUESTEDFOR",
    "BUILDKITE_BUILD_CREATOR",
    "CIRCLE_USERNAME",
    "BUILD_USER_ID",
)
#: Who confirmed, when neither a CI variable nor the login name says.
UNKNOWN_USER: Final = "unknown"


@dataclass(frozen=True, slots=True)
class ManualItem:
    """One ``[manual.ID]`` item of the config: a box on the checklist that no check can tick."""

    id: str
    text: str
    phase: str
    owner: str = ""
    #: An unconfirmed required item makes the verdict NO-GO; an optional one is only listed.
    required: bool = False


@dataclass(frozen=True, slots=True)
class Confirmation:
    """``--deploy-confirm ID[=NOTE]``: who confirmed an item, when (epoch seconds), and their note."""

    by: str
    at: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class ManualResult:
    """A manual item as the reports show it: open, or confirmed."""

    item: ManualItem
    confirmation: Confirmation | None = None

    @property
    def confirmed(self) -> bool:
        """Whether ``--deploy-confirm`` named it."""
        return self.confirmation is not None

    @property
    def blocks(self) -> bool:
        """Whether it keeps the deploy from GO: required, and not confirmed."""
        return self.item.required and self.confirmation is None

    def reason(self) -> str:
        """The NO-GO reason: ``manual item 'backup' not confirmed: TEXT; confirm it with --deploy-confirm backup``."""
        owner = f" (owner: {self.item.owner})" if self.item.owner else ""
        return (
            f"manual item '{self.item.id}' not confirmed: {self.item.text}{owner}; "
            f"confirm it with --deploy-confirm {self.item.id}"
        )


def parse_confirm(value: str) -> tuple[str, str]:
    """``backup=snapshot 03:00`` as ``("backup", "snapshot 03:00")``; a value without ``=`` has no note."""
    item_id, _, note = value.partition("=")
    return item_id.strip(), note.strip()


def confirmer(environ: Mapping[str, str]) -> str:
    """Who ran the command: the CI's user variable, else the login name, else ``"unknown"``."""
    for name in CI_USER_VARIABLES:
        if environ.get(name, "").strip():
            return environ[name].strip()
    import getpass  # only when no CI variable answered: it reads the password database

    try:
        return getpass.getuser() or UNKNOWN_USER
    except (OSError, KeyError, ImportError):  # no LOGNAME/USER and no passwd entry (a bare container)
        return UNKNOWN_USER


def manual_results(
    items: Iterable[ManualItem], notes: Mapping[str, str], *, by: str, at: float
) -> tuple[ManualResult, ...]:
    """Each item, in config order, confirmed by *by* at *at* when *notes* (ID to note) names it."""
    return tuple(
        ManualResult(item, Confirmation(by, at, notes[item.id]) if item.id in notes else None) for item in items
    )


def open_required(results: Iterable[ManualResult]) -> list[str]:
    """The reasons for NO-GO of the required items nobody confirmed, in config order."""
    return [result.reason() for result in results if result.blocks]
