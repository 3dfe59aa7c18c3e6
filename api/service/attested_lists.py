"""Complete lists: a department attests a declared fact for every enterprise at once by importing its list.

A list names the firms the fact holds for (``uscc, value[, evidence]``); every firm not on it takes the fact's
declared ``absent`` value (policies/facts/declared.yaml, ``complete_list``), so one import settles the fact
for the whole population — "not on the market-regulation bureau's list of firms in bankruptcy of 2025-06-20".
The latest list of a fact is what the next run lays over the profiles (matcher/supplied.py); an earlier one
stays stored, so the explanation of an earlier decision still names the list that decided it.

Imported whole or not at all (features/profiles/department_lists.py refuses a list with any bad row), in one
transaction, audited. A well-formed USCC that names no enterprise in the latest profiles is kept (the firm
may be newer than the profiles) and reported: counted on the list and written, with its row, to a quarantine
CSV for the officer to follow up — never dropped silently.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, bindparam, insert, select

from api.service.audit import audit
from api.service.problems import Invalid
from api.service.tokens import Principal
from features.files import write_csv_for_people
from features.profiles.catalogue import FACTS, fact
from features.profiles.declared import load_complete_lists
from features.profiles.department_lists import ListFileError, read_list
from matcher.db.models import attested_list_entries, attested_lists, runs

__all__ = [
    "LIST_LINEAGE",
    "LIST_LINEAGE_KEYS",
    "import_list",
    "list_lineage_from",
    "listed_facts",
    "lists",
    "may_use_a_list",
]

_NAMES = {f.name for f in FACTS}
_CHUNK = 5_000


def listed_facts() -> dict[str, dict[str, Any]]:
    """Per fact a department may attest by complete list: its list's name and who may import it."""
    return {
        name: {"list": {"zh": t.zh, "en": t.en}, "absent": t.absent, "departments": [d.id for d in t.departments]}
        for name, t in load_complete_lists().items()
    }


def _check_terms(name: str, department: str, as_of: date, reference: str, today: date) -> None:
    terms = load_complete_lists()
    errors = []
    if name not in terms:
        listed = ", ".join(sorted(terms)) or "none"
        what = "no fact" if name not in _NAMES else "a fact no department attests by complete list"
        errors.append({"field": "fact", "message": f"'{name}' is {what}; facts with a complete list: {listed}"})
    elif terms[name].department(department) is None:
        allowed = ", ".join(d.id for d in terms[name].departments)
        errors.append(
            {"field": "department", "message": f"'{department}' does not keep the list of {name}; who does: {allowed}"}
        )
    if as_of > today:
        errors.append({"field": "as_of", "message": f"a list cannot be complete for a future date; found {as_of}"})
    if not reference.strip() or len(reference) > 200:
        errors.append({"field": "reference", "message": "the list's document reference is required (1-200 characters)"})
    if errors:
        raise Invalid(
            f"invalid {', '.join(e['field'] for e in errors)}: {errors[0]['message']}",
            detail_zh="名单信息有误：" + "；".join(e["field"] for e in errors),
            errors=errors,
        )


def _known(profiles: Path | None) -> pl.Series | None:
    if profiles is None or not Path(profiles).exists():
        return None
    return pl.scan_parquet(profiles).select("uscc").collect()["uscc"]


