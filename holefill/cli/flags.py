"""Flags made from configuration dataclasses, and `--config` files of flags.

A field with `metadata["help"]` is a flag: `--field-name` (or `metadata["flag"]`), with the
field's type, choices, default and help, so that each setting is stated once, in its
dataclass, and a new field with help is a new flag. A flag left unset passes nothing, and
the dataclass's default holds.
"""

import argparse
import dataclasses
import tomllib
import types
import typing
from pathlib import Path


def config_flags(config_class):
    """`{field name: flag}` of the fields of `config_class` that are flags."""
    return {
        field.name: field.metadata.get("flag", "--" + field.name.replace("_", "-"))
        for field in dataclasses.fields(config_class)
        if "help" in field.metadata
    }


def add_config_flags(parser, config_class, *, defaults=None):
    """Adds the flags of `config_class`; `defaults` are the command's own where it departs
    from the dataclass's (shown in the help, applied by `config_values`)."""
    fields = {field.name: field for field in dataclasses.fields(config_class)}
    for name, flag in config_flags(config_class).items():
        field = fields[name]
        default = (defaults or {}).get(name, field.default)
        shown = "" if default is None else f" (default: {_shown(default)})"
        _add_flag(parser, config_class, field, flag, field.metadata["help"] + shown)


def add_union_flags(parser, config_classes):
    """Adds the flags of every class of `config_classes` (`{name: config class}`): a field
    that several have is one flag. Its help is each class's, by name, where they differ, and
    names the classes it applies to unless all have it; their defaults differ, so the help
    shows none."""
    helps = {}
    for owner, config_class in config_classes.items():
        for field in dataclasses.fields(config_class):
            if "help" in field.metadata:
                helps.setdefault(field.name, {})[owner] = (config_class, field)
    for name, owned in helps.items():
        config_class, field = next(iter(owned.values()))
        texts = {owner: owned_field.metadata["help"] for owner, (_, owned_field) in owned.items()}
        if len(set(texts.values())) > 1:
            help = "; ".join(f"{owner}: {text}" for owner, text in texts.items())
        elif len(owned) < len(config_classes):
            help = f"{', '.join(owned)}: {field.metadata['help']}"
        else:
            help = field.metadata["help"]
        _add_flag(parser, config_class, field, config_flags(config_class)[name], help)


def union_flags(config_classes):
    """`{field name: flag}` of every class of `config_classes`."""
    return {
        name: flag
        for config_class in config_classes.values()
        for name, flag in config_flags(config_class).items()
    }


def _add_flag(parser, config_class, field, flag, help):
    name = field.name
    options = {"dest": name, "default": None, "help": help}
    kind = _without_none(typing.get_type_hints(config_class)[name])
    if kind is bool:
        options["action"] = argparse.BooleanOptionalAction
    elif typing.get_origin(kind) is tuple:
        members = typing.get_args(kind)
        metavar = field.metadata.get("metavar", name.upper())
        options.update(nargs=len(members), type=members[0], metavar=metavar)
    else:
        options["type"] = kind
    if "choices" in field.metadata:
        options["choices"] = field.metadata["choices"]
    parser.add_argument(flag, **options)


def config_values(arguments, config_class, *, defaults=None):
    """`{field: value}` of `config_class`'s flags given, over the command's `defaults`."""
    values = dict(defaults or {})
    for name in config_flags(config_class):
        value = getattr(arguments, name, None)
        if value is not None:
            values[name] = tuple(value) if isinstance(value, list) else value
    return values


def _without_none(kind):
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        members = [member for member in typing.get_args(kind) if member is not type(None)]
        return members[0] if len(members) == 1 else str
    return kind


def _shown(value):
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def expand_config_files(parser, argv, *, skip=(), merged=("loss-weight", "mask-kind")):
    """`argv` with each `--config FILE` replaced by the flags in FILE, a TOML table of
    `flag-name = value` (lists for repeatable flags and pairs, true/false for switches).

    Later files win over earlier ones and the command line over them all; a repeatable
    flag given on the command line replaces the files' entries rather than adding to them,
    except the NAME=VALUE flags in `merged`, where it replaces the NAMEs it gives. Keys
    named in `skip` are ignored (the model flags, for a command whose model comes from a
    checkpoint).
    """
    files, rest = [], []
    tokens = iter(argv)
    for token in tokens:
        if token == "--config":
            files.append(Path(next(tokens, "")))
        elif token.startswith("--config="):
            files.append(Path(token.removeprefix("--config=")))
        else:
            rest.append(token)
    values = {}
    for path in files:
        if not path.is_file():
            parser.error(f"--config {path}: no such file")
        try:
            values.update(tomllib.loads(path.read_text()))
        except tomllib.TOMLDecodeError as error:
            parser.error(f"--config {path}: {error}")
    given = {token.split("=", 1)[0] for token in rest if token.startswith("--")}
    expanded = []
    for key, value in values.items():
        flag = f"--{key}"
        if key in skip or (flag in given and isinstance(value, list) and key not in merged):
            continue
        action = parser._option_string_actions.get(flag)
        if action is None:
            parser.error(f"--config: {key!r} is not a flag of this command")
        expanded += _tokens(flag, action, value)
    return expanded + rest


def _tokens(flag, action, value):
    if isinstance(value, bool):
        if isinstance(action, argparse.BooleanOptionalAction):
            return [flag if value else f"--no-{flag.removeprefix('--')}"]
        return [flag] if value else []
    if isinstance(value, list) and isinstance(action, argparse._AppendAction):
        return [token for item in value for token in (flag, str(item))]
    if isinstance(value, list):
        return [flag, *map(str, value)]
    return [flag, str(value)]
