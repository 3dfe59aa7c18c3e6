"""The two files exchanged with the bank, both JSON Lines (UTF-8, one JSON object a line, ``\\n``-terminated).

The payment file (ours → bank), modelled on ISO 20022 pain.001: a ``header`` with the control totals,
one ``payment`` per item, a ``trailer`` repeating the totals with the SHA-256 of every byte before it.
The return file (bank → ours), modelled on pain.002: a ``header`` with the control totals of the lines
it holds, one ``status`` per payment (paid, or failed with an ISO 20022 reason code). docs/payouts.md
documents both, field by field. JSON rather than CSV: names with commas, quotes or a leading ``=`` need
no escaping, and nothing is ever re-typed by a spreadsheet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
import polars as pl

from matcher.payouts.errors import ReturnFileRefused

__all__ = [
    "PAYMENT_FORMAT",
    "REASONS",
    "RETURN_FORMAT",
    "ReturnFile",
    "bank_return",
    "parse_return",
    "payment_file",
    "yuan",
]

PAYMENT_FORMAT = "huiqi.payment/1"
RETURN_FORMAT = "huiqi.return/1"
CURRENCY = "CNY"
# ISO 20022 external status reason codes a bank returns a transfer with: code → (en, zh).
REASONS: dict[str, tuple[str, str]] = {
    "AC01": ("incorrect account number", "账号错误"),
    "AC04": ("account closed", "账户已销户"),
    "AC06": ("account blocked (frozen)", "账户冻结"),
    "BE01": ("account name does not match the payee (name mismatch)", "户名不符"),
    "RC01": ("bank code incorrect", "行号错误"),
    "MS03": ("reason not specified by the bank", "其他原因"),
}
_ITEM_SCHEMA = ["line", "reference", "uscc", "policy_id", "period_key", "amount_fen", "bank_code", "account_no"]
_ITEM_SCHEMA += ["account_name"]


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals, exactly (no float): 123456 → '1234.56'."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record) + b"\n"


def payment_file(batch: Any, items: pl.DataFrame) -> bytes:
    """The payment file of ``batch`` (a payment_batches row) with ``items`` (its payment items, by line)."""
    count, total = items.height, int(items["amount_fen"].sum()) if items.height else 0
    header = {
        "record": "header",
        "format": PAYMENT_FORMAT,
        "batch_id": batch.id,
        "as_of": batch.as_of.isoformat(),
        "prepared_by": batch.prepared_by,
        "approved_by": batch.approved_by,
        "count": count,
        "total_fen": total,
        "total_yuan": yuan(total),
        "currency": CURRENCY,
    }
    fen = pl.col("amount_fen")
    payments = items.sort("line").select(
        record=pl.lit("payment"),
        line="line",
        reference="reference",
        payee_name="account_name",
        payee_account="account_no",
        payee_bank_code="bank_code",
        amount_fen=fen,
        amount_yuan=pl.format("{}.{}", fen // 100, (fen % 100).cast(pl.String).str.zfill(2)),
        currency=pl.lit(CURRENCY),
        remittance_info=pl.format("免申即享 {} {} {}", "policy_id", "period_key", "uscc"),
    )
    body = _line(header) + (payments.write_ndjson().encode() if count else b"")
    trailer = {
        "record": "trailer",
        "count": count,
        "total_fen": total,
        "total_yuan": yuan(total),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    return body + _line(trailer)


def bank_return(batch_id: int, outcomes: pl.DataFrame) -> bytes:
    """A return file as a bank would send it: ``outcomes`` has reference, amount_fen, status, and for a failure
    reason_code (and reason). For tests, demos and the benchmark: huiqi never writes the bank's answer itself."""
    lines = outcomes.select(
        record=pl.lit("status"),
        reference="reference",
        status="status",
        amount_fen="amount_fen",
        reason_code=pl.col("reason_code") if "reason_code" in outcomes.columns else pl.lit(None, pl.String),
        reason=pl.col("reason") if "reason" in outcomes.columns else pl.lit(None, pl.String),
    )
    header = {
        "record": "header",
        "format": RETURN_FORMAT,
        "batch_id": batch_id,
        "count": lines.height,
        "total_fen": int(lines["amount_fen"].sum()) if lines.height else 0,
    }
    return _line(header) + (lines.write_ndjson().encode() if lines.height else b"")


@dataclass(frozen=True)
class ReturnFile:
    batch_id: int
    count: int
    total_fen: int
    sha256: str
    lines: pl.DataFrame  # line, reference, status, amount_fen, reason_code, reason


def _refuse(source: str, line: int | None, en: str, zh: str) -> ReturnFileRefused:
    where = f"{source}, line {line}" if line else source
    return ReturnFileRefused(
        f"return file refused whole, nothing was applied — {where}: {en}",
        f"银行回执文件整体退回，未作任何处理——{where}：{zh}",
        line=line,
    )


