"""An officer reads a draft's static analysis and its semantic diff against the published version."""

from __future__ import annotations

from tests.api.service.test_policies import CHANGED, P01, _draft


def test_analysis_of_a_draft_that_can_never_be_eligible_is_an_error_at_its_line(client, tokens):
    text = CHANGED.replace('"ui_paid_months >= 12"', '"ui_paid_months >= 12 and ui_paid_months < 6"')
    draft = _draft(client, tokens, text)
    answer = client.get(f"/policy-drafts/{draft['id']}/analysis", headers=tokens.headers("officer"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["errors"] == 1
    never = next(f for f in body["findings"] if f["code"] == "never-eligible")
    assert never["severity"] == "error" and never["line"] is not None and never["witness"] is None


def test_analysis_of_the_published_text_lists_only_acknowledged_warnings_with_witnesses(client, tokens):
    draft = _draft(client, tokens, P01.replace("version: 1", "version: 2"))
    body = client.get(f"/policy-drafts/{draft['id']}/analysis", headers=tokens.headers("officer")).json()
    assert body["errors"] == 0 and body["warnings"] == 0 and body["findings"]
    for finding in body["findings"]:
        assert finding["acknowledged"] and finding["witness"]["as_of"] and finding["witness_zh"].startswith("例如")


def test_diff_of_the_layoff_rate_change_names_the_refused_band_counted_on_the_profiles(client, tokens):
    draft = _draft(client, tokens, CHANGED)
    answer = client.get(f"/policy-drafts/{draft['id']}/diff", headers=tokens.headers("officer"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["against_version"] == 1 and body["admitted"] == [] and len(body["refused"]) == 1
    region = body["refused"][0]
    assert "layoff_rate_last_year > 2%" in region["condition_en"] and region["profiles"] is not None
    assert 0.02 < region["witness"]["layoff_rate_last_year"] <= 0.055


def test_analysis_needs_an_officer(client, tokens):
    draft = _draft(client, tokens, CHANGED)
    assert client.get(f"/policy-drafts/{draft['id']}/analysis", headers=tokens.headers("enterprise")).status_code == 403
    assert client.get("/policy-drafts/999999/diff", headers=tokens.headers("officer")).status_code == 404
