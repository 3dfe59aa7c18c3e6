"""The closed list of reasons a registry row is quarantined.

The validator tags every rejected row with one of these rules; the synthetic
generator's ``--dirty`` mode produces rows breaking each of them; the summary
printed to the user groups by them.
"""

from __future__ import annotations

__all__ = ["RULES"]

# rule -> (zh, en)
RULES: dict[str, tuple[str, str]] = {
    "type": ("取值无法解析为该列类型", "value does not parse as the column's type"),
    "missing": ("必填项为空", "required value is empty"),
    "uscc": ("统一社会信用代码校验不通过", "USCC fails its GB 32100 / GB 11714 checks"),
    "industry": ("行业代码不符合 GB/T 4754-2017", "industry code is not GB/T 4754-2017"),
    "division": ("区划代码不符合 GB/T 2260", "division code is not GB/T 2260"),
    "cnaps": ("支付系统行号不是 12 位数字", "CNAPS bank code is not 12 digits"),
    "allowed": ("取值不在允许范围内", "value is not in the column's closed vocabulary"),
    "negative": ("数额为负", "amount or count is negative"),
    "order": ("日期先后顺序错误", "dates are in the wrong order"),
    "future": ("日期晚于校验当日", "date of a past event is after the day the registry is checked"),
    "duplicate": ("主键重复", "duplicate key"),
    "unknown_enterprise": ("企业未在市场监管登记中找到", "enterprise not in business registration"),
}
