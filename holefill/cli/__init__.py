"""The `holefill` command: train, finetune, evaluate, export, predict and the rest."""

from holefill.cli.main import main

__all__ = ["main"]
