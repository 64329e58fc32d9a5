"""The web console in a real headless Chromium (Playwright, the system's browser) against a live
controller (`netpilot controller run --inventory`) over a live simulated network (`netpilot
network run`: a 2 x 3 grid of routers, two intents, a link no intent uses that flaps): one
network, one controller, one browser for the module. A small network keeps the module's CPU
low (bank-wan's 16 routers cost four times as much per second); bank-wan's drawing by its
coordinates is checked in tests/test_ui_layout.py and its first paint in bench/ui_paint.py."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from bench.ui_paint import first_paint
from commands.livedemo import LiveDemo, LiveSpec

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOPOLOGY = "grid:2,3"  # r1c1 r1c2 r1c3 over r2c1 r2c2 r2c3
INTENTS = """\
intents:
  - {name: voice, src: r1c1, dst: r2c2, service_class: voice, bandwidth: 10M, protection: path}
  - {name: office, src: r2c1, dst: r1c2, service_class: office, bandwidth: 50M}
"""
PROTECTED = "voice"
FLAPPING = "r1c3-r2c3"  # no intent's path or backup uses it: its flaps move nothing
BAD_INTENTS = """\
intents:
  - name: ui-bad
    src: r2c3
    dst: NOWHERE
    bandwidth: lots
"""
NEW_INTENT = """\
intents:
  - {name: ui-new, src: r2c3, dst: r1c1, service_class: office, bandwidth: 2M}