def import_list(
    engine: Engine,
    principal: Principal,
    data: bytes,
    *,
    name: str,
    department: str,
    as_of: date,
    reference: str,
    source: str = "the list",
    profiles: Path | None = None,
    quarantine_dir: Path | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Check ``data`` (CSV or Parquet bytes) whole and store it as the latest complete list of ``name``.

    ``profiles``: the latest profiles, whose USCCs tell which rows name an enterprise huiqi does not know
    (kept, counted, written to ``quarantine_dir``). A 422 naming every bad row and column otherwise."""
    at = now or datetime.now(UTC)
    _check_terms(name, department, as_of, reference, at.date())
    try:
        entries = read_list(data, fact(name), source=source)
    except ListFileError as err:
        raise Invalid(
            str(err),
            detail_zh=f"名单未导入：共{err.total}处错误，须全部更正后整份重新导入",
            errors=[
                {"field": f"row {p.row}.{p.column}" if p.row else (p.column or "file"), "message": str(p)}
                for p in err.problems
            ],
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    with engine.connect() as connection:
        latest = (
            connection.execute(
                select(attested_lists)
                .where(attested_lists.c.fact == name)
                .order_by(attested_lists.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    if latest is not None and (latest["file_sha256"], latest["department"], latest["as_of"]) == (
        digest,
        department,
        as_of,
    ):  # the same list imported again (a retried upload, a second demo): nothing changes, no new run
        return dict(latest) | {"unknown_file": None, "unchanged": True}
    known = _known(profiles)
    unknown = entries.filter(~pl.col("uscc").is_in(known.implode())) if known is not None else entries.clear()
    stored = entries.with_columns(
        pl.col("value").dt.to_string("%Y-%m-%d") if fact(name).kind == "date" else pl.col("value")
    )
    with engine.begin() as connection:
        list_id = connection.execute(
            insert(attested_lists)
            .values(
                fact=name,
                department=department,
                as_of=as_of,
                reference=reference.strip(),
                file_sha256=digest,
                entries=entries.height,
                unknown=unknown.height,
                imported_by=principal.actor,
                imported_at=at,
            )
            .returning(attested_lists.c.id)
        ).scalar_one()
        rows = [r | {"list_id": list_id} for r in stored.to_dicts()]
        for start in range(0, len(rows), _CHUNK):
            connection.execute(insert(attested_list_entries), rows[start : start + _CHUNK])
        audit(
            connection,
            principal,
            "attested_list.imported",
            f"attested_list:{list_id}",
            {"fact": name, "department": department, "as_of": as_of.isoformat(), "entries": entries.height,
             "unknown": unknown.height, "sha256": digest},
        )  # fmt: skip
    quarantined = None
    if unknown.height and quarantine_dir is not None:
        quarantined = str(
            write_csv_for_people(
                unknown.with_columns(
                    pl.col("value").cast(pl.String),
                    pl.lit("names no enterprise in the latest profiles: kept, applies once the firm is known").alias(
                        "reason"
                    ),
                ),
                Path(quarantine_dir) / f"list-{list_id}-{name}-unknown.csv",
            )
        )
    return {
        "id": list_id,
        "fact": name,
        "department": department,
        "as_of": as_of,
        "reference": reference.strip(),
        "entries": entries.height,
        "unknown": unknown.height,
        "unknown_file": quarantined,
        "imported_by": principal.actor,
        "imported_at": at,
        "file_sha256": digest,
        "unchanged": False,
        "checked_against": str(profiles) if known is not None else None,
    }


def lists(connection: Connection, name: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Imported lists, newest first; the newest of each fact is the one the next run uses (``current``)."""
    query = select(attested_lists).order_by(attested_lists.c.id.desc()).limit(limit)
    if name is not None:
        query = query.where(attested_lists.c.fact == name)
    rows = [dict(r) for r in connection.execute(query).mappings()]
    seen: set[str] = set()
    for r in rows:
        r["current"] = r["fact"] not in seen
        seen.add(r["fact"])
    return rows


# The lists a decision's run used, with the enterprise's entry on each (if any): every list imported before
# the run started, oldest first, so the last of each fact is the one the run laid over the profile. Built once
# for the service's loop reader (api/service/reads.py), like supplied_facts.RUN_LINEAGE.
_entry = (
    select(attested_list_entries.c.list_id, attested_list_entries.c.value, attested_list_entries.c.evidence)
    .where(attested_list_entries.c.uscc == bindparam("uscc"))
    .subquery()
)
LIST_LINEAGE = (
    select(
        attested_lists.c.id,
        attested_lists.c.fact,
        attested_lists.c.department,
        attested_lists.c.as_of,
        attested_lists.c.reference,
        _entry.c.value,
        _entry.c.evidence,
        (_entry.c.list_id.is_not(None)).label("listed"),
    )
    .outerjoin(_entry, _entry.c.list_id == attested_lists.c.id)
    .where(
        attested_lists.c.imported_at
        <= select(runs.c.started_at).where(runs.c.id == bindparam("run_id")).scalar_subquery()
    )
    .order_by(attested_lists.c.id)
)
LIST_LINEAGE_KEYS = tuple(str(c.key) for c in LIST_LINEAGE.selected_columns)


def may_use_a_list(facts_json: str | None) -> bool:
    """Whether a decision's stored facts (JSON) name a fact departments attest by complete list: only then can a
    list have given a value it read, and ``LIST_LINEAGE`` is worth a query (on PostgreSQL 0.05 ms of the service's
    CPU and as much of the database's; most policies read no such fact). It looks for the quoted name, as every
    key is written: a value that happens to spell one costs a query, never a lineage left out."""
    return bool(facts_json) and any(f'"{name}"' in facts_json for name in load_complete_lists())


def list_lineage_from(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per fact, the value the enterprise took from the last of ``rows`` (LIST_LINEAGE's) and its lineage in words:
    "on the <department>'s <list> of <date>" or "not on ..."."""
    terms = load_complete_lists()
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        t = terms.get(row["fact"])
        if t is None:
            continue
        keeper = t.department(row["department"])
        who = {"zh": keeper.zh, "en": keeper.en} if keeper else {"zh": row["department"], "en": row["department"]}
        day = row["as_of"] if isinstance(row["as_of"], date) else date.fromisoformat(str(row["as_of"]))
        if row["listed"]:
            value = row["value"]
            ref = f"（{row['evidence']}）" if row["evidence"] else ""
            ref_en = f" ({row['evidence']})" if row["evidence"] else ""
            words = {
                "zh": f"列入{who['zh']}{day.isoformat()}的{t.zh}{ref}，依据{row['reference']}",
                "en": f"on the {t.en} of {who['en']} of {day.isoformat()}{ref_en}; reference {row['reference']}",
            }
        else:
            value = t.absent
            words = {
                "zh": f"未列入{who['zh']}{day.isoformat()}的{t.zh}（依据{row['reference']}）",
                "en": f"not on the {t.en} of {who['en']} of {day.isoformat()} (reference {row['reference']})",
            }
        out[row["fact"]] = {"value": value, "words": words, "list_id": row["id"]}
    return out


def merged_lineage(
    listed: Mapping[str, Mapping[str, Any]], supplied: Mapping[str, Mapping[str, Any]]
) -> dict[str, Mapping[str, Any]]:
    """What gave each fact its value, as the run laid them: a list first; an accepted attestation over it only
    when the officer let it override (features/profiles/attested.py treats the list like a registry)."""
    return dict(listed) | {k: v for k, v in supplied.items() if k not in listed or v.get("overrides_registry")}


def import_generated_lists(
    engine: Engine, principal: Principal, folder: Path, as_of: date, *, profiles: Path | None = None
) -> list[dict[str, Any]]:
    """The synthetic departments' lists written beside a generated registry (features/synthetic), imported as
    their departments would: what `huiqi demo` does so that the complete-list exclusions are in force."""
    from features.synthetic.department_lists import LIST_DEPARTMENTS

    done = []
    for name, (department, reference) in LIST_DEPARTMENTS.items():
        path = Path(folder) / f"{name}.csv"
        if path.is_file():
            done.append(
                import_list(
                    engine,
                    principal,
                    path.read_bytes(),
                    name=name,
                    department=department,
                    as_of=as_of,
                    reference=reference,
                    source=str(path),
                    profiles=profiles,
                )
            )
    return done
