"""Process settings, read once from the environment (spec README §3)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    amqp_url: str
    couch_url: str
    http_host: str
    http_port: int
    log_level: str
    log_format: str
    request_timeout_s: float
    # Signing key for auth tokens. Empty means "use the one stored in system_config" (created by
    # bootstrap), so every process of one deployment agrees without extra configuration.
    token_secret: str
    token_ttl_s: int
    # Port of a worker's Prometheus endpoint; None (the default) serves none, since several workers
    # share one host under `make run`. The gateway serves /metrics on its own port regardless.
    metrics_port: int | None


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings(
        amqp_url=_env("OFFNET_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        couch_url=_env("OFFNET_COUCH_URL", "http://admin:admin@127.0.0.1:5984"),
        http_host=_env("OFFNET_HTTP_HOST", "127.0.0.1"),
        http_port=int(_env("OFFNET_HTTP_PORT", "8000")),
        log_level=_env("OFFNET_LOG_LEVEL", "info").lower(),
        log_format=_env("OFFNET_LOG_FORMAT", "console").lower(),
        request_timeout_s=float(_env("OFFNET_REQUEST_TIMEOUT_S", "5")),
        token_secret=_env("OFFNET_TOKEN_SECRET", ""),
        token_ttl_s=int(_env("OFFNET_TOKEN_TTL_S", "3600")),
        metrics_port=int(port) if (port := _env("OFFNET_METRICS_PORT", "")) else None,
    )
