"""Administrative division codes (行政区划代码, GB/T 2260).

Six digits: province (2), prefecture (2), county (2). The full list changes
every year, so validation checks the structure and the province; the named
districts below are the ones the synthetic registries draw from.
"""

from __future__ import annotations

import polars as pl

__all__ = ["DISTRICTS", "PROVINCES", "division_problem_expr"]

PROVINCES: dict[str, str] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省",
    "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}  # fmt: skip

# Real county-level districts (code -> name), weighted towards the cities in the domain notes.
DISTRICTS: dict[str, str] = {
    "110105": "北京市朝阳区", "110108": "北京市海淀区", "110106": "北京市丰台区",
    "310104": "上海市徐汇区", "310115": "上海市浦东新区", "310112": "上海市闵行区",
    "440106": "广州市天河区", "440112": "广州市黄埔区", "440305": "深圳市南山区",
    "440306": "深圳市宝安区", "440309": "深圳市龙华区", "440307": "深圳市龙岗区",
    "440507": "汕头市龙湖区", "330106": "杭州市西湖区", "330108": "杭州市滨江区",
    "320508": "苏州市姑苏区", "320106": "南京市鼓楼区", "410105": "郑州市金水区",
    "410102": "郑州市中原区", "350102": "福州市鼓楼区", "350203": "厦门市思明区",
    "350206": "厦门市湖里区", "510107": "成都市武侯区", "510104": "成都市锦江区",
    "500107": "重庆市九龙坡区", "500103": "重庆市渝中区", "420106": "武汉市武昌区",
    "610113": "西安市雁塔区", "610116": "西安市长安区", "370212": "青岛市崂山区",
}  # fmt: skip


def division_problem_expr(column: str = "division_code") -> pl.Expr:
    """Why a code is not a GB/T 2260 county-level code, null when it is (or is null)."""
    code = pl.col(column)
    province = code.str.slice(0, 2)
    prefecture = code.str.slice(2, 2).cast(pl.Int32, strict=False)
    return (
        pl.when(code.is_null())
        .then(None)
        .when(~code.str.contains(r"^\d{6}$"))
        .then(pl.format("expected a 6-digit GB/T 2260 division code such as '440305', found '{}'", code))
        .when(~province.is_in(list(PROVINCES)))
        .then(pl.format("province '{}' does not exist in GB/T 2260", province))
        .when(~(prefecture.is_between(1, 70) | (prefecture == 90)))
        .then(
            pl.format(
                "prefecture digits '{}' are not a GB/T 2260 prefecture (01-70 or 90);"
                " registries record the registering county-level office",
                code.str.slice(2, 2),
            )
        )
        .when(code.str.slice(4, 2) == "00")
        .then(pl.lit("county digits are '00': expected the registering county-level office"))
        .otherwise(None)
    )
