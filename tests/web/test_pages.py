"""The pages in a real browser: Debian's Chromium driven by Playwright, against the service on a local port.

Every page is checked with axe-core (axe-playwright-python carries it: nothing is fetched) and photographed
at phone and desktop widths under .artifacts/screenshots/ for a reviewer to look at.
"""

from __future__ import annotations

import re
import shutil

import pytest
from axe_playwright_python.sync_playwright import Axe

from api.web.links import link_url
from tests.web.conftest import DESKTOP, IN_A_BROWSER, PHONE, SCREENSHOTS

pytestmark = IN_A_BROWSER
_axe = Axe()


@pytest.fixture(scope="module", autouse=True)
def screenshots():
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


def _page(browser, site, *, offline: bool = True):
    context = browser.new_context(viewport=PHONE, base_url=site.base, locale="zh-CN")
    if offline:  # every request that would leave the machine fails, as on a government network without internet
        context.route(
            re.compile(r"^(?!https?://127\.0\.0\.1[:/]).*"), lambda route: route.abort("internetdisconnected")
        )
    return context.new_page()


def _check(page, name: str) -> None:
    """axe-core finds no violation; the page photographed at phone and desktop widths."""
    results = _axe.run(page)
    assert results.violations_count == 0, f"{name} ({page.url}): {results.generate_report()}"
    page.set_viewport_size(PHONE)
    page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)


def _link(site, uscc: str) -> str:
    return link_url(site.settings, uscc).removeprefix(site.settings.public_url)


def test_enterprise_when_opening_its_link_reads_in_both_languages_confirms_and_cannot_reach_another(browser, site):
    page = _page(browser, site)
    page.goto(_link(site, site.uscc))
    assert page.url.endswith(f"/web/e/{site.uscc}")
    assert page.get_by_role("heading", name="我的待遇通知").is_visible()
    assert "元" in page.locator(".cards").inner_text() or page.locator(".cards li").count() == 0
    # A relief taken at filing with no estimate, or a recommendation, states no amount: never "0 元" (issue 12).
    assert not re.search(r"(?<![\d,.])0 元", page.locator("main").inner_text())
    _check(page, "inbox")

    notice = page.locator(".cards .card", has=page.locator(".tag", has_text="待确认")).first
    notice.get_by_role("link").click()
    assert page.get_by_role("heading", name="为什么").is_visible()
    assert page.locator(".conditions li").count() > 0
    assert "fen" not in page.content() and "_fen" not in page.locator("main").inner_text()
    # Facts read as words, not as the registries' codes (limited_company, operating, …).
    assert not re.search(r"\b[a-z]+_[a-z_]+\b|= (operating|True|False)\b", page.locator(".conditions").inner_text())
    _check(page, "notice-zh")

    page.get_by_role("link", name="English").click()
    assert page.get_by_role("heading", name="Why").is_visible()
    assert page.locator("html").get_attribute("lang") == "en"
    _check(page, "notice-en")
    page.get_by_role("link", name="中文").click()

    page.get_by_role("link", name="确认领取").click()
    assert page.get_by_role("heading", name="确认领取该待遇？").is_visible()
    _check(page, "confirm-check")
    page.get_by_role("button", name="确认领取").click()
    assert "已确认" in page.locator(".flash").inner_text()
    assert page.locator("#ledger-status").inner_text() != "尚未入账"  # the ledger took it
    assert "已确认" in page.locator("#history").locator("xpath=..").inner_text()

    answer = page.goto(f"/web/e/{site.other_uscc}")  # another enterprise, by editing the URL
    assert answer.status == 403
    assert "其他企业" in page.locator("main").inner_text()
    assert site.other_uscc not in page.locator("main").inner_text()
    page.context.close()


