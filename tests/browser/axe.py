"""Accessibility checks with axe-core (the npm package's axe.min.js, 4.14.1, MPL-2.0, vendored here).

`assert_accessible(page)` injects axe into the page the browser shows and fails the test on any
serious or critical violation, naming the rule, its help text and the first offending elements.
"""

from __future__ import annotations

from pathlib import Path

AXE_JS = Path(__file__).with_name("vendor") / "axe.min.js"
BLOCKING = {"serious", "critical"}


def violations(page) -> list[dict]:
    """axe's violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")
    return result["violations"]


def assert_accessible(page) -> None:
    """No serious or critical axe violation on the current page."""
    found = [v for v in violations(page) if v.get("impact") in BLOCKING]
    lines = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"][:3])
        for v in found
    ]
    assert not found, f"axe found on {page.url}:\n" + "\n".join(lines)
