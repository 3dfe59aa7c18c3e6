"""Notices in Chinese and English, one per decision that reaches an enterprise, built in bulk.

A notice says what, how much, why in one line, and what to do by when. The
full explanation (every condition with its registry and date) is the tracer's,
rendered from the decision's stored facts when the notice is delivered or
read, so it is never computed for a million notices at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import polars as pl

from policies.compiled import CompiledPolicy

__all__ = ["RESPONSE_DAYS", "build_notices"]

# Days an enterprise has to object, confirm or supply a fact (public-notice practice is 7 days
# in Sichuan; 15 leaves room for post and holidays — a choice, kept in one place).
RESPONSE_DAYS = 15

_TEMPLATES: dict[str, tuple[str, str, str, str]] = {
    # kind: (title zh, title en, body zh, body en); placeholders: title, amount, respond_by, unknown, failing
    "granted": (
        "【免申即享】{title}：已核定 {amount} 元",
        "[Apply-free] {title}: {amount} yuan granted",
        "您单位符合「{title}」条件，核定金额 {amount} 元，无需申请，将直接拨付。如有异议，请于 {respond_by} 前提出。",
        'Your enterprise qualifies for "{title}": {amount} yuan will be paid without any application. '
        "If you disagree, object by {respond_by}.",
    ),
    "awaiting_confirmation": (
        "【一键确认】{title}：{amount} 元待确认",
        "[Confirm] {title}: {amount} yuan awaiting your confirmation",
        "您单位符合「{title}」条件，金额 {amount} 元。请于 {respond_by} 前一键确认，确认后拨付。",
        'Your enterprise qualifies for "{title}": {amount} yuan. Confirm with one click by {respond_by} to receive it.',
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
}


def _yuan(fen: pl.Expr) -> pl.Expr:
    return pl.format("{}.{}", fen // 100, (fen % 100).cast(pl.String).str.zfill(2))


def build_notices(
    decisions: pl.DataFrame, policies: Sequence[CompiledPolicy], as_of: date, run_id: str, now: datetime
) -> pl.DataFrame:
    """Rows for the ``notices`` table (delivery starts pending) from the decided rows."""
    titles = pl.DataFrame(
        {
            "policy_id": [p.id for p in policies],
            "t_zh": [p.policy.title.zh for p in policies],
            "t_en": [p.policy.title.en for p in policies],
        }
    )
    respond_by = as_of + timedelta(days=RESPONSE_DAYS)
    rows = decisions.join(titles, on="policy_id")
    parts = []
    for kind, (title_zh, title_en, body_zh, body_en) in _TEMPLATES.items():
        part = rows.filter(pl.col("status") == kind)

        def fill(template: str, lang: str) -> pl.Expr:
            values = {
                "title": pl.col(f"t_{lang}"),
                "amount": _yuan(pl.col("amount_fen")),
                "respond_by": pl.lit(respond_by.isoformat()),
                "unknown": pl.col("unknown_zh" if lang == "zh" else "unknown_en"),
                "failing": pl.col("failing_zh" if lang == "zh" else "failing"),
            }
            names = re.findall(r"\{(\w+)\}", template)
            return pl.format(re.sub(r"\{\w+\}", "{}", template), *(values[n].fill_null("") for n in names))

        parts.append(
            part.select(
                pl.concat_str(["uscc", "policy_id", "period_key", "status"], separator=":").alias("idempotency_key"),
                "uscc",
                "policy_id",
                "policy_version",
                "period_key",
                pl.col("status").alias("kind"),
                pl.lit(run_id).alias("run_id"),
                "amount_fen",
                fill(title_zh, "zh").alias("title_zh"),
                fill(title_en, "en").alias("title_en"),
                fill(body_zh, "zh").alias("body_zh"),
                fill(body_en, "en").alias("body_en"),
                pl.lit(respond_by if kind != "recommended" else None, dtype=pl.Date).alias("respond_by"),
                pl.lit("pending").alias("delivery_status"),
                pl.lit(0).alias("attempts"),
                pl.lit(now).alias("next_attempt_at"),
                pl.lit(now).alias("created_at"),
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame()
