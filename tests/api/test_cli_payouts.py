"""`huiqi payouts` as an officer runs it: a real process from a run to the bank's answer, and its refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.api.test_cli import huiqi

AFTER_WINDOW = (datetime.now(UTC).date() + timedelta(days=16)).isoformat()  # every notice's deadline passed


def _return_file(payment_file: bytes, failed_line: int, *, total_off_by: int = 0) -> bytes:
    """The bank's answer to a payment file: every payment paid but ``failed_line`` (name mismatch)."""
    lines = [json.loads(x) for x in payment_file.decode().splitlines()]
    header, payments = lines[0], lines[1:-1]
    statuses = [
        {"record": "status", "reference": p["reference"], "amount_fen": p["amount_fen"]}
        | ({"status": "failed", "reason_code": "BE01"} if p["line"] == failed_line else {"status": "paid"})
        for p in payments
    ]
    top = {"record": "header", "format": "huiqi.return/1", "batch_id": header["batch_id"], "count": len(statuses),
           "total_fen": sum(s["amount_fen"] for s in statuses) + total_off_by}  # fmt: skip
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [top, *statuses]).encode()


def test_cli_payouts_when_walked_from_prepare_to_reconcile_says_each_step_and_refuses_clearly(tmp_path):
    registry = tmp_path / "registry"
    assert huiqi("generate", "--enterprises", "300", "--seed", "5", "--out", str(registry)).returncode == 0
    env = {"HUIQI_DATA_DIR": str(tmp_path / "data")}
    ran = huiqi("run", "--registry", str(registry), "--as-of", "2025-06-30", env=env)
    assert ran.returncode == 0, ran.stderr

    prepared = huiqi("payouts", "prepare", "--by", "alice", "--as-of", AFTER_WINDOW, "--registry", str(registry),
                     env=env)  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr
    said = " ".join(prepared.stderr.split())
    assert f"batch 1 prepared as of {AFTER_WINDOW}:" in said and "made payable now:" in said
    assert "next: another officer approves it — huiqi payouts approve 1 --by NAME" in said

    # The maker may not check: refused, with what to do, and no traceback.
    refused = huiqi("payouts", "approve", "1", "--by", "alice", env=env)
    assert refused.returncode == 2
    assert "cannot approve batch 1: alice prepared it" in refused.stderr
    assert "ask another officer to approve it" in refused.stderr and "Traceback" not in refused.stderr

    approved = huiqi("payouts", "approve", "1", "--by", "bob", env=env)
    assert approved.returncode == 0, approved.stderr
    assert "batch 1 approved as of" in approved.stderr and "approved by cli:bob" in approved.stderr

    out = tmp_path / "bank" / "payment-1.jsonl"
    exported = huiqi("payouts", "export", "1", "--by", "bob", "--out", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    payment_file = out.read_bytes()
    count = len(payment_file.splitlines()) - 2
    assert f"wrote {out}: {count:,} payments" in " ".join(exported.stderr.split()) and count > 10

    # A return file whose header does not add up: refused whole, the line named, nothing applied.
    wrong = tmp_path / "bank" / "return-wrong.jsonl"
    wrong.write_bytes(_return_file(payment_file, failed_line=2, total_off_by=100))
    refused = huiqi("payouts", "reconcile", str(wrong), "--by", "bob", env=env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    shown = " ".join(refused.stderr.split())
    assert f"return file refused whole, nothing was applied — {wrong}, line 1: control totals do not match" in shown
    assert f"the header says {count} payments" in shown
    assert "batch 1 exported" in huiqi("payouts", "show", "1", env=env).stderr

    answer = tmp_path / "bank" / "return-1.jsonl"
    answer.write_bytes(_return_file(payment_file, failed_line=2))
    reconciled = huiqi("payouts", "reconcile", str(answer), "--by", "bob", env=env)
    assert reconciled.returncode == 0, reconciled.stderr
    said = " ".join(reconciled.stderr.split())
    assert f"batch 1 reconciled: paid {count - 1:,} (" in said and "failed 1 (" in said
    assert "the enterprises are notified" in said
    again = huiqi("payouts", "reconcile", str(answer), "--by", "bob", env=env)
    assert "batch 1: already reconciled from this very file; nothing changed" in again.stderr

    # A batch that does not exist: said plainly, with where to look.
    for args in (("approve", "7", "--by", "bob"), ("show", "7")):
        unknown = huiqi("payouts", *args, env=env)
        assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
        assert "no payment batch 7: `huiqi payouts list` shows them" in unknown.stderr
