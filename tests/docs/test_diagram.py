"""The architecture diagram stays true: every box it draws stands for a Terraform module or a runtime
component that exists, every Terraform module is drawn, and the committed SVG shows every box."""

from __future__ import annotations

import html
import importlib
import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULES_DIR = REPO / "infra" / "terraform" / "modules"
SVG = REPO / "docs" / "energy-monitoring-architecture.svg"
PNG = REPO / "docs" / "energy-monitoring-architecture.png"


def _source() -> ModuleType:
    spec = importlib.util.spec_from_file_location("energymon_architecture", REPO / "docs" / "architecture.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


ARCH = _source()


def _exists(component: str) -> str | None:
    """None when `package.module:Name` imports and has Name, else what is missing."""
    module_name, _, attr = component.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return f"{module_name} does not import ({exc})"
    if attr and not hasattr(module, attr):
        return f"{module_name} has no {attr}"
    return None


def _svg_texts(svg: str) -> set[str]:
    return {html.unescape(t).strip() for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)}


def test_every_terraform_module_the_diagram_names_exists() -> None:
    """GIVEN the diagram's boxes WHEN their tf= modules are looked up THEN each is a folder with main.tf."""
    missing = sorted(m for m in ARCH.terraform_modules() if not (MODULES_DIR / m / "main.tf").is_file())
    assert not missing, f"the diagram draws Terraform modules that do not exist: {missing} (edit docs/architecture.py)"


def test_every_terraform_module_is_drawn() -> None:
    """GIVEN infra/terraform/modules WHEN the diagram's boxes are read THEN every module has a box."""
    modules = {p.parent.name for p in MODULES_DIR.glob("*/main.tf")}
    assert modules, "no Terraform modules found"
    undrawn = sorted(modules - ARCH.terraform_modules())
    assert not undrawn, (
        f"Terraform modules missing from the diagram: {undrawn}: add a Node(..., tf=...) line to NODES in "
        "docs/architecture.py and run `make diagram`"
    )


def test_every_runtime_component_the_diagram_names_exists() -> None:
    """GIVEN the diagram's boxes WHEN their py= components are imported THEN each module and name exists."""
    problems = sorted(p for p in map(_exists, sorted(ARCH.components())) if p)
    assert not problems, f"the diagram draws components that no longer exist: {problems}"


def test_the_existence_check_can_fail() -> None:
    """GIVEN a component that is not there WHEN it is checked THEN it is reported (so the test above can fail)."""
    assert _exists("energymon.processing.processor:Processor") is None
    assert _exists("energymon.processing.processor:NoSuchThing") == "energymon.processing.processor has no NoSuchThing"
    assert "does not import" in str(_exists("energymon.no_such_module:X"))


def test_every_box_stands_for_something_and_every_edge_joins_two_boxes() -> None:
    """GIVEN the diagram's source WHEN it is read THEN boxes have unique keys, known clusters and icons of the
    form provider.module.Class, and every edge points at a box that exists."""
    keys = [n.key for n in ARCH.NODES]
    assert len(keys) == len(set(keys)), "duplicate node keys"
    for node in ARCH.NODES:
        assert node.cluster in ARCH.CLUSTERS, f"{node.key}: unknown cluster {node.cluster}"
        assert re.fullmatch(r"[a-z]+\.[a-z]+\.[A-Za-z0-9]+", node.icon), f"{node.key}: icon {node.icon}"
        assert node.tf or node.py or node.cluster == "you", f"{node.key} stands for nothing in the repository"
    for source, target, _, style in ARCH.edges():
        assert source in keys and target in keys, f"edge {source} -> {target}: no such box"
        assert style in {"", "dashed", "dotted", "bold"}, f"edge {source} -> {target}: style {style}"


def test_the_committed_svg_and_png_show_every_box() -> None:
    """GIVEN the committed SVG WHEN its text is read THEN every line of every box's label is there, so a box
    added to the source without `make diagram` fails here."""
    assert PNG.stat().st_size > 10_000
    texts = _svg_texts(SVG.read_text())
    stale = sorted({line for n in ARCH.NODES for line in n.label.split("\n") if line.strip() not in texts})
    assert not stale, f"docs/energy-monitoring-architecture.svg is stale (run `make diagram`): missing {stale}"
    assert 'href="/' not in SVG.read_text(), "the SVG links icons by local path instead of embedding them"
    drawn = {html.unescape(t) for t in re.findall(r"<title>([^<]*&#45;&gt;[^<]*)</title>", SVG.read_text())}
    wanted = {f"{source}->{target}" for source, target, _, _ in ARCH.edges()}
    assert drawn == wanted, f"the SVG's arrows differ from the source (run `make diagram`): {drawn ^ wanted}"


def test_the_diagram_renders_from_its_source(tmp_path: Path) -> None:
    """GIVEN the source WHEN it is rendered (what `make diagram` runs) THEN a PNG and a self-contained SVG
    with every box come out."""
    if shutil.which("dot") is None:
        pytest.fail("Graphviz is not installed: apt-get install graphviz (tools/ensure-test-deps.sh does)")
    if importlib.util.find_spec("diagrams") is None:
        pytest.fail("the `diagrams` package is missing: pip install -e '.[test]' (make test does)")
    png, svg = ARCH.render(tmp_path / "arch")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _svg_texts(svg.read_text()) >= {line.strip() for n in ARCH.NODES for line in n.label.split("\n")}
    assert 'href="/' not in svg.read_text()
