"""The `huiqi` command as a user runs it: exit codes and messages.

Most tests run the command in this process (``huiqi``: the console script's own ``main()`` with its argv,
environment, working directory and streams swapped, as fast as a function call); the few that must prove the
installed entry point behaves the same in a process of its own use ``huiqi_process``.
"""

import contextlib
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path
from unittest import mock

import polars as pl
import pytest
from click.testing import CliRunner

from api.cli import main
from features.profiles.store import read_profile_info

ROOT = Path(__file__).resolve().parents[2]


def huiqi(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``huiqi ARGS`` in this process; stdout, stderr and the exit code as a process would give them."""
    with (
        CliRunner().isolation(env=env) as (stdout, stderr, _),
        contextlib.chdir(cwd or ROOT),
        mock.patch.object(sys, "argv", ["huiqi", *args]),
    ):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
        except Exception:
            traceback.print_exc()  # as the interpreter does for an uncaught error: a test sees "Traceback"
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
    return subprocess.CompletedProcess(["huiqi", *args], code, stdout.getvalue().decode(), stderr.getvalue().decode())


def huiqi_process(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``huiqi ARGS`` in a process of its own, as a user does."""
    code = "from api.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_cli_when_generate_check_profiles_run_in_turn_writes_profiles_and_quarantine(tmp_path):
    registry = tmp_path / "registry"
    done = huiqi("generate", "--enterprises", "800", "--seed", "3", "--dirty", "0.01", "--out", str(registry))
    assert done.returncode == 0, done.stderr
    checked = huiqi("check", "--registry", str(registry), "--quarantine", str(tmp_path / "q"))
    assert checked.returncode == 0, checked.stderr
    assert "quarantined rows by reason" in checked.stderr and "unknown_enterprise" in checked.stderr
    out = tmp_path / "profiles.parquet"
    built = huiqi("profiles", "--registry", str(registry), "--as-of", "2025-06-30", "--out", str(out))
    assert built.returncode == 0, built.stderr
    profiles = pl.read_parquet(out)
    assert profiles.height > 700 and profiles["uscc"].is_unique().all()
    info = read_profile_info(out)
    assert str(info.as_of) == "2025-06-30" and len(info.registry_fingerprint) == 64
    quarantine = pl.read_csv(tmp_path / "quarantine" / "business.csv")
    assert {"row", "column", "rule", "reason"} <= set(quarantine.columns)


def test_cli_when_a_registry_file_lacks_a_column_names_file_and_column_without_traceback(tmp_path):
    registry = tmp_path / "registry"
    assert huiqi("generate", "--enterprises", "50", "--out", str(registry)).returncode == 0
    path = registry / "tax_credit.parquet"
    pl.read_parquet(path).drop("rating").write_parquet(path)
    done = huiqi("profiles", "--registry", str(registry), "--as-of", "2025-06-30", "--out", str(tmp_path / "p.parquet"))
    assert done.returncode == 2
    assert "tax_credit.parquet" in done.stderr and "rating" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "p.parquet").exists()


def test_cli_when_as_of_is_not_a_date_refuses_with_usage_error(tmp_path):
    args = ("profiles", "--registry", str(tmp_path), "--as-of", "30/06/2025", "--out", str(tmp_path / "p"))
    done = huiqi_process(*args)  # the installed entry point, in a process of its own
    assert done.returncode == 2
    assert "--as-of" in done.stderr and "Traceback" not in done.stderr


def test_cli_when_policies_check_the_shipped_catalogue_passes_every_example():
    done = huiqi("policies", "check")
    assert done.returncode == 0, done.stderr
    assert "examples pass" in done.stderr


