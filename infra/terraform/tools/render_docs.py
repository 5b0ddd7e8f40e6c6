#!/usr/bin/env python3
"""Render the Inputs/Outputs tables of every Terraform README from the .tf files.

The tables live between `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->` (the markers terraform-docs
uses, so that tool can take over where it can be installed: it is a Go binary from GitHub releases, which
no package registry reachable here ships). The .tf files are read with python-hcl2, a maintained HCL2
parser (the test extras install it), not by hand.

    python infra/terraform/tools/render_docs.py          # rewrite the tables
    python infra/terraform/tools/render_docs.py --check  # exit 1 if any table is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

TERRAFORM_DIR = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
# Every value kept as the HCL text it was written as (a string literal keeps its quotes, an expression
# comes as "${...}"), so a table shows `string` and `"string"` apart.
OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, wrap_objects=True, wrap_tuples=True)
NO_DEFAULT = object()


@dataclass(frozen=True)
class Declared:
    name: str
    description: str | None
    type: str | None
    default: Any  # NO_DEFAULT when the block has no default
    validated: bool
    file: str


def _expression(value: Any) -> str:
    """A serialized HCL value as it was written (`${...}` is a wrapped expression)."""
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1]
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _text(value: Any) -> str | None:
    """The text of an HCL string literal (its escapes are JSON's, bar the template ones kept as written)."""
    if not isinstance(value, str):
        return None if value is None else str(value)
    try:
        text = json.loads(value)
    except ValueError:
        return value.strip('"')
    return text if isinstance(text, str) else value


def declared(directory: Path, kind: str) -> dict[str, Declared]:
    """Every top-level `variable` or `output` block of the module in directory, by name."""
    found: dict[str, Declared] = {}
    for path in sorted(directory.glob("*.tf")):
        try:
            document = hcl2.loads(path.read_text(), serialization_options=OPTIONS)
        except Exception as exc:  # the parser raises several kinds; name the file whichever it is
            raise SystemExit(f"{path}: cannot parse: {exc}") from None
        for block in document.get(kind, []):
            for label, body in block.items():
                name = label.strip('"')
                found[name] = Declared(
                    name=name,
                    description=_text(body.get("description")),
                    type=None if "type" not in body else _expression(body["type"]),
                    default=body.get("default", NO_DEFAULT),
                    validated="validation" in body,
                    file=path.name,
                )
    return found


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def render(directory: Path) -> str:
    variables = declared(directory, "variable")
    outputs = declared(directory, "output")
    lines = ["## Inputs", ""]
    if variables:
        lines += [
            "| Name | Description | Type | Default | Required |",
            "|------|-------------|------|---------|:--------:|",
        ]
        for name, v in sorted(variables.items()):
            required = v.default is NO_DEFAULT
            default = "n/a" if required else f"`{_cell(_expression(v.default))}`"
            lines.append(
                f"| `{name}` | {_cell(v.description or '')}{' (validated)' if v.validated else ''} | "
                f"`{_cell(v.type or 'any')}` | {default} | {'yes' if required else 'no'} |"
            )
    else:
        lines.append("No inputs.")
    lines += ["", "## Outputs", ""]
    if outputs:
        lines += ["| Name | Description |", "|------|-------------|"]
        for name, o in sorted(outputs.items()):
            lines.append(f"| `{name}` | {_cell(o.description or '')} |")
    else:
        lines.append("No outputs.")
    return "\n".join(lines)


def readmes() -> list[Path]:
    return sorted(p for p in TERRAFORM_DIR.rglob("README.md") if ".terraform" not in p.parts)


def update(readme: Path) -> tuple[str, str]:
    current = readme.read_text()
    if BEGIN not in current or END not in current:
        raise SystemExit(f"{readme}: missing {BEGIN} ... {END} markers")
    head, rest = current.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return current, f"{head}{BEGIN}\n{render(readme.parent)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail instead of rewriting when a table is stale")
    args = parser.parse_args(argv)
    stale = []
    for readme in readmes():
        current, wanted = update(readme)
        if current != wanted:
            stale.append(readme)
            if not args.check:
                readme.write_text(wanted)
    if args.check and stale:
        for readme in stale:
            print(
                f"stale: {readme.relative_to(TERRAFORM_DIR)} (run infra/terraform/tools/render_docs.py)",
                file=sys.stderr,
            )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