def test_enterprise_when_a_notice_asks_for_facts_supplies_them_in_a_typed_form(browser, site):
    assert site.needs_data_uscc is not None, "the synthetic registry (seeded) holds notices asking for facts"
    page = _page(browser, site)
    page.goto(_link(site, site.needs_data_uscc))
    page.locator(".cards .card", has=page.locator(".tag", has_text="需补充信息")).first.get_by_role("link").click()
    form = page.locator("form[action$='/supply']")
    for field in form.locator("input[name^='fact.'], select[name^='fact.']").all():
        kind = field.get_attribute("type")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(index=1)
        elif kind == "date":
            field.fill("2020-01-01")
        elif kind == "number":
            field.fill("12")
        else:
            field.fill("x")
    _check(page, "supply")
    form.get_by_role("button").click()
    assert "已收到补充信息" in page.locator(".flash").inner_text()
    assert "已补充信息" in page.locator("main").inner_text()
    assert "待核实" in page.locator("#history").locator("xpath=..").inner_text()
    notice_url = page.url

    officer = _page(browser, site)
    officer.goto("/web/sign-in")
    officer.get_by_label("访问令牌").fill(site.tokens["officer"])
    officer.get_by_role("button", name="登录").click()
    card = officer.locator("#supplied").locator("xpath=..").locator("article", has_text=site.needs_data_uscc).first
    card.get_by_role("button", name="采纳", exact=True).click()
    assert "已采纳" in officer.locator(".flash").inner_text()

    page.goto(notice_url)  # the enterprise sees the officer's decision on what it supplied
    assert "已采纳" in page.locator(".supplied-status").first.inner_text()
    page.context.close()
    officer.context.close()


def test_officer_when_releasing_an_objection_the_enterprise_sees_the_note(browser, site):
    enterprise = _page(browser, site)
    enterprise.goto(_link(site, site.uscc))
    enterprise.locator(".cards .card").first.get_by_role("link").click()
    notice_url = enterprise.url
    enterprise.get_by_role("link", name="提出异议").click()
    enterprise.get_by_label("异议理由").fill("我单位参保人数登记有误，请核实。")
    enterprise.get_by_role("button", name="提交异议").click()
    assert "异议已受理" in enterprise.locator(".flash").inner_text()

    officer = _page(browser, site)
    officer.goto("/web/desk")
    assert officer.url.endswith("/web/sign-in?next=/web/desk") or "/web/sign-in" in officer.url
    officer.get_by_label("访问令牌").fill(site.tokens["officer"])
    officer.get_by_role("button", name="登录").click()
    assert officer.url.endswith("/web/desk")
    _check(officer, "desk")
    card = officer.locator("article", has_text="我单位参保人数登记有误").first
    card.get_by_label("给企业的说明").fill("经核实，登记数据无误，恢复拨付。")
    card.get_by_role("button", name="不予采纳，恢复拨付").click()
    assert "未采纳" in officer.locator(".flash").inner_text()

    enterprise.goto(notice_url)
    history = enterprise.locator("main").inner_text()
    assert "经核实，登记数据无误，恢复拨付。" in history
    enterprise.context.close()
    officer.context.close()


def test_form_when_posted_without_its_csrf_token_is_refused(browser, site):
    page = _page(browser, site)
    page.goto(_link(site, site.uscc))
    page.locator(".cards .card").first.get_by_role("link").click()
    answer = page.request.post(page.url + "/object", form={"reason": "没有校验码的表单提交"})
    assert answer.status == 403
    assert "校验码" in answer.text()
    page.goto(page.url)
    assert "没有校验码的表单提交" not in page.locator("main").inner_text()
    page.context.close()


def test_analyst_page_when_signed_in_shows_versions_and_passes_the_check(browser, site):
    page = _page(browser, site)
    page.goto("/web/sign-in")
    _check(page, "sign-in")
    page.get_by_label("访问令牌").fill(site.tokens["analyst"])
    page.get_by_role("button", name="登录").click()
    assert page.url.endswith("/web/models")
    assert page.get_by_role("heading", name="已注册版本").is_visible()
    _check(page, "models")
    page.goto("/web/desk")  # an analyst has no desk
    assert "无权" in page.locator("main").inner_text()
    page.context.close()


def test_docs_when_the_network_is_closed_shows_the_operations(browser, site):
    page = _page(browser, site)
    left: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(site.base) else left.append(r.url))
    page.goto("/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/enterprises/{uscc}/decisions" in p.replace("\u200b", "") for p in paths)
    assert left == []
    page.context.close()
