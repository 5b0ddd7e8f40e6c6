"""Static checks of infra/terraform: formatting, offline init + validate of every root,
module layout and documentation, and checkov with zero failed checks."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .conftest import CHECKOV_VENV, REPO_ROOT, ROOTS, TERRAFORM_DIR, Terraform

pytestmark = pytest.mark.integration

def _render_docs() -> ModuleType:
    """infra/terraform/tools/render_docs.py: it reads the .tf files with python-hcl2 (the tables and these checks
    see the same declarations)."""
    spec = importlib.util.spec_from_file_location("render_docs", TERRAFORM_DIR / "tools" / "render_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


RENDER_DOCS = _render_docs()
# Every module folder, so a new module is held to the same layout without editing this file.
MODULES = tuple(sorted(p.parent.name for p in (TERRAFORM_DIR / "modules").glob("*/main.tf")))


def _body(text: str, open_brace: int) -> str:
    """Text between the brace at open_brace and its match (strings skipped)."""
    depth, i, in_string = 1, open_brace + 1, False
    while depth and i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        i += 1
    return text[open_brace + 1 : i - 1]


def _declared(directory: Path, kind: str) -> dict[str, Any]:
    return RENDER_DOCS.declared(directory, kind)  # type: ignore[no-any-return]


def test_terraform_files_are_formatted(terraform: Terraform) -> None:
    """GIVEN the Terraform tree WHEN `terraform fmt -check -recursive` runs THEN nothing needs reformatting."""
    result = terraform.run("", "fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM_DIR))
    assert result.returncode == 0, f"files need `terraform fmt`:\n{result.output}"


@pytest.mark.parametrize("root", ROOTS, ids=lambda r: r or "root")
def test_root_initialises_offline_and_validates(terraform: Terraform, root: str) -> None:
    """GIVEN only the local provider mirror WHEN a runnable root is initialised and validated THEN it is valid."""
    terraform.init(root)
    result = terraform.run(root, "validate", "-json", "-no-color")
    report = json.loads(result.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    assert report["warning_count"] == 0, json.dumps(report["diagnostics"], indent=2)


def test_only_the_aws_provider_is_required(terraform: Terraform) -> None:
    """GIVEN the root and examples WHEN their providers are listed THEN hashicorp/aws is the only one."""
    for root in ROOTS:
        terraform.init(root)
        lock = (terraform.root(root) / ".terraform.lock.hcl").read_text()
        assert re.findall(r'provider "([^"]+)"', lock) == ["registry.terraform.io/hashicorp/aws"], root


@pytest.mark.parametrize("module", MODULES)
def test_module_has_the_standard_layout_and_documents_every_input_and_output(module: str) -> None:
    """GIVEN a module WHEN its files are read THEN it has main/variables/outputs/versions/README, every
    variable has a description and a type, every output a description, and the README tables list them all."""
    directory = TERRAFORM_DIR / "modules" / module
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (directory / name).is_file(), f"modules/{module}/{name} is missing"

    variables = _declared(directory, "variable")
    outputs = _declared(directory, "output")
    assert variables and outputs
    readme = (directory / "README.md").read_text()
    for name, variable in variables.items():
        assert variable.description, f"variable {name} has no description"
        assert variable.type, f"variable {name} has no type"
        assert f"| `{name}` |" in readme, f"modules/{module}/README.md does not document input {name}"
    for name, output in outputs.items():
        assert output.description, f"output {name} has no description"
        assert f"| `{name}` |" in readme, f"modules/{module}/README.md does not document output {name}"
    assert "tags" in variables, f"modules/{module} does not take tags"


@pytest.mark.parametrize("root", ROOTS, ids=lambda r: r or "root")
def test_runnable_roots_describe_and_type_every_variable(root: str) -> None:
    """GIVEN the root and the examples WHEN their variables are read THEN each has a description and a type."""
    directory = TERRAFORM_DIR / root if root else TERRAFORM_DIR
    for name, variable in _declared(directory, "variable").items():
        assert variable.description, f"{root or 'root'}: variable {name} has no description"
        assert variable.type, f"{root or 'root'}: variable {name} has no type"
    for name, output in _declared(directory, "output").items():
        assert output.description, f"{root or 'root'}: output {name} has no description"


def test_every_checkov_skip_carries_a_reason() -> None:
    """GIVEN inline checkov suppressions WHEN they are read THEN each one names a check and says why."""
    skips = [
        (path, line)
        for path in TERRAFORM_DIR.rglob("*.tf")
        if ".terraform" not in path.parts
        for line in path.read_text().splitlines()
        if "checkov:skip" in line
    ]
    assert skips, "expected the documented suppressions"
    for path, line in skips:
        match = re.search(r"#checkov:skip=(CKV2?_[A-Z0-9_]+):(.+)$", line.strip())
        assert match and len(match.group(2).strip()) >= 20, f"{path}: suppression without a reason: {line.strip()}"


def test_iam_allow_statements_name_no_wildcard_action() -> None:
    """GIVEN every policy document WHEN its Allow statements are read THEN no action is "*" or
    "<service>:*" ("<service>:*" appears only in Deny statements, such as the TLS-only policies)."""
    checked = 0
    for path in sorted(TERRAFORM_DIR.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        text = path.read_text()
        for match in re.finditer(r"^\s*(?:statement|content)\s*\{", text, flags=re.MULTILINE):
            statement = _body(text, match.end() - 1)
            actions_list = re.search(r"^\s*actions\s*=\s*\[(.*?)\]", statement, flags=re.MULTILINE | re.DOTALL)
            if actions_list is None:
                continue
            checked += 1
            if re.search(r'^\s*effect\s*=\s*"Deny"', statement, flags=re.MULTILINE):
                continue
            for action in re.findall(r'"([^"]+)"', actions_list.group(1)):
                assert action != "*" and not action.endswith(":*"), (
                    f"{path.relative_to(REPO_ROOT)}: wildcard action {action}"
                )
    assert checked >= 15, f"only {checked} policy statements found: is the parser still right?"


def test_checkov_finds_no_failed_check() -> None:
    """GIVEN infra/ WHEN checkov scans the Terraform offline THEN zero checks fail."""
    checkov = CHECKOV_VENV / "bin" / "checkov"
    if not checkov.exists():
        pytest.fail(f"missing: checkov ({checkov}) — install it with: sudo bash .ci/install-infra-tools.sh "
                    "(make test does it when it can)")
    proc = subprocess.run(
        [
            str(checkov),
            "-d",
            str(REPO_ROOT / "infra"),
            "--framework",
            "terraform",
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO_ROOT,
    )
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']}:{check['file_line_range']})"
        for r in reports
        for check in r.get("results", {}).get("failed_checks", [])
    ]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert passed > 100, f"checkov passed only {passed} checks: did it scan the modules?"
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_readme_tables_match_the_terraform_files() -> None:
    """GIVEN the READMEs' Inputs/Outputs tables WHEN they are regenerated from the .tf files THEN
    nothing changes (run infra/terraform/tools/render_docs.py after editing a variable or output)."""
    proc = subprocess.run(
        [sys.executable, str(TERRAFORM_DIR / "tools" / "render_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
