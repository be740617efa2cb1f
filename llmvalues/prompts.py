"""Prompt templates: files with ids that turn an item (or a whole trial) into a request.

A template is a YAML file (safe loader) with ``id``, ``mode`` (``item``,
``block`` or ``dilemma``), ``format`` (``chat`` with ``system`` and ``user`` texts, or
``completion`` with one ``prompt`` text) and placeholders in braces:

- ``{portrait}``: the item text in the selected gender form (item mode);
- ``{question}``: the instrument's question ("How much is this person like you?");
- ``{scale}``: the instrument's answer scale, one "N = label" line per point;
- ``{items}``: the trial's items, one "N. text" line each, numbered by position (block mode);
- ``{count}``: the number of items (block mode);
- ``{scenario}``, ``{first_option}``, ``{second_option}``: a dilemma and its two options in the
  order shown, which is the file's order or the reverse (dilemma mode);
- ``{scale}`` in dilemma mode: the preference scale, "1 = Definitely option A" to
  "6 = Definitely option B", where A and B name the options as shown.

The package ships its templates in ``llmvalues/prompts/``; a user template is
given by path.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .instrument import Instrument
from .yamlfile import load_yaml

BUILTIN_DIR = Path(__file__).parent / "prompts"
_PLACEHOLDERS = {
    "item": {"portrait", "question", "scale"},
    "block": {"items", "count", "question", "scale"},
    "dilemma": {"scenario", "first_option", "second_option", "scale"},
}
_REQUIRED = {"item": {"portrait"}, "block": {"items"}, "dilemma": {"scenario", "first_option", "second_option"}}
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# The placeholders whose value changes from one request of a template to the next
# within a run; {question}, {scale} and {count} are the same for all of them.
_PER_REQUEST = {"item": ("portrait",), "block": ("items",), "dilemma": ("scenario", "first_option", "second_option")}
# Stands in for a per-request value while a prefix is rendered. A NUL in the template
# text itself would only cut the prefix shorter, which costs speed but never changes a reply.
_CUT = "\x00"


@dataclass(frozen=True)
class Template:
    """A validated prompt template."""

    id: str
    mode: str  # item, block or dilemma
    format: str  # chat or completion
    texts: dict[str, str]  # system and user, or prompt
    path: str

    def render(self, **values: str) -> list[dict[str, str]] | str:
        """Fill the placeholders; return chat messages, or the prompt text of a completion template."""
        if self.format == "completion":
            return self.texts["prompt"].format(**values)
        messages = []
        if self.texts.get("system"):
            messages.append({"role": "system", "content": self.texts["system"].format(**values)})
        messages.append({"role": "user", "content": self.texts["user"].format(**values)})
        return messages

    def render_prefix(self, **values: str) -> list[dict[str, str]] | str:
        """Render the part of the content that every request of this template shares in a run.

        The per-request placeholders ({portrait}; {items}; {scenario} and the options)
        are left out: the result is the content cut where the first of them begins,
        as a prompt text or as chat messages whose last message is cut there.
        """
        rendered = self.render(**values, **{name: _CUT for name in _PER_REQUEST[self.mode]})
        if isinstance(rendered, str):
            return rendered.split(_CUT, 1)[0]
        prefix = []
        for message in rendered:
            content, cut, _ = message["content"].partition(_CUT)
            prefix.append({**message, "content": content})
            if cut:
                break
        return prefix


def builtin_templates() -> dict[str, Path]:
    """Map the id of each template shipped with the package to its file."""
    return {path.stem: path for path in sorted(BUILTIN_DIR.glob("*.yaml"))}


def resolve_template(reference: str, source: str = "params.yaml", field: str = "template") -> Template:
    """Load a template given the id of a built-in template or a file path.

    ``source`` and ``field`` name where the reference came from, for the error
    message when it matches nothing.
    """
    builtins = builtin_templates()
    if reference in builtins:
        return load_template(builtins[reference])
    path = Path(reference)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return load_template(path)
    raise InputError(source, field, f"unknown template {reference!r}",
                     f"use one of {', '.join(builtins)} or the path of a template file")


def load_template(path: str | Path) -> Template:
    """Read and validate a template file; raise InputError naming the file, key and fix."""
    source = str(path)
    document = load_yaml(path, what="template file")
    if not isinstance(document, dict):
        raise InputError(source, None, "a template must be a YAML mapping", "see llmvalues/prompts.py for the format")
    allowed = {"id", "mode", "format", "system", "user", "prompt"}
    unknown = sorted(set(map(str, document)) - allowed)
    if unknown:
        raise InputError(source, unknown[0], "unknown key", f"use only {', '.join(sorted(allowed))}")
    template_id = document.get("id")
    if not isinstance(template_id, str) or not _ID_PATTERN.match(template_id):
        raise InputError(source, "id", f"invalid id {template_id!r}", "use letters, digits, '.', '_' and '-'")
    mode = document.get("mode")
    if mode not in _PLACEHOLDERS:
        raise InputError(source, "mode", f"invalid value {mode!r}", "use item, block or dilemma")
    template_format = document.get("format")
    if template_format == "chat":
        names = ("system", "user")
        required = ("user",)
    elif template_format == "completion":
        names = ("prompt",)
        required = ("prompt",)
    else:
        raise InputError(source, "format", f"invalid value {template_format!r}", "use chat or completion")
    for name in set(allowed) - {"id", "mode", "format"} - set(names):
        if name in document:
            raise InputError(source, name, f"not used by a {template_format} template", f"use {', '.join(names)}")

    texts = {}
    for name in names:
        text = document.get(name)
        if text is None and name not in required:
            continue
        if not isinstance(text, str) or not text.strip():
            raise InputError(source, name, "missing text", f"write the {name} text of the template")
        _check_placeholders(text, mode, source, name)
        texts[name] = text
    used = set().union(*(_fields(text) for text in texts.values()))
    missing = _REQUIRED[mode] - used
    if missing:
        raise InputError(source, names[-1], f"a {mode} template needs the placeholder {{{sorted(missing)[0]}}}",
                         "add it where that text belongs in the prompt")
    return Template(template_id, mode, template_format, texts, source)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _check_placeholders(text: str, mode: str, source: str, name: str) -> None:
    try:
        fields = _fields(text)
    except ValueError as error:
        raise InputError(source, name, f"invalid placeholder syntax ({error})",
                         "write placeholders as {portrait}; double literal braces as {{ and }}") from None
    unknown = sorted(fields - _PLACEHOLDERS[mode])
    if unknown:
        raise InputError(source, name, f"unknown placeholder {{{unknown[0]}}}",
                         f"a {mode} template may use {', '.join('{' + field + '}' for field in sorted(_PLACEHOLDERS[mode]))}")


def scale_lines(instrument: Instrument) -> str:
    """Return the instrument's answer scale as "N = label" lines."""
    return "\n".join(f"{point} = {label}" for point, label in instrument.scale_labels.items())


