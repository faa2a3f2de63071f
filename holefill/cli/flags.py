"""Flags made from configuration dataclasses, `--config` files of them, and the one check of
what both give.

A field with `metadata["help"]` is a flag: `--field-name` (or `metadata["flag"]`), with the
field's type, choices, default and help, so that each setting is stated once, in its
dataclass, and a new field with help is a new flag. A flag left unset passes nothing, and
the dataclass's default holds. A `--config` file is a TOML table of the same flags, whose
values stay the data TOML made of them; `validated` checks them, and the command line's,
against the dataclass with pydantic.
"""

import argparse
import dataclasses
import functools
import tomllib
import types
import typing

import pydantic


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
        shown = "" if default in (None, dataclasses.MISSING) else f" (default: {_shown(default)})"
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
    members = typing.get_args(kind)
    if kind is bool:
        options["action"] = argparse.BooleanOptionalAction
    elif typing.get_origin(kind) is tuple and members[-1] is Ellipsis:
        options.update(action="append", type=members[0])
    elif typing.get_origin(kind) is tuple:
        options.update(nargs=len(members), type=members[0])
    elif _is_table(kind):
        options.update(action=_TableAction, type=_name_and_number)
    else:
        options["type"] = kind
    if "metavar" in field.metadata:
        options["metavar"] = field.metadata["metavar"]
    if "choices" in field.metadata:
        options["choices"] = field.metadata["choices"]
    parser.add_argument(flag, **options)


def _is_table(kind):
    """Whether a field of type `kind` is given as NAME=VALUE pairs (a TOML table)."""
    return typing.get_origin(kind) is dict or dataclasses.is_dataclass(kind)


class _TableAction(argparse.Action):
    """A NAME=VALUE flag: each one given adds its pair to one table, as a TOML table."""

    def __call__(self, parser, namespace, pair, option_string=None):
        setattr(namespace, self.dest, (getattr(namespace, self.dest) or {}) | dict([pair]))


def _name_and_number(text):
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"takes NAME=VALUE, got {text!r}")
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} in {text!r} is not a number") from None


def config_values(arguments, config_class, *, defaults=None):
    """`{field: value}` of `config_class`'s flags given, over the command's `defaults`."""
    values = dict(defaults or {})
    for name in config_flags(config_class):
        value = getattr(arguments, name, None)
        if value is not None:
            values[name] = value
    return values


def merge_config_files(parser, arguments, *, skip=()):
    """Sets in `arguments` each setting of its `--config` files (TOML tables of
    `flag-name = value`) that the command line left unset, as the data TOML made of it.

    Later files win over earlier ones and the command line over them all, except a
    NAME=VALUE table, which merges name by name (the command line's names win). Keys named
    in `skip` are ignored (the model flags, for a command whose model comes from a
    checkpoint).
    """
    settings = {}
    for path in arguments.config or ():
        try:
            table = tomllib.loads(path.read_text())
        except OSError as error:
            parser.error(f"--config {path}: {error.strerror.lower()}")
        except tomllib.TOMLDecodeError as error:
            parser.error(f"--config {path}: {error}")
        for key, value in table.items():
            if isinstance(value, dict) and isinstance(settings.get(key), dict):
                value = settings[key] | value
            settings[key] = value
    for key, value in settings.items():
        if key in skip:
            continue
        action = parser._option_string_actions.get(f"--{key}")
        if action is None or action.dest == "config":
            parser.error(f"--config: {key!r} is not a flag of this command")
        given = getattr(arguments, action.dest)
        if given is None:
            setattr(arguments, action.dest, value)
        elif isinstance(value, dict):
            setattr(arguments, action.dest, value | given)


def validated(config_class, values, flags):
    """`config_class` made from `values` (`{field: value}`, as argparse or TOML typed them)
    by pydantic, which checks each value against the field's type and refuses unknown
    names; its complaints, and the dataclass's own ValueError, become one ValueError that
    names the flags (`flags`: `{field: flag}`)."""
    try:
        return _settings_model(config_class)(settings=values).settings
    except pydantic.ValidationError as error:
        hints = typing.get_type_hints(config_class)
        problems = (_problem(problem, flags, hints) for problem in error.errors(include_url=False))
        raise ValueError(" ".join(dict.fromkeys(problems))) from None


@functools.cache
def _settings_model(config_class):
    # A plain dataclass has no pydantic config of its own: a model around it lends its
    # fields one, which refuses unknown names all the way down and takes any instance of a
    # plain class (a `ModelConfig` made from its own flags) as it is.
    return pydantic.create_model(
        f"{config_class.__name__}Settings",
        __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        settings=(config_class, ...),
    )


def _problem(problem, flags, hints):
    where = problem["loc"][1:]
    if "error" in problem.get("ctx", {}):
        return str(problem["ctx"]["error"])
    flag = flags.get(where[0], where[0])
    if problem["type"] == "missing" and len(where) > 1:
        return f"{flag}: value {where[1] + 1} is missing."
    if problem["type"] == "missing":
        return f"{flag} is required (on the command line or in a --config file)."
    if problem["type"] == "unexpected_keyword_argument" and len(where) > 1:
        names = [field.name for field in dataclasses.fields(_without_none(hints[where[0]]))]
        return f"{flag}: {where[1]!r} is not one of {names}."
    return f"{flag}: {problem['msg']} (got {problem['input']!r})."


def _without_none(kind):
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        members = [member for member in typing.get_args(kind) if member is not type(None)]
        return members[0] if len(members) == 1 else str
    return kind


def _shown(value):
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)
