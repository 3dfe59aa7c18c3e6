"""The ranker seen from the service: the registry's versions, the champion model and its reasons.

The champion is loaded once per version and its alias re-read at most every
``ttl`` seconds, so reading a notice does not ask MLflow each time; a
promotion by a training job here is seen at once (``forget``), one made
elsewhere (`huiqi train`, `huiqi model demote`) within ``ttl``. With the
model in memory, ``reasons_at_once`` answers on the event loop (an indexed
query and a fraction of a millisecond); only reading the store takes a thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from matcher.ranking.drift import champion_drift
from matcher.ranking.errors import HeldOutPair, ModelStoreError, UnrankedPair
from matcher.ranking.evaluate import BASELINES
from matcher.ranking.explain import explain_pair
from matcher.ranking.first_wave import DECISION_METRICS
from matcher.ranking.model import BoosterScorer
from matcher.ranking.parts import Rows
from matcher.ranking.registry import ModelStore
from matcher.ranking.uplift import uplift

__all__ = [
    "HELD_OUT",
    "NOT_RANKED",
    "NO_CHAMPION",
    "Ranker",
    "grouped_decision_metrics",
    "grouped_metrics",
    "version_out",
]

log = logging.getLogger("huiqi.service.ranker")

# How long the request that took a due re-read of the champion upon itself keeps others from doing the same: its
# thread may wait behind a busy pool meanwhile, and a pool that never runs it must not leave the store unread.
CLAIM_SECONDS = 5.0
SCORERS = ("ranker", *BASELINES, "champion")
METRICS = ("ndcg_5", "ndcg_10", "map")
NO_CHAMPION = {
    "zh": "尚无排序模型：通知按默认顺序排列（已核定、待确认、推荐申请、待补充信息、差一点符合；同类中金额大者在前）",
    "en": "no ranking model is in service: notices follow the fallback order (granted, awaiting confirmation, "
    "recommended, needs data, near miss; within each, larger amounts first)",
}
NOT_RANKED = {
    "zh": "该事项所在批次未记录排序特征，无法说明排序原因",
    "en": "the run that decided this did not record ranking features, so there are no ranking reasons",
}
# The run's holdout (docs/ranking.md, "The holdout and the uplift"): said as plainly as the fallback order itself.
HELD_OUT = {
    "zh": "该企业属于本批次随机抽取的对照组（少量企业的通知不经排序模型排序，用以衡量模型的作用），通知按默认顺序排列"
    "（已核定、待确认、推荐申请、待补充信息、差一点符合；同类中金额大者在前）",
    "en": "this enterprise is in the run's comparison group, a small random share of enterprises whose notices are "
    "not ordered by the ranking model so that what it changes can be measured: its notices follow the fallback order "
    "(granted, awaiting confirmation, recommended, needs data, near miss; within each, larger amounts first)",
}
UNAVAILABLE = {
    "zh": "排序模型暂时无法读取，排序原因稍后可见",
    "en": "the ranking model cannot be read right now; its reasons will show once it can",
}


def grouped_metrics(flat: dict[str, float]) -> dict[str, dict[str, float]]:
    """MLflow's flat metric names (ndcg_5, amount_ndcg_5, champion_map, ...) by scorer, as training reports them."""
    out = {}
    for scorer in SCORERS:
        prefix = "" if scorer == "ranker" else f"{scorer}_"
        values = {m: flat[prefix + m] for m in METRICS if prefix + m in flat}
        if len(values) == len(METRICS):
            out[scorer] = values
    return out


