"""The Terraform README tables come from the .tf files, read with python-hcl2 (infra/terraform/tools/render_docs.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]

MODULE_TF = '''
variable "name" {
  description = "Name of the \\"thing\\"; a | pipe too."
  type        = string
  validation {
    condition     = length(var.name) < 10
    error_message = "short"
  }
}

variable "token" {
  description = "May be null."
  type        = string
  default     = null
}

variable "settings" {
  description = "An object with defaults."
  type = object({
    size  = optional(number, 3)
    names = optional(list(string), [])
  })
  default = { size = 4 }
}

variable "loose" {
  description = "No type."
}

output "name_upper" {
  description = "The name, upper case."
  value       = upper(var.name)
}
'''

EXPECTED = """## Inputs

| Name | Description | Type | Default | Required |
|------|-------------|------|---------|:--------:|
| `loose` | No type. | `any` | n/a | yes |
| `name` | Name of the "thing"; a \\| pipe too. (validated) | `string` | n/a | yes |
| `settings` | An object with defaults. | `object({size = optional(number, 3), names = optional(list(string), [])})` | `{size = 4}` | no |
| `token` | May be null. | `string` | `null` | no |

## Outputs

| Name | Description |
|------|-------------|
| `name_upper` | The name, upper case. |"""


def _render_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_docs", REPO / "infra" / "terraform" / "tools" / "render_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


RENDER = _render_docs()


def test_tables_show_every_input_and_output_as_declared(tmp_path: Path) -> None:
    """GIVEN a module with required, null-default, object-typed, untyped and validated variables WHEN its
    tables are rendered THEN each row says exactly what the .tf file declares."""
    (tmp_path / "variables.tf").write_text(MODULE_TF)
    assert RENDER.render(tmp_path) == EXPECTED


def test_a_stale_table_is_rewritten_between_the_markers(tmp_path: Path) -> None:
    """GIVEN a README whose table misses a variable WHEN it is updated THEN the text outside the markers stays
    and the table is the rendered one."""
    (tmp_path / "main.tf").write_text(MODULE_TF)
    readme = tmp_path / "README.md"
    readme.write_text(f"# m\n\nintro\n\n{RENDER.BEGIN}\n## Inputs\n\nold\n{RENDER.END}\n\nafter\n")
    current, wanted = RENDER.update(readme)
    assert current != wanted
    assert wanted.startswith("# m\n\nintro\n\n") and wanted.endswith("\n\nafter\n")
    assert "| `settings` |" in wanted and "old" not in wanted


def test_an_unparsable_file_is_named(tmp_path: Path) -> None:
    """GIVEN a .tf file with a syntax error WHEN it is read THEN the error names the file."""
    bad = tmp_path / "broken.tf"
    bad.write_text('variable "x" {\n  type = \n')
    try:
        RENDER.declared(tmp_path, "variable")
    except SystemExit as exc:
        assert str(bad) in str(exc) and "cannot parse" in str(exc)
    else:
        raise AssertionError("a broken file was accepted")
