"""Registered names in the usual pattern: place + trade name + line of business + form (有限公司…).

Names are decoration: nothing keys on them, and like real registers they may repeat across districts.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from features.registries.schema import ENTERPRISE_TYPES
from features.standards.divisions import DISTRICTS
from features.synthetic.industries import LETTERS

__all__ = ["enterprise_names"]

_TRADE_CHARS = (
    "鸿达华盛兴泰恒信源通宏伟嘉创锦祥瑞丰海天正和元中汇金德安康博远成亿腾飞凯航美佳方宇星光明启智云帆联誉鼎晟昊"
    "永隆昌顺新辉骏宸卓越领航众诚合力润泽"
)
# Line-of-business words by section letter.
_WORDS: dict[str, tuple[str, ...]] = {
    "A": ("农业", "种植", "养殖", "生态农业"), "B": ("矿业", "石材"), "C": ("制造", "机械", "电子", "新材料", "精密"),
    "D": ("能源", "电力", "燃气"), "E": ("建设工程", "建筑", "装饰工程"), "F": ("贸易", "商贸", "供应链", "百货"),
    "G": ("物流", "运输", "快递"), "H": ("餐饮", "酒店", "餐饮管理"), "I": ("科技", "信息技术", "软件", "网络科技"),
    "J": ("投资", "资产管理"), "K": ("房地产开发", "物业管理", "置业"), "L": ("企业管理咨询", "商务服务", "人力资源"),
    "M": ("技术", "检测", "工程设计", "生物科技"), "N": ("环保", "园林绿化"), "O": ("家政服务", "汽车维修", "美容"),
    "P": ("教育科技", "培训"), "Q": ("医疗", "健康管理"), "R": ("文化传媒", "体育"), "T": ("国际",),
    "S": ("科技", "教育", "文化", "商务", "人力资源"),
}  # fmt: skip
# Name pattern per entity type: (place part, with trade name?, form suffixes).
_PATTERNS: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    "limited_company": ("city", True, ("有限公司", "有限责任公司")),
    "joint_stock_company": ("city", True, ("股份有限公司",)),
    "sole_proprietorship": ("city_district", True, ("商行", "工作室", "经营部")),
    "partnership": ("city", True, ("合伙企业（有限合伙）", "合伙企业（普通合伙）")),
    "individual_business": ("district", True, ("店", "经营部", "商店")),
    "cooperative": ("district", True, ("专业合作社",)),
    "public_institution": ("city_district", False, ("服务中心", "研究所", "事务中心")),
    "government_agency": ("city_district", False, ("局", "委员会", "办公室")),
    "social_organization": ("city", False, ("协会", "商会", "促进会")),
    "law_firm": ("city", True, ("律师事务所",)),
    "accounting_firm": ("city", True, ("会计师事务所（普通合伙）", "会计师事务所有限公司")),
}


def _pick(pools: list[tuple[str, ...]], group: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """One random item of ``pools[group]`` per row."""
    flat = [w for pool in pools for w in pool]
    size = np.array([len(p) for p in pools])
    offset = np.concatenate([[0], np.cumsum(size)[:-1]])
    return pl.Series(flat).gather(offset[group] + (rng.random(len(group)) * size[group]).astype(np.int64))


def enterprise_names(
    kind: np.ndarray, district: np.ndarray, section: np.ndarray, rng: np.random.Generator
) -> pl.Series:
    n = len(kind)
    full = list(DISTRICTS.values())
    city = pl.Series([f[: f.index("市") + 1] for f in full]).gather(district)
    county = pl.Series([f[f.index("市") + 1 :] for f in full]).gather(district)
    chars = pl.Series(list(_TRADE_CHARS))
    trade = chars.gather(rng.integers(0, len(_TRADE_CHARS), n)) + chars.gather(rng.integers(0, len(_TRADE_CHARS), n))
    word = _pick([_WORDS[letter] for letter in LETTERS], section, rng)
    suffix = _pick([_PATTERNS[t][2] for t in ENTERPRISE_TYPES], kind, rng)
    frame = pl.DataFrame({"kind": kind, "city": city, "county": county, "trade": trade, "word": word, "suffix": suffix})
    name = pl.lit(None, pl.String)
    for t, type_name in enumerate(ENTERPRISE_TYPES):
        place, with_trade, _ = _PATTERNS[type_name]
        parts = {"city": ["city"], "district": ["county"], "city_district": ["city", "county"]}[place]
        parts = [*parts, *(["trade"] if with_trade else []), "word", "suffix"]
        name = pl.when(pl.col("kind") == t).then(pl.concat_str(parts)).otherwise(name)
    return frame.select(name.alias("name")).to_series()
