"""The fact catalogue: every fact an enterprise profile carries.

Policies are written against these names (and type-checked against their
kinds); explanations quote their labels, registries and periods. Each fact
says where it comes from (lineage) and what its absence means: for registries
that list *every* case (patents, credit lists, certifications) absence means
none; for the others a missing record leaves the fact null (unknown), never
zero. Declared facts (policies/facts/declared.yaml) follow the registry facts:
no registry holds them, so they are null until someone attests them.
"""

from __future__ import annotations

from features.profiles.declared import DECLARED_FILE, load_declared
from features.profiles.fact import Fact, Source
from features.registries.schema import CREDIT_RATINGS, ENTERPRISE_TYPES, STATUSES
from features.standards.industry import SECTIONS
from features.standards.size_class import SIZE_CLASSES

__all__ = ["DECLARED_FACTS", "FACTS", "REGISTRY_FACTS", "Fact", "Source", "fact"]


def _s(table: str, *columns: str) -> Source:
    return Source(table, columns)


_BIZ = "business registration as of as_of"
_LAST_YEAR_TAX = "annual filing for the calendar year before as_of, if filed by as_of"
_LAST_YEAR_SI = "months of the calendar year before as_of"
_HIRES_12M = "hires in the 12 months up to as_of"
_VALID = "valid on as_of"
_LISTED = "listed on as_of (listed on or before, not yet removed)"

