"""The one settings object, read once from the environment.

Bad values fail at start-up with a message naming the variable, so a misconfigured
installation never half-runs.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("development", "test", "production")
LANGUAGES = ("ru", "en")
ABSOLUTE_MIN_GROUP_SIZE = 3
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str
    secret_key: str
    data_dir: Path
    smtp_url: str
    default_language: str
    timezone: str
    min_group_size: int
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(default=())

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_test(self) -> bool:
        return self.env == "test"

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def secure_cookies(self) -> bool:
        return self.is_production


DEV_SECRET = "development-only-secret-key-never-use-in-production"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env_vars = os.environ if environ is None else environ
    env = env_vars.get("SERVICECHAIN_ENV", "development").strip() or "development"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"SERVICECHAIN_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")

    data_dir = Path(env_vars.get("SERVICECHAIN_DATA_DIR") or REPO_ROOT / "data").resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"SERVICECHAIN_DATA_DIR must be a folder, but {str(data_dir)!r} is a file")

    database_url = env_vars.get("DATABASE_URL", "").strip()
    if not database_url:
        database_url = f"sqlite:///{data_dir / 'servicechain.sqlite3'}"
    elif not database_url.startswith(("sqlite:///", "postgres://", "postgresql://")):
        raise ConfigError("DATABASE_URL must start with sqlite:///, postgres:// or postgresql://")

    secret_key = env_vars.get("SERVICECHAIN_SECRET_KEY", "")
    if not secret_key:
        if env == "production":
            raise ConfigError("SERVICECHAIN_SECRET_KEY is required in production")
        secret_key = DEV_SECRET
    elif len(secret_key) < 32:
        raise ConfigError("SERVICECHAIN_SECRET_KEY must be at least 32 characters long")

    language = env_vars.get("SERVICECHAIN_DEFAULT_LANGUAGE", "ru").strip() or "ru"
    if language not in LANGUAGES:
        raise ConfigError(f"SERVICECHAIN_DEFAULT_LANGUAGE must be 'ru' or 'en', not {language!r}")

    timezone = env_vars.get("SERVICECHAIN_TIMEZONE", "Europe/Moscow").strip() or "Europe/Moscow"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"SERVICECHAIN_TIMEZONE is not a known time zone: {timezone!r}") from None

    raw_min = env_vars.get("SERVICECHAIN_MIN_GROUP_SIZE", "5").strip() or "5"
    try:
        min_group_size = int(raw_min)
    except ValueError:
        raise ConfigError(f"SERVICECHAIN_MIN_GROUP_SIZE must be a whole number, not {raw_min!r}") from None
    if min_group_size < ABSOLUTE_MIN_GROUP_SIZE:
        raise ConfigError(
            f"SERVICECHAIN_MIN_GROUP_SIZE must be at least {ABSOLUTE_MIN_GROUP_SIZE}: "
            "smaller groups would let people recognise each other's answers"
        )

    smtp_url = env_vars.get("SERVICECHAIN_SMTP_URL", "").strip()
    if smtp_url and (urlparse(smtp_url).scheme not in SMTP_SCHEMES or not urlparse(smtp_url).hostname):
        raise ConfigError(
            "SERVICECHAIN_SMTP_URL must look like smtp://host:25, smtp+starttls://user:password@host:587 "
            "or smtps://host:465 (or be empty to keep mail as files)"
        )

    proxies = []
    for item in filter(None, (p.strip() for p in env_vars.get("SERVICECHAIN_TRUSTED_PROXIES", "").split(","))):
        try:
            proxies.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"SERVICECHAIN_TRUSTED_PROXIES has a bad address or network: {item!r}") from None

    return Settings(
        env=env,
        database_url=database_url,
        secret_key=secret_key,
        data_dir=data_dir,
        smtp_url=smtp_url,
        default_language=language,
        timezone=timezone,
        min_group_size=min_group_size,
        trusted_proxies=tuple(proxies),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
