"""The workbench without JavaScript: plain forms against the real server (no browser needed)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.service.tokens import issue_token


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _officer(site, token: str) -> httpx.Client:
    client = httpx.Client(base_url=site.base, follow_redirects=True, timeout=60)
    page = client.get("/web/sign-in")
    answer = client.post("/web/sign-in", data={"token": token, "csrf": _csrf(page.text), "next": "/web/policies"})
    assert answer.status_code == 200 and "/web/policies" in str(answer.url)
    return client


@pytest.fixture
def officer(site):
    client = _officer(site, site.tokens["officer"])
    yield client
    client.close()


def _new_blank(officer) -> tuple[str, str]:
    page = officer.get("/web/policies")
    answer = officer.post("/web/drafts", data={"start": "blank", "csrf": _csrf(page.text)})
    assert answer.status_code == 200 and re.search(r"/web/drafts/\d+$", str(answer.url))
    return str(answer.url), _csrf(answer.text)


def test_editor_when_saved_without_script_shows_each_problem_beside_its_line(officer):
    url, csrf = _new_blank(officer)
    text = officer.get(url).text
    assert "ui_paid_months" in text and "新政策" in text  # the blank template
    typo = html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", text, re.S).group(1))
    typo = typo.replace("ui_paid_months >= 12", "ui_paid_mnths >= 12")
    saved = officer.post(url, data={"text": typo, "csrf": csrf})
    assert saved.status_code == 200 and "有 1 处问题" in saved.text
    line = next(i for i, t in enumerate(typo.split("\n"), 1) if "ui_paid_mnths" in t)
    item = re.search(rf'<li value="{line}" class="has-problem" id="L{line}">(.*?)</li>', saved.text, re.S)
    assert item and "ui_paid_months" in item.group(1) and f"第 {line} 行" in item.group(1)


def test_editor_when_facts_are_searched_lists_only_matches_with_units_and_registries(officer):
    url, _ = _new_blank(officer)
    page = officer.get(url, params={"q": "失业保险"})
    listed = re.findall(r"<li><code>([a-z_0-9]+)</code>", page.text)
    assert "ui_paid_months" in listed and "name" not in listed
    assert "人社" in page.text  # the registry the fact comes from


def test_editor_when_examples_run_shows_pass_or_fail_per_example(officer):
    url, _ = _new_blank(officer)
    page = officer.get(url, params={"examples": "true"})
    assert page.text.count('<li class="pass">') == 3 and '<li class="fail">' not in page.text


def test_live_check_when_typing_saves_the_text_and_answers_its_problems(officer, site):
    url, csrf = _new_blank(officer)
    answer = officer.post(url + "/live", data={"text": "id: x\nversion: one\n", "csrf": csrf})
    assert answer.status_code == 200 and answer.json()["saved"] is True
    assert answer.json()["problems"] and answer.json()["problems"][0]["line"] is not None
    assert "version: one" in officer.get(url).text


def test_review_when_the_author_tries_to_approve_the_page_refuses_and_the_state_stays(officer, site):
    url, csrf = _new_blank(officer)
    assert "已提交审核" in officer.post(url + "/submit", data={"effective_from": "2025-07-01", "csrf": csrf}).text
    refused = officer.post(url + "/review", data={"outcome": "approve", "revision": "1", "comment": "", "csrf": csrf})
    assert refused.status_code == 409 and "另一名工作人员" in refused.text
    checker_token = issue_token(site.engine, role="officer", name="forms checker")[0]
    checker = _officer(site, checker_token)
    page = checker.get(url)
    assert "批准" in page.text
    back = checker.post(
        url + "/review", data={"outcome": "reject", "revision": "1", "comment": "", "csrf": _csrf(page.text)}
    )
    assert "退回时请写明修改意见" in back.text
    sent_back = checker.post(
        url + "/review",
        data={"outcome": "reject", "revision": "1", "comment": "请补充依据文号", "csrf": _csrf(page.text)},
    )
    assert "已退回" in sent_back.text
    checker.close()
    assert "请补充依据文号" in officer.get(url).text


def test_editor_when_the_amount_can_go_negative_shows_the_finding_with_its_witness(officer):
    url, csrf = _new_blank(officer)
    text = html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", officer.get(url).text, re.S).group(1))
    text = text.replace('amount: "10000"', 'amount: "10000 - ui_paid_months * 1000"')
    page = officer.post(url, data={"text": text.replace("amount: 10000}", "amount: 0}"), "csrf": csrf})
    finding = re.search(r'<li class="finding warning">(.*?)</li>', page.text, re.S)
    assert finding and "amount-negative" in finding.group(1) and "金额可能为负数" in finding.group(1)
    assert "例如一家企业：失业保险连续足额缴费月数为12个月" in finding.group(1)  # the witness enterprise


def test_withdrawal_when_drafted_from_the_policy_page_goes_to_review_with_its_date(officer):
    page = officer.get("/web/policies/rd-super-deduction")
    day = (datetime.now(UTC).date() + timedelta(days=60)).isoformat()
    form = {"version": "1", "withdraw_from": day, "csrf": _csrf(page.text)}
    past = officer.post("/web/policies/rd-super-deduction/withdraw", data=form | {"withdraw_from": "2020-01-01"})
    assert past.status_code == 409 and "future date" in past.text
    answer = officer.post("/web/policies/rd-super-deduction/withdraw", data=form)
    assert answer.status_code == 200 and re.search(r"/web/drafts/\d+$", str(answer.url))
    assert "已创建撤回草稿" in answer.text and "撤回" in answer.text
    assert f'name="effective_from" value="{day}"' in answer.text  # submitted for review with its date
    assert '<textarea id="text-input"' not in answer.text  # its text is not edited
