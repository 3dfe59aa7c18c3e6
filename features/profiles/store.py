"""Profiles on disk: Parquet with the as-of date and registry fingerprint in its metadata."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

__all__ = ["ProfileInfo", "read_profile_info", "write_profiles"]


@dataclass(frozen=True)
class ProfileInfo:
    as_of: date
    registry_fingerprint: str


def write_profiles(profiles: pl.DataFrame | pl.LazyFrame, path: Path, info: ProfileInfo) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"huiqi.as_of": info.as_of.isoformat(), "huiqi.registry_fingerprint": info.registry_fingerprint}
    if isinstance(profiles, pl.LazyFrame):
        profiles.sink_parquet(path, metadata=metadata, engine="streaming")
    else:
        profiles.write_parquet(path, metadata=metadata)


def read_profile_info(path: Path) -> ProfileInfo:
    meta = pl.read_parquet_metadata(path)
    return ProfileInfo(date.fromisoformat(meta["huiqi.as_of"]), meta["huiqi.registry_fingerprint"])
