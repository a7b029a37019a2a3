"""Manual checklist items: what a person does or confirms by hand, and whether they confirmed it (no pytest)."""

from __future__ import annotations

from dataclasses import dataclass


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
