"""`holefill`: parses the command line (with its `--config` files) and runs the command."""

import logging
import sys

from holefill.cli.flags import merge_config_files, union_flags
from holefill.cli.parser import build_parser
from holefill.nn.config import ARCHITECTURE_CONFIGS

# `finetune` takes its model from the checkpoint: a recipe's model flags are left out.
MODEL_KEYS = frozenset(
    {flag.removeprefix("--") for flag in union_flags(ARCHITECTURE_CONFIGS).values()} | {"arch"}
)


def parse_arguments(argv):
    command = next((token for token in argv if not token.startswith("-")), None)
    parser = build_parser(command)
    arguments = parser.parse_args(argv)
    if command in ("train", "finetune"):
        skip = MODEL_KEYS if command == "finetune" else frozenset()
        merge_config_files(parser.command_parsers[command], arguments, skip=skip)
    return arguments


def main(argv=None):
    arguments = parse_arguments(sys.argv[1:] if argv is None else list(argv))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        return arguments.handler(arguments) or 0
    except ValueError as error:
        print(f"holefill {arguments.command}: error: {error}", file=sys.stderr)
        return 2
