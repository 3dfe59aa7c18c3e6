"""`--engine ray`: the run's passes as tasks on a local 2-CPU Ray cluster write exactly what the local engine
writes, and a run whose worker fails part-way is resumed by running it again (issue 17)."""

import re
from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest

from features.registries.split import RegistrySplit
from features.synthetic import generate
from matcher.db import make_engine, upgrade
from matcher.engines import Ray, open_engine
from matcher.errors import MatcherError, NotOnThisMachine
from matcher.ranking.serve import PushPlan
from matcher.run import run_matching
from matcher.run_passes import Held, Part, decide_part, profile_part, write_part
from policies.load import load_catalogue
from tests.api.test_cli import huiqi
from tests.matcher.test_run_partitions import emptied, table_counts, written

ray = pytest.importorskip("ray", reason="Ray is the optional scale extra; make setup installs it with dev")

AS_OF = date(2025, 6, 30)
NOW = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def cluster():
    """One local cluster of 2 CPUs for the session: starting Ray takes seconds."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    out = tmp_path_factory.mktemp("registry")
    generate(out, enterprises=600, seed=12)
    return out


class FailingOnce:
    """A stand-in champion that fails the first time it scores a partition, while ``flag`` exists: a worker
    dying part-way through writing."""

    version = "test-ranker/1"

    def __init__(self, flag) -> None:
        self.flag = flag

    def score(self, features: np.ndarray) -> np.ndarray:
        if self.flag.exists():
            self.flag.unlink()
            raise RuntimeError("worker lost")
        return np.nan_to_num(features).sum(axis=1)


def test_run_on_ray_writes_what_the_local_engine_writes(engine, registry, cluster, tmp_path):
    policies = load_catalogue().in_force(AS_OF)
    before = table_counts(engine)
    local = run_matching(engine, registry, AS_OF, policies, partitions=3, push=PushPlan(), now=lambda: NOW)
    expected = written(engine)
    emptied(engine, before)
    steps: list[str] = []
    remote = run_matching(
        engine,
        registry,
        AS_OF,
        policies,
        partitions=3,
        push=PushPlan(),
        now=lambda: NOW,
        passes=open_engine("ray"),
        progress=steps.append,
    )
    assert (remote.run_id, remote.counts, remote.budgets) == (local.run_id, local.counts, local.budgets)
    assert written(engine) == expected
    assert "writes: 3 of 3 partitions done on ray" in steps


def test_run_on_ray_when_a_worker_fails_is_resumed_by_running_it_again(engine, registry, cluster, tmp_path):
    policies = load_catalogue().in_force(AS_OF)
    before = table_counts(engine)
    flag = tmp_path / "fail"
    plan = PushPlan(scorer=FailingOnce(flag))
    uninterrupted = run_matching(engine, registry, AS_OF, policies, partitions=3, push=plan, now=lambda: NOW)
    expected = written(engine)
    emptied(engine, before)
    flag.touch()
    with pytest.raises(RuntimeError, match="worker lost") as failed:
        run_matching(engine, registry, AS_OF, policies, partitions=3, push=plan, now=lambda: NOW, passes=Ray())
    assert isinstance(failed.value.__cause__, ray.exceptions.RayTaskError)  # the worker's traceback, kept
    assert not flag.exists()  # it did fail part-way
    again = run_matching(engine, registry, AS_OF, policies, partitions=3, push=plan, now=lambda: NOW, passes=Ray())
    assert again.outcome == "completed" and again.counts == uninterrupted.counts
    assert written(engine) == expected


def _refused(k: int) -> None:
    raise MatcherError(f"partition {k}: the registry's file is not what the contract says")


def test_a_pass_failing_on_a_ray_worker_raises_its_own_error_as_the_local_engine_does(cluster):
    """A domain error of a worker reaches the user as the local engine gives it — its message, no Ray wrapper
    with the worker's pid and traceback in the text the CLI prints — and the wrapper stays as its cause."""
    with pytest.raises(MatcherError) as failed:
        Ray().map(_refused, [(0,), (1,)], lambda _done: None)
    assert type(failed.value) is MatcherError
    assert re.fullmatch(r"partition [01]: the registry's file is not what the contract says", str(failed.value))
    assert isinstance(failed.value.__cause__, ray.exceptions.RayTaskError)


def test_a_partition_pass_that_cannot_read_the_run_s_files_says_which_and_how_to_fix_it(tmp_path, registry):
    """On a cluster of several machines a worker reads the registry and the run's folder by the paths the run's
    process gave: where they are not, each pass says which is missing, where, and what to pass instead."""
    gone = tmp_path / "huiqi-run-on-another-machine"
    part = Part("run", AS_OF, (), 2, Held(gone), "postgresql://db/huiqi", 1000)
    with pytest.raises(NotOnThisMachine, match=f"the run's folder \\(--spill\\) {re.escape(str(gone))} is not on"):
        decide_part(part, 0, pl.DataFrame(), None, None, None)
    with pytest.raises(NotOnThisMachine, match="mounts at the same path: give --registry and --spill such paths"):
        write_part(part, 1, {})
    here = Part("run", AS_OF, (), 2, Held(tmp_path), "postgresql://db/huiqi", 1000)
    elsewhere = RegistrySplit(tmp_path / "registry-elsewhere", "f", 2, tmp_path, AS_OF, {})
    with pytest.raises(NotOnThisMachine, match=r"the registry \(--registry\) .*registry-elsewhere is not on"):
        profile_part(here, 0, elsewhere, pl.DataFrame(), False)


def test_engine_unknown_or_address_without_ray_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="expected one of local, ray, found 'spark'"):
        open_engine("spark")
    with pytest.raises(ValueError, match="--address: only with --engine ray"):
        open_engine("local", "ray://head:10001")


def test_cli_run_with_an_address_but_the_local_engine_says_so_before_any_work(tmp_path):
    registry = tmp_path / "registry"
    registry.mkdir()
    env = {"HUIQI_DATA_DIR": str(tmp_path / "data")}
    done = huiqi("run", "--registry", str(registry), "--as-of", "2025-06-30", "--address", "ray://head:10001", env=env)
    assert done.returncode == 2 and "--address: only with --engine ray" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "data" / "huiqi.db").exists()
    other = huiqi("run", "--registry", str(registry), "--as-of", "2025-06-30", "--engine", "spark", env=env)
    assert other.returncode == 2 and "spark" in other.stderr and "local" in other.stderr and "ray" in other.stderr


def test_run_on_ray_with_an_in_memory_database_is_refused_before_it_starts(registry, cluster):
    memory = make_engine("sqlite://")
    upgrade(memory)
    with pytest.raises(ValueError, match="the database is in memory, which the workers cannot reach"):
        run_matching(memory, registry, AS_OF, load_catalogue().in_force(AS_OF), partitions=2, passes=open_engine("ray"))