def render_item(template: Template, instrument: Instrument, item: int, form: str) -> Any:
    """Build the request content for one item."""
    return template.render(portrait=instrument.text(item, form), question=instrument.question or "",
                           scale=scale_lines(instrument))


def render_item_prefix(template: Template, instrument: Instrument) -> Any:
    """Build the part of every item's request content that comes before the item's own text."""
    return template.render_prefix(question=instrument.question or "", scale=scale_lines(instrument))


def render_block(template: Template, instrument: Instrument, order: list[int], form: str) -> Any:
    """Build the request content for a whole trial, items numbered 1.. by position in ``order``."""
    lines = "\n".join(f"{position}. {instrument.text(item, form)}" for position, item in enumerate(order, start=1))
    return template.render(items=lines, count=str(len(order)), question=instrument.question or "",
                           scale=scale_lines(instrument))


def render_block_prefix(template: Template, instrument: Instrument, count: int) -> Any:
    """Build the part of every trial's block request content that comes before the item lines."""
    return template.render_prefix(count=str(count), question=instrument.question or "", scale=scale_lines(instrument))


def render_dilemma(template: Template, scenario: str, first_option: str, second_option: str, scale: str) -> Any:
    """Build the request content for one dilemma, its options in the order they are shown."""
    return template.render(scenario=scenario, first_option=first_option, second_option=second_option, scale=scale)


def render_dilemma_prefix(template: Template, scale: str) -> Any:
    """Build the part of every dilemma's request content that comes before the scenario and options."""
    return template.render_prefix(scale=scale)