"""
# the test's own bookkeeping, injected before the page's scripts: page loads (no reload may
# happen) and every state each link was drawn in
RECORDER = """
sessionStorage.setItem('test.loads', String(+(sessionStorage.getItem('test.loads') || 0) + 1));
window.__states = {};
setInterval(() => {
  for (const path of document.querySelectorAll('[data-link]')) {
    const seen = window.__states[path.dataset.link] || (window.__states[path.dataset.link] = []);
    if (seen[seen.length - 1] !== path.dataset.state) seen.push(path.dataset.state);
  }
}, 50);
"""
# Chromium logs every 4xx answer to the console; the tests that provoke one allow exactly it
REFUSED = "Failed to load resource: the server responded with a status of"


def wait_for(check: Callable[[], Any], timeout_s: float = 60.0, every_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every_s)
    raise AssertionError(f"not true within {timeout_s}s: {check}")


@dataclass
class Console:
    page: Page
    live: LiveDemo
    errors: list[str] = field(default_factory=list)

    def clean(self, allowed: tuple[str, ...] = ()) -> None:
        """No console error, uncaught exception or CSP violation but the `allowed` ones."""
        unexpected = [e for e in self.errors if not any(a in e for a in allowed)]
        self.errors.clear()
        assert not unexpected, unexpected

    def tab(self, name: str) -> None:
        self.page.click(f"#tabs button[data-tab={name}]")


def watch(page: Page, errors: list[str]) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            errors.append(f"{message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))


def sign_in(page: Page, token: str) -> None:
    page.fill("#token", token)
    page.click("#login-btn")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDemo]:
    work = tmp_path_factory.mktemp("ui")
    plan, intents = work / "flap.yaml", work / "intents.yaml"
    flap = {"kind": "flap", "link": FLAPPING, "at": "60s", "period": "60s", "count": 60}
    plan.write_text(yaml.safe_dump({"name": "ui-flap", "events": [flap]}))
    intents.write_text(INTENTS)
    spec = LiveSpec(
        work=work, topology=TOPOLOGY, intents=intents, scenario=plan, speed=10, sample_s=10
    )
    with LiveDemo(spec) as demo:
        yield demo


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("no chromium: apt-get install chromium (the Makefile's APT_TEST has it)")
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console(live: LiveDemo, browser: Browser) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    page = context.new_page()
    page.add_init_script(RECORDER)
    view = Console(page, live)
    watch(page, view.errors)
    page.goto(f"{live.base}/ui/")
    sign_in(page, live.token)
    page.wait_for_selector("[data-node]")
    yield view
    context.close()


def drawn(page: Page, selector: str, key: str) -> list[str]:
    found: list[str] = page.eval_on_selector_all(selector, f"els => els.map(e => e.dataset.{key})")
    return found


def test_every_router_and_link_is_drawn_where_the_controller_places_it(console: Console) -> None:
    topology = console.live.get("/v1/topology")
    page = console.page
    names = sorted(n["name"] for n in topology["nodes"])
    assert sorted(drawn(page, "[data-node]", "node")) == names
    links = sorted({lk["id"] for lk in topology["links"]})
    assert sorted(drawn(page, "[data-link]", "link")) == links
    placed = {
        n["name"]: (n["x"], n["y"]) for n in console.live.get("/v1/ui/state")["topology"]["nodes"]
    }
    for name in names:
        transform = page.get_attribute(f'[data-node="{name}"]', "transform") or ""
        x, y = map(float, transform.removeprefix("translate(").rstrip(")").split(","))
        assert (x, y) == placed[name]
    assert len(set(placed.values())) == len(names)
    for link in topology["links"]:  # each link runs between its two routers
        d = page.get_attribute(f'[data-link="{link["id"]}"]', "d") or ""
        start = tuple(map(float, d.removeprefix("M").split()[0].split(",")))
        assert start in (placed[link["src"]], placed[link["dst"]])
    rows = wait_for(lambda: drawn(page, "#intents tbody tr", "intent"))
    assert sorted(rows) == sorted(r["name"] for r in console.live.get("/v1/intents"))
    console.clean()


def test_a_link_cut_turns_its_link_down_without_a_reload(console: Console) -> None:
    page = console.page

    def seen() -> list[str]:
        states: list[str] = page.evaluate(f"window.__states[{FLAPPING!r}] || []")
        return states

    wait_for(lambda: "down" in seen()[seen().index("up") :] if "up" in seen() else False)
    assert page.evaluate("sessionStorage.getItem('test.loads')") == "1"  # never reloaded
    truth = [e for e in console.live.truth() if e.get("link") == FLAPPING]
    assert any(e["kind"] == "link_down" for e in truth)
    # the events timeline shows the controller's link event and the transactions per device
    console.tab("events")
    cause = f"reports {FLAPPING} down"
    wait_for(lambda: cause in page.inner_text("#timeline"))
    devices = drawn(page, "#timeline li.ev-tx li[data-device]", "device")
    assert {"r1c1", "r2c1"} <= set(devices)  # the head-ends of the two intents
    console.tab("intents")
    console.clean()


def test_selecting_an_intent_highlights_exactly_its_paths(console: Console) -> None:
    page, live = console.page, console.live
    name = PROTECTED  # a primary and a backup

    def shown() -> bool:
        status = live.get(f"/v1/intents/{name}/status")
        if status["primary"] is None or status["backup"] is None:
            return False
        page.click(f'#intents tr[data-intent="{name}"]')
        page.wait_for_selector(f'#intent-detail[data-intent="{name}"] .sid-list')
        primary = set(status["primary"]["links"])
        backup = set(status["backup"]["links"]) - primary
        sids = page.inner_text("#intent-detail .primary .sid-list")
        return (
            set(drawn(page, ".link.primary", "link")) == primary
            and set(drawn(page, ".link.backup", "link")) == backup
            and sids == ", ".join(status["primary"]["sids"])
            and status["history"][0]["reason"] in page.inner_text("#intent-detail .history")
        )

    wait_for(shown, timeout_s=30, every_s=0.5)
    assert page.get_attribute(f'#intents tr[data-intent="{name}"]', "class") == "selected"
    console.clean()


def test_plan_shows_the_per_device_diff_and_a_bad_file_the_apis_field_errors(
    console: Console,
) -> None:
    page, live = console.page, console.live
    console.tab("plan")
    page.fill("#plan-yaml", NEW_INTENT)
    page.click("#plan-btn")
    page.wait_for_selector('#plan-result tr[data-device="r2c3"]')
    assert "ui-new" in page.inner_text("#plan-result")
    assert page.is_enabled("#apply-btn")
    page.fill("#plan-yaml", BAD_INTENTS)
    page.click("#plan-btn")
    page.wait_for_selector("#plan-errors li")
    body = {"intents": yaml.safe_load(BAD_INTENTS)["intents"]}
    answer = httpx.post(f"{live.base}/v1/plan", json=body, headers=live.auth, timeout=10)
    assert answer.status_code == 422
    expected = [f"{e['field']}: {e['message']}" for e in answer.json()["errors"]]
    assert page.inner_text("#plan-errors").splitlines() == expected
    assert "intents.0.bandwidth" in drawn(page, "#plan-errors li", "field")
    assert not page.is_enabled("#apply-btn")
    console.tab("intents")
    console.clean(allowed=(f"{REFUSED} 422",))


def test_nothing_is_shown_without_a_token(live: LiveDemo, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    watch(page, errors)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    try:
        page.goto(f"{live.base}/ui/")
        page.wait_for_selector("#login-form")
        assert page.is_hidden("#console")
        assert page.locator("[data-node], [data-link], #intents tbody tr").count() == 0
        assert not [u for u in asked if "/v1/" in u]  # no data asked for without a token
        sign_in(page, "not-the-token")
        page.wait_for_function("() => document.getElementById('login-error').textContent !== ''")
        assert "401" in page.inner_text("#login-error")
        assert page.is_hidden("#console")
        assert page.locator("[data-node], [data-link], #intents tbody tr").count() == 0
        assert page.evaluate("sessionStorage.length") == 0
        assert "not-the-token" not in " ".join(asked)  # never in a URL
    finally:
        context.close()
    assert all(REFUSED in e and "401" in e for e in errors), errors
    for path in ("/v1/ui/state", "/v1/ui/stream"):
        assert httpx.get(f"{live.base}{path}", timeout=5).status_code == 401
    page_answer = httpx.get(f"{live.base}/ui/", timeout=5)
    assert page_answer.status_code == 200  # the page itself holds no data: no token needed
    assert "script-src 'self'" in page_answer.headers["content-security-policy"]
    assert httpx.get(f"{live.base}/ui/secrets.txt", timeout=5).status_code == 404


def test_the_first_paint_benchmark_measures_a_full_drawing(
    live: LiveDemo, browser: Browser
) -> None:
    """bench/ui_paint.py's measurement (its figures are in docs/BENCHMARKS.md)."""
    got = first_paint(browser, live.base, live.token)
    assert got["paint_ms"] > 0 and got["wall_ms"] > 0
    topology = live.get("/v1/topology")
    assert got["routers"] == len(topology["nodes"])
    assert got["links"] == len({lk["id"] for lk in topology["links"]})
    assert got["intents"] == len(live.get("/v1/intents"))
