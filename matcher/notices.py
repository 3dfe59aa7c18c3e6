"""Notices, one per decision that reaches an enterprise: rows in bulk, text on read.

A notice row records what it announces (kind, amount, deadline); its text —
what, how much, why in one line, what to do by when, in Chinese and English —
is rendered from that row and its decision by ``notice_texts``, vectorised, when
the notice is delivered or read. Storing facts rather than renderings keeps a
million-notice run small, and one function owns the wording. The full
explanation (every condition with its registry and date) is the tracer's,
rendered from the decision's stored facts in the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from features.profiles.catalogue import FACTS
from features.profiles.lists import CERTIFICATE_NO_PATTERN, CERTIFICATES
from matcher.amounts import yuan_text
from matcher.db.keys import TOPIC_KINDS
from matcher.periods import CERTIFICATE_PREFIX
from policies.compiled import CompiledPolicy

__all__ = [
    "RESPONSE_DAYS",
    "TEXT_COLUMNS",
    "build_notices",
    "change_notice",
    "idempotency_key",
    "notice_texts",
    "notice_topic",
]

# Days an enterprise has to object, confirm or supply a fact (public-notice practice is 7 days
# in Sichuan; 15 leaves room for post and holidays — a choice, kept in one place).
RESPONSE_DAYS = 15

_OBJECT = ("如有异议，请于 {respond_by} 前提出。", " If you disagree, object by {respond_by}.")
_CONFIRM = ("请于 {respond_by} 前一键确认，", "Confirm with one click by {respond_by}")

# A notice's wording: by kind, and for an eligible decision also by the benefit's form and by whether it has an
# amount (``some``) or none (``none``: zero, or an estimate the rules cannot make), so that only cash reads as
# a payment and no zero or unknown estimate ever reads as one. (title zh, title en, body zh, body en);
# placeholders: title, amount, respond_by, unknown, failing.
_TEMPLATES: dict[str, tuple[str, str, str, str]] = {
    "granted:cash:some": (
        "【免申即享】{title}：已核定 {amount} 元",
        "[Apply-free] {title}: {amount} yuan granted",
        "您单位符合「{title}」条件，核定金额 {amount} 元，无需申请，将直接拨付。" + _OBJECT[0],
        'Your enterprise qualifies for "{title}": {amount} yuan will be paid without any application.' + _OBJECT[1],
    ),
    "granted:cash:none": (
        "【免申即享】{title}：本期无款项",
        "[Apply-free] {title}: nothing to pay this period",
        "您单位符合「{title}」条件，但按规定核定金额为 0 元，本期无款项拨付。" + _OBJECT[0],
        'Your enterprise meets the conditions of "{title}", but the amount under the rules is 0 yuan: nothing '
        "will be paid for this period." + _OBJECT[1],
    ),
    "granted:tax_relief:some": (
        "【免申即享】{title}：预计减免 {amount} 元",
        "[Apply-free] {title}: about {amount} yuan of tax relief",
        "您单位符合「{title}」条件，无需申请，减免在纳税申报（年度汇算清缴）时自动享受，预计减免 {amount} 元，"
        "以申报时计算为准。" + _OBJECT[0],
        'Your enterprise qualifies for "{title}": nothing to apply for. The relief is taken when you file your '
        "taxes (the annual reconciliation), an estimated {amount} yuan; your filing sets the exact figure."
        + _OBJECT[1],
    ),
    "granted:tax_relief:none": (
        "【免申即享】{title}：申报时自动享受",
        "[Apply-free] {title}: applied when you file",
        "您单位符合「{title}」条件，无需申请，减免在纳税申报时自动享受，金额以申报时计算为准。" + _OBJECT[0],
        'Your enterprise qualifies for "{title}": nothing to apply for. The relief is taken when you file your '
        "taxes; your filing sets the amount." + _OBJECT[1],
    ),
    "granted:fee_reduction:some": (
        "【免申即享】{title}：预计减免费用 {amount} 元",
        "[Apply-free] {title}: about {amount} yuan of fees waived",
        "您单位符合「{title}」条件，无需申请，相关费用将按规定自动减免，预计减免 {amount} 元。" + _OBJECT[0],
        'Your enterprise qualifies for "{title}": nothing to apply for. The fees are reduced when they are '
        "charged, an estimated {amount} yuan." + _OBJECT[1],
    ),
    "granted:fee_reduction:none": (
        "【免申即享】{title}：费用自动减免",
        "[Apply-free] {title}: fees reduced automatically",
        "您单位符合「{title}」条件，无需申请，相关费用将按规定自动减免，金额以收费时计算为准。" + _OBJECT[0],
        'Your enterprise qualifies for "{title}": nothing to apply for. The fees are reduced when they are '
        "charged." + _OBJECT[1],
    ),
    "granted:interest_subsidy:some": (
        "【免申即享】{title}：预计贴息 {amount} 元",
        "[Apply-free] {title}: about {amount} yuan of loan interest covered",
        "您单位符合「{title}」条件，无需申请，贴息资金将直接拨付给发放贷款的银行，预计贴息 {amount} 元。" + _OBJECT[0],
        'Your enterprise qualifies for "{title}": nothing to apply for. The subsidy is paid to the bank that '
        "lent to you, an estimated {amount} yuan of interest." + _OBJECT[1],
    ),
    "granted:interest_subsidy:none": (
        "【免申即享】{title}：贴息直接拨付银行",
        "[Apply-free] {title}: interest covered, paid to your lender",
        "您单位符合「{title}」条件，无需申请，贴息按实际利息计算，直接拨付给发放贷款的银行。" + _OBJECT[0],
        'Your enterprise qualifies for "{title}": nothing to apply for. The subsidy follows the interest '
        "actually charged and is paid to the bank that lent to you." + _OBJECT[1],
    ),
    "awaiting_confirmation:cash:some": (
        "【一键确认】{title}：{amount} 元待确认",
        "[Confirm] {title}: {amount} yuan awaiting your confirmation",
        "您单位符合「{title}」条件，金额 {amount} 元。" + _CONFIRM[0] + "确认后拨付。",
        'Your enterprise qualifies for "{title}": {amount} yuan. ' + _CONFIRM[1] + " to receive it.",
    ),
    "awaiting_confirmation:cash:none": (
        "【一键确认】{title}：待确认",
        "[Confirm] {title}: awaiting your confirmation",
        "您单位符合「{title}」条件，按规定核定金额为 0 元，本期无款项拨付。" + _CONFIRM[0] + "确认后登记。",
        'Your enterprise meets the conditions of "{title}"; the amount under the rules is 0 yuan, so nothing '
        "will be paid this period. " + _CONFIRM[1] + " to have it recorded.",
    ),
    "awaiting_confirmation:tax_relief:some": (
        "【一键确认】{title}：预计减免 {amount} 元待确认",
        "[Confirm] {title}: about {amount} yuan of tax relief awaiting your confirmation",
        "您单位符合「{title}」条件，预计减免 {amount} 元。"
        + _CONFIRM[0]
        + "确认后在纳税申报时享受，以申报时计算为准。",
        'Your enterprise qualifies for "{title}": an estimated {amount} yuan of tax relief. '
        + _CONFIRM[1]
        + "; the relief is then taken when you file your taxes.",
    ),
    "awaiting_confirmation:tax_relief:none": (
        "【一键确认】{title}：待确认",
        "[Confirm] {title}: awaiting your confirmation",
        "您单位符合「{title}」条件。" + _CONFIRM[0] + "确认后在纳税申报时享受，金额以申报时计算为准。",
        'Your enterprise qualifies for "{title}". ' + _CONFIRM[1] + "; the relief is then taken when you file "
        "your taxes, which set the amount.",
    ),
    "awaiting_confirmation:fee_reduction:some": (
        "【一键确认】{title}：预计减免费用 {amount} 元待确认",
        "[Confirm] {title}: about {amount} yuan of fees waived, awaiting your confirmation",
        "您单位符合「{title}」条件，预计减免费用 {amount} 元。" + _CONFIRM[0] + "确认后在收费时自动减免。",
        'Your enterprise qualifies for "{title}": an estimated {amount} yuan of fees waived. '
        + _CONFIRM[1]
        + "; the fees are then reduced when charged.",
    ),
    "awaiting_confirmation:fee_reduction:none": (
        "【一键确认】{title}：待确认",
        "[Confirm] {title}: awaiting your confirmation",
        "您单位符合「{title}」条件。" + _CONFIRM[0] + "确认后相关费用在收费时自动减免。",
        'Your enterprise qualifies for "{title}". ' + _CONFIRM[1] + "; the fees are then reduced when charged.",
    ),
    "awaiting_confirmation:interest_subsidy:some": (
        "【一键确认】{title}：预计贴息 {amount} 元待确认",
        "[Confirm] {title}: about {amount} yuan of interest covered, awaiting your confirmation",
        "您单位符合「{title}」条件，预计贴息 {amount} 元。" + _CONFIRM[0] + "确认后贴息资金直接拨付给贷款银行。",
        'Your enterprise qualifies for "{title}": an estimated {amount} yuan of loan interest covered. '
        + _CONFIRM[1]
        + "; the subsidy is then paid to your lender.",
    ),
    "awaiting_confirmation:interest_subsidy:none": (
        "【一键确认】{title}：待确认",
        "[Confirm] {title}: awaiting your confirmation",
        "您单位符合「{title}」条件。" + _CONFIRM[0] + "确认后贴息按实际利息计算，直接拨付给贷款银行。",
        'Your enterprise qualifies for "{title}". ' + _CONFIRM[1] + "; the subsidy, following the interest "
        "actually charged, is then paid to your lender.",
    ),
    "recommended": (
        "【政策推荐】{title}",
        "[Recommended] {title}",
        "根据共享数据，您单位符合「{title}」的申请条件，建议尽快申请。",
        'From the shared registry data your enterprise meets the conditions of "{title}"; we recommend applying.',
    ),
    "needs_data": (
        "【待补充信息】{title}",
        "[Information needed] {title}",
        "您单位可能符合「{title}」，但共享数据中缺少：{unknown}。请于 {respond_by} 前补充，核实后即可办理。",
        'Your enterprise may qualify for "{title}", but the shared data lacks: {unknown}. '
        "Please supply it by {respond_by}.",
    ),
    "near_miss": (
        "【差一点符合】{title}",
        "[Almost eligible] {title}",
        "您单位差一点符合「{title}」：{failing}。",
        'Your enterprise almost qualifies for "{title}": {failing}.',
    ),
    # Notices of the benefit's life after the decision (deadlines, payouts): not decision statuses.
    "reminder": (
        "【提醒】{title}：请于 {respond_by} 前办理",
        "[Reminder] {title}: please act by {respond_by}",
        "您单位的「{title}」事项尚未办理，请于 {respond_by} 前确认或补充信息，逾期视为放弃。",
        'Your enterprise has not answered "{title}" yet: please confirm or supply the information by {respond_by}; '
        "after that date it lapses.",
    ),
    "lapsed": (
        "【已逾期】{title}",
        "[Lapsed] {title}",
        "您单位未在 {respond_by} 前办理「{title}」，该事项已逾期失效。如有疑问，请联系主管部门。",
        'Your enterprise did not answer "{title}" by {respond_by}, so it has lapsed. '
        "If you have questions, contact the department.",
    ),
    "corrected": (
        "【待遇更正】{title}：现为 {amount} 元",
        "[Corrected] {title}: now {amount} yuan",
        "主管部门已更正您单位「{title}」的待遇，现核定金额为 {amount} 元。更正原因和全部记录可在企业页面查看。"
        + _OBJECT[0],
        'The department has corrected "{title}" for your enterprise: the amount is now {amount} yuan. The reason '
        "and the full record are on your enterprise page." + _OBJECT[1],
    ),
    "revoked": (
        "【待遇撤销】{title}",
        "[Withdrawn] {title}",
        "主管部门已撤销您单位「{title}」的待遇，已拨付的款项将依法追回。撤销原因和全部记录可在企业页面查看。"
        + _OBJECT[0],
        'The department has withdrawn "{title}" from your enterprise; anything already paid will be recovered as '
        "the law provides. The reason and the full record are on your enterprise page." + _OBJECT[1],
    ),
    "paid": (
        "【已拨付】{title}：{amount} 元",
        "[Paid] {title}: {amount} yuan",
        "「{title}」的 {amount} 元已拨付至您单位的收款账户。",
        'The {amount} yuan of "{title}" has been paid into your enterprise\'s account.',
    ),
    "payment_failed": (
        "【拨付未成功】{title}：请更正收款账户",
        "[Payment failed] {title}: please correct your account",
        "「{title}」的 {amount} 元未能拨付到您单位的收款账户。请在企业页面核对并更正收款账户，更正后将重新拨付。",
        'The {amount} yuan of "{title}" could not be paid into your enterprise\'s account. Please check and '
        "correct the account on your enterprise page; it will then be paid again.",
    ),
}
_BY_FORM = ("granted", "awaiting_confirmation")  # kinds whose wording depends on the form and the amount
# Where to apply or ask (policy.apply), after the body of a notice that needs a step by the enterprise.
_APPLY_KINDS = ("recommended", "awaiting_confirmation", "needs_data")
_APPLY = ("申请入口：{url}（{office_zh}）。", " Apply at {url} ({office_en}).")
# A cash benefit refunded to the social-insurance account, not transferred to the bank account.
_SI_ACCOUNT = ("款项退回至单位社会保险缴费账户。", " The money goes back to your social-insurance account.")
KINDS = ("granted", "awaiting_confirmation", "recommended", "needs_data", "near_miss")


def idempotency_key() -> pl.Expr:
    """``uscc:policy:period:kind[:topic]``: what a receiver uses to recognise a repeated notice."""
    base = pl.concat_str(["uscc", "policy_id", "period_key", "kind"], separator=":")
    topic = pl.col("topic").fill_null("")
    return (
        pl.when(topic == "").then(base).otherwise(pl.concat_str([base, topic], separator=":")).alias("idempotency_key")
    )


def notice_topic() -> pl.Expr:
    """The topic of a decision's notice (``matcher.db.keys.decision_topic``): the amount of an eligible one."""
    return (
        pl.when(pl.col("status").is_in(TOPIC_KINDS) & pl.col("amount_fen").is_not_null())
        .then(pl.col("amount_fen").cast(pl.String))
        .otherwise(pl.lit(""))
        .alias("topic")
    )


