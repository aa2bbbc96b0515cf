"""Command-line flags derived from config dataclasses.

A config field is documented once, in its dataclass's ``Attributes:``
docstring section; ``define_dataclass_flags`` turns every field into the absl
flag of the same name, type and default, with that text as its help. Adding
a field to a config is therefore one edit: the field and its docstring line.

Example:
    FIELDS = define_dataclass_flags(DemoConfig, required=("output_dir",))
    ...
    config = DemoConfig(**{name: FLAGS[name].value for name in FIELDS})
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Iterable, Mapping, Sequence

from absl import flags

_ITEM = re.compile(r"^(\w+):\s*(.*)$")


def field_docs(cls) -> dict[str, str]:
    """``{field: text}`` from the ``Attributes:`` section of ``cls``'s docstring
    (Google style: ``name: text``, continuation lines indented further)."""
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    try:
        start = lines.index("Attributes:") + 1
    except ValueError:
        return {}
    docs: dict[str, str] = {}
    name, indent = None, None
    for line in lines[start:]:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth < indent:
            break  # the section ended
        match = _ITEM.match(line.strip())
        if depth == indent and match:
            name = match.group(1)
            docs[name] = match.group(2)
        elif name is not None:
            docs[name] += " " + line.strip()
    return docs


def _default(field: dataclasses.Field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def define_dataclass_flags(
    cls,
    skip: Iterable[str] = (),
    choices: Mapping[str, Sequence[str]] | None = None,
    required: Iterable[str] = (),
    flag_values: flags.FlagValues = flags.FLAGS,
) -> tuple[str, ...]:
    """Defines one absl flag per field of the dataclass ``cls``.

    Args:
      cls: a dataclass whose fields are ``bool``, ``int``, ``float`` or
        ``str``, each described in its ``Attributes:`` docstring section.
      skip: fields that get no flag.
      choices: ``{field: allowed values}``; those fields become enum flags.
      required: fields whose flag must be given (their default is dropped).
      flag_values: where to define them (default: absl's global FLAGS).

    Returns:
      The names of the flags defined, in field order.

    Raises:
      ValueError: a field has no docstring line or an unsupported type.
    """
    docs = field_docs(cls)
    choices = dict(choices or {})
    skip, required = set(skip), set(required)
    names = []
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        if field.name not in docs:
            raise ValueError(
                f"{cls.__name__}.{field.name} has no line in the Attributes section of "
                f"its docstring (the flag's help text)"
            )
        default = None if field.name in required else _default(field)
        kind = field.type if isinstance(field.type, str) else field.type.__name__
        text = docs[field.name]
        if field.name in choices:
            flags.DEFINE_enum(
                field.name, default, list(choices[field.name]), text, flag_values=flag_values
            )
        elif kind == "bool":
            flags.DEFINE_bool(field.name, default, text, flag_values=flag_values)
        elif kind == "int":
            flags.DEFINE_integer(field.name, default, text, flag_values=flag_values)
        elif kind == "float":
            flags.DEFINE_float(field.name, default, text, flag_values=flag_values)
        elif kind == "str":
            flags.DEFINE_string(field.name, default, text, flag_values=flag_values)
        else:
            raise ValueError(f"{cls.__name__}.{field.name}: no flag type for {kind!r}")
        names.append(field.name)
    flags.mark_flags_as_required(sorted(required & set(names)), flag_values=flag_values)
    return tuple(names)
