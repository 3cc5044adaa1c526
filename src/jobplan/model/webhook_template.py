"""Webhook body templates: sandboxed Jinja2 that shapes a notification into any JSON payload.

A template sees only plain data (the message's payload: strings, numbers, ``None`` and lists
of strings) and must render a JSON object, which is what the webhook receives. It is
checked when the plan is applied (:func:`check_template`) and rendered when the message is
written (:func:`render_template`). The sandbox is stricter than Jinja2's own
``ImmutableSandboxedEnvironment``, on which it is built:

* no attribute access at all (``{{ x.y }}`` reads the key ``y`` of a mapping, nothing else),
  so ``''.__class__``, ``cycler.__init__.__globals__`` and the like cannot reach Python;
* no globals but a bounded ``range`` (Jinja2's ``cycler``, ``joiner``, ``namespace``,
  ``lipsum`` and ``dict`` are gone) and only the names of the payload;
* no macros, call blocks, imports, includes, ``extends``, recursive or nested loops, so the
  work a render can do is bounded by the template's and the payload's size;
* ``*`` and ``**`` may not build large values, the output is capped at
  :data:`MAX_OUTPUT_CHARS` and a render is stopped after :data:`MAX_RENDER_SECONDS`.

Anything refused at apply time is a :class:`TemplateError` naming the problem; anything
that still goes wrong at render time (a bad value, a size or time bound) is a
:class:`TemplateError` too, which the engine turns into a failed delivery with that reason.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Final, NoReturn

from jinja2 import Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = [
    "MAX_OUTPUT_CHARS",
    "MAX_RANGE",
    "MAX_RENDER_SECONDS",
    "MAX_TEMPLATE_CHARS",
    "TEMPLATE_NAMES",
    "TemplateError",
    "check_template",
    "render_template",
]

#: Longest template accepted.
MAX_TEMPLATE_CHARS: Final = 16_384
#: Longest rendered body (characters).
MAX_OUTPUT_CHARS: Final = 65_536
#: Most items ``range()`` may produce, and longest string or list ``*`` may build.
MAX_RANGE: Final = 1_000
#: A render running longer than this is stopped.
MAX_RENDER_SECONDS: Final = 1.0

#: The names a template may use: the keys of a notification's payload.
TEMPLATE_NAMES: Final = frozenset(
    {
        "event",
        "tenant_id",
        "plan",
        "plan_id",
        "version",
        "plan_run_id",
        "status",
        "reason",
        "trigger",
        "scheduled_for",
        "started_at",
        "ended_at",
        "at",
        "failed_jobs",
        "job",
        "job_run_id",
    }
)

_REFUSED_NODES: Final[dict[type[nodes.Node], str]] = {
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
    nodes.Import: "imports",
    nodes.FromImport: "imports",
    nodes.Include: "includes",
    nodes.Extends: "extends",
    nodes.Block: "blocks",
    nodes.ScopedEvalContextModifier: "autoescape blocks",
}


class TemplateError(ValueError):
    """A template that is refused, or whose render failed; the message says why."""


_FILTERS: Final = frozenset(
    {
        "abs", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first",
        "float", "int", "items", "join", "last", "length", "list", "lower", "map", "max",
        "min", "reject", "reverse", "round", "select", "sort", "string", "sum", "title",
        "tojson", "trim", "truncate", "unique", "upper", "urlencode", "wordcount",
    }
)  # fmt: skip
_LOOP_ATTRIBUTES: Final = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length"}
)


class _Bounds(threading.local):
    deadline: float | None = None


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox without attribute access, unsafe globals, filters that
    build large values, or large values built with ``*``."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self) -> None:
        super().__init__(autoescape=False, auto_reload=False, cache_size=0)
        self.globals.clear()
        self.globals["range"] = _bounded_range
        self.filters = {name: self.filters[name] for name in _FILTERS}
        self.filters["replace"] = _bounded_replace
        self.bounds = _Bounds()

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return isinstance(obj, LoopContext) and attr in _LOOP_ATTRIBUTES

    def is_safe_callable(self, obj: Any) -> bool:
        self.tick()
        return obj is _bounded_range

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.tick()
        if isinstance(obj, Mapping):
            return obj[attribute] if attribute in obj else self.undefined(obj=obj, name=attribute)
        if self.is_safe_attribute(obj, attribute, None):
            return getattr(obj, attribute)
        raise SecurityError(f"'{attribute}' of a {type(obj).__name__} cannot be read")

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.tick()
        if isinstance(obj, Mapping) and isinstance(argument, str):
            return obj[argument] if argument in obj else self.undefined(obj=obj, name=argument)
        if isinstance(obj, str | list | tuple) and isinstance(argument, int | slice):
            try:
                return obj[argument]
            except IndexError:
                return self.undefined(obj=obj, name=str(argument))
        raise SecurityError(f"'{argument}' of a {type(obj).__name__} cannot be read")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.tick()
        if operator == "**":
            if not isinstance(right, int | float) or abs(right) > 64:
                raise TemplateError("'**' is limited to exponents up to 64")
            return left**right
        size = max(_size(left), _size(right))
        factor = right if isinstance(right, int) else left if isinstance(left, int) else 1
        if size and isinstance(factor, int) and size * factor > MAX_RANGE:
            raise TemplateError(f"'*' may build values of at most {MAX_RANGE} items")
        return left * right

    def tick(self) -> None:
        deadline = self.bounds.deadline
        if deadline is not None and time.monotonic() > deadline:
            raise TemplateError(f"rendering took longer than {MAX_RENDER_SECONDS:g} s")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


def _bounded_range(*args: int) -> range:
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise TemplateError(f"range() may produce at most {MAX_RANGE} items")
    return values


def _bounded_replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    text = str(value)
    grows = text.count(old) * max(0, len(new) - len(old)) if old else len(text) * len(new)
    if len(text) + grows > MAX_OUTPUT_CHARS:
        raise TemplateError(f"replace would build more than {MAX_OUTPUT_CHARS} characters")
    return text.replace(old, new, -1 if count is None else count)


_SANDBOX: Final = _Sandbox()


def _fail(message: str) -> NoReturn:
    raise TemplateError(message)


def _check_nodes(tree: nodes.Template) -> None:
    for node in tree.find_all(nodes.Node):
        refused = next(
            (what for kind, what in _REFUSED_NODES.items() if isinstance(node, kind)), None
        )
        if refused is not None:
            _fail(f"{refused} are not allowed in a webhook template (line {node.lineno})")
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            _fail(f"'{node.attr}' names Python internals, which templates cannot reach")
        if isinstance(node, nodes.Getattr) and not (
            isinstance(node.node, nodes.Name) and node.node.name == "loop"
        ):
            _fail(
                f"'.{node.attr}' (line {node.lineno}): templates read no attributes; "
                "use filters, e.g. '|upper'"
            )
        if (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
            and node.arg.value.startswith("_")
        ):
            _fail(f"'{node.arg.value}' names Python internals, which templates cannot reach")
        if isinstance(node, nodes.For):
            if node.recursive:
                _fail(f"recursive loops are not allowed (line {node.lineno})")
            if any(True for _ in node.find_all(nodes.For)):
                _fail(f"loops may not be nested (line {node.lineno})")
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    loaded = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    unknown = sorted(loaded - assigned - TEMPLATE_NAMES - {"range", "loop"})
    if unknown:
        _fail(
            f"unknown name '{unknown[0]}' (a template may use: "
            f"{', '.join(sorted(TEMPLATE_NAMES))}, range)"
        )


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    if len(source) > MAX_TEMPLATE_CHARS:
        _fail(f"a template may have at most {MAX_TEMPLATE_CHARS} characters")
    try:
        _check_nodes(_SANDBOX.parse(source))
        return _SANDBOX.from_string(source)
    except TemplateSyntaxError as exc:
        _fail(f"syntax error on line {exc.lineno}: {exc.message}")


def check_template(source: str) -> str:
    """``source`` if it is an acceptable template; else :class:`TemplateError` saying why."""
    _compiled(source)
    return source


def _plain(value: Any) -> Any:
    """Only plain data reaches a template: strings, numbers, booleans, None, lists, dicts."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    return str(value)


