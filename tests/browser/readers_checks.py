"""Checks every page of the readers' and ops journeys passes: axe, and no sideways scrolling on a 375 px phone."""

from __future__ import annotations

import pytest

from tests.browser.axe import assert_accessible

PHONE = {"width": 375, "height": 780}


@pytest.fixture
def page(axe_page):
    """Every page these tests visit is checked with axe: the shared page that lets it past the CSP."""
    return axe_page


def check_page(page, shot=None) -> None:
    """axe finds nothing serious or critical, and the page fits 375 px; `shot` names a phone screenshot."""
    size = page.viewport_size
    assert_accessible(page)
    page.set_viewport_size(PHONE)
    try:
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{page.url} is {width} px wide on a 375 px phone"
        assert_accessible(page)
        if shot is not None:
            page.screenshot(path=str(shot), full_page=True)
    finally:
        page.set_viewport_size(size)
