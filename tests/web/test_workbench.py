"""The officer's policy workbench in a real browser: write a draft with a typo, see the problem at its line with
the suggestion, fix it, run the examples, see the impact and the diff, submit; the author cannot approve, a
second officer does; the author publishes; the catalogue shows the version with both names; a run uses it.

Each page passes axe-core and is photographed under .artifacts/screenshots/workbench/.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from api.service.tokens import issue_token
from features.profiles import build_profiles
from features.profiles.store import ProfileInfo, write_profiles
from features.registries.validate import check_registry
from matcher.db.models import runs
from tests.web.conftest import AS_OF, DESKTOP, IN_A_BROWSER, PHONE, SCREENSHOTS

SHOTS = SCREENSHOTS / "workbench"
pytestmark = IN_A_BROWSER
_axe = Axe()


@pytest.fixture(scope="module")
def profiles(site):
    """The latest profiles the impact reads (a run started here writes them; the site was matched directly)."""
    path = site.settings.profiles_path
    if not path.exists():
        checked = check_registry(site.settings.data_dir / "registry")
        built = build_profiles({t: checked.clean(t) for t in checked.tables}, AS_OF).collect()
        write_profiles(built, path, ProfileInfo(AS_OF, checked.fingerprint))
    return path


def _signed_in(browser, site, token: str):
    context = browser.new_context(viewport=DESKTOP, base_url=site.base, locale="zh-CN")
    context.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/]).*"), lambda route: route.abort("internetdisconnected"))
    page = context.new_page()
    page.goto("/web/sign-in")
    page.get_by_label("访问令牌").fill(token)
    page.get_by_role("button", name="登录").click()
    return page


def _check(page, name: str) -> None:
    results = _axe.run(page)
    assert results.violations_count == 0, f"{name} ({page.url}): {results.generate_report()}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=SHOTS / f"{name}-phone.png", full_page=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=SHOTS / f"{name}-desktop.png", full_page=True)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.split("\n"), 1) if needle in line)


def test_workbench_when_a_draft_is_written_reviewed_and_published_a_run_uses_it(browser, site, profiles):
    checker_token = issue_token(site.engine, role="officer", name="web checker")[0]
    author = _signed_in(browser, site, site.tokens["officer"])
    author.goto("/web/policies")
    assert "失业保险稳岗返还" in author.locator("main").inner_text()
    assert author.locator("svg.graph").count() == 1  # the relations, drawn on the server
    _check(author, "catalogue")

    author.goto("/web/policies/one-off-hiring-subsidy")
    _check(author, "policy")
    assert author.locator(".pass").count() >= 2  # the catalogue's examples, run
    author.get_by_role("button", name="据此起草新版本").first.click()
    assert re.search(r"/web/drafts/\d+$", author.url), author.url
    draft_url = author.url
    editor = author.get_by_label("YAML 文本（输入时自动检查并保存）")
    text = editor.input_value()
    assert "version: 2" in text

    # A typo: the live check (workbench.js) saves the text and shows the problem at its line, with a suggestion.
    # Two hires at least instead of one; the example of one hire changed to two to match.
    typo = text.replace('"youth_hires_12m >= 1"', '"youth_hire_12m >= 2"').replace(
        "youth_hires_12m: 1, serious_dishonesty: false}\n    expect: {eligible: true, amount: 1500}",
        "youth_hires_12m: 2, serious_dishonesty: false}\n    expect: {eligible: true, amount: 3000}",
    )
    assert typo.count("amount: 3000") == 1
    editor.fill(typo)
    line = _line_of(typo, "youth_hire_12m >=")
    problem = author.locator(f"#L{line} .problem")
    problem.wait_for(timeout=10_000)
    assert "youth_hires_12m" in problem.inner_text()  # "did you mean"
    assert f"第 {line} 行" in problem.inner_text()
    author.reload()  # the text was kept as typed, problem and all
    assert "youth_hire_12m >=" in editor.input_value()
    assert author.locator(f"#L{line}.has-problem").count() == 1
    _check(author, "editor-problem")

    fixed = typo.replace('"youth_hire_12m >= 2"', '"youth_hires_12m >= 2"')
    editor.fill(fixed)
    author.locator("#live-status", has_text="已保存，未发现问题").wait_for(timeout=10_000)
    assert author.locator("#problem-count").inner_text() == "0"
    author.get_by_role("button", name="保存并检查").click()  # the form, as without JavaScript
    assert "未发现问题" in author.locator(".flash").inner_text()
    assert author.locator("#problem-count").inner_text() == "0"

    author.get_by_role("button", name="运行示例").click()
    results = author.locator(".results li")
    assert results.count() >= 2 and author.locator(".results li.fail").count() == 0
    _check(author, "editor")

    author.get_by_role("link", name="影响测算").click()
    headline = author.locator("#headline").inner_text()
    assert re.search(r"新增符合 [\d,]+ 户，不再符合 [\d,]+ 户，预计支出 [\d,.]+ 万元，占预算 \d+ %", headline), headline
    assert "不再符合 0 户" not in headline  # firms with one young hire drop out
    assert author.locator("svg.plot").count() == 3  # region, size class, industry
    dropped = author.locator("section[aria-labelledby=no_longer_eligible] .card").first.inner_text()
    assert "近12个月招用符合条件的青年" in dropped  # the condition that decides, as a sentence
    _check(author, "impact")

    author.goto(draft_url + "/compare")
    assert author.locator("ins", has_text="youth_hires_12m >= 2").count() == 1
    assert author.locator("del", has_text="youth_hires_12m >= 1").count() == 1
    meaning = author.locator("section[aria-labelledby=meaning]").inner_text()
    assert "不再符合 (1)" in meaning and "youth_hires_12m" in meaning  # the static analysis's meaning diff
    _check(author, "compare")

    author.goto(draft_url)
    author.get_by_label("生效日期").fill("2025-07-01")
    author.get_by_role("button", name="提交审核").click()
    assert "已提交审核" in author.locator(".flash").inner_text()
    # The author is offered no approval, and approving anyway is refused.
    assert author.get_by_role("button", name="批准").count() == 0
    csrf = author.locator("input[name=csrf]").first.input_value()
    revision = re.search(r"修订 (\d+)", author.locator("main").inner_text()).group(1)
    refused = author.request.post(
        draft_url + "/review", form={"csrf": csrf, "outcome": "approve", "revision": revision, "comment": ""}
    )
    assert refused.status == 409 and "另一名工作人员" in refused.text()

    checker = _signed_in(browser, site, checker_token)
    checker.goto(draft_url)
    _check(checker, "review")
    checker.get_by_label("审核意见（退回时必填）").fill("阈值与文件一致，同意。")
    checker.get_by_role("button", name="批准").click()
    assert "已批准" in checker.locator(".flash").inner_text()

    author.goto(draft_url)
    author.get_by_role("button", name="发布").click()
    assert "已发布 one-off-hiring-subsidy 第 2 版" in author.locator(".flash").inner_text()
    row = author.locator("tr", has_text="v2").first.inner_text()
    assert "web officer" in row and "web checker" in row
    _check(author, "published")

    bearer = {"Authorization": f"Bearer {site.tokens['officer']}"}
    started = httpx.post(f"{site.base}/runs", json={"as_of": "2025-09-30"}, headers=bearer)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = httpx.get(f"{site.base}/runs/{started.json()['id']}", headers=bearer).json()
        if status["status"] in ("completed", "failed"):
            break
        time.sleep(0.5)
    assert status["status"] == "completed", status
    with site.engine.connect() as connection:
        used = connection.execute(select(runs.c.policy_versions).where(runs.c.id == status["run_id"])).scalar_one()
    assert used["one-off-hiring-subsidy"] == 2
    author.context.close()
    checker.context.close()
