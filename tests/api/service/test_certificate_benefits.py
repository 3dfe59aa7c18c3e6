"""A benefit paid once per certificate is read under its key, the certificate's number."""

from sqlalchemy import select

from matcher.db.models import benefits


def test_benefit_paid_per_certificate_is_read_by_its_number_and_a_malformed_key_is_refused(client, engine, tokens):
    with engine.connect() as connection:
        uscc, policy_id, key = connection.execute(
            select(benefits.c.uscc, benefits.c.policy_id, benefits.c.period_key)
            .where(benefits.c.period_key.startswith("cert:"))
            .order_by(benefits.c.id)
            .limit(1)
        ).one()
    assert len(key) > 16  # 'cert:' and the number: wider than the columns were before migration 0020
    officer = tokens.headers("officer")
    read = client.get(f"/enterprises/{uscc}/benefits/{policy_id}/{key}", headers=officer)
    assert read.status_code == 200 and read.json()["period_key"] == key
    unknown = client.get(f"/enterprises/{uscc}/benefits/{policy_id}/cert:GR209944999999", headers=officer)
    assert unknown.status_code == 404
    for bad in ("cert:GR%202023", "cert:" + "1" * 60):
        refused = client.get(f"/enterprises/{uscc}/benefits/{policy_id}/{bad}", headers=officer)
        assert refused.status_code == 422, bad


def test_enterprise_supplying_a_certificate_number_is_refused_and_an_officer_may_attest_it():
    # A number the registry later corrects would key a second benefit for the same certificate: paid twice.
    import pytest

    from api.service.problems import Invalid
    from api.service.supplied_facts import check_attester

    with pytest.raises(Invalid) as refused:
        check_attester({"high_tech_certificate_no": "GR202344001234"}, "enterprise")
    errors = refused.value.extensions["errors"]
    assert [e["field"] for e in errors] == ["body.facts.high_tech_certificate_no"]
    assert "certification registry" in errors[0]["message"] and "认定机构" in refused.value.detail_zh
    check_attester({"high_tech_certificate_no": "GR202344001234"}, "officer")  # with the certificate as evidence
