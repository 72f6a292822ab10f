"""What the installed wandb client may send, read from the client itself: the fake server
checks every GraphQL request against it, and every answer it gives against the client's
own models of the answer.

- The wandb package ships generated operations (``wandb/apis/_generated`` and
  ``wandb/sdk/artifacts/_generated``: the operation text, and a pydantic model of the
  answer named after the operation). A request for one of them must carry that text
  (compared token by token, fragments in any order), and the fake's answer must
  validate against the model.
- Every request, shipped or not (wandb-core and parts of the Python client write their
  own), must send the variables its text requires (``$x: T!`` without a default);
  extra variables are ignored, as a GraphQL server ignores them.
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass

GENERATED_PACKAGES = ("wandb.apis._generated", "wandb.sdk.artifacts._generated")
_TOKEN = re.compile(r'"""(?:.|\n)*?"""|"(?:[^"\\]|\\.)*"|\.\.\.|[_A-Za-z][_0-9A-Za-z]*'
                    r'|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[!$():=@\[\]{}|]')
_DEFINITION = re.compile(r"\b(query|mutation|subscription|fragment)\b")


@dataclass(frozen=True)
class ShippedOperation:
    name: str
    text: str
    answer_model: type | None  # the client's pydantic model of ``data``


def tokens(text: str) -> list[str]:
    """The GraphQL tokens of ``text``: whitespace, commas and comments do not count."""
    text = re.sub(r"#[^\n]*", "", text)
    return _TOKEN.findall(text)


def definitions(text: str) -> list[str]:
    """The operation and fragment definitions of a document, each as its tokens joined,
    sorted (a client may order its fragments differently). Fields marked
    ``@include(if: true)`` are left out: the client strips them for a server that does not
    announce the feature they need (as this one does not)."""
    found, current, depth = [], [], 0
    for token in _without_gated_fields(tokens(text)):
        if depth == 0 and token in ("query", "mutation", "subscription", "fragment") and current:
            found.append(" ".join(current))
            current = []
        current.append(token)
        depth += {"{": 1, "}": -1}.get(token, 0)
    if current:
        found.append(" ".join(current))
    return sorted(found)


def _without_gated_fields(found: list[str]) -> list[str]:
    gate = ["@", "include", "(", "if", ":", "true", ")"]
    kept = []
    index = 0
    while index < len(found):
        if found[index + 1:index + 1 + len(gate)] == gate:
            index += 1 + len(gate)
            continue
        kept.append(found[index])
        index += 1
    return kept


def operation_name(text: str) -> str | None:
    match = re.search(r"\b(?:query|mutation|subscription)\s+(\w+)", text or "")
    return match.group(1) if match else None


@functools.cache
def shipped_operations() -> dict[str, ShippedOperation]:
    """Operation name -> what the installed client ships for it."""
    shipped = {}
    for package_name in GENERATED_PACKAGES:
        package = importlib.import_module(package_name)
        operations = importlib.import_module(f"{package_name}.operations")
        for constant in operations.__all__:
            text = getattr(operations, constant)
            name = operation_name(text)
            if name:
                model = getattr(package, name, None)
                shipped[name] = ShippedOperation(name, text, model)
    return shipped


def declared_variables(text: str) -> dict[str, bool]:
    """The variables the operation declares -> whether the server requires them."""
    header = text[:text.index("{")] if "{" in text else text
    declared = {}
    for name, kind, default in re.findall(r"\$(\w+)\s*:\s*([\w\[\]!]+)\s*(=)?", header):
        declared[name] = kind.endswith("!") and not default
    return declared


def request_problems(name: str, text: str, variables: dict) -> list[str]:
    """What is wrong with a request, as the server would see it; [] when nothing."""
    problems = []
    shipped = shipped_operations().get(name)
    if shipped is not None and definitions(text) != definitions(shipped.text):
        sent, shipped_text = set(definitions(text)), set(definitions(shipped.text))
        problems.append(f"{name}: the query text differs from the one wandb ships: sent "
                        f"{sorted(sent - shipped_text)}, shipped {sorted(shipped_text - sent)}")
    declared = declared_variables(text)
    missing = sorted(key for key, required in declared.items()
                     if required and variables.get(key) is None)
    if missing:
        problems.append(f"{name}: required variables missing: {missing}")
    return problems


def answer_problems(name: str, data: dict) -> list[str]:
    """What the client's own model of ``name``'s answer rejects in ``data``."""
    shipped = shipped_operations().get(name)
    if shipped is None or shipped.answer_model is None:
        return []
    try:
        shipped.answer_model.model_validate(data)
    except Exception as error:  # pydantic.ValidationError
        return [f"{name}: the answer does not fit wandb's model: {error}"]
    return []
