"""Read YAML files safely, the way DVC reads params.yaml.

ruamel.yaml's safe loader follows YAML 1.2, as DVC does, so this package and DVC
agree on every value: ``1e-3`` is a float, ``yes`` is text, and a key given twice
is an error instead of silently keeping the last value. Nothing in the file is
executed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .errors import InputError


def load_yaml(path: str | Path, *, what: str) -> Any:
    """Parse the YAML file at ``path``; raise InputError naming the file and line on failure.

    ``what`` names the kind of file in the error message ("params file", "instrument file").
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), None, f"{what} not found", "check the path")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(str(path), None, f"{what} is not UTF-8 text", "save the file as UTF-8") from None
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise InputError(str(path), where, f"invalid YAML ({problem})",
                         "fix the syntax: indentation, a key given twice, or quotes around text containing ':'") from None