def _chunks(template: Template, context: dict[str, Any]) -> Iterator[str]:
    bounds = _SANDBOX.bounds
    bounds.deadline = time.monotonic() + MAX_RENDER_SECONDS
    try:
        for chunk in template.generate(context):
            _SANDBOX.tick()
            yield chunk
    finally:
        bounds.deadline = None


def render_template(source: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Render ``source`` over ``payload`` into the JSON object it must produce, or raise
    :class:`TemplateError` with a reason fit for operators."""
    template = _compiled(source)
    context = {name: _plain(payload.get(name)) for name in TEMPLATE_NAMES}
    context["failed_jobs"] = context["failed_jobs"] or []  # a list even for other events
    out: list[str] = []
    size = 0
    try:
        for chunk in _chunks(template, context):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                _fail(f"the rendered body is longer than {MAX_OUTPUT_CHARS} characters")
            out.append(chunk)
    except SecurityError as exc:
        _fail(f"the template was refused: {exc}")
    except RecursionError:
        _fail("the template nests too deeply")
    except (JinjaTemplateError, TypeError, ValueError, ArithmeticError) as exc:
        if isinstance(exc, TemplateError):
            raise
        _fail(f"the template failed: {exc}")
    text = "".join(out)
    try:
        body = json.loads(text)
    except ValueError as exc:
        _fail(f"the template did not render valid JSON ({exc}); quote values with '|tojson'")
    if not isinstance(body, dict):
        _fail("the template must render a JSON object")
    return body
