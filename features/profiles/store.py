"""Profiles on disk: Parquet with the as-of date and registry fingerprint in its metadata."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from features.files import write_file

__all__ = ["ProfileInfo", "read_profile_info", "write_profiles"]


@dataclass(frozen=True)
class ProfileInfo:
    as_of: date
    registry_fingerprint: str


def write_profiles(profiles: pl.DataFrame | pl.LazyFrame, path: Path, info: ProfileInfo) -> None:
    """Write the profiles whole or not at all: a failed write leaves the previous file as it was."""
    metadata = {"huiqi.as_of": info.as_of.isoformat(), "huiqi.registry_fingerprint": info.registry_fingerprint}

    def write(partial: Path) -> None:
        if isinstance(profiles, pl.LazyFrame):
            profiles.sink_parquet(partial, metadata=metadata, engine="streaming")
        else:
            profiles.write_parquet(partial, metadata=metadata)

    write_file(path, write)


def read_profile_info(path: Path) -> ProfileInfo:
    meta = pl.read_parquet_metadata(path)
    return ProfileInfo(date.fromisoformat(meta["huiqi.as_of"]), meta["huiqi.registry_fingerprint"])