def test_cli_when_a_policy_file_is_bad_exits_non_zero_with_file_line_and_column(tmp_path):
    source = (ROOT / "policies" / "catalogue" / "p01-job-retention-refund.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(source.replace('"ui_paid_months >= 12"', '"ui_paid_months >= twelve"'), encoding="utf-8")
    done = huiqi("policies", "check", str(bad))
    assert done.returncode == 1
    assert "bad.yaml:" in done.stderr and "unknown fact 'twelve'" in done.stderr


def test_cli_when_explaining_a_decision_prints_each_condition_with_its_source(tmp_path):
    registry = tmp_path / "registry"
    assert huiqi("generate", "--enterprises", "300", "--seed", "5", "--out", str(registry)).returncode == 0
    out = tmp_path / "profiles.parquet"
    assert huiqi("profiles", "--registry", str(registry), "--as-of", "2025-06-30", "--out", str(out)).returncode == 0
    uscc = pl.read_parquet(out)["uscc"][0]
    done = huiqi("policies", "explain", "--uscc", uscc, "--policy", "job-retention-refund", "--profiles", str(out))
    assert done.returncode == 0, done.stderr
    assert "失业保险稳岗返还" in done.stderr and "来源：人社，截至2025-06-30" in done.stderr
    missing = huiqi("policies", "explain", "--uscc", "X", "--policy", "job-retention-refund", "--profiles", str(out))
    assert missing.returncode == 2 and "no profile for X" in missing.stderr


def test_cli_when_run_twice_for_one_date_decides_once_and_says_so(tmp_path):
    registry = tmp_path / "registry"
    assert huiqi("generate", "--enterprises", "300", "--seed", "8", "--out", str(registry)).returncode == 0
    env = {"HUIQI_DATA_DIR": str(tmp_path / "data")}
    first = huiqi("run", "--registry", str(registry), "--as-of", "2025-06-30", "--json", env=env)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["outcome"] == "completed" and summary["counts"]["granted"] > 0
    assert (tmp_path / "data" / "huiqi.db").exists()
    second = huiqi("run", "--registry", str(registry), "--as-of", "2025-06-30", env=env)
    assert second.returncode == 0 and "already completed earlier: nothing changed" in second.stderr


@pytest.mark.slow  # the whole demo: registries, three months of feedback, training, a run
def test_cli_demo_goes_from_nothing_to_a_ranked_run_with_working_tokens_and_urls(tmp_path):
    import re

    from sqlalchemy import select

    from api.service.tokens import lookup_token
    from matcher.db import make_engine
    from matcher.db.models import runs

    data = tmp_path / "data"
    done = huiqi("demo", "--enterprises", "1500", "--history", "2", "--no-serve", env={"HUIQI_DATA_DIR": str(data)})
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout + done.stderr  # the demo talks to a person: its report is on the console (stderr)
    assert "held-out take-up captured by the first 3 notices" in out and "/docs" in out and "/enterprises/" in out
    engine = make_engine(f"sqlite:///{data / 'huiqi.db'}")
    with engine.connect() as connection:
        latest = connection.execute(select(runs.c.as_of, runs.c.model_version).order_by(runs.c.as_of.desc())).first()
    assert str(latest.as_of) == "2025-06-30"
    # The ranker is promoted only when it beats the fallback order beyond chance (a small demo may not show it);
    # either way the final run says truly what ordered its notices.
    promoted = re.search(r"ranker version \d+: .* — champion \(", out) is not None
    assert promoted == bool(latest.model_version), out[-1500:]
    assert promoted or " — not promoted (" in out
    tokens = dict(re.findall(r"^\s+(officer|analyst|enterprise)\s+(hq_\S+)", out, flags=re.MULTILINE))
    assert set(tokens) == {"officer", "analyst", "enterprise"}
    assert all(lookup_token(engine, t).role == role for role, t in tokens.items())


def test_cli_profiles_when_firms_are_established_later_or_in_the_future_counts_each_left_out(tmp_path):
    from datetime import date

    from tests.factories import uscc, write_registry

    firms = [
        {"uscc": uscc(1)},
        {"uscc": uscc(2), "established_on": date(2025, 9, 1)},  # after the as-of date: no profile yet
        {"uscc": uscc(3), "established_on": date(2999, 1, 1)},  # impossible: quarantined with its reason
    ]
    registry = write_registry(tmp_path / "registry", {"business": firms})
    out = tmp_path / "profiles.parquet"
    done = huiqi("profiles", "--registry", str(registry), "--as-of", "2025-06-30", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert pl.read_parquet(out)["uscc"].to_list() == [uscc(1)]
    assert "enterprises left out of the profiles: 1 quarantined in business registration" in done.stderr
    assert "1 established after 2025-06-30" in done.stderr
    (record,) = pl.read_csv(tmp_path / "quarantine" / "business.csv").to_dicts()
    assert (record["rule"], record["column"], record["value"]) == ("future", "established_on", "2999-01-01")


def test_cli_run_when_as_of_is_outside_the_window_says_the_window_without_traceback(tmp_path):
    registry = tmp_path / "registry"
    registry.mkdir()
    done = huiqi("run", "--registry", str(registry), "--as-of", "9999-12-31", env={"HUIQI_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "as-of date 9999-12-31 is outside the window a run can decide for (1990-01-01 to" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_run_summary_when_a_policy_has_amount_errors_names_policy_count_and_enterprises(capsys):
    from datetime import date

    from api.cli.run import print_summary
    from matcher.run import RunSummary

    errors = {"p2": {"enterprises": 1354, "reasons": ["negative"], "examples": [{"uscc": "E1", "amount_yuan": -5.0}]}}
    print_summary(RunSummary("r1", date(2025, 6, 30), "completed", {"granted": 3}, amount_errors=errors))
    shown = " ".join(capsys.readouterr().err.split())
    assert "amount error p2: 1,354 enterprises got an amount that cannot be paid (negative), e.g. E1" in shown
