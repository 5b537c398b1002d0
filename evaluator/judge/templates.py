"""Prompt rendering: the one home of Jinja.

Templates are files in ``prompts/`` rendered in a sandbox with ``StrictUndefined`` (a missing
variable is an error, not an empty string). Text that callers control (transcript, dynamic
variables, metadata, the agent description after substitution) is never rendered as a
template: it is inserted as data, fenced between markers it cannot forge, because each
marker carries a hash of the very text it encloses.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from evaluator.errors import PromptError

__all__ = [
    "Fenced",
    "PromptRenderer",
    "fence",
    "fenced_data",
    "substitute_variables",
]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def fence(label: str, text: str) -> str:
    """Enclose caller-controlled ``text`` between markers naming ``label``.

    The marker's tag is a hash of the enclosed text, so text cannot contain its own closing
    marker (it would have to contain its own hash). Deterministic, so identical calls give
    identical prompts: provider prompt caches and recorded cassettes keep matching.
    """
    tag = hashlib.sha256(f"{label}\0{text}".encode()).hexdigest()[:12]
    return f"<{label} id={tag}>\n{text}\n</{label} id={tag}>"


class Fenced:
    """Caller-controlled data as a template sees it: printing it always prints it fenced."""

    __slots__ = ("_label", "_text")

    def __init__(self, label: str, value: Any) -> None:
        self._label = label
        self._text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    def __str__(self) -> str:
        return fence(self._label, self._text)

    def __bool__(self) -> bool:
        return bool(self._text)


def fenced_data(label: str, values: Mapping[str, Any]) -> dict[str, Fenced]:
    """A mapping of caller values (metadata, variables) whose every value prints fenced."""
    return {key: Fenced(f"{label}.{key}", value) for key, value in values.items()}


def substitute_variables(text: str, variables: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Replace ``{{name}}`` placeholders with values, as plain text, in one pass.

    A value is never rendered: ``{{ 7*7 }}`` given as a value stays ``{{ 7*7 }}``. A
    placeholder with no value stays as written; its name is returned in the second item.
    """
    missing: list[str] = []

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            if name not in missing:
                missing.append(name)
            return match.group(0)
        value = variables[name]
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False)

    return _PLACEHOLDER.sub(value_of, text), missing


class PromptRenderer:
    """Renders the templates of ``prompts/`` (and inline metric prompts) strictly."""

    def __init__(self, prompt_dirs: Sequence[Path]) -> None:
        self._env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader([str(p) for p in prompt_dirs]),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
            # Templates are read once: a metric's version hashes the text loaded with it, and
            # checking every file's mtime on each render cost ~0.1 ms per template.
            auto_reload=False,
        )
        self._inline: dict[str, jinja2.Template] = {}
        self._env.filters["fence"] = fence
        self._env.filters["tojson_plain"] = lambda v: json.dumps(v, ensure_ascii=False)

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render the template file ``name`` with ``context``; errors say which and why."""
        try:
            return self._env.get_template(name).render(**context).strip()
        except jinja2.TemplateNotFound:
            raise PromptError(f"prompt template {name!r} not found in prompts/") from None
        except jinja2.TemplateSyntaxError as exc:
            raise PromptError(f"{name}: line {exc.lineno}: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise PromptError(f"{name}: {exc.message}") from None
        except jinja2.exceptions.SecurityError as exc:
            raise PromptError(f"{name}: blocked by the sandbox: {exc}") from None

    def render_string(self, source: str, context: Mapping[str, Any], origin: str) -> str:
        """Render an inline template (a metric's ``prompt``); ``origin`` names it in errors."""
        try:
            template = self._inline.get(source)
            if template is None:  # compiled once per distinct source (a metric's prompt)
                template = self._inline[source] = self._env.from_string(source)
            return template.render(**context).strip()
        except jinja2.TemplateSyntaxError as exc:
            raise PromptError(f"{origin}: line {exc.lineno}: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise PromptError(f"{origin}: {exc.message}") from None
        except jinja2.exceptions.SecurityError as exc:
            raise PromptError(f"{origin}: blocked by the sandbox: {exc}") from None

    def check(self, name: str) -> None:
        """Parse a template file (no rendering): syntax errors surface at load."""
        try:
            self._env.get_template(name)
        except jinja2.TemplateNotFound:
            raise PromptError(f"prompt template {name!r} not found in prompts/") from None
        except jinja2.TemplateSyntaxError as exc:
            raise PromptError(f"{name}: line {exc.lineno}: {exc.message}") from None