def _int(record: dict[str, Any], name: str, source: str, line: int, *, positive: bool = False) -> int:
    value = record.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < (1 if positive else 0):
        wanted = "a whole number of fen above 0" if positive else "a whole number, 0 or more"
        raise _refuse(source, line, f"'{name}': expected {wanted}, found {value!r}",
                      f"“{name}”应为{'大于 0 的整数（分）' if positive else '非负整数'}，实际为 {value!r}")  # fmt: skip
    return value


def parse_return(data: bytes, source: str) -> ReturnFile:
    """Read and check a return file line by line; ``ReturnFileRefused`` names the first wrong line or total."""
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    records = []
    for number, text in enumerate(raw, start=1):
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise _refuse(source, number, f"not a JSON object ({exc}); each line is one JSON object",
                          f"不是有效的 JSON 对象（{exc}）") from None  # fmt: skip
        if not isinstance(record, dict):
            raise _refuse(source, number, "expected a JSON object", "应为 JSON 对象")
        # A database's text cannot hold U+0000 (PostgreSQL refuses it): named here, with its line.
        held = next((k for k, v in record.items() if isinstance(v, str) and "\x00" in v), None)
        if held is not None:
            raise _refuse(source, number, f"'{held}': contains a NUL character (U+0000), which cannot be stored",
                          f"“{held}”含有空字符（U+0000），无法保存")  # fmt: skip
        records.append(record)
    if not records or records[0].get("record") != "header":
        raise _refuse(source, 1, 'expected a header line first ({"record": "header", ...})', "首行应为文件头")
    header = records[0]
    if header.get("format") != RETURN_FORMAT:
        raise _refuse(source, 1, f"'format': expected {RETURN_FORMAT!r}, found {header.get('format')!r}",
                      f"“format”应为 {RETURN_FORMAT}，实际为 {header.get('format')!r}")  # fmt: skip
    batch_id = _int(header, "batch_id", source, 1, positive=True)
    count = _int(header, "count", source, 1)
    total = _int(header, "total_fen", source, 1)
    rows = []
    seen: dict[str, int] = {}
    for number, record in enumerate(records[1:], start=2):
        if record.get("record") != "status":
            raise _refuse(source, number, f"'record': expected 'status', found {record.get('record')!r}",
                          "“record”应为 status")  # fmt: skip
        reference = record.get("reference")
        if not isinstance(reference, str) or not reference:
            raise _refuse(source, number, f"'reference': expected the payment's reference, found {reference!r}",
                          "缺少付款参考号（reference）")  # fmt: skip
        if reference in seen:
            raise _refuse(source, number, f"reference {reference} is answered twice (first on line {seen[reference]})",
                          f"参考号 {reference} 重复（首次出现在第 {seen[reference]} 行）")  # fmt: skip
        seen[reference] = number
        status = record.get("status")
        if status not in ("paid", "failed"):
            raise _refuse(source, number, f"'status': expected 'paid' or 'failed', found {status!r}",
                          f"“status”应为 paid 或 failed，实际为 {status!r}")  # fmt: skip
        amount = _int(record, "amount_fen", source, number, positive=True)
        code, reason = record.get("reason_code"), record.get("reason")
        if status == "failed" and code not in REASONS:
            codes = ", ".join(REASONS)
            raise _refuse(source, number, f"'reason_code': a failed payment needs one of {codes}, found {code!r}",
                          f"失败的付款须注明原因代码（{codes}），实际为 {code!r}")  # fmt: skip
        if status == "paid":
            code, reason = None, None
        elif not isinstance(reason, str) or not reason.strip():
            en, zh = REASONS[code]
            reason = f"{zh} / {en}"
        rows.append((number, reference, status, amount, code, reason))
    lines = pl.DataFrame(
        rows,
        schema={"line": pl.Int64, "reference": pl.String, "status": pl.String, "amount_fen": pl.Int64,
                "reason_code": pl.String, "reason": pl.String},
        orient="row",
    )  # fmt: skip
    found_total = int(lines["amount_fen"].sum()) if lines.height else 0
    if lines.height != count or found_total != total:
        raise _refuse(
            source,
            1,
            f"control totals do not match the lines: the header says {count} payments for {yuan(total)} yuan"
            f" ({total} fen), the lines hold {lines.height} for {yuan(found_total)} yuan ({found_total} fen);"
            " ask the bank for the complete file",
            f"控制总数与明细不符：文件头为 {count} 笔、{yuan(total)} 元，明细为 {lines.height} 笔、"
            f"{yuan(found_total)} 元，请向银行索取完整文件",
        )
    return ReturnFile(batch_id, count, total, hashlib.sha256(data).hexdigest(), lines)
