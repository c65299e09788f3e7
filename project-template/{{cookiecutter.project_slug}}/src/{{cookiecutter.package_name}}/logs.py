"""Logging with levels, to a file and to the console (no print in this package).

The file (<run dir>/<command>.log) gets every record from DEBUG up, with times and module names;
the console gets `console_level` (INFO by default) and above.
"""
from __future__ import annotations

import logging
from pathlib import Path

PACKAGE = __name__.rsplit(".", 1)[0]
FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"


def setup_logging(log_file: str | Path | None = None, console_level: str = "INFO") -> logging.Logger:
    """Configure the package's logger; calling it again replaces the handlers of the previous call."""
    level = logging.getLevelName(console_level.upper())
    if not isinstance(level, int):
        raise ValueError(f"unknown log level {console_level!r}: expected DEBUG, INFO, WARNING or ERROR")
    logger = logging.getLogger(PACKAGE)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    console = logging.StreamHandler()
    console.setLevel(level)
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(console)
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, mode="w", encoding="utf-8")
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(file_handler)
    return logger
