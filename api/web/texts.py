"""What the pages say, in Chinese and English, and how they show money and dates to a person."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

__all__ = ["LANGS", "day", "label", "left", "say", "yuan"]

LANGS = ("zh", "en")

# Statuses and kinds as a person reads them: never the raw code.
_LABELS: dict[str, tuple[str, str]] = {
    # decision statuses / notice kinds
    "granted": ("已发放（自动兑现）", "Granted (paid without any step)"),
    "awaiting_confirmation": ("待确认", "Awaiting your confirmation"),
    "recommended": ("推荐申请", "Recommended: apply"),
    "needs_data": ("需补充信息", "Information needed"),
    "near_miss": ("差一点符合", "Nearly eligible"),
    "no_longer_matched": ("最近一次测算已不再符合", "No longer matched by the latest run"),
    "not_eligible": ("不符合", "Not eligible"),
    "confirmation": ("确认通知", "Confirmation"),
    # ledger statuses
    "held": ("暂缓（异议处理中）", "Held (objection under review)"),
    "payable": ("待拨付", "To be paid"),
    "in_batch": ("拨付中", "Being paid"),
    "paid": ("已拨付", "Paid"),
    "payment_failed": ("拨付失败，请更新账户", "Payment failed: give a new account"),
    "cancelled": ("已取消", "Cancelled"),
    # delivery statuses
    "pending": ("待推送", "Waiting to be sent"),
    "delivered": ("已推送", "Delivered"),
    "dead": ("推送失败", "Could not be delivered"),
    "withdrawn": ("已撤回", "Withdrawn"),
    # responses
    "opened": ("已查看", "Opened"),
    "confirmed": ("已确认", "Confirmed"),
    "declined": ("已放弃", "Declined"),
    "objected": ("已提出异议", "Objected"),
    "supplied_data": ("已补充信息", "Supplied information"),
    # objection outcomes
    "dismissed": ("异议未采纳，款项恢复拨付", "Objection dismissed: the payout is released"),
    "upheld": ("异议成立，该待遇已取消", "Objection upheld: the benefit is cancelled"),
    # condition results
    "met": ("符合", "met"),
    "not_met": ("不符合", "not met"),
    "unknown": ("未知", "unknown"),
    # benefit forms
    "cash": ("拨付至企业账户", "paid to your account"),
    "tax_relief": ("申报纳税时直接减免（估算金额）", "relief when you file tax (an estimate)"),
    "fee_reduction": ("减免相关费用", "a fee not charged"),
    "interest_subsidy": ("贴息拨付至贷款银行", "interest subsidy paid to your lender"),
    # policy drafts under review (maker-checker)
    "draft": ("草稿", "draft"),
    "submitted": ("待审核", "awaiting review"),
    "approved": ("已批准，待发布", "approved, to publish"),
    "returned": ("已退回修改", "sent back"),
    "published": ("已发布", "published"),
    # runs and jobs
    "queued": ("排队中", "queued"),
    "running": ("运行中", "running"),
    "completed": ("已完成", "completed"),
    "failed": ("失败", "failed"),
}


def label(code: Any, lang: str) -> str:
    """A status, kind or result as a person reads it; an unknown code is shown as it is rather than hidden."""
    if code is None:
        return "—"
    pair = _LABELS.get(str(code))
    return pair[LANGS.index(lang)] if pair else str(code)


def say(text: Any, lang: str) -> str:
    """One language of a {zh, en} text (the API's shape); a plain string as it is."""
    if isinstance(text, dict):
        return text.get(lang) or text.get("zh") or ""
    return "" if text is None else str(text)


def value(v: Any, lang: str) -> str:
    """A fact's value as a person reads it: yes / no rather than True / False."""
    if isinstance(v, bool):
        return ("是" if v else "否") if lang == "zh" else ("yes" if v else "no")
    return "—" if v is None else str(v)


def yuan(fen: int | None, lang: str) -> str:
    """An amount held in fen, shown in yuan: ¥12,000 / ¥12,000.50."""
    if fen is None:
        return "—"
    whole, cents = divmod(abs(int(fen)), 100)
    shown = "-" * (fen < 0) + f"{whole:,}" + (f".{cents:02d}" if cents else "")
    return f"¥{shown}" if lang == "en" else f"{shown} 元"


def day(value: Any, lang: str) -> str:
    """A date as the reader writes it: 2025年6月30日 / 30 June 2025."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.date()
    if lang == "en":
        return f"{value.day} {value:%B %Y}"
    return f"{value.year}年{value.month}月{value.day}日"


def left(respond_by: Any, lang: str, today: date | None = None) -> str:
    """The time left to answer by ``respond_by`` (a date, inclusive), in China's today: 还剩 3 天 / 3 days left."""
    if respond_by in (None, ""):
        return ""
    if isinstance(respond_by, str):
        respond_by = date.fromisoformat(respond_by[:10])
    if today is None:
        from zoneinfo import ZoneInfo

        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    days = (respond_by - today).days
    if days < 0:
        return "已过期限" if lang == "zh" else "the date has passed"
    if days == 0:
        return "今天截止" if lang == "zh" else "last day today"
    return f"还剩 {days} 天" if lang == "zh" else f"{days} day{'s' if days > 1 else ''} left"
