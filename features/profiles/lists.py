"""Facts from registries that list every case: patents, credit lists, certifications.

Absence from these registries means none, so their counts and flags are
filled with 0 / false when the profile is assembled.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from features.profiles.periods import years_before

__all__ = [
    "CERTIFICATES",
    "CERTIFICATE_NO_PATTERN",
    "PATENT_TERM_YEARS",
    "certification_facts",
    "credit_list_facts",
    "patent_facts",
]

# Protection terms from filing (专利法 art. 42, as amended in 2020: designs 15 years).
PATENT_TERM_YEARS = {"invention": 20, "utility_model": 10, "design": 15}

# A certificate number that can key a benefit (matcher.periods: 'cert:' and the number, 64 characters at most, also
# a URL path segment): letters and digits, at least one digit (e.g. GR202344001234). Anything else, e.g.
# 'GR 2023/44', is no usable number: the fact is unknown and a per-certificate benefit asks for it.
CERTIFICATE_NO_PATTERN = r"^[A-Za-z0-9]{1,59}$"
# The facts that name a certificate (its number), each with the fact holding the start of its validity: a benefit
# paid once per certificate is keyed by the number (policies' benefit.certificate) and shows the start beside it.
CERTIFICATES: dict[str, str] = {"high_tech_certificate_no": "high_tech_valid_from"}


def patent_facts(patents: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    in_force = pl.lit(False)
    for kind, years in PATENT_TERM_YEARS.items():
        in_force = in_force | ((pl.col("patent_type") == kind) & (pl.col("filed_on") > years_before(as_of, years)))
    return (
        patents.filter((pl.col("granted_on") <= as_of) & in_force)
        .group_by("uscc")
        .agg(
            (pl.col("patent_type") == kind).sum().cast(pl.Int32).alias(f"patents_{kind}") for kind in PATENT_TERM_YEARS
        )
    )


def credit_list_facts(lists: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    removed = pl.col("removed_on")
    on_list = (pl.col("listed_on") <= as_of) & (removed.is_null() | (removed > as_of))
    return (
        lists.filter(on_list)
        .group_by("uscc")
        .agg((pl.col("list") == name).any().alias(name) for name in ("serious_dishonesty", "abnormal_operation"))
    )


def certification_facts(certs: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Certifications valid on ``as_of``, and the valid high-tech certificate: its number, start and whether it is
    a renewal.

    The valid high-tech certificate is the one that started last. Its number is null when the registry left it
    empty or it is no usable number: a per-certificate benefit then needs data, never a silent pass. Two rows with
    one number are set aside by the registry check (the number is the certifications table's key), so a number
    here names one firm's certificate.
    """
    started = certs.filter(pl.col("valid_from") <= as_of)
    valid = pl.col("valid_to") >= as_of
    high_tech = pl.col("certification") == "high_tech"
    current_from = pl.col("valid_from").filter(high_tech & valid).max()
    stripped = pl.col("certificate_no").str.strip_chars()
    number = pl.when(stripped.str.contains(CERTIFICATE_NO_PATTERN) & stripped.str.contains("[0-9]")).then(stripped)
    # The number apart, on the valid high-tech rows only: an expression sorting inside each of a million groups
    # costs seconds, a sort of these rows and a join a fraction. The last to start; of two starting the same day,
    # one whose number is known (rows keep their order within a group).
    numbers = (
        started.filter(high_tech & valid)
        .select("uscc", "valid_from", number.alias("high_tech_certificate_no"))
        .sort("valid_from", pl.col("high_tech_certificate_no").is_not_null())
        .group_by("uscc")
        .agg(pl.col("high_tech_certificate_no").last())
    )
    facts = started.group_by("uscc").agg(
        (high_tech & valid).any().alias("high_tech"),
        current_from.alias("high_tech_valid_from"),
        (pl.col("valid_from").filter(high_tech).min() < current_from).alias("high_tech_renewal"),
        ((pl.col("certification") == "specialised_innovative") & valid).any().alias("specialised_innovative"),
        ((pl.col("certification") == "little_giant") & valid).any().alias("little_giant"),
        ((pl.col("certification") == "single_champion") & valid).any().alias("single_champion"),
    )
    return facts.join(numbers, on="uscc", how="left")
