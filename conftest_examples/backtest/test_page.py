"""The stock selection page: the browser's way in to starting a backtest and downloading its result."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_deploysmoke import expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http

pytestmark = pytest.mark.phase("features")

#: What the page must have: the start button and the download link the UI checks will click.
CONTROLS = ('id="start-backtest"', 'id="download-result"')


def test_stock_selection_page_answers(http: SmokeClient) -> None:
    """GET / answers 200 with the stock selection page (text/html, with its Start backtest button)."""
    response = expect_status(http.get("/"), 200)
    media_type = response.headers.get("content-type", "").partition(";")[0].strip()
    if media_type != "text/html":
        pytest.fail(f"GET / answered Content-Type {media_type!r}, expected text/html", pytrace=False)
    missing = [control for control in CONTROLS if control not in response.text]
    if missing:
        pytest.fail(f"GET / answered a page without {', '.join(missing)}: {response.text[:200]!r}", pytrace=False)