REGISTRY_FACTS: tuple[Fact, ...] = (
    # business registration
    Fact("name", "str", "企业名称", "registered name", (_s("business", "name"),), _BIZ),
    Fact("enterprise_type", "str", "市场主体类型", "type of market entity",
         (_s("business", "enterprise_type"),), _BIZ, values=ENTERPRISE_TYPES),
    Fact("status", "str", "登记状态", "registration status",
         (_s("business", "status", "status_since"),), _BIZ, values=STATUSES),
    Fact("established_on", "date", "成立日期", "date of establishment", (_s("business", "established_on"),), _BIZ),
    Fact("age_years", "number", "成立年限", "years since establishment",
         (_s("business", "established_on"),), _BIZ, unit="years"),
    Fact("registered_capital", "number", "注册资本", "registered capital",
         (_s("business", "registered_capital"),), _BIZ, unit="10k yuan"),
    Fact("industry_code", "str", "行业代码", "industry class (GB/T 4754-2017)",
         (_s("business", "industry_code"),), _BIZ),
    Fact("industry_section", "str", "行业门类", "industry section (GB/T 4754-2017)",
         (_s("business", "industry_code"),), _BIZ, values=tuple(SECTIONS)),
    Fact("industry_division", "str", "行业大类", "industry division, e.g. C39 (GB/T 4754-2017)",
         (_s("business", "industry_code"),), _BIZ),
    Fact("division_code", "str", "登记区划", "registering division (GB/T 2260)",
         (_s("business", "division_code"),), _BIZ),
    Fact("labour_dispatch", "bool", "劳务派遣企业", "labour-dispatch firm", (_s("business", "labour_dispatch"),), _BIZ),
    # tax
    Fact("revenue_last_year", "number", "上年营业收入", "operating revenue last year",
         (_s("tax_filings", "revenue"),), _LAST_YEAR_TAX, unit="yuan"),
    Fact("taxable_income_last_year", "number", "上年应纳税所得额", "taxable income last year",
         (_s("tax_filings", "taxable_income"),), _LAST_YEAR_TAX, unit="yuan"),
    Fact("total_assets_last_year", "number", "上年资产总额", "total assets last year (annual average)",
         (_s("tax_filings", "total_assets"),), _LAST_YEAR_TAX, unit="yuan"),
    Fact("employees_last_year", "int", "上年从业人数", "employees last year (annual average)",
         (_s("tax_filings", "employees"),), _LAST_YEAR_TAX, unit="persons"),
    Fact("rd_expense_last_year", "number", "上年研发费用", "R&D expense last year",
         (_s("tax_filings", "rd_expense"),), _LAST_YEAR_TAX, unit="yuan"),
    Fact("rd_ratio_last_year", "number", "上年研发费用占比", "R&D expense as a share of revenue last year",
         (_s("tax_filings", "rd_expense", "revenue"),), _LAST_YEAR_TAX, unit="ratio"),
    Fact("rd_ratio_3y", "number", "近三年研发费用占比", "R&D expense as a share of revenue, last three years",
         (_s("tax_filings", "rd_expense", "revenue"),),
         "annual filings for the three calendar years before as_of that were filed by as_of", unit="ratio"),
    Fact("vat_small_scale", "bool", "增值税小规模纳税人", "VAT small-scale taxpayer",
         (_s("tax_filings", "vat_small_scale"),), _LAST_YEAR_TAX),
    Fact("small_low_profit", "bool", "小型微利企业", "small low-profit enterprise",
         (_s("tax_filings", "taxable_income", "employees", "total_assets"),),
         _LAST_YEAR_TAX + "; taxable income ≤ 3M yuan, employees ≤ 300, assets ≤ 50M yuan"
         " (the restricted-industry test is not in the registries and is not applied)"),
    Fact("size_class", "str", "企业规模", "enterprise size (2011 standard)",
         (_s("business", "industry_code"), _s("tax_filings", "employees", "revenue", "total_assets")),
         _LAST_YEAR_TAX, values=SIZE_CLASSES),
    Fact("tax_credit_rating", "str", "纳税信用等级", "tax credit rating (latest published)",
         (_s("tax_credit", "rating", "rated_on"),), "latest rating published by as_of", values=CREDIT_RATINGS),
    # social insurance
    Fact("ui_paid_months", "int", "失业保险连续足额缴费月数", "months in a row of unemployment insurance paid in full",
         (_s("si_monthly", "month", "ui_due", "ui_paid"),),
         "months up to the last month complete on as_of", unit="months"),
    Fact("ui_arrears_12m", "bool", "近12个月失业保险欠费", "unemployment-insurance arrears in the last 12 months",
         (_s("si_monthly", "month", "ui_due", "ui_paid"),), "the 12 months up to the last month complete on as_of"),
    Fact("ui_paid_last_year", "number", "上年失业保险实缴", "unemployment insurance paid last year",
         (_s("si_monthly", "month", "ui_paid"),), _LAST_YEAR_SI, unit="yuan"),
    Fact("insured_headcount", "int", "参保人数", "insured staff in the last complete month",
         (_s("si_monthly", "month", "insured_headcount"),), "the last month complete on as_of", unit="persons"),
    Fact("insured_headcount_avg_last_year", "number", "上年月均参保人数", "average monthly insured staff last year",
         (_s("si_monthly", "month", "insured_headcount"),), _LAST_YEAR_SI, unit="persons"),
    Fact("ui_claimants_last_year", "int", "上年新增失业保险金领取人数",
         "former staff newly claiming unemployment benefit last year",
         (_s("si_monthly", "month", "new_ui_claimants"),), _LAST_YEAR_SI, unit="persons"),
    Fact("layoff_rate_last_year", "number", "上年裁员率",
         "layoff rate last year (new claimants / average monthly insured staff)",
         (_s("si_monthly", "month", "new_ui_claimants", "insured_headcount"),), _LAST_YEAR_SI, unit="ratio"),
    Fact("hires_12m", "int", "近12个月新招用人数", "people hired in the last 12 months",
         (_s("si_hires", "hire_date"),), _HIRES_12M, unit="persons"),
    Fact("hires_12m_contract_1y", "int", "近12个月招用且合同一年以上人数",
         "people hired in the last 12 months on contracts of at least one year",
         (_s("si_hires", "hire_date", "contract_months"),), _HIRES_12M, unit="persons"),
    Fact("youth_hires_12m", "int", "近12个月吸纳青年就业人数",
         "young people hired in the last 12 months, insured ≥ 3 months and still insured (graduates of the year,"
         " unemployed graduates within two years, registered unemployed aged 16-24)",
         (_s("si_hires", "hire_date", "birth_date", "graduate_year", "registered_unemployed", "insured_until"),),
         _HIRES_12M, unit="persons"),
    Fact("priority_hires_12m", "int", "近12个月招用重点群体人数",
         "priority-group hires in the last 12 months (lifted out of poverty, or registered unemployed ≥ 6 months),"
         " contract ≥ 1 year, still insured",
         (_s("si_hires", "hire_date", "poverty_alleviated", "registered_unemployed", "unemployed_months",
             "contract_months", "insured_until"),), _HIRES_12M, unit="persons"),
    Fact("poverty_hires_12m", "int", "近12个月吸纳脱贫人口人数",
         "people lifted out of poverty hired in the last 12 months, contract ≥ 1 year, insured ≥ 6 months"
         " and still insured",
         (_s("si_hires", "hire_date", "poverty_alleviated", "contract_months", "insured_until"),),
         _HIRES_12M, unit="persons"),
    # intellectual property
    Fact("patents_invention", "int", "有效发明专利数", "invention patents in force",
         (_s("patents", "patent_type", "filed_on", "granted_on"),),
         "granted by as_of and within the 20-year term", unit="patents", absent="none"),
    Fact("patents_utility_model", "int", "有效实用新型专利数", "utility-model patents in force",
         (_s("patents", "patent_type", "filed_on", "granted_on"),),
         "granted by as_of and within the 10-year term", unit="patents", absent="none"),
    Fact("patents_design", "int", "有效外观设计专利数", "design patents in force",
         (_s("patents", "patent_type", "filed_on", "granted_on"),),
         "granted by as_of and within the 15-year term", unit="patents", absent="none"),
    # credit lists
    Fact("serious_dishonesty", "bool", "严重违法失信名单", "on the serious-dishonesty list",
         (_s("credit_lists", "list", "listed_on", "removed_on"),), _LISTED, absent="none"),
    Fact("abnormal_operation", "bool", "经营异常名录", "on the abnormal-operation list",
         (_s("credit_lists", "list", "listed_on", "removed_on"),), _LISTED, absent="none"),
    # certifications
    Fact("high_tech", "bool", "高新技术企业", "certified high-tech enterprise",
         (_s("certifications", "certification", "valid_from", "valid_to"),), _VALID, absent="none"),
    Fact("high_tech_valid_from", "date", "高新技术企业证书有效期起", "start of the valid high-tech certificate",
         (_s("certifications", "certification", "valid_from", "valid_to"),), _VALID),
    Fact("high_tech_certificate_no", "str", "高新技术企业证书编号", "number of the valid high-tech certificate",
         (_s("certifications", "certification", "certificate_no", "valid_from", "valid_to"),),
         _VALID + "; the certificate that started last; unknown when its number is empty or not letters and digits"),
    Fact("high_tech_renewal", "bool", "高新技术企业重新认定", "the valid high-tech certificate is a renewal",
         (_s("certifications", "certification", "valid_from", "valid_to"),),
         _VALID + "; a renewal when an earlier high-tech certificate started before it", absent="none"),
    Fact("specialised_innovative", "bool", "专精特新中小企业", "specialised-and-innovative SME (any level)",
         (_s("certifications", "certification", "valid_from", "valid_to"),), _VALID, absent="none"),
    Fact("little_giant", "bool", "专精特新“小巨人”企业", "national specialised-and-innovative 'little giant'",
         (_s("certifications", "certification", "valid_from", "valid_to"),), _VALID, absent="none"),
    Fact("single_champion", "bool", "制造业单项冠军企业", "manufacturing single-item champion",
         (_s("certifications", "certification", "valid_from", "valid_to"),), _VALID, absent="none"),
)  # fmt: skip

DECLARED_FACTS: tuple[Fact, ...] = load_declared(DECLARED_FILE, reserved=frozenset(f.name for f in REGISTRY_FACTS))
FACTS: tuple[Fact, ...] = REGISTRY_FACTS + DECLARED_FACTS
_BY_NAME = {f.name: f for f in FACTS}


def fact(name: str) -> Fact:
    return _BY_NAME[name]
