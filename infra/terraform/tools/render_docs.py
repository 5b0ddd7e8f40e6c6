#!/usr/bin/env python3
"""Render the Inputs/Outputs tables of every Terraform README from the .tf files.

The tables live between `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->` (the markers
terraform-docs uses, so that tool can take over where it is available). Standard library only.

    python infra/terraform/tools/render_docs.py          # rewrite the tables
    python infra/terraform/tools/render_docs.py --check  # exit 1 if any table is stale
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

TERRAFORM_DIR = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"


def _matching(text: str, start: int, open_ch: str = "{", close_ch: str = "}") -> int:
    """Index just past the bracket matching text[start] (strings skipped)."""
    depth, i, in_string = 0, start, False
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == open_ch:
            depth += 1
        elif ch == close_ch:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced brackets")


def _blocks(text: str, kind: str) -> list[tuple[str, str]]:
    found = []
    for match in re.finditer(rf'^{kind}\s+"([^"]+)"\s*\{{', text, flags=re.MULTILINE):
        end = _matching(text, match.end() - 1)
        found.append((match.group(1), text[match.end() : end - 1]))
    return found


def _attribute(body: str, name: str) -> str | None:
    """Value expression of a top-level attribute of a block body, whitespace collapsed."""
    depth = 0
    for line_match in re.finditer(r"^(.*)$", body, flags=re.MULTILINE):
        line = line_match.group(1)
        stripped = line.strip()
        if depth == 0:
            attr = re.match(rf"{name}\s*=\s*", stripped)
            if attr:
                start = line_match.start() + line.index(stripped) + attr.end()
                value_start = start
                i = value_start
                # Extend over balanced brackets across lines.
                level, in_string = 0, False
                while i < len(body):
                    ch = body[i]
                    if in_string:
                        if ch == "\\":
                            i += 1
                        elif ch == '"':
                            in_string = False
                    elif ch == '"':
                        in_string = True
                    elif ch in "([{":
                        level += 1
                    elif ch in ")]}":
                        level -= 1
                    elif ch == "\n" and level == 0:
                        break
                    i += 1
                return " ".join(body[value_start:i].split())
        depth += stripped.count("{") - stripped.count("}")
    return None


def _string(expr: str | None) -> str:
    if expr is None:
        return ""
    if expr.startswith('"') and expr.endswith('"'):
        return expr[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return expr


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(directory: Path) -> str:
    variables: list[tuple[str, str]] = []
    outputs: list[tuple[str, str]] = []
    for path in sorted(directory.glob("*.tf")):
        text = path.read_text()
        variables += _blocks(text, "variable")
        outputs += _blocks(text, "output")
    lines = ["## Inputs", ""]
    if variables:
        lines += [
            "| Name | Description | Type | Default | Required |",
            "|------|-------------|------|---------|:--------:|",
        ]
        for name, body in sorted(variables):
            default = _attribute(body, "default")
            validated = " (validated)" if re.search(r"^\s*validation\s*\{", body, flags=re.MULTILINE) else ""
            lines.append(
                f"| `{name}` | {_cell(_string(_attribute(body, 'description')))}{validated} | "
                f"`{_cell(_attribute(body, 'type') or 'any')}` | "
                f"{'n/a' if default is None else '`' + _cell(default) + '`'} | {'yes' if default is None else 'no'} |"
            )
    else:
        lines.append("No inputs.")
    lines += ["", "## Outputs", ""]
    if outputs:
        lines += ["| Name | Description |", "|------|-------------|"]
        for name, body in sorted(outputs):
            lines.append(f"| `{name}` | {_cell(_string(_attribute(body, 'description')))} |")
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