def build_notices(decisions: pl.DataFrame, opened_on: date, run_id: str, now: datetime) -> pl.DataFrame:
    """Rows for the ``notices`` table (delivery starts pending) from the decided rows.

    The enterprise has ``RESPONSE_DAYS`` from ``opened_on`` (the day the run started, the same for a
    resumed run) to answer; a notice pushed in a later wave gets its days from its push (``matcher.run``).
    """
    respond_by = opened_on + timedelta(days=RESPONSE_DAYS)
    return decisions.filter(pl.col("status").is_in(KINDS)).select(
        "uscc",
        "policy_id",
        "policy_version",
        "period_key",
        pl.col("status").alias("kind"),
        pl.lit(run_id).alias("run_id"),
        "amount_fen",
        pl.when(pl.col("status") != "recommended").then(pl.lit(respond_by)).alias("respond_by"),
        pl.lit("pending").alias("delivery_status"),
        pl.lit(0).alias("attempts"),
        pl.lit(now).alias("next_attempt_at"),
        pl.lit(now).alias("created_at"),
        notice_topic(),
    )


TEXT_COLUMNS = ("title_zh", "title_en", "body_zh", "body_en")
_FACT_WORDS = {lang: {f.name: getattr(f, lang) for f in FACTS} for lang in ("zh", "en")}


