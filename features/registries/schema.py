"""The data contract of every registry table, in one place.

A registry (the agency that owns the data) delivers one or more tables through
the government data-sharing platform. Each table is one file in a registry
directory, ``<table>.parquet`` or ``<table>.csv``. This module is the single
source of truth: the reader, the validator, the generator and the user
documentation (``huiqi registries schema``, docs/registries.md) all read it.

Amounts are in yuan unless the unit says otherwise; dates are ISO dates.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = ["REGISTRIES", "TABLES", "Column", "Registry", "Table", "table"]


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    zh: str
    en: str
    nullable: bool = False
    unit: str | None = None
    allowed: tuple[str, ...] | None = None  # closed vocabulary of a code column
    non_negative: bool = False
    standard: str | None = None  # "uscc" | "industry" | "division" | "cnaps": checked against that standard
    past: bool = False  # the date of something that has happened: never after the day the registry is checked


@dataclass(frozen=True)
class Table:
    name: str
    registry: str
    zh: str
    en: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    # Columns of the same row that must be ordered: (earlier, later), e.g. a validity window.
    ordered: tuple[tuple[str, str], ...] = ()

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.dtype for c in self.columns}

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Registry:
    name: str
    zh: str
    en: str
    tables: tuple[str, ...]


def _uscc() -> Column:
    return Column("uscc", pl.String, "统一社会信用代码", "Unified Social Credit Code (GB 32100)", standard="uscc")


STATUSES = ("operating", "deregistered", "revoked")
ENTERPRISE_TYPES = (
    "limited_company",       # 有限责任公司
    "joint_stock_company",   # 股份有限公司
    "sole_proprietorship",   # 个人独资企业
    "partnership",           # 合伙企业
    "individual_business",   # 个体工商户
    "cooperative",           # 农民专业合作社
    "public_institution",    # 事业单位
    "government_agency",     # 机关
    "social_organization",   # 社会组织
    "law_firm",              # 律师事务所
    "accounting_firm",       # 会计师事务所
)  # fmt: skip
CREDIT_RATINGS = ("A", "B", "M", "C", "D")
PATENT_TYPES = ("invention", "utility_model", "design")
CREDIT_LISTS = ("serious_dishonesty", "abnormal_operation")
CERTIFICATIONS = ("high_tech", "specialised_innovative", "little_giant", "single_champion")
CERT_LEVELS = ("national", "provincial", "municipal")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "business",
            "market_regulation",
            "企业登记信息",
            "business registration",
            key=("uscc",),
            columns=(
                _uscc(),
                Column("name", pl.String, "企业名称", "registered name"),
                Column("enterprise_type", pl.String, "市场主体类型", "type of market entity", allowed=ENTERPRISE_TYPES),
                Column(
                    "registered_capital",
                    pl.Float64,
                    "注册资本",
                    "registered capital",
                    nullable=True,
                    unit="10k yuan",
                    non_negative=True,
                ),
                Column("established_on", pl.Date, "成立日期", "date of establishment", past=True),
                Column("industry_code", pl.String, "行业代码", "industry (GB/T 4754-2017)", standard="industry"),
                Column(
                    "division_code", pl.String, "登记机关区划", "registering division (GB/T 2260)", standard="division"
                ),
                Column("status", pl.String, "登记状态", "registration status", allowed=STATUSES),
                Column(
                    "status_since",
                    pl.Date,
                    "状态变更日期",
                    "date the current status took effect (null while operating)",
                    nullable=True,
                    past=True,
                ),
                Column("labour_dispatch", pl.Boolean, "劳务派遣资质", "licensed labour-dispatch firm"),
            ),
            ordered=(("established_on", "status_since"),),
        ),
        Table(
            "tax_filings",
            "tax",
            "企业所得税年度申报",
            "annual corporate income-tax filing",
            key=("uscc", "year"),
            columns=(
                _uscc(),
                Column("year", pl.Int32, "纳税年度", "tax year"),
                Column("filed_on", pl.Date, "申报日期", "date the filing was received", past=True),
                Column("revenue", pl.Float64, "营业收入", "operating revenue", unit="yuan", non_negative=True),
                Column(
                    "taxable_income", pl.Float64, "应纳税所得额", "taxable income (negative for a loss)", unit="yuan"
                ),
                Column(
                    "total_assets",
                    pl.Float64,
                    "资产总额",
                    "total assets (annual average)",
                    unit="yuan",
                    non_negative=True,
                ),
                Column(
                    "employees", pl.Int32, "从业人数", "employees (annual average)", unit="persons", non_negative=True
                ),
                Column("rd_expense", pl.Float64, "研发费用", "R&D expense", unit="yuan", non_negative=True),
                Column("vat_small_scale", pl.Boolean, "增值税小规模纳税人", "VAT small-scale taxpayer"),
            ),
        ),
        Table(
            "tax_credit",
            "tax",
            "纳税信用等级",
            "tax credit rating",
            key=("uscc", "year"),
            columns=(
                _uscc(),
                Column("year", pl.Int32, "评价年度", "year rated"),
                Column("rating", pl.String, "信用等级", "rating A/B/M/C/D", allowed=CREDIT_RATINGS),
                Column("rated_on", pl.Date, "发布日期", "date the rating was published", past=True),
            ),
        ),
        Table(
            "si_monthly",
            "social_insurance",
            "社会保险月度缴费",
            "monthly social-insurance account",
            key=("uscc", "month"),
            columns=(
                _uscc(),
                Column("month", pl.Date, "费款所属期", "month (first day)", past=True),
                Column("insured_headcount", pl.Int32, "参保人数", "insured staff", unit="persons", non_negative=True),
                Column(
                    "ui_due", pl.Float64, "失业保险应缴", "unemployment insurance due", unit="yuan", non_negative=True
                ),
                Column(
                    "ui_paid", pl.Float64, "失业保险实缴", "unemployment insurance paid", unit="yuan", non_negative=True
                ),
                Column(
                    "new_ui_claimants",
                    pl.Int32,
                    "新增失业保险金领取人数",
                    "staff who left and claimed unemployment benefit",
                    unit="persons",
                    non_negative=True,
                ),
            ),
        ),
        Table(
            "si_hires",
            "social_insurance",
            "参保人员招用记录",
            "hire records of insured persons",
            key=("uscc", "person_id", "hire_date"),
            columns=(
                _uscc(),
                Column("person_id", pl.String, "人员标识", "person (pseudonymised ID)"),
                Column("birth_date", pl.Date, "出生日期", "date of birth", past=True),
                Column("hire_date", pl.Date, "招用日期", "date hired (contract signed)", past=True),
                Column(
                    "contract_months", pl.Int32, "劳动合同期限", "contract length", unit="months", non_negative=True
                ),
                Column(
                    "insured_until",
                    pl.Date,
                    "停保日期",
                    "date insurance at this employer stopped (null while insured)",
                    nullable=True,
                ),
                Column("graduate_year", pl.Int32, "毕业年份", "year of graduation", nullable=True),
                Column("registered_unemployed", pl.Boolean, "登记失业", "registered unemployed when hired"),
                Column(
                    "unemployed_months",
                    pl.Int32,
                    "登记失业月数",
                    "months registered unemployed before the hire",
                    nullable=True,
                    unit="months",
                    non_negative=True,
                ),
                Column("poverty_alleviated", pl.Boolean, "脱贫人口", "person lifted out of poverty"),
            ),
            ordered=(("birth_date", "hire_date"), ("hire_date", "insured_until")),
        ),
        Table(
            "patents",
            "ip",
            "专利",
            "patents",
            key=("patent_no",),
            columns=(
                _uscc(),
                Column("patent_no", pl.String, "专利号", "patent number"),
                Column(
                    "patent_type", pl.String, "专利类型", "invention / utility model / design", allowed=PATENT_TYPES
                ),
                Column("filed_on", pl.Date, "申请日", "filing date", past=True),
                Column(
                    "granted_on", pl.Date, "授权公告日", "grant date (null while pending)", nullable=True, past=True
                ),
            ),
            ordered=(("filed_on", "granted_on"),),
        ),
        Table(
            "credit_lists",
            "credit",
            "信用名单",
            "credit lists",
            key=("uscc", "list", "listed_on"),
            columns=(
                _uscc(),
                Column(
                    "list",
                    pl.String,
                    "名单",
                    "serious dishonesty (严重违法失信) or abnormal operation (经营异常)",
                    allowed=CREDIT_LISTS,
                ),
                Column("listed_on", pl.Date, "列入日期", "date listed", past=True),
                Column("removed_on", pl.Date, "移出日期", "date removed (null while listed)", nullable=True),
                Column("reason", pl.String, "列入事由", "reason for listing", nullable=True),
            ),
            ordered=(("listed_on", "removed_on"),),
        ),
        Table(
            "certifications",
            "certification",
            "资质认定",
            "certifications",
            key=("certificate_no",),
            columns=(
                _uscc(),
                Column(
                    "certification",
                    pl.String,
                    "资质类型",
                    "high-tech / specialised-and-innovative / little giant / single-item champion",
                    allowed=CERTIFICATIONS,
                ),
                Column("level", pl.String, "认定层级", "national / provincial / municipal", allowed=CERT_LEVELS),
                # Nullable: a certificate whose number the extract left empty still certifies its firm (the
                # valid facts stay known); a benefit paid once per certificate then needs its number.
                Column(
                    "certificate_no",
                    pl.String,
                    "证书编号",
                    "certificate number; keys benefits paid once per certificate (empty: such a benefit asks for it)",
                    nullable=True,
                ),
                Column("valid_from", pl.Date, "有效期起", "valid from"),
                Column("valid_to", pl.Date, "有效期止", "valid to (inclusive)"),
            ),
            ordered=(("valid_from", "valid_to"),),
        ),
        Table(
            "accounts",
            "treasury",
            "企业收款账户",
            "bank accounts on file with the paying agency",
            key=("uscc", "valid_from"),
            columns=(
                _uscc(),
                Column(
                    "bank_code",
                    pl.String,
                    "开户行行号",
                    "CNAPS bank code of the account's branch (支付系统行号, 12 digits)",
                    standard="cnaps",
                ),
                Column("account_no", pl.String, "银行账号", "account number (基本存款账户)"),
                Column("account_name", pl.String, "账户名称", "account name (must equal the registered name)"),
                Column(
                    "valid_from", pl.Date, "启用日期", "date the account was put on file; the latest wins", past=True
                ),
            ),
        ),
    )
}

_REGISTRY_NAMES = {
    "market_regulation": ("市场监管", "market regulation (business registration)"),
    "tax": ("税务", "tax"),
    "social_insurance": ("人社", "human resources and social security"),
    "ip": ("知识产权", "intellectual property"),
    "credit": ("信用", "public credit lists"),
    "certification": ("资质认定", "certifications (science and industry bureaus)"),
    "treasury": ("财政国库", "treasury (the accounts benefits are paid into)"),
}
REGISTRIES: dict[str, Registry] = {
    name: Registry(name, zh, en, tuple(t.name for t in TABLES.values() if t.registry == name))
    for name, (zh, en) in _REGISTRY_NAMES.items()
}


def table(name: str) -> Table:
    return TABLES[name]
