"""The officer's policy workbench: the catalogue, the editor, compare, impact and the maker-checker review.

Every page calls the API's own route functions (api/service/routes/drafts.py), so a page and the API validate,
review and publish the same way, and the audit log records the same entries. Without JavaScript the editor is a
form with a "check" button; static/web/workbench.js only adds validation as one types.
"""

from __future__ import annotations

import difflib
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api.service.reviews import same_person
from api.service.routes import drafts as api
from api.service.routes.policies import source_text
from api.service.state import ServiceState
from api.web.guard import check_csrf, signed_in
from api.web.render import WebRoute, back, page, session_of
from api.web.workbench.drawing import pairs, relations_svg
from features.profiles import FACTS
from features.registries.schema import REGISTRIES, TABLES
from matcher.db.models import policy_drafts, policy_versions
from policies.catalogue import Catalogue
from policies.compiled import CompiledPolicy
from policies.examples import run_examples
from policies.limits import MAX_POLICY_BYTES
from policies.render import VALUE_WORDS
from policies.trace import trace

router = APIRouter(route_class=WebRoute, include_in_schema=False)
OFFICERS = ("officer", "admin")
Csrf = Annotated[str, Form(max_length=100)]
DraftId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PolicyId = Annotated[str, Path(max_length=80, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
Text = Annotated[str, Form(max_length=MAX_POLICY_BYTES)]
SHOWN = 5  # example enterprises per side of an impact

BLANK = """id: new-policy
version: 1
title: {zh: 新政策, en: New policy}
authority: {zh: 发文单位, en: Issuing authority, level: municipal}
basis: 文号〔2025〕1号
effective: {from: 2025-07-01}
delivery: automatic
category: employment
benefit: {form: cash, amount: "10000", period: yearly}
eligibility:
  all: ["ui_paid_months >= 12"]
examples:
  - name: insured 12 months
    facts: {ui_paid_months: 12}
    expect: {eligible: true, amount: 10000}
  - name: insured 11 months
    facts: {ui_paid_months: 11}
    expect: {eligible: false}
  - name: months unknown
    facts: {}
    expect: {eligible: unknown}
"""


def _state(request: Request) -> ServiceState:
    return request.app.state.service


def _today() -> date:
    return datetime.now(UTC).date()


def _people(state: ServiceState) -> dict[tuple[str, int], dict[str, Any]]:
    """Per published version: who wrote, approved and published it, and when (from its draft)."""
    query = select(
        policy_versions.c.policy_id,
        policy_versions.c.version,
        policy_versions.c.published_by,
        policy_versions.c.published_at,
        policy_drafts.c.created_by,
        policy_drafts.c.updated_by,
        policy_drafts.c.submitted_by,
        policy_drafts.c.reviewed_by,
        policy_drafts.c.reviewed_at,
    ).select_from(policy_versions.outerjoin(policy_drafts, policy_drafts.c.id == policy_versions.c.draft_id))
    with state.engine.connect() as connection:
        return {(r.policy_id, r.version): r._asdict() for r in connection.execute(query)}


def _versions(catalogue: Catalogue, people: dict, today: date) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for p in catalogue.policies:
        span = p.policy.effective
        out.setdefault(p.id, []).append(
            {
                "version": p.version,
                "from": span.start,
                "to": span.end,
                "in_force": span.covers(today),
                "title": {"zh": p.policy.title.zh, "en": p.policy.title.en},
                "people": people.get((p.id, p.version)),
            }
        )
    return out


def _latest(catalogue: Catalogue) -> list[CompiledPolicy]:
    """Each policy's newest version: the relations as they now stand, in force today or not."""
    return list({p.id: p for p in catalogue.policies}.values())  # sorted by (id, version): the last one wins


@router.get("/web/policies")
def catalogue_page(request: Request) -> Response:
    signed_in(request, *OFFICERS)
    state = _state(request)
    catalogue = state.catalogue.load(state.engine)
    today = _today()
    versions = _versions(catalogue, _people(state), today)
    with state.engine.connect() as connection:
        drafts = connection.execute(
            select(policy_drafts).where(policy_drafts.c.review_state != "published").order_by(policy_drafts.c.id.desc())
        ).all()
    return page(
        request,
        "workbench/catalogue.html",
        versions=versions,
        today=today,
        drafts=drafts,
        graph=relations_svg(_latest(catalogue), session_of(request).lang),
    )


@router.get("/web/policies/{policy_id}")
def policy_page(request: Request, policy_id: PolicyId) -> Response:
    signed_in(request, *OFFICERS)
    state = _state(request)
    catalogue = state.catalogue.load(state.engine)
    if not catalogue.versions(policy_id):
        return page(
            request, "problem.html", status=404, zh_text=f"没有政策 {policy_id}", en_text=f"no policy {policy_id}"
        )
    today = _today()
    versions = _versions(catalogue, _people(state), today)[policy_id]
    shown = next((p for p in reversed(catalogue.versions(policy_id)) if p.policy.effective.covers(today)), None)
    shown = shown or catalogue.versions(policy_id)[-1]
    with state.engine.connect() as connection:
        withdrawals = connection.execute(
            select(policy_drafts).where(policy_drafts.c.kind == "withdrawal", policy_drafts.c.policy_id == policy_id)
        ).all()
    return page(
        request,
        "workbench/policy.html",
        policy=shown,
        versions=versions,
        examples=list(zip(shown.policy.examples, run_examples([shown]), strict=True)),
        withdrawals=withdrawals,
        today=today,
        graph=relations_svg(_latest(catalogue), session_of(request).lang, focus=policy_id),
    )


@router.post("/web/drafts")
def new_draft(
    request: Request,
    start: Annotated[str, Form(max_length=100, pattern=r"^(blank|[a-z0-9-]+@[0-9]+)$")] = "blank",
    csrf: Csrf = "",
) -> Response:
    """A new draft from a version (its text, the version number raised by one) or from the blank template."""
    principal = signed_in(request, *OFFICERS)
    check_csrf(request, csrf)
    state = _state(request)
    text = BLANK
    if start != "blank":
        policy_id, version = start.rsplit("@", 1)
        catalogue = state.catalogue.load(state.engine)
        older = catalogue.get(policy_id, int(version))
        text = source_text(state, older)
        newest = catalogue.versions(policy_id)[-1].version
        text = _with_version(text, newest + 1)
    draft = api.create_draft((text, "yaml"), principal, state)
    return back(
        request, f"/web/drafts/{draft['id']}", zh=f"草稿 {draft['id']} 已创建", en=f"Draft {draft['id']} created"
    )


def _with_version(text: str, version: int) -> str:
    """The text with its top-level ``version:`` set (the line as written otherwise)."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("version:"):
            lines[i] = f"version: {version}\n"
            return "".join(lines)
    return text


@router.post("/web/policies/{policy_id}/withdraw")
def withdraw(
    request: Request,
    policy_id: PolicyId,
    version: Annotated[int, Form(ge=1, le=2**31 - 1)],
    withdraw_from: Annotated[date, Form()],
    csrf: Csrf = "",
) -> Response:
    principal = signed_in(request, *OFFICERS)
    check_csrf(request, csrf)
    body = api.WithdrawalIn(policy_id=policy_id, version=version, withdraw_from=withdraw_from)
    draft = api.create_withdrawal(body, principal, _state(request))
    return back(
        request,
        f"/web/drafts/{draft['id']}",
        zh=f"已创建撤回草稿 {draft['id']}：请提交审核",
        en=f"Withdrawal draft {draft['id']} created: submit it for review",
    )


def _lines(text: str, problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    at: dict[int, list[dict[str, Any]]] = {}
    for p in problems:
        at.setdefault(p["line"] or 1, []).append(p)
    return [{"no": i, "text": line, "problems": at.get(i, [])} for i, line in enumerate(text.split("\n"), 1)]


def _facts(q: str) -> list[dict[str, Any]]:
    """The fact catalogue, filtered by a word of its name, Chinese or English label, or registry."""
    needle = q.strip().casefold()
    out = []
    for f in FACTS:
        names = dict.fromkeys(TABLES[s.table].registry for s in f.sources if s.table in TABLES)
        registries = [REGISTRIES[n] for n in names]
        row = {
            "name": f.name,
            "zh": f.zh,
            "en": f.en,
            "kind": f.kind,
            "unit": f.unit or "",
            "registries": {"zh": "、".join(r.zh for r in registries), "en": ", ".join(r.en for r in registries)},
        }
        haystack = " ".join([f.name, f.zh, f.en, row["registries"]["zh"], row["registries"]["en"]]).casefold()
        if not needle or needle in haystack:
            out.append(row)
    return out


def _findings(state: ServiceState, compiled: CompiledPolicy | None) -> dict[str, Any]:
    """The static analysis (policies/analysis) of the draft with the policies it relates to; "unavailable"
    when that module is missing or fails, never made-up findings."""
    if compiled is None:
        return {"available": False, "reason_zh": "草稿无法加载，暂无分析", "reason_en": "the draft does not load"}
    try:
        from policies.analysis import analyse
    except ImportError:
        return {"available": False, "reason_zh": "静态分析暂不可用", "reason_en": "analysis unavailable"}
    catalogue = state.catalogue.load(state.engine)
    related = set(compiled.policy.relations.excludes) | set(compiled.policy.relations.requires)
    others = [p for p in catalogue.in_force(compiled.policy.effective.start) if p.id in related]
    try:
        found = analyse([compiled, *others])
    except Exception as err:  # the analysis is advice: its failure must not take the editor down
        return {"available": False, "reason_zh": "静态分析出错", "reason_en": f"analysis unavailable: {err}"}
    return {"available": True, "findings": [f for f in found if compiled.id in (f.policy_id, f.other_policy)]}


@router.get("/web/drafts/{draft_id}")
def editor(
    request: Request,
    draft_id: DraftId,
    q: Annotated[str, Query(max_length=80)] = "",
    examples: Annotated[bool, Query()] = False,
) -> Response:
    principal = signed_in(request, *OFFICERS)
    state = _state(request)
    draft = api.read_draft_endpoint(draft_id, principal, state)
    with state.engine.connect() as connection:
        row = api._draft_row(connection, draft_id)
    parsed = api._parsed(row.id, row.updated_at, row.source, row.format)
    results = None
    if examples and parsed.compiled is not None:
        results = run_examples([parsed.compiled])
    return page(
        request,
        "workbench/editor.html",
        draft=draft,
        lines=_lines(draft["text"], draft["problems"]),
        facts=_facts(q),
        q=q,
        results=results,
        analysis=_findings(state, parsed.compiled),
        own=same_person(row, principal) is not None or (row.editor and row.editor == api.person(principal)),
        default_from=parsed.compiled.policy.effective.start if parsed.compiled else None,
    )


@router.post("/web/drafts/{draft_id}")
def save(request: Request, draft_id: DraftId, text: Text, csrf: Csrf = "") -> Response:
    """Keep the text as typed, valid or not; the page shows its problems."""
    principal = signed_in(request, *OFFICERS)
    check_csrf(request, csrf)
    if not text.strip():
        return back(
            request,
            f"/web/drafts/{draft_id}",
            zh="草稿内容为空，未保存",
            en="The text is empty: not saved",
            kind="error",
        )
    draft = api.update_draft(draft_id, (text.replace("\r\n", "\n"), "yaml"), principal, _state(request))
    if draft["problems"]:
        n = len(draft["problems"])
        return back(
            request,
            f"/web/drafts/{draft_id}",
            zh=f"已保存，有 {n} 处问题",
            en=f"Saved, with {n} problem(s)",
            kind="error",
        )
    return back(request, f"/web/drafts/{draft_id}", zh="已保存，未发现问题", en="Saved: no problems found")


@router.post("/web/drafts/{draft_id}/live")
def live(request: Request, draft_id: DraftId, text: Text, csrf: Csrf = "") -> Response:
    """What workbench.js calls as the officer types: save the text and answer its problems (JSON)."""
    principal = signed_in(request, *OFFICERS)
    check_csrf(request, csrf)
    if not text.strip():
        return JSONResponse({"saved": False, "problems": []})
    draft = api.update_draft(draft_id, (text.replace("\r\n", "\n"), "yaml"), principal, _state(request))
    return JSONResponse(
        {
            "saved": True,
            "revision": draft["revision"],
            "review_state": draft["review_state"],
            "problems": draft["problems"],
        }
    )


@router.post("/web/drafts/{draft_id}/submit")
def submit(request: Request, draft_id: DraftId, effective_from: Annotated[date, Form()], csrf: Csrf = "") -> Response:
    principal = signed_in(request, *OFFICERS)
    check_csrf(request, csrf)
    api.submit(draft_id, principal, _state(request), api.SubmitIn(effective_from=effective_from))
    return back(
        request,
        f"/web/drafts/{draft_id}",
        zh="已提交审核，请另一名工作人员审核",
        en="Submitted: another officer reviews it",
    )


@router.post("/web/drafts/{draft_id}/review")
def review(
    request: Request,
    draft_id: DraftId,
    outcome: Annotated[Literal["approve", "reject"], Form()],
    revision: Annotated[int, Form(ge=1)],
    comment: Annotated[str, Form(max_length=2000)] = "",
    csrf: Csrf = "",
) -> Response:
    principal = signed_in(request, *OFFICERS)
    check_csrf(request, csrf)
    state = _state(request)
    if outcome == "approve":
        api.approve(draft_id, principal, state, api.ReviewIn(revision=revision, comment=comment.strip() or None))
        return back(request, f"/web/drafts/{draft_id}", zh="已批准，可以发布", en="Approved: it can be published")
    if not comment.strip():
        return back(
            request, f"/web/drafts/{draft_id}", zh="退回时请写明修改意见", en="Say what to change", kind="error"
        )
    api.reject(draft_id, api.ReturnIn(revision=revision, comment=comment.strip()), principal, state)
    return back(request, f"/web/drafts/{draft_id}", zh="已退回给起草人", en="Sent back to the author")


@router.post("/web/drafts/{draft_id}/publish")
def publish(request: Request, draft_id: DraftId, csrf: Csrf = "") -> Response:
    principal = signed_in(request, *OFFICERS)
    check_csrf(request, csrf)
    out = api.publish(draft_id, principal, _state(request), None)
    return back(
        request,
        f"/web/policies/{out['policy_id']}",
        zh=f"已发布 {out['policy_id']} 第 {out['version']} 版",
        en=f"Published {out['policy_id']} version {out['version']}",
    )


def _baseline(state: ServiceState, policy_id: str | None, today: date) -> CompiledPolicy | None:
    if not policy_id:
        return None
    versions = state.catalogue.load(state.engine).versions(policy_id)
    return next((p for p in reversed(versions) if p.policy.effective.covers(today)), versions[-1] if versions else None)


def side_by_side(old: str, new: str, context: int = 3) -> list[dict[str, Any]]:
    """Rows of a two-column diff: (old line no, old text, new line no, new text, what changed), the changes
    with ``context`` lines around them; a "skip" row stands for the unchanged lines between."""
    a, b = old.split("\n"), new.split("\n")
    rows: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    groups = list(matcher.get_grouped_opcodes(context)) if a != b else []
    shown = 0
    for group in groups:
        first = group[0][1]
        if first > shown:
            rows.append({"tag": "skip", "old_no": None, "old": "", "new_no": None, "new": "", "skipped": first - shown})
        shown = group[-1][2]
        rows += _rows(a, b, group)
    if groups and shown < len(a):
        rows.append({"tag": "skip", "old_no": None, "old": "", "new_no": None, "new": "", "skipped": len(a) - shown})
    return rows


def _rows(a: list[str], b: list[str], opcodes: list[tuple[str, int, int, int, int]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for tag, i1, i2, j1, j2 in opcodes:
        for k in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + k, j1 + k
            rows.append(
                {
                    "tag": tag,
                    "old_no": i + 1 if i < i2 else None,
                    "old": a[i] if i < i2 else "",
                    "new_no": j + 1 if j < j2 else None,
                    "new": b[j] if j < j2 else "",
                }
            )
    return rows


def _meaning(old: CompiledPolicy | None, new: CompiledPolicy | None) -> dict[str, Any]:
    if old is None or new is None:
        return {
            "available": False,
            "reason_zh": "没有可比较的在用版本或草稿无法加载",
            "reason_en": "nothing to compare",
        }
    try:
        from policies.analysis import diff_versions

        diff = diff_versions(old, new)
    except (ImportError, NotImplementedError):
        return {"available": False, "reason_zh": "语义比较暂不可用", "reason_en": "analysis unavailable"}
    except Exception as err:  # advice only: its failure must not take the page down
        return {"available": False, "reason_zh": "语义比较出错", "reason_en": f"analysis unavailable: {err}"}
    return {"available": True, "diff": diff}


@router.get("/web/drafts/{draft_id}/compare")
def compare(request: Request, draft_id: DraftId) -> Response:
    principal = signed_in(request, *OFFICERS)
    state = _state(request)
    draft = api.read_draft_endpoint(draft_id, principal, state)
    with state.engine.connect() as connection:
        row = api._draft_row(connection, draft_id)
    compiled = api._parsed(row.id, row.updated_at, row.source, row.format).compiled
    base = _baseline(state, draft["policy_id"], _today())
    if draft["kind"] == "withdrawal" and base is not None:
        base = state.catalogue.load(state.engine).get(draft["policy_id"], draft["version"])
    old_text = source_text(state, base) if base is not None else ""
    return page(
        request,
        "workbench/compare.html",
        draft=draft,
        base=base,
        rows=side_by_side(old_text, draft["text"]),
        meaning=_meaning(base, compiled),
    )


def _explain(policy: CompiledPolicy, profile: dict[str, Any], as_of: date, lang: str) -> list[str]:
    """The conditions that decide: those not met first, then those unknown, as sentences."""
    leaves = trace(policy, profile, as_of).conditions.leaves()
    order = {False: 0, None: 1, True: 2}
    return [leaf.sentence(lang, as_of) for leaf in sorted(leaves, key=lambda c: order[c.result])][:4]


def _group(dimension: str, row: dict[str, Any], lang: str) -> str:
    """A breakdown group as a reader names it: the province, the size class or industry section in words."""
    if row["label"]:
        return row["label"]
    words = VALUE_WORDS.get("industry_section" if dimension == "industry" else dimension, {}).get(row["key"] or "")
    if words is None:
        return row["key"] or ("未知" if lang == "zh" else "unknown")
    return words[0] if lang == "zh" else words[1]


@router.get("/web/drafts/{draft_id}/impact")
def impact_page(request: Request, draft_id: DraftId) -> Response:
    principal = signed_in(request, *OFFICERS)
    state = _state(request)
    draft = api.read_draft_endpoint(draft_id, principal, state)
    result = api.draft_impact(draft_id, principal, state, limit=SHOWN)
    with state.engine.connect() as connection:
        row = api._draft_row(connection, draft_id)
    compiled = api._parsed(row.id, row.updated_at, row.source, row.format).compiled
    profiles, as_of = api.impact_profiles(state)
    lang = session_of(request).lang
    sides = {}
    for side in ("newly_eligible", "no_longer_eligible"):  # each explained by the draft: why in, why out now
        usccs = result[side]["uscc"]
        rows = profiles.filter(pl.col("uscc").is_in(usccs)).to_dicts() if usccs else []
        sides[side] = [{"uscc": r["uscc"], "why": _explain(compiled, r, as_of, lang)} for r in rows]
    charts = {}
    for dimension, rows in result["breakdown"].items():
        top = sorted(rows, key=lambda r: -max(r["eligible_before"], r["eligible_after"]))[:12]
        points = [(_group(dimension, r, lang), r["eligible_before"], r["eligible_after"]) for r in top]
        charts[dimension] = pairs(points, "现行" if lang == "zh" else "in force", "草稿" if lang == "zh" else "draft")
    spend = result["budget"]["demanded_fen"] if result["budget"] else result["draft"]["amount_full_fen"]
    return page(
        request,
        "workbench/impact.html",
        draft=draft,
        impact=result,
        spend=spend,
        sides=sides,
        charts=charts,
        titles={p.id: p.policy.title for p in state.catalogue.load(state.engine).policies},
    )
