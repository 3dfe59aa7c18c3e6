"""What officers and enterprises read: load errors that fit the mistake, sentences with units and plain words."""

from __future__ import annotations

from datetime import date

import pytest

from policies.errors import PolicyFileError
from policies.load import CATALOGUE_DIR, load_catalogue, load_policy_text
from policies.trace import trace

P1 = (CATALOGUE_DIR / "p01-job-retention-refund.yaml").read_text(encoding="utf-8")
AS_OF = date(2025, 6, 30)


def _error(text: str) -> PolicyFileError:
    with pytest.raises(PolicyFileError) as caught:
        load_policy_text(text, "p.yaml")
    return caught.value


def test_load_when_a_field_is_misspelt_suggests_the_field_it_meant():
    top = _error(P1.replace("version: 1", "versoin: 1"))
    assert top.message == "unknown field 'versoin'" and "did you mean 'version'?" in top.hint
    nested = _error(P1.replace("  period: yearly", "  peroid: yearly"))
    assert nested.message == "unknown field 'benefit.peroid'" and "did you mean 'period'?" in nested.hint
    assert nested.location.line == P1.splitlines().index("  period: yearly") + 1


def test_load_when_several_fields_are_missing_names_them_all_at_once():
    text = "\n".join(line for line in P1.splitlines() if not line.startswith(("basis:", "category:", "delivery:")))
    err = _error(text)
    assert err.message == "missing required fields 'basis', 'delivery', 'category'"


@pytest.fixture(scope="module")
def p1():
    return load_catalogue().get("job-retention-refund")


FACTS = {
    "enterprise_type": "public_institution", "status": "operating", "ui_paid_months": 11,
    "layoff_rate_last_year": 0.01, "insured_headcount_avg_last_year": 1.0, "serious_dishonesty": False,
    "abnormal_operation": False, "size_class": "small", "ui_paid_last_year": 9000.0,
}  # fmt: skip


def test_sentences_when_a_fact_has_a_unit_keep_it_and_english_plurals_agree(p1):
    zh, en = trace(p1, FACTS, AS_OF).lines("zh"), trace(p1, FACTS, AS_OF).lines("en")
    assert any("失业保险连续足额缴费月数为11个月，要求≥12个月" in line for line in zh)
    assert any("average monthly insured staff last year is 1 person, needs ≤ 30 persons" in line for line in en)


def test_chinese_sentences_when_a_fact_is_a_code_say_it_in_words_and_name_no_variable(p1):
    zh = "\n".join(trace(p1, FACTS, AS_OF).lines("zh"))
    assert "市场主体类型为事业单位" in zh and "登记状态为存续（在营）" in zh
    assert "public_institution" not in zh and "operating" not in zh and "as_of" not in zh
    en = "\n".join(trace(p1, FACTS, AS_OF).lines("en"))
    assert "as_of" not in en and "public institution" in en


def test_unknown_facts_when_eligible_but_the_amount_is_unknown_name_the_amounts_facts(p1):
    facts = FACTS | {"enterprise_type": "limited_company", "ui_paid_months": 24, "zombie_firm": False,
                     "in_bankruptcy": False, "ui_paid_last_year": None}  # fmt: skip
    traced = trace(p1, facts, AS_OF)
    assert traced.eligible is True and traced.amount is None
    assert traced.unknown_facts() == ["ui_paid_last_year"]