def grouped_decision_metrics(flat: dict[str, float]) -> dict[str, dict[str, dict[str, float]]]:
    """The decision metrics with their intervals (take_up_first_wave, ..._low, ..._high as logged) by scorer."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for scorer in SCORERS:
        prefix = "" if scorer == "ranker" else f"{scorer}_"
        values = {
            m: {"value": flat[prefix + m], "low": flat[f"{prefix}{m}_low"], "high": flat[f"{prefix}{m}_high"]}
            for m in DECISION_METRICS
            if all(f"{prefix}{m}{s}" in flat for s in ("", "_low", "_high"))
        }
        if values:
            out[scorer] = values
    return out


def version_out(row: dict[str, Any]) -> dict[str, Any]:
    """A registry row (``ModelStore.versions``) as the API shows it (``ModelVersionOut``)."""
    metrics, params, tags = row["metrics"], row["params"], row["tags"]
    dates = [d for d in params.get("holdout_dates", "").split(",") if d]
    counted = {k: int(metrics[k]) for k in ("train_pairs", "holdout_pairs") if k in metrics}
    return {
        "name": row.get("name"),
        "version": row["version"],
        "champion": row["champion"],
        "aliases": row["aliases"],
        "run_id": row["run_id"],
        "registered_at": datetime.fromtimestamp(row["created"] / 1000, UTC),
        "feature_set": params.get("feature_set"),
        "metrics": grouped_metrics(metrics),
        "decision_metrics": grouped_decision_metrics(metrics),
        "push_cap": int(params["push_cap"]) if params.get("push_cap", "").isdigit() else None,
        "training_seconds": metrics.get("train_seconds"),
        **counted,
        "holdout_dates": [date.fromisoformat(d) for d in dates],
        "shuffled_labels": row["shuffled_labels"],
        "promoted": {"true": True, "false": False}.get(tags.get("promoted", "")),
        "reason": tags.get("reason"),
    }


class Ranker:
    def __init__(
        self, engine: Engine, store: ModelStore, *, ttl: float = 30.0, on_load: Callable[[], None] | None = None
    ) -> None:
        """``on_load``: called once the store was first read, and after each new champion is loaded (the service
        freezes the garbage collector's view then: ``create_app``)."""
        self.engine, self.store, self.ttl, self.on_load = engine, store, ttl, on_load
        self._lock = threading.Lock()
        self._checked = -float("inf")
        # When an async request last took the re-read upon itself (``reasons_at_once``): the requests that follow
        # it before its thread holds the lock answer from memory instead of each hopping to a thread.
        self._claimed = -float("inf")
        self._version: str | None = None
        self._model: BoosterScorer | None = None
        self._broken = False

    def versions(self) -> list[dict[str, Any]]:
        """Registered versions, newest first."""
        return [version_out(r | {"name": self.store.name}) for r in reversed(self.store.versions())]

    def champion_info(self) -> dict[str, Any] | None:
        row = self.store.champion_info()
        return None if row is None else version_out(row | {"name": self.store.name})

    def card(self, version: str) -> dict[str, Any] | None:
        """The model card of ``version``; None when it has none. Raises ``ModelStoreError`` for an unknown one."""
        if not any(r["version"] == version for r in self.store.versions()):
            raise ModelStoreError(f"no version {version} of the ranker is registered: GET /models/versions lists them")
        return self.store.card(version)

    def drift(self, run_id: str | None = None) -> dict[str, Any] | None:
        """The latest ranked run's features (or run ``run_id``'s) against the champion's training data."""
        return champion_drift(self.engine, self.store, run_id=run_id)

    def uplift(self, run_id: str | None = None) -> dict[str, Any]:
        """Take-up of ranked against held-out enterprises, from the responses received."""
        return uplift(self.engine, run_id=run_id).to_dict()

    def forget(self) -> None:
        """Re-read the champion on next use (after a promotion)."""
        with self._lock:
            self._checked = self._claimed = -float("inf")

    def champion(self) -> BoosterScorer | None:
        """The champion model, or None (none registered, or the store cannot be read)."""
        return self._current()[0]

    def _current(self) -> tuple[BoosterScorer | None, bool]:
        """(model, broken). Raises nothing: a store that cannot be read is logged and reads as broken until the
        next check."""
        with self._lock:
            if time.monotonic() - self._checked < self.ttl:
                return self._model, self._broken
            try:
                first = self._checked == -float("inf")
                version = self.store.champion_version()
                loaded = version != self._version or self._broken
                if loaded:
                    self._model = None if version is None else self.store.load(version)
                    self._version = version
                self._broken = False
                if (first or loaded) and self.on_load is not None:
                    self.on_load()
            except Exception:  # MLflow raises many kinds; an explanation must not fail because of it
                log.exception("the champion cannot be read from %s", self.store.tracking_uri)
                self._model, self._version, self._broken = None, None, True
            self._checked, self._claimed = time.monotonic(), -float("inf")
            return self._model, self._broken

    def note_without_model(self) -> dict[str, str] | None:
        """What ``reasons`` would answer for any pair when it is already known that no champion can explain it
        (none in service, or the store unreadable) — without reading the store or waiting for a thread that does;
        None when a model is loaded, or when the store is due to be read again. Lets an ``async`` route skip a
        hop to a thread that would only return this note."""
        if not self._lock.acquire(blocking=False):  # another thread is reading the store
            return None
        try:
            if self._model is not None or time.monotonic() - self._checked >= self.ttl:
                return None
            return UNAVAILABLE if self._broken else NO_CHAMPION
        finally:
            self._lock.release()

    def reasons(
        self, uscc: str, policy_id: str, run_id: str | None = None, *, top: int = 3
    ) -> tuple[list[dict[str, Any]] | None, dict[str, str] | None]:
        """(reasons, None): the champion's top contributions for the pair as ranked in ``run_id``;
        (None, note): why there are none — no champion, the pair was not ranked or was in its run's holdout (the
        fallback order placed it), the store cannot be read."""
        return self._reasons(self._current(), uscc, policy_id, run_id, top)

    def reasons_at_once(
        self, uscc: str, policy_id: str, run_id: str | None, rows: Rows, *, top: int = 3
    ) -> tuple[list[dict[str, Any]] | None, dict[str, str] | None] | None:
        """As ``reasons``, without waiting for the model store, its lookups run by ``rows`` (an ``async`` route:
        the event loop's connection, ``LoopReader.rows``); None when the champion is due to be read from the store
        first — ``reasons`` does, in a thread. While a thread re-reads it, the model in hand answers: it was the
        champion when last read, as any answer within ``ttl`` is — as meanwhile for the requests that follow the one
        that went to re-read it, until its thread takes the lock (within ``CLAIM_SECONDS``, else another goes)."""
        if self._checked == -float("inf"):
            return None
        now = time.monotonic()
        if now - self._checked >= self.ttl and not self._lock.locked() and now - self._claimed >= CLAIM_SECONDS:
            self._claimed = now  # the event loop's thread: no other request runs between the test and this
            return None
        return self._reasons((self._model, self._broken), uscc, policy_id, run_id, top, rows)

    def _reasons(
        self,
        current: tuple[BoosterScorer | None, bool],
        uscc: str,
        policy_id: str,
        run_id: str | None,
        top: int,
        rows: Rows | None = None,
    ) -> tuple[list[dict[str, Any]] | None, dict[str, str] | None]:
        model, broken = current
        if model is None:
            return None, UNAVAILABLE if broken else NO_CHAMPION
        try:
            explanation = explain_pair(self.engine, model, uscc, policy_id, top=top, run_id=run_id, rows=rows)
        except UnrankedPair:
            return None, NOT_RANKED
        except HeldOutPair:
            return None, HELD_OUT
        keys = ("zh", "en", "feature", "value", "contribution")  # RankingReason's order: routes write it as is
        return [{k: item[k] for k in keys} for item in explanation.items], None
