"""The stewards' review page (/review) in a real headless browser against the real service.

The service is the app `canbao serve` builds, run by uvicorn on 127.0.0.1 in a background
thread on a store resolved from data/samples; the browser is Debian's chromium driven through
chromedriver by selenium (`make browser` installs both). The browser tests are skipped, with
the reason, only when chromium or chromedriver is missing.
"""
from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
import uvicorn

from api import create_app, load_settings
from api.database import Database
from api.security import Users
from test_api import sample_store_copy

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1500,1100", "--lang=zh-CN")
WAIT_SECONDS = 30
needs_browser = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"{CHROMIUM} or {CHROMEDRIVER} missing — `make browser` installs Debian's chromium and chromium-driver")


@dataclass
class Served:
    base: str
    token: str
    store: Path

    def get(self, path: str, **params) -> dict:
        response = httpx.get(self.base + path, params=params, headers={"Authorization": f"Bearer {self.token}"},
                             timeout=30)
        assert response.status_code == 200, response.text
        return response.json()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """The real app under uvicorn on a free local port; stopped (and its state saved) at the end."""
    store = sample_store_copy(tmp_path_factory, "review-page")
    settings = load_settings({"store": str(store), "flush_seconds": 0}, env={})
    token = Users(Database(settings.database_file)).add("steward", "steward")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                           workers=1))
    thread = threading.Thread(target=server.run, name="review-page-uvicorn", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):   # at most ~60 s for the store to open
            if not thread.is_alive():
                raise AssertionError("uvicorn stopped while starting (see the log above)")
            try:
                if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        else:
            raise AssertionError(f"{base}/v1/health did not answer within 60 s")
        yield Served(base, token, store)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, message: str):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # The page re-renders its lists after each decision: an element read mid-render is retried, not an error.
    return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition, message)


def _open(driver, served: Served) -> None:
    """A fresh page: the session's token forgotten, the sign-in box showing."""
    driver.get(served.base + "/review")
    driver.execute_script("sessionStorage.clear()")
    driver.get(served.base + "/review")
    _wait(driver, lambda d: d.find_element("id", "token").is_displayed(), "the sign-in box did not show")


def _sign_in(driver, token: str) -> None:
    driver.find_element("id", "token").send_keys(token)
    driver.find_element("id", "signin-button").click()


def _current(driver) -> str | None:
    items = driver.find_elements("css selector", "#queue-list li.current")
    return items[0].get_attribute("data-item") if items else None


def _item_shown(driver, item_id: str) -> bool:
    """The item view shows ``item_id`` (marked on the view once its detail has arrived and is drawn)."""
    body = driver.find_element("id", "item-body")
    return _current(driver) == item_id and body.get_attribute("data-item") == item_id and body.is_displayed()


@needs_browser
def test_a_steward_decides_two_items_by_mouse_and_keyboard_and_the_graph_changes(served, browser):
    from selenium.webdriver.common.action_chains import ActionChains

    queue = served.get("/v1/review/queue", limit=200)["items"]
    # Two pairs next to each other in the queue (highest impact first): after a decision the page opens the next.
    at = next((i for i in range(len(queue) - 1) if queue[i]["kind"] == queue[i + 1]["kind"] == "pair"), None)
    assert at is not None, "the sample's queue should hold two adjacent pairs"
    first, second = queue[at], queue[at + 1]

    _open(browser, served)
    _sign_in(browser, served.token)
    _wait(browser, lambda d: len(d.find_elements("css selector", "#queue-list li")) > 0, "the queue did not load")
    assert browser.execute_script("return location.href").endswith("/review")   # the token is never in the URL
    assert served.token not in browser.current_url
    listed = [li.get_attribute("data-item") for li in browser.find_elements("css selector", "#queue-list li")]
    assert listed == [item["item_id"] for item in queue][:len(listed)]
    _wait(browser, lambda d: _item_shown(d, queue[0]["item_id"]), "the first item did not open")
    if at:
        browser.find_element("css selector", f'#queue-list li[data-item="{first["item_id"]}"]').click()
    _wait(browser, lambda d: _item_shown(d, first["item_id"]), "the chosen item did not open")

    # the pair view: every compared field coloured, the waterfall, the status each choice gives
    fields = {tr.get_attribute("data-field"): tr for tr in browser.find_elements("css selector", "#compare-body tr")}
    assert {"name", "id_number", "birth_date", "gender", "phone", "address", "employer", "source"} <= set(fields)
    name_cell = fields["name"].find_elements("css selector", "td")[1]
    assert {"agree", "partial", "disagree", "missing"} & set(name_cell.get_attribute("class").split())
    assert "先验" in browser.find_element("id", "waterfall-body").text
    assert "同一人 (M)" in browser.find_element("id", "outcome-body").text

    # 1. by mouse: 同一人
    browser.find_element("id", "note").send_keys("电话核实为同一人\n")   # Enter in the note does not submit
    assert not browser.find_elements("css selector", "#log-list li")
    browser.find_element("id", "btn-match").click()
    _wait(browser, lambda d: len(d.find_elements("css selector", "#log-list li")) == 1, "the match was not recorded")
    _wait(browser, lambda d: _current(d) == second["item_id"] and _item_shown(d, second["item_id"]),
          "the next item did not open after the decision")

    # 2. by keyboard: N (非同一人)
    ActionChains(browser).send_keys("n").perform()
    _wait(browser, lambda d: len(d.find_elements("css selector", "#log-list li")) == 2,
          "the keyboard decision was not recorded")
    log = browser.find_element("id", "log-list").text
    assert "同一人" in log and "非同一人" in log and "撤销" in log
    assert not browser.find_element("id", "error").is_displayed(), browser.find_element("id", "error").text

    # the graph changed: both pairs left the queue, the first pair's records are one person now
    after = {i["item_id"] for i in served.get("/v1/review/queue", limit=200)["items"]}
    assert first["item_id"] not in after, "the merged pair is still in the queue"
    assert second["item_id"] not in after, "the pair decided not_match is still in the queue"
    merged = {first["person_id_l"], first["person_id_r"]}
    keys = set()
    for person_id in merged:
        view = served.get(f"/v1/persons/{person_id}")
        if view["person"]["status"]["status"] != "MERGED":
            keys |= {r["record_key"] for rs in view["records_by_source"].values() for r in rs}
    assert {first["record_key_l"], first["record_key_r"]} <= keys
    second_view = served.get(f"/v1/review/{second['item_id']}")
    assert second_view["item"]["person_id_l"] != second_view["item"]["person_id_r"]   # kept apart

    # undo (撤销) of the merge posts not_match: the two records are two persons again at once
    browser.find_elements("css selector", "#log-list li")[1].find_element("tag name", "button").click()
    _wait(browser, lambda d: len(d.find_elements("css selector", "#log-list li")) == 3, "the undo was not recorded")
    _wait(browser, lambda d: d.find_element("id", "item-body").get_attribute("data-item") == first["item_id"],
          "the undone item was not re-opened")   # no longer in the queue, so not highlighted there
    undone = served.get(f"/v1/review/{first['item_id']}")["item"]
    assert undone["person_id_l"] != undone["person_id_r"]

    # every resource the page loaded came from the app itself
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(urlparse(url).netloc == urlparse(served.base).netloc for url in loaded), loaded


