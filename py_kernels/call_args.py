"""Every call's arguments checked against the JSON Schema exported from TypeScript's declarations (src/bridge/calls.ts
-> call_args.schema.json), before the call runs: the shape of what crosses the bridge is defined once, in zod, and the
kernels trust nothing else. Rules that need files or tensors (a column file's widths, say) stay with the code that
reads them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List

from jsonschema import Draft202012Validator, ValidationError

from .errors import KernelInputError

SCHEMA_FILE = Path(__file__).with_name("call_args.schema.json")


def _load(path: Path) -> Dict[str, Draft202012Validator]:
    document = json.loads(path.read_text())
    return {name: Draft202012Validator(schema) for name, schema in document["calls"].items()}


VALIDATORS = _load(SCHEMA_FILE)


def _where(path: Iterable[Any]) -> str:
    """A JSON path as TypeScript's messages write it: model.spec.columns[1].widths."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the arguments)"


def _explaining(error: ValidationError) -> ValidationError:
    """The error that says what is wrong. A oneOf/anyOf failure (a union: the model's architecture, a column's, an
    adapter's kind) carries one sub-error per branch: leave out the branches whose discriminator did not match (a
    `const` on one of the object's own keys) when some branch's did, take the deepest error of the rest, and go on
    into it if it is a union too (a column inside a model)."""
    while error.context:
        branches: Dict[Any, List[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        matched = [subs for subs in branches.values()
                   if not any(sub.validator == "const" and len(sub.relative_path) == 1 for sub in subs)]
        candidates = [sub for subs in (matched or branches.values()) for sub in subs]
        error = max(candidates, key=lambda sub: len(sub.absolute_path))
    return error


def check(name: str, kwargs: dict) -> None:
    """KernelInputError naming the call, the field and the problem when `kwargs` does not fit the declared schema."""
    validator = VALIDATORS.get(name)
    if validator is None:
        raise KernelInputError(f"kernel call {name!r} has no declared arguments in {SCHEMA_FILE.name}; declare it in "
                               f"src/bridge/calls.ts and rebuild (npm run build)")
    errors = sorted(validator.iter_errors(kwargs), key=lambda e: list(e.absolute_path))
    if errors:
        problems = "; ".join(f"{_where(e.absolute_path)}: {e.message}" for e in map(_explaining, errors[:3]))
        raise KernelInputError(f"call {name!r}: arguments do not fit its declaration: {problems}")