def change_notice(benefit: Any, kind: str, topic: str, now: datetime) -> dict[str, Any]:
    """A ``notices`` row telling the enterprise of a change of its benefit (``benefit``: the ledger row after it):
    ``corrected`` (a new amount) or ``revoked``; it may object within ``RESPONSE_DAYS``."""
    return {
        "uscc": benefit.uscc,
        "policy_id": benefit.policy_id,
        "policy_version": benefit.policy_version,
        "period_key": benefit.period_key,
        "kind": kind,
        "topic": topic,
        "run_id": benefit.run_id,
        "amount_fen": benefit.amount_fen,
        "respond_by": now.date() + timedelta(days=RESPONSE_DAYS),
        "delivery_status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def notice_texts(notices: pl.DataFrame, policies: Sequence[CompiledPolicy]) -> pl.DataFrame:
    """``notices`` with their text added (``TEXT_COLUMNS``).

    Needs the notice's ``policy_id``, ``policy_version``, ``kind``, ``amount_fen``
    and ``respond_by``, and its decision's ``unknown_facts``, ``failing`` and
    ``failing_zh``. Any number of rows, one pass per notice kind.
    """
    titles = pl.DataFrame(
        {
            "policy_id": [p.id for p in policies],
            "policy_version": [p.version for p in policies],
            "t_zh": [p.policy.title.zh for p in policies],
            "t_en": [p.policy.title.en for p in policies],
            "form": [p.policy.benefit.form for p in policies],
            "channel": [p.policy.benefit.payout_channel for p in policies],
            "apply_url": [p.policy.apply.url if p.policy.apply else None for p in policies],
            "office_zh": [p.policy.apply.office.zh if p.policy.apply else None for p in policies],
            "office_en": [p.policy.apply.office.en if p.policy.apply else None for p in policies],
            # per certificate: the fact holding the start of the certificate's validity (in the decision's facts)
            "cert_from": [CERTIFICATES.get(p.policy.benefit.certificate or "") for p in policies],
        },
        schema_overrides={"policy_version": notices.schema.get("policy_version", pl.Int64)},
    )
    unknown = pl.col("unknown_facts").str.split("; ")
    typed = notices.with_columns(  # rows read back from a database may hold all-null (untyped) columns
        pl.col("unknown_facts", "failing", "failing_zh").cast(pl.String),
        pl.col("amount_fen").cast(pl.Int64),
        pl.col("respond_by").cast(pl.Date),
    )
    rows = typed.with_row_index("_order").join(titles, on=["policy_id", "policy_version"], how="left")
    rows = rows.with_columns(
        t_zh=pl.col("t_zh").fill_null(pl.col("policy_id")),
        t_en=pl.col("t_en").fill_null(pl.col("policy_id")),
        unknown_zh=unknown.list.eval(pl.element().replace(_FACT_WORDS["zh"])).list.join("、"),
        unknown_en=unknown.list.eval(pl.element().replace(_FACT_WORDS["en"])).list.join(", "),
        respond_text=pl.col("respond_by").cast(pl.String),
        variant=pl.when(pl.col("kind").is_in(_BY_FORM))
        .then(
            pl.concat_str(
                "kind",
                pl.col("form").fill_null("cash"),
                pl.when(pl.col("amount_fen").fill_null(0) > 0).then(pl.lit("some")).otherwise(pl.lit("none")),
                separator=":",
            )
        )
        .otherwise(pl.col("kind")),
    )
    parts = []
    for variant, templates in _TEMPLATES.items():

        def fill(template: str, lang: str) -> pl.Expr:
            values = {
                "title": pl.col(f"t_{lang}"),
                "amount": yuan_text(pl.col("amount_fen")),
                "respond_by": pl.col("respond_text"),
                "unknown": pl.col(f"unknown_{lang}"),
                "failing": pl.col("failing_zh" if lang == "zh" else "failing"),
            }
            names = re.findall(r"\{(\w+)\}", template)
            return pl.format(re.sub(r"\{\w+\}", "{}", template), *(values[n].fill_null("") for n in names))

        langs = ("zh", "en", "zh", "en")
        parts.append(
            rows.filter(pl.col("variant") == variant).with_columns(
                fill(t, lang).alias(c) for t, lang, c in zip(templates, langs, TEXT_COLUMNS, strict=True)
            )
        )
    texts = pl.concat(parts).sort("_order") if parts else rows
    texts = texts.with_columns(_which_certificate(texts))
    apply = pl.col("kind").is_in(_APPLY_KINDS) & pl.col("apply_url").is_not_null()
    si = (pl.col("kind") == "granted") & (pl.col("channel") == "social_insurance_account")
    texts = texts.with_columns(
        body_zh=pl.concat_str(
            "body_zh",
            "cert_zh",
            pl.when(si).then(pl.lit(_SI_ACCOUNT[0])).otherwise(pl.lit("")),
            pl.when(apply)
            .then(pl.format(_APPLY[0].replace("{url}", "{}").replace("{office_zh}", "{}"), "apply_url", "office_zh"))
            .otherwise(pl.lit("")),
        ),
        body_en=pl.concat_str(
            "body_en",
            "cert_en",
            pl.when(si).then(pl.lit(_SI_ACCOUNT[1])).otherwise(pl.lit("")),
            pl.when(apply)
            .then(pl.format(_APPLY[1].replace("{url}", "{}").replace("{office_en}", "{}"), "apply_url", "office_en"))
            .otherwise(pl.lit("")),
        ),
    )
    return texts.drop(
        "_order",
        "t_zh",
        "t_en",
        "form",
        "variant",
        "unknown_zh",
        "unknown_en",
        "respond_text",
        "channel",
        "apply_url",
        "office_zh",
        "office_en",
        "cert_from",
        "cert_zh",
        "cert_en",
    )


def _which_certificate(rows: pl.DataFrame) -> list[pl.Expr]:
    """cert_zh, cert_en: which certificate a per-certificate notice is about, 「证书 GR202344001234（2023-12-01
    起有效）。」, from its period key and the validity start among its decision's facts (when the rows carry them);
    empty for other notices and for a certificate whose number is unknown (its notice asks for it)."""
    if "period_key" not in rows.columns:
        return [pl.lit("").alias("cert_zh"), pl.lit("").alias("cert_en")]
    named = pl.col("period_key").str.strip_prefix(CERTIFICATE_PREFIX)
    usable = named.str.contains(CERTIFICATE_NO_PATTERN) & named.str.contains("[0-9]")  # not cert:unknown
    number = pl.when(pl.col("cert_from").is_not_null() & usable).then(named)
    legacy = pl.col("period_key").str.strip_prefix(CERTIFICATE_PREFIX).str.to_date("%Y-%m-%d", strict=False)
    start = pl.lit(None, dtype=pl.String)
    if "facts" in rows.columns:
        for fact in sorted(set(CERTIFICATES.values())):
            found = pl.col("facts").cast(pl.String).str.json_path_match(f"$.{fact}")
            start = pl.when(pl.col("cert_from") == fact).then(found).otherwise(start)
    # A benefit keyed before numbers did (cert:2024-12-10) names its certificate by the validity start alone.
    start = pl.coalesce(start, pl.when(pl.col("cert_from").is_not_null()).then(legacy.cast(pl.String)))
    zh = pl.concat_str(pl.lit("证书 "), number, pl.lit("（"), start, pl.lit(" 起有效）。"))
    en = pl.concat_str(pl.lit(" Certificate "), number, pl.lit(" (valid from "), start, pl.lit(")."))
    only_start_zh = pl.concat_str(pl.lit("证书有效期自 "), start, pl.lit(" 起。"))
    only_start_en = pl.concat_str(pl.lit(" Certificate valid from "), start, pl.lit("."))
    only_number_zh = pl.concat_str(pl.lit("证书 "), number, pl.lit("。"))
    only_number_en = pl.concat_str(pl.lit(" Certificate "), number, pl.lit("."))
    return [
        pl.coalesce(zh, only_number_zh, only_start_zh, pl.lit("")).alias("cert_zh"),
        pl.coalesce(en, only_number_en, only_start_en, pl.lit("")).alias("cert_en"),
    ]