def _paid_month(text: str | None) -> str:
    return "—" if not text else (f"{text[:4]}-{text[4:]}" if re.fullmatch(r"\d{6}", text) else text)


@needs_browser
def test_each_persons_schemes_are_shown_beside_the_pair(served, browser):
    queue = served.get("/v1/review/queue", limit=200)["items"]
    # The first pair whose persons hold si_enrolment records (the sample has such persons).
    found = None
    for item in (i for i in queue if i["kind"] == "pair"):
        detail = served.get(f"/v1/review/{item['item_id']}")
        if any(p["schemes"] for p in detail["persons"]):
            found = item, detail
            break
    assert found is not None, "no pair of the sample's queue has a person with si_enrolment records"
    item, detail = found

    _open(browser, served)
    _sign_in(browser, served.token)
    _wait(browser, lambda d: len(d.find_elements("css selector", "#queue-list li")) > 0, "the queue did not load")
    _wait(browser, lambda d: _current(d) is not None and d.find_element("id", "item-body").get_attribute("data-item"),
          "the first item did not open")
    browser.find_element("css selector", f'#queue-list li[data-item="{item["item_id"]}"]').click()
    _wait(browser, lambda d: _item_shown(d, item["item_id"]), "the pair did not open")

    for person in detail["persons"]:
        person_id = person["person"]["person_id"]
        panel = browser.find_element("css selector", f'#schemes-body .person-panel[data-person="{person_id}"]')
        assert panel.is_displayed(), f"the panel of {person_id} is hidden"
        rows = [[td.text for td in tr.find_elements("css selector", "td")]
                for tr in panel.find_elements("css selector", "tbody tr")]
        expected = [[s["scheme"], s["state"], s["first_enrolment"] or "—", _paid_month(s["last_paid"])]
                    for s in person["schemes"]]
        assert rows == expected, f"{person_id}: {rows} != {expected}"
        if not person["schemes"]:
            assert "无社会保险参保记录" in panel.text
    assert not browser.find_element("id", "error").is_displayed(), browser.find_element("id", "error").text


@needs_browser
def test_the_page_refuses_a_wrong_token_in_chinese(served, browser):
    _open(browser, served)
    _sign_in(browser, "cbk_this-is-not-a-token")
    message = _wait(browser, lambda d: d.find_element("id", "signin-error").is_displayed()
                    and d.find_element("id", "signin-error"), "no message for a wrong token")
    assert "令牌无效" in message.text and "需要有效的访问令牌" in message.text   # ours, then the API's
    assert not browser.find_element("id", "app").is_displayed()
    assert browser.execute_script("return sessionStorage.length") == 0


ASSET_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
FOREIGN_URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.\-]+\.[A-Za-z]{2,}""")


def test_every_asset_of_the_page_is_served_by_the_app(served):
    page = httpx.get(served.base + "/review", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    references = ASSET_REFERENCE.findall(page.text)
    assert {"/review/review.js", "/review/review.css"} <= set(references)
    texts = {"/review": page.text}
    for reference in references:
        if reference.startswith("data:"):
            continue   # inline (the empty favicon), loaded from nowhere
        assert reference.startswith("/") and not reference.startswith("//"), f"{reference} is not on this origin"
        response = httpx.get(served.base + reference, timeout=30)
        assert response.status_code == 200, f"{reference}: {response.status_code}"
        texts[reference] = response.text
    assert "@import" not in texts["/review/review.css"] and "url(" not in texts["/review/review.css"]
    for name, text in texts.items():
        assert not FOREIGN_URL.findall(text), f"{name} names another host: {FOREIGN_URL.findall(text)}"
    assert set(re.findall(r"""api\("(?:GET|POST)", `([^`?$]+)""", texts["/review/review.js"])) <= {"/v1/review/queue",
                                                                                                    "/v1/review/"}
    missing = httpx.get(served.base + "/review/../api/app.py", timeout=30)
    assert missing.status_code == 404
    unknown = httpx.get(served.base + "/review/secrets.txt", timeout=30)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
