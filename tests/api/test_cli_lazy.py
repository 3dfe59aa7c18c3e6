"""`huiqi --help` lists every command without importing the heavy libraries; running a command loads it."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest
import typer.main

from api.cli import app
from api.cli.lazy import COMMANDS

HEAVY = ("polars", "numpy", "lightgbm", "mlflow", "fastapi", "sqlalchemy", "alembic", "z3", "networkx", "httpx")


def _help_in_a_fresh_interpreter(*args: str) -> tuple[str, set[str]]:
    code = (
        "import sys\nfrom api.cli import main\nsys.argv = ['huiqi', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('LOADED', ' '.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out, _, loaded = done.stdout.rpartition("LOADED")
    return out, set(loaded.split())


def test_help_lists_every_command_and_imports_no_heavy_library():
    out, loaded = _help_in_a_fresh_interpreter("--help")
    assert loaded == set()
    for name in COMMANDS:
        assert name in out, name


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_s_own_help_imports_no_heavy_library(command):
    """`huiqi payouts --help` took 1.3 s and `huiqi notices --help` 1.6 s, loading polars, SQLAlchemy and networkx
    to print a few lines: each command module imports what its commands run inside them."""
    out, loaded = _help_in_a_fresh_interpreter(command, "--help")
    assert command in out and "--help" in out
    assert loaded == set()


def test_the_supervision_package_loads_each_name_when_asked_for():
    import matcher.supervision as supervision
    from matcher.supervision import _WHERE

    assert set(supervision.__all__) == set(_WHERE)
    for module in set(_WHERE.values()):  # a submodule imported first sets the package's attribute of its own name
        importlib.import_module(f"matcher.supervision.{module}")
    for name in supervision.__all__:
        value = getattr(supervision, name)
        assert getattr(importlib.import_module(f"matcher.supervision.{_WHERE[name]}"), name) is value, name
        assert not isinstance(value, types.ModuleType), name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        supervision.nothing  # noqa: B018


def test_a_command_s_own_help_loads_its_module_only():
    out, loaded = _help_in_a_fresh_interpreter("token", "--help")
    assert "create" in out and "revoke" in out
    # Tokens live in api.service, whose app (FastAPI, the ranker, MLflow) only a command serving it loads.
    assert not loaded & {"lightgbm", "mlflow", "fastapi"}


def test_a_command_that_signs_links_does_not_load_the_web_pages():
    """`huiqi notices` signs the links in the notices it delivers (``api.web.links``): the pages, and FastAPI with
    them, load only with the app that serves them (``mount_web``), not with the package."""
    out, loaded = _help_in_a_fresh_interpreter("notices", "--help")
    assert "deliver" in out
    assert not loaded & {"fastapi", "lightgbm", "mlflow"}


def test_the_ranker_s_commands_help_loads_no_model_store():
    """`huiqi model --help`: the model store (MLflow's client, LightGBM) and the database load with a command that
    reads them, not with its help."""
    out, loaded = _help_in_a_fresh_interpreter("model", "--help")
    assert "show" in out and "demote" in out
    assert not loaded & {"lightgbm", "mlflow", "fastapi", "sqlalchemy"}


def test_the_run_s_help_loads_none_of_the_run_s_machinery():
    """`huiqi run --help`, the command read most: its module imports the run's machinery in the command itself."""
    out, loaded = _help_in_a_fresh_interpreter("run", "--help")
    assert "--registry" in out and "--partitions" in out
    assert loaded == set()


def test_the_table_names_each_command_s_module_and_help_as_the_command_itself_does():
    for module in {m for m, _ in COMMANDS.values()}:
        importlib.import_module(f"api.cli.{module}")
    real = typer.main.get_group(app).commands
    assert set(real) == set(COMMANDS), "a command was added or renamed: update the table in api/cli/__init__.py"
    for name, command in real.items():
        module, short_help = COMMANDS[name]
        callbacks = [command.callback] if command.callback else []
        if isinstance(command, typer.core.TyperGroup):
            callbacks = [sub.callback for sub in command.commands.values()]
        assert {c.__module__ for c in callbacks} == {f"api.cli.{module}"}, name
        assert command.get_short_help_str(limit=1000) == short_help, name


def test_no_help_text_loses_a_bracketed_word_to_rich_markup():
    """Typer renders help through rich, which reads ``[word]`` as a style tag and drops it ('huiqi[scale]' showed
    as 'huiqi'): a literal bracket in a help text must be escaped (``\\[``)."""
    from rich.text import Text

    for module in {m for m, _ in COMMANDS.values()}:
        importlib.import_module(f"api.cli.{module}")
    lost = []

    def check(where: str, text: str | None) -> None:
        if text and Text.from_markup(text).plain != text.replace("\\[", "["):
            lost.append(f"{where}: {text!r}")

    def walk(command, path: str) -> None:
        check(path, command.help)
        for param in command.params:
            check(f"{path} {param.name}", getattr(param, "help", None))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_group(app), "huiqi")
    assert not lost, "help text rich would cut (escape the bracket as \\[):\n" + "\n".join(lost)
