"""Why a notice stands where it does: the pair's top feature contributions, in plain zh and en.

The contributions are LightGBM's own (``predict(..., pred_contrib=True)``):
per feature, how much it moved the pair's score up or down from the model's
average. The features are the ones stored when the run ranked the pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from sqlalchemy import Engine

from features.standards.industry import SECTIONS
from matcher.ranking.errors import HeldOutPair, UnrankedPair
from matcher.ranking.features import CODES, FEATURES
from matcher.ranking.model import SMALL, BoosterScorer
from matcher.ranking.parts import Rows, read_pair

__all__ = ["PHRASES", "Explanation", "explain_pair", "explain_rows"]

# feature → (zh, en): what the feature means, in words an enterprise or an officer reads.
PHRASES: dict[str, tuple[str, str]] = {
    "policy_category": ("政策类别", "the policy's category"),
    "policy_level": ("发文层级", "the issuing level"),
    "delivery": ("兑现方式", "how the benefit is delivered"),
    "period": ("享受周期", "how often it can be received"),
    "status": ("判定结果", "the decision"),
    "log_amount": ("补贴金额", "the amount"),
    "amount_share": ("金额占本企业各项中最高金额的比例", "the amount against the enterprise's largest benefit"),
    "amount_to_revenue": ("金额占上年营业收入的比例", "the amount against last year's revenue"),
    "conditions_met_share": ("已满足的条件比例", "the share of conditions met"),
    "conditions_unknown": ("缺少数据的条件数", "the conditions lacking data"),
    "threshold_gap": ("距最近未达门槛的差距", "the distance to the nearest threshold missed"),
    "size_class": ("企业规模", "the enterprise's size"),
    "industry_section": ("所属行业门类", "the enterprise's industry"),
    "log_employees": ("上年从业人数", "employees last year"),
    "log_revenue": ("上年营业收入", "revenue last year"),
    "age_years": ("成立年限", "years since establishment"),
    "patents_invention": ("有效发明专利数", "invention patents in force"),
    "high_tech": ("高新技术企业", "high-tech certification"),
    "candidates": ("本次推送的事项数", "the number of notices in this run"),
    "past_notices": ("以往收到的通知数", "notices received before"),
    "past_engaged_share": ("以往通知的查看率", "how often earlier notices were opened"),
    "past_acted": ("以往确认或补充数据的次数", "earlier notices confirmed or answered with data"),
    "past_declined": ("以往拒绝或异议的次数", "earlier notices declined or objected to"),
    "past_same_category_acted": ("以往对同类政策的响应次数", "earlier responses to policies of this category"),
    "past_same_policy": ("以往收到本政策通知的次数", "earlier notices about this policy"),
}
_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "policy_category": {
        "employment": ("就业", "employment"),
        "tax": ("税收", "tax"),
        "innovation": ("创新", "innovation"),
        "growth": ("成长", "growth"),
        "finance": ("金融", "finance"),
    },
    "policy_level": {
        "national": ("国家级", "national"),
        "provincial": ("省级", "provincial"),
        "municipal": ("市级", "municipal"),
        "district": ("区级", "district"),
    },
    "delivery": {
        "automatic": ("直接兑现", "paid directly"),
        "confirm": ("一键确认", "on confirmation"),
        "notify": ("另行申请", "applied for elsewhere"),
    },
    "period": {"once": ("一次性", "once"), "yearly": ("每年", "yearly"), "monthly": ("每月", "monthly")},
    "status": {
        "granted": ("已核定", "granted"),
        "awaiting_confirmation": ("待确认", "awaiting confirmation"),
        "recommended": ("推荐申请", "recommended"),
        "needs_data": ("待补充信息", "needs data"),
        "near_miss": ("差一点符合", "near miss"),
    },
    "size_class": {
        "large": ("大型", "large"),
        "medium": ("中型", "medium"),
        "small": ("小型", "small"),
        "micro": ("微型", "micro"),
    },
    "industry_section": {k: (v[0], v[1]) for k, v in SECTIONS.items()},
}


def _value(feature: str, value: float, lang: str) -> str:
    zh = lang == "zh"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "未知" if zh else "unknown"
    if feature in _WORDS:
        code = CODES[feature][int(value)]
        return _WORDS[feature][code][0 if zh else 1]
    if feature in ("log_amount", "log_revenue"):
        return f"{10**value - 1:,.0f} 元" if zh else f"{10**value - 1:,.0f} yuan"
    if feature == "log_employees":
        return f"{math.expm1(value):,.0f} 人" if zh else f"{math.expm1(value):,.0f} persons"
    if feature in ("amount_share", "amount_to_revenue", "conditions_met_share", "past_engaged_share", "threshold_gap"):
        return f"{value:.0%}"
    if feature == "high_tech":
        return ("是" if value else "否") if zh else ("yes" if value else "no")
    return f"{value:g}"


@dataclass
class Explanation:
    uscc: str
    policy_id: str
    score: float
    items: list[dict] = field(default_factory=list)  # feature, value, contribution, zh, en

    def lines(self, lang: str = "en") -> list[str]:
        return [item[lang] for item in self.items]


def explain_rows(scorer: BoosterScorer, frame: pl.DataFrame, *, top: int = 3) -> list[Explanation]:
    """Explanations for each row of ``frame`` (uscc, policy_id and the feature columns)."""
    x = frame.select(pl.col(FEATURES).cast(pl.Float64).fill_null(np.nan)).to_numpy()
    return _explained(scorer, x, frame.select("uscc", "policy_id").rows(), top)


def _explained(scorer: BoosterScorer, x: np.ndarray, pairs: list[tuple[str, str]], top: int) -> list[Explanation]:
    # One column per feature, then the average. One thread for a few rows, as BoosterScorer.score: for the service's
    # one pair, the thread team's start-up cost 27 ms a call against 1.8 ms (measured on 2 busy cores).
    threads = 1 if len(x) < SMALL else scorer.threads
    contrib = scorer.booster.predict(x, pred_contrib=True, num_threads=threads)
    out = []
    for (uscc, policy_id), values, parts in zip(pairs, x, contrib, strict=True):
        order = np.argsort(-np.abs(parts[:-1]))[:top]
        items = []
        for i in order:
            name, c = FEATURES[i], float(parts[i])
            if c == 0:
                continue
            zh_phrase, en_phrase = PHRASES[name]
            items.append(
                {
                    "feature": name,
                    "value": None if math.isnan(values[i]) else float(values[i]),
                    "contribution": round(c, 4),
                    "zh": f"{zh_phrase}（{_value(name, values[i], 'zh')}）使该通知排序{'靠前' if c > 0 else '靠后'}",
                    "en": f"{en_phrase} ({_value(name, values[i], 'en')}) moves it {'up' if c > 0 else 'down'}",
                }
            )
        out.append(Explanation(uscc, policy_id, float(parts.sum()), items))
    return out


def explain_pair(
    engine: Engine,
    scorer: BoosterScorer,
    uscc: str,
    policy_id: str,
    *,
    top: int = 3,
    run_id: str | None = None,
    rows: Rows | None = None,
) -> Explanation:
    """The latest ranked decision of (uscc, policy_id) — or the one of run ``run_id`` — explained by ``scorer``
    (the champion, usually). ``rows``: what runs the lookup's statements (``parts.read_pair``). A pair of the run's
    holdout raises ``HeldOutPair``: the fallback order placed it, and the model's contributions would say otherwise."""
    found = read_pair(engine, uscc, policy_id, run_id, rows=rows)
    run = f" in run {run_id}" if run_id is not None else ""
    if found is None:
        raise UnrankedPair(
            f"no ranked decision for enterprise {uscc} and policy {policy_id!r}{run}: expected one from a run that "
            "ranked its notices (`huiqi run` or `huiqi simulate`); check the USCC and the policy id"
        )
    if found.get("holdout"):
        raise HeldOutPair(
            f"enterprise {uscc} was in the holdout of run {found['run_id']} (a random share of enterprises whose "
            f"notices follow the fallback order, to measure what the ranker changes): its notice of {policy_id!r} "
            "was placed by the fallback order, not by a model, so there are no ranking reasons to show"
        )
    # One row, no frame: a frame costs milliseconds, this microseconds (the service explains one pair a request).
    x = np.array([[math.nan if found[f] is None else found[f] for f in FEATURES]], dtype=np.float64)
    return _explained(scorer, x, [(uscc, policy_id)], top)[0]
