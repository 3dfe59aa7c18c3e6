"""The supervision page (officer, supervisor) and the open-statistics page (anyone, without signing in): they
pass axe-core and work without JavaScript, in Chinese first."""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe

from api.service.tokens import issue_token
from tests.web.conftest import IN_A_BROWSER

pytestmark = IN_A_BROWSER
_axe = Axe()


def _page(browser, site):
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=site.base, locale="zh-CN")
    context.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/]).*"), lambda route: route.abort("internetdisconnected"))
    return context.new_page()


def _accessible(page) -> None:
    results = _axe.run(page)
    assert results.violations_count == 0, f"{page.url}: {results.generate_report()}"


def test_statistics_page_when_opened_without_signing_in_shows_the_figures_and_passes_the_check(browser, site):
    page = _page(browser, site)
    page.goto("/web/statistics")
    assert page.get_by_role("heading", name="政策兑现公开数据").is_visible()
    _accessible(page)
    page.get_by_label("政策").select_option(index=1)
    page.get_by_label("年度").fill("2025")
    page.get_by_label("分组").select_option("region")
    page.get_by_role("button", name="查看").click()
    assert "/web/statistics?" in page.url and page.locator("table").count() >= 1
    _accessible(page)
    page.context.close()


def test_supervision_page_when_a_supervisor_signs_in_shows_offices_and_passes_the_check(browser, site):
    token = issue_token(site.engine, role="supervisor", name="web supervisor")[0]
    page = _page(browser, site)
    page.goto("/web/sign-in")
    page.get_by_label("访问令牌").fill(token)
    page.get_by_role("button", name="登录").click()
    assert page.url.endswith("/web/supervision")
    assert page.get_by_role("heading", name="各单位在办事项").is_visible()
    _accessible(page)
    page.get_by_role("button", name="立即巡查并升级红牌").click()
    assert "已巡查" in page.locator("main").inner_text()
    page.context.close()
