"""Supplied and attested facts: what enterprises supply for a notice and officers accept or reject.

Route-independent domain functions (the JSON routes, the web desk and the CLI call the same ones). The reads
take a connection; each write is one transaction of its own, audited, and a review happens once: the
conditional update (``status == 'open'``) is the check, so two officers reviewing the same fact at the same
moment leave one review and a 409 for the other.

    open ──accept──▶ accepted ──(a later accepted value of the same fact)──▶ superseded
      │  └─reject──▶ rejected
      └──(the enterprise supplies the fact again for the same notice)──▶ superseded

An accepted fact enters the next run's profiles (matcher/supplied.py, features/profiles/attested.py) and the
explanations of the decisions it fed name it: "supplied by the enterprise on D, accepted by X on D'".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)

from api.service.audit import audit
from api.service.problems import Conflict, Invalid, NotFound
from api.service.tokens import Principal
from features.profiles.catalogue import FACTS, fact
from features.profiles.lists import CERTIFICATES
from matcher.db.models import runs, supplied_facts
from matcher.supplied import typed_value

__all__ = [
    "SOURCE_WORDS",
    "attest",
    "check_attester",
    "combined_for_notice",
    "lineage",
    "lineage_text",
    "list_supplied",
    "outcomes_for_notice",
    "record_supplied",
    "review_supplied",
]

SOURCE_WORDS = {
    "enterprise": {"zh": "企业", "en": "the enterprise"},
    "officer": {"zh": "工作人员", "en": "an officer"},
    "department": {"zh": "有关部门", "en": "a department"},
}
_STATUS_WORDS = {
    "open": {"zh": "待核实", "en": "awaiting an officer's check"},
    "accepted": {"zh": "已采纳", "en": "accepted"},
    "rejected": {"zh": "未采纳", "en": "rejected"},
    "superseded": {"zh": "已被更新的信息取代", "en": "replaced by a later value"},
}
_NAMES = {f.name for f in FACTS}


def _stored(name: str, value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    f = fact(row["fact"])
    return dict(row) | {
        "label": {"zh": f.zh, "en": f.en},
        "status_words": _STATUS_WORDS[row["status"]],
    }


def check_attester(facts: Mapping[str, Any], source: str) -> None:
    """422 naming each declared fact that ``source`` may not attest (policies/facts/declared.yaml), and any
    certificate number an enterprise supplies: the number keys its benefit (paid once per certificate), so a
    number the registry later corrects would key a second benefit for the same certificate."""
    errors = []
    if source == "enterprise":
        for name in sorted(set(facts) & set(CERTIFICATES)):
            errors.append(
                {
                    "field": f"body.facts.{name}",
                    "message": f"'{name}' comes from the certification registry or an officer's attestation with the"
                    " certificate as evidence, not from the enterprise; ask the certifying office to correct it",
                    "message_zh": "证书编号以认定机构登记为准，不能由企业补充，请联系认定机构更正",
                }
            )
    for name in facts:
        f = fact(name) if name in _NAMES else None
        if f is not None and f.declared and source not in f.attested_by:
            who = "、".join(SOURCE_WORDS[a]["zh"] for a in f.attested_by)
            errors.append(
                {
                    "field": f"body.facts.{name}",
                    "message": f"'{name}' is attested by {', '.join(f.attested_by)}, not by {source};"
                    f" ask them for it (evidence: {f.evidence[1] if f.evidence else 'see docs/facts.md'})",
                    "message_zh": f"“{f.zh}”由{who}认定",
                }
            )
    if errors:
        raise Invalid(
            f"invalid {', '.join(e['field'] for e in errors)}: {errors[0]['message']}",
            detail_zh="；".join(e["message_zh"] for e in errors),
            errors=[{"field": e["field"], "message": e["message"]} for e in errors],
        )


def record_supplied(
    connection: Connection,
    principal: Principal,
    notice: Any,
    typed: Mapping[str, Any],
    note: str | None,
    now: datetime | None = None,
) -> list[int]:
    """Store what an enterprise supplied for ``notice`` (in the supply's transaction), each fact awaiting an
    officer; a value it supplied before for the same notice and fact, still open, is replaced."""
    at = now or datetime.now(UTC)
    ids = []
    for name, value in typed.items():
        connection.execute(
            update(supplied_facts)
            .where(
                supplied_facts.c.notice_id == notice.id,
                supplied_facts.c.fact == name,
                supplied_facts.c.status == "open",
            )
            .values(status="superseded")
        )
        ids.append(
            connection.execute(
                insert(supplied_facts)
                .values(
                    uscc=notice.uscc,
                    fact=name,
                    value=_stored(name, value),
                    source="enterprise",
                    supplied_by=principal.actor,
                    supplied_at=at,
                    evidence=note,
                    notice_id=notice.id,
                    policy_id=notice.policy_id,
                    status="open",
                    overrides_registry=False,
                )
                .returning(supplied_facts.c.id)
            ).scalar_one()
        )
    return ids


def combined_for_notice(connection: Connection, notice_id: int) -> dict[str, Any]:
    """Everything supplied for the notice that still stands (open or accepted), the latest value of each fact:
    what the preview of a supply decides with."""
    rows = connection.execute(
        select(supplied_facts.c.fact, supplied_facts.c.value)
        .where(supplied_facts.c.notice_id == notice_id, supplied_facts.c.status.in_(("open", "accepted")))
        .order_by(supplied_facts.c.id)
    ).all()
    return {name: typed_value(name, value) for name, value in rows}


def outcomes_for_notice(connection: Connection, notice_id: int) -> list[dict[str, Any]]:
    """What the enterprise supplied for the notice and what became of it, oldest first."""
    rows = connection.execute(
        select(supplied_facts).where(supplied_facts.c.notice_id == notice_id).order_by(supplied_facts.c.id)
    ).mappings()
    return [_row(r) for r in rows]


def _supplied(status: str, uscc: str | None, where: Sequence[ColumnElement[bool]]) -> Select:
    query = select(supplied_facts).where(*where)
    if status != "all":
        query = query.where(supplied_facts.c.status == status)
    return query if uscc is None else query.where(supplied_facts.c.uscc == uscc)


def list_supplied(
    connection: Connection,
    status: str = "open",
    limit: int = 100,
    offset: int = 0,
    uscc: str | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[dict[str, Any]]:
    """Supplied facts by status ('all' for every one): open ones oldest first (a queue), others newest first;
    ``where`` narrows them (``api.service.queues.Narrow`` over ``supplied_facts``' columns)."""
    order = supplied_facts.c.id if status == "open" else supplied_facts.c.id.desc()
    rows = connection.execute(_supplied(status, uscc, where).order_by(order).limit(limit).offset(offset)).mappings()
    return [_row(r) for r in rows]


def count_supplied(connection: Connection, status: str = "open", where: Sequence[ColumnElement[bool]] = ()) -> int:
    query = select(func.count()).select_from(_supplied(status, None, where).subquery())
    return connection.execute(query).scalar_one()


def _one(connection: Connection, supplied_id: int) -> dict[str, Any]:
    row = connection.execute(select(supplied_facts).where(supplied_facts.c.id == supplied_id)).mappings().first()
    if row is None:
        raise NotFound(f"no supplied fact {supplied_id}", detail_zh="未找到该补充信息")
    return dict(row)


def _supersede_accepted(connection: Connection, uscc: str, name: str, keep: int) -> None:
    connection.execute(
        update(supplied_facts)
        .where(
            supplied_facts.c.uscc == uscc,
            supplied_facts.c.fact == name,
            supplied_facts.c.status == "accepted",
            supplied_facts.c.id != keep,
        )
        .values(status="superseded")
    )


def review_supplied(
    engine: Engine,
    principal: Principal,
    supplied_id: int,
    *,
    accept: bool,
    reason: str | None = None,
    overrides_registry: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Accept (the fact enters the next run's profiles) or reject (with a reason the enterprise reads). Once."""
    reason = (reason or "").strip() or None
    if not accept and reason is None:
        raise Invalid(
            "a rejection needs a reason: the enterprise reads it on its notice",
            detail_zh="不予采纳须说明理由",
            errors=[{"field": "body.reason", "message": "required when the outcome is 'rejected'"}],
        )
    at = now or datetime.now(UTC)
    outcome = "accepted" if accept else "rejected"
    with engine.begin() as connection:
        row = _one(connection, supplied_id)
        changed = connection.execute(
            update(supplied_facts)
            .where(supplied_facts.c.id == supplied_id, supplied_facts.c.status == "open")
            .values(
                status=outcome,
                reviewed_by=principal.actor,
                reviewed_at=at,
                reason=reason,
                overrides_registry=accept and overrides_registry,
            )
        ).rowcount
        if changed != 1:  # reviewed meanwhile, or before, or replaced by the enterprise
            raise Conflict(
                f"supplied fact {supplied_id} is {row['status']}, not open; nothing changed",
                detail_zh=f"该补充信息{_STATUS_WORDS[row['status']]['zh']}，无法再次处理",
            )
        if accept:
            _supersede_accepted(connection, row["uscc"], row["fact"], supplied_id)
        audit(
            connection,
            principal,
            f"supplied_fact.{outcome}",
            f"supplied_fact:{supplied_id}",
            {"uscc": row["uscc"], "fact": row["fact"], "reason": reason, "overrides_registry": overrides_registry},
        )
        return _row(_one(connection, supplied_id))


def attest(
    engine: Engine,
    principal: Principal,
    *,
    uscc: str,
    name: str,
    value: Any,
    source: str,
    evidence: str,
    overrides_registry: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """An officer's or a department's attestation (``source``), accepted as it is recorded: it rests on
    ``evidence`` (a document's reference), which is required."""
    if name not in _NAMES:
        raise Invalid(f"unknown fact '{name}'; `huiqi facts` lists every fact", detail_zh=f"未知的信息项“{name}”")
    if source not in ("officer", "department"):
        raise Invalid(
            f"an attestation comes from an officer or a department, not '{source}'; an enterprise supplies facts"
            " through its notice",
            detail_zh="企业须通过通知补充信息",
        )
    if not (evidence or "").strip():
        raise Invalid("an attestation needs its evidence (a document's reference)", detail_zh="须注明依据")
    check_attester({name: value}, source)
    at = now or datetime.now(UTC)
    with engine.begin() as connection:
        new_id = connection.execute(
            insert(supplied_facts)
            .values(
                uscc=uscc,
                fact=name,
                value=_stored(name, value),
                source=source,
                supplied_by=principal.actor,
                supplied_at=at,
                evidence=evidence.strip(),
                status="accepted",
                reviewed_by=principal.actor,
                reviewed_at=at,
                overrides_registry=overrides_registry,
            )
            .returning(supplied_facts.c.id)
        ).scalar_one()
        _supersede_accepted(connection, uscc, name, new_id)
        audit(connection, principal, "supplied_fact.attested", f"supplied_fact:{new_id}", {"uscc": uscc, "fact": name})
        return _row(_one(connection, new_id))


def lineage(connection: Connection, uscc: str, at: datetime | None) -> dict[str, dict[str, Any]]:
    """Per fact, the attestation a run that started at ``at`` laid over the enterprise's profile (the latest
    accepted by then), with its lineage in words; a run before any acceptance used none."""
    query = select(supplied_facts).where(
        supplied_facts.c.uscc == uscc, supplied_facts.c.status.in_(("accepted", "superseded"))
    )
    if at is not None:
        query = query.where(supplied_facts.c.reviewed_at <= at)
    return lineage_from(
        connection.execute(query.order_by(supplied_facts.c.reviewed_at, supplied_facts.c.id)).mappings()
    )


def lineage_from(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per fact, the latest accepted of ``rows`` (ordered by review), with its lineage in words."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["reviewed_at"] is None:  # superseded while still open: never accepted
            continue
        out[row["fact"]] = dict(row) | {"value": typed_value(row["fact"], row["value"])}
    return {name: row | {"words": lineage_text(row)} for name, row in out.items()}


# The same for a decision's run, built once, for the service's loop reader (api/service/reads.py: no IN-lists,
# constants inlined): what the run laid over the enterprise's profile, read without a thread hop.
RUN_LINEAGE = (
    select(supplied_facts)
    .where(
        supplied_facts.c.uscc == bindparam("uscc"),
        or_(
            supplied_facts.c.status == literal_column("'accepted'"),
            supplied_facts.c.status == literal_column("'superseded'"),
        ),
        supplied_facts.c.reviewed_at
        <= select(runs.c.started_at).where(runs.c.id == bindparam("run_id")).scalar_subquery(),
    )
    .order_by(supplied_facts.c.reviewed_at, supplied_facts.c.id)
)
RUN_LINEAGE_KEYS = tuple(str(c.key) for c in RUN_LINEAGE.selected_columns)


def lineage_text(row: Mapping[str, Any]) -> dict[str, str]:
    """ "supplied by the enterprise on D, accepted by officer X on D'", in zh and en."""
    who = SOURCE_WORDS[row["source"]]
    supplied_on = row["supplied_at"].date().isoformat()
    reviewed_on = row["reviewed_at"].date().isoformat()
    reviewer = row["reviewed_by"]
    if row["source"] == "enterprise":
        return {
            "zh": f"由{who['zh']}于{supplied_on}补充，经{reviewer}于{reviewed_on}核实采纳",
            "en": f"supplied by {who['en']} on {supplied_on}, accepted by {reviewer} on {reviewed_on}",
        }
    return {
        "zh": f"由{who['zh']}（{reviewer}）于{reviewed_on}认定",
        "en": f"attested by {who['en']} ({reviewer}) on {reviewed_on}",
    }
