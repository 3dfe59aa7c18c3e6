"""The one settings object, read from the environment at entry points only."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUIQI_")

    data_dir: Path = Path("data")
    database_url: str | None = None  # HUIQI_DATABASE_URL; default: a SQLite file in the data directory

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'huiqi.db'}"

    @property
    def registry_dir(self) -> Path:
        return self.data_dir / "registry"

    @property
    def profiles_path(self) -> Path:
        return self.data_dir / "profiles.parquet"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"
