"""The one settings object, read from the environment at entry points only."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["PLACEHOLDER_SECRET", "Settings"]

# Signs the web pages' session cookies and the links in notices (api/web): fine on a laptop, refused elsewhere.
PLACEHOLDER_SECRET = "change-me-only-for-development"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUIQI_")

    data_dir: Path = Path("data")
    database_url: str | None = None  # HUIQI_DATABASE_URL; default: a SQLite file in the data directory
    # The ranker (matcher/ranking): MLflow store, and how many notices an enterprise gets at once.
    mlflow_uri: str | None = None  # HUIQI_MLFLOW_URI; default: a SQLite store in the data directory
    push_cap: int = Field(default=3, ge=1)  # HUIQI_PUSH_CAP: new notices pushed at once per enterprise
    push_wave_days: int = Field(default=7, ge=0)  # HUIQI_PUSH_WAVE_DAYS: days between waves of notices
    # HUIQI_RANKING_HOLDOUT: share of each run's enterprises kept on the fallback order, to measure the uplift
    ranking_holdout: float = Field(default=0.05, ge=0, lt=1)
    # The web pages (api/web): HUIQI_ENVIRONMENT, HUIQI_WEB_SECRET, HUIQI_PUBLIC_URL (the address links in notices
    # point at), HUIQI_LINK_DAYS (how long such a link opens the inbox).
    environment: Literal["development", "production"] = "development"
    web_secret: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    public_url: str = "http://127.0.0.1:8000"
    link_days: int = Field(default=30, ge=1, le=365)

    @model_validator(mode="after")
    def _real_secret_outside_development(self) -> Settings:
        secret = self.web_secret.get_secret_value()
        if self.environment != "development" and (secret == PLACEHOLDER_SECRET or len(secret) < 32):
            raise ValueError(
                "HUIQI_WEB_SECRET: expected a random secret of at least 32 characters outside development, found "
                + ("the placeholder" if secret == PLACEHOLDER_SECRET else f"{len(secret)} characters")
                + "; set one, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        return self

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'huiqi.db'}"

    @property
    def database_shown(self) -> str:
        """The database URL as printed: without its password."""
        from sqlalchemy import make_url  # here: every command reads the settings, few print the database

        return make_url(self.database).render_as_string(hide_password=True)

    @property
    def mlflow_tracking_uri(self) -> str:
        return self.mlflow_uri or f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.data_dir / "mlartifacts"

    @property
    def registry_dir(self) -> Path:
        return self.data_dir / "registry"

    @property
    def profiles_path(self) -> Path:
        return self.data_dir / "profiles.parquet"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"
