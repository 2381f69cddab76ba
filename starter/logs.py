"""structlog set-up: JSON in production, readable in a terminal, ids only (house style §11)."""

from __future__ import annotations

import logging
import sys

import structlog

from starter.log_masking import mask_personal_fields


def configure_logging(fmt: str = "auto", level: int = logging.INFO) -> None:
    """Configure structlog and the standard library once, for a worker or the CLI."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            mask_personal_fields,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries that log statement parameters or envelopes (addresses) at INFO or DEBUG stay
    # at WARNING whatever the level: those values are personal data.
    for name in ("aiosqlite", "sqlalchemy.engine", "mail.log", "asyncpg"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
