"""`python -m services.gateway`: the HTTP gateway under uvicorn."""

from __future__ import annotations

import uvicorn

from services.gateway.app import create_app
from shared.logging import configure_logging
from shared.settings import get_settings


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format, process="gateway")
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port,
                log_level="warning", access_log=False, lifespan="on",
                log_config=None)  # keep shared/logging.py's handler: one format for every line


if __name__ == "__main__":
    main()
