"""Command line: `{{ cookiecutter.project_slug }} train|evaluate --config configs/baseline.yaml`
(also `python -m {{ cookiecutter.package_name }} train|evaluate ...`).

Exit status: 0 on success, 2 for a bad configuration or missing file (the message says what to
fix), 1 for any other error (logged with its traceback in the log file).
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from .config import ConfigError, load_config
from .logs import setup_logging

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="{{ cookiecutter.project_slug }}", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="console log level (the log file always gets DEBUG and up)")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("train", "train a model, then score it once on the test split"),
                       ("evaluate", "score a saved model on the validation or test split")):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--config", default="configs/baseline.yaml", help="the experiment's YAML file")
    evaluate = commands.choices["evaluate"]
    evaluate.add_argument("--checkpoint", help="a model.pt written by train (default: <run dir>/model.pt)")
    evaluate.add_argument("--split", default="test", choices=["val", "test"])
    return parser


def run(args: argparse.Namespace) -> dict:
    cfg = load_config(args.config)
    log_file = cfg.run_dir / f"{args.command}.log"
    setup_logging(log_file, args.log_level)
    logger.info("%s with %s (log: %s)", args.command, args.config, log_file)
    logger.debug("config: %s", cfg.to_dict())
    if args.command == "train":
        from .train import train
        return train(cfg)
    from .evaluate import evaluate_checkpoint
    from .train import resolve_device
    checkpoint = Path(args.checkpoint) if args.checkpoint else cfg.run_dir / "model.pt"
    metrics = evaluate_checkpoint(cfg, checkpoint, resolve_device(cfg.train.device), args.split)
    out = cfg.run_dir / f"evaluate_{args.split}.json"
    out.write_text(json.dumps({"checkpoint": str(checkpoint), **metrics}, indent=2), encoding="utf-8")
    logger.info("wrote %s", out)
    return metrics


def main(argv: list[str] | None = None) -> int:
    """The console script's entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    setup_logging(None, args.log_level)
    try:
        run(args)
    except (ConfigError, FileNotFoundError) as err:
        logger.error("%s", err)
        return 2
    except Exception as err:                                   # noqa: BLE001 - reported, not hidden
        logger.error("%s: %s", type(err).__name__, err)
        logger.debug("traceback", exc_info=True)
        return 1
    return 0
