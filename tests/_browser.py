"""Headless Chromium for the report's tests: Debian's /usr/bin/chromium driven by playwright.

playwright's wheel carries its driver; the browser is the system's (``playwright install`` downloads
browsers and is not used). The tests skip when Chromium or playwright is missing, except in CI
(``CI=true``), where a missing browser is a failure: ``.ci/run`` installs it.

Run as a script to refresh the README's screenshot::

    python tests/_browser.py tests/fixtures/run_dir docs/report.png
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions"]


def chromium_path() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if chromium_path() is None:
        return "Chromium is not installed (apt-get install chromium; .ci/run does it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


@contextlib.contextmanager
def chromium() -> Iterator:
    """A launched headless Chromium (playwright Browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class LoadedPage:
    page: object
    context: object
    url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.context.close()


def open_file(browser, path: Path, *, width: int = 1280, height: int = 900) -> LoadedPage:
    """Load ``path`` with the network off (offline context, and every non-file request aborted)."""
    context = browser.new_context(offline=True, viewport={"width": width, "height": height},
                                  java_script_enabled=True, service_workers="block")
    page = context.new_page()
    url = Path(path).resolve().as_uri()
    loaded = LoadedPage(page, context, url)
    page.on("request", lambda request: loaded.requests.append(request.url))
    page.on("console", lambda msg: loaded.console_errors.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: loaded.page_errors.append(str(exc)))
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page.goto(url, wait_until="load")
    return loaded


def non_white_fraction(png: bytes) -> float:
    """Fraction of pixels that are not (near) white in a PNG."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    histogram = image.histogram()
    return 1.0 - sum(histogram[245:]) / (image.size[0] * image.size[1])


def screenshot(run_dir: Path, out: Path, *, width: int = 1280, height: int = 1500) -> None:
    """The top of the report of ``run_dir`` (built in a temporary copy) as a PNG."""
    import tempfile

    from shapley_attr.report import render_report

    with tempfile.TemporaryDirectory() as tmp, chromium() as browser:
        html = Path(tmp) / "report.html"
        html.write_bytes(render_report(run_dir))
        loaded = open_file(browser, html, width=width, height=height)
        out.write_bytes(loaded.page.screenshot(full_page=False))
        loaded.close()


if __name__ == "__main__":
    screenshot(Path(sys.argv[1]), Path(sys.argv[2]))
