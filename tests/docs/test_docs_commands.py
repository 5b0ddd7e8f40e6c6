"""Docs that cannot go stale: every `energymon ...` command in README.md, docs/*.md and the Terraform READMEs
names a subcommand and options the CLI has (and valid choices where the option has fixed ones), every ```toml
snippet loads through the settings model (unless marked `<!-- fragment -->`, or `<!-- agent-config -->` for the
device agent's file), every ```hcl snippet of README.md sets only variables the Terraform root declares, and
every in-doc link leads somewhere."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import hcl2
import pytest
import typer

from energymon.agent.config import load_agent_config
from energymon.config import load_settings
from energymon.errors import ConfigError
from energymon.runtimes.cli import app

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Commands and TOML are checked in the Terraform READMEs too; their HCL is module code, not variable values.
TERRAFORM_DOCS = sorted(p for p in (REPO / "infra" / "terraform").rglob("README.md") if ".terraform" not in p.parts)
FRAGMENT, AGENT_CONFIG = "<!-- fragment -->", "<!-- agent-config -->"
CLI = typer.main.get_command(app)
SHELL_ENDS = {"|", "||", "&&", ";", ">", ">>", "2>&1", "<", "&"}
# A command line may start with a prompt or the venv path; a line whose first word is "energymon:" is output.
COMMAND = re.compile(r"^(?:\$\s+)?(?:\S*/)?energymon(?=\s|$)(.*)$")


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int
    language: str
    text: str
    marker: str | None

    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def _snippets(path: Path) -> list[Snippet]:
    found, lines = [], path.read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^\s*```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start, language = i, fence.group(1).lower()
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            i += 1
        before = [line.strip() for line in lines[max(0, start - 3):start] if line.strip()]
        marker = next((m for m in (FRAGMENT, AGENT_CONFIG) if before and before[-1] == m), None)
        found.append(Snippet(path, start + 1, language, "\n".join(lines[start + 1:i]), marker))
        i += 1
    return found


def _joined(text: str) -> list[tuple[int, str]]:
    """Lines with shell continuations (a trailing backslash) joined, numbered from 0."""
    out: list[tuple[int, str]] = []
    pending, first = "", 0
    for n, line in enumerate(text.splitlines()):
        if not pending:
            first = n
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        out.append((first, pending + line))
        pending = ""
    if pending:
        out.append((first, pending))
    return out


def _commands() -> list[tuple[str, str]]:
    """(where, command) for every energymon command in a shell or text block, and in inline code spans."""
    found = []
    for path in [*DOCS, *TERRAFORM_DOCS]:
        in_block = set()
        for snippet in _snippets(path):
            if snippet.language not in {"", "bash", "sh", "shell", "console", "text"}:
                continue
            for n, line in _joined(snippet.text):
                in_block.add(snippet.line + 1 + n)
                match = COMMAND.match(line.strip())
                if match:
                    found.append((f"{path.relative_to(REPO)}:{snippet.line + 1 + n}", "energymon" + match.group(1)))
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if n in in_block:
                continue
            for span in re.findall(r"`([^`]+)`", line):
                match = COMMAND.match(span.strip())
                if match:
                    found.append((f"{path.relative_to(REPO)}:{n}", "energymon" + match.group(1)))
    return found


def _words(command: str) -> list[str]:
    command = re.sub(r"\s#\s.*$", "", command)  # a trailing shell comment
    try:
        words = shlex.split(command)
    except ValueError:  # an unbalanced quote in a shortened example: judge the words anyway
        words = command.split()
    kept = []
    for word in words[1:]:
        if word in SHELL_ENDS or word.startswith(">"):
            break
        kept.append(word)
    return kept


def _placeholder(word: str) -> bool:
    return bool(re.fullmatch(r"<[^>]+>|\.\.\.|…|[A-Z][A-Z_]*(\|[A-Z_]+)*", word)) or word.startswith("$")


def _choices(param: Any) -> list[str]:
    """The fixed values of an option: click keeps them on `type`, typer 0.2x's own click on `type_descriptor`."""
    kind = getattr(param, "type", None) or getattr(param, "type_descriptor", None)
    return [str(getattr(c, "value", c)) for c in getattr(kind, "choices", None) or ()]


def check(command: str) -> list[str]:
    """What is wrong with one command line: an unknown subcommand, option or choice."""
    match = COMMAND.match(command.strip())
    assert match, f"not an energymon command: {command}"
    command = "energymon" + match.group(1)
    words = [w for w in (w.strip("[]") for w in _words(command)) if w and w != "|"]
    cmd: Any = CLI  # a click (or typer's vendored click) command: read by duck typing, as either works
    path = ["energymon"]
    problems: list[str] = []
    i = 0
    while hasattr(cmd, "commands") and i < len(words) and not words[i].startswith("-"):
        word = words[i]
        if _placeholder(word):
            return problems
        sub = cmd.commands.get(word)
        if sub is None:
            return [f"`{' '.join(path)}` has no subcommand {word!r}"]
        cmd, path, i = sub, [*path, word], i + 1
    options = {opt: p for p in cmd.params if p.param_type_name == "option" for opt in (*p.opts, *p.secondary_opts)}
    options["--help"] = None  # type: ignore[assignment]
    while i < len(words):
        word = words[i]
        i += 1
        if not word.startswith("-") or word == "-":
            continue
        name, _, inline = word.partition("=")
        if name not in options:
            problems.append(f"`{' '.join(path)}` has no option {name}")
            continue
        param = options[name]
        if param is None or param.is_flag or name in param.secondary_opts:
            continue
        value = inline or (words[i] if i < len(words) else "")
        if not inline:
            i += 1
        choices = _choices(param)
        if choices and value and not _placeholder(value):
            bad = [v for v in value.split("|") if v not in choices]
            if bad:
                problems.append(f"`{' '.join(path)} {name}`: {bad} not among {list(choices)}")
    return problems


COMMANDS = _commands()


def test_the_docs_show_commands() -> None:
    """GIVEN README.md WHEN its commands are extracted THEN there are many (the extraction works)."""
    assert len(COMMANDS) > 40, COMMANDS
    subcommands = {c.split()[1] for _, c in COMMANDS if len(c.split()) > 1}
    assert {"run", "query", "decode", "device", "cost-estimate"} <= subcommands


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_every_documented_command_exists(where: str, command: str) -> None:
    """GIVEN a documented `energymon ...` line WHEN its words are matched against the CLI THEN its subcommand,
    every option and every fixed-choice value exist."""
    assert not check(command), f"{where}: {command}\n  " + "\n  ".join(check(command))


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("energymon frobnicate", "no subcommand 'frobnicate'"),
        ("energymon query --device apt-1 --resolutoin day", "has no option --resolutoin"),
        ("energymon decode --format tasmota2 capture.json", "['tasmota2'] not among"),
        ("energymon device provison apt-1", "no subcommand 'provison'"),
        ("energymon run --duration 25 | tee log --nonsense", None),
        ("$ .venv/bin/energymon run --secure --certs-dir DIR", None),
        ("energymon decode --format canonical|tasmota|shelly [--topic TOPIC] [FILE|-]", None),
    ],
)
def test_the_command_check_catches_what_it_should(command: str, problem: str | None) -> None:
    """GIVEN a wrong (or right) command WHEN it is checked THEN the mistake is named (or nothing is)."""
    problems = check(command)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


TOML = [s for path in [*DOCS, *TERRAFORM_DOCS] for s in _snippets(path) if s.language == "toml"]


@pytest.mark.parametrize("snippet", TOML, ids=[s.where() for s in TOML])
def test_every_toml_snippet_loads(snippet: Snippet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN a ```toml snippet not marked as a fragment WHEN it is loaded as a settings file THEN it is valid."""
    if snippet.marker == FRAGMENT:
        return
    for name in [n for n in os.environ if n.startswith("ENERGYMON_")]:
        monkeypatch.delenv(name)
    path = tmp_path / "snippet.toml"
    path.write_text(snippet.text + "\n")
    try:
        if snippet.marker == AGENT_CONFIG:
            load_agent_config(path)
        else:
            load_settings(path)
    except ConfigError as exc:
        pytest.fail(f"{snippet.where()}: the snippet does not load: {exc}")


def test_a_bad_toml_snippet_would_fail(tmp_path: Path) -> None:
    """GIVEN a snippet with a misspelt key WHEN it is loaded THEN it is refused (so the test above can fail)."""
    path = tmp_path / "bad.toml"
    path.write_text('batch_sise = 100\n')
    with pytest.raises(ConfigError, match="batch_sise"):
        load_settings(path)


def _root_variables() -> set[str]:
    spec = importlib.util.spec_from_file_location("render_docs", REPO / "infra" / "terraform" / "tools" / "render_docs.py")
    assert spec and spec.loader
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return set(module.declared(REPO / "infra" / "terraform", "variable"))


HCL = [s for path in DOCS for s in _snippets(path) if s.language in {"hcl", "terraform", "tf"}]


@pytest.mark.parametrize("snippet", HCL, ids=[s.where() for s in HCL])
def test_every_hcl_snippet_sets_declared_variables(snippet: Snippet) -> None:
    """GIVEN a ```hcl snippet of variable values WHEN it is parsed THEN each name is a root variable."""
    if snippet.marker == FRAGMENT:
        return
    values = hcl2.loads(snippet.text + "\n", serialization_options=hcl2.SerializationOptions(with_comments=False))
    unknown = sorted(set(values) - _root_variables())
    assert values and not unknown, f"{snippet.where()}: not variables of infra/terraform/variables.tf: {unknown}"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped (but - and _), spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _broken_links(path: Path) -> list[str]:
    text = path.read_text()
    anchors = {_anchor(h) for h in re.findall(r"^#+\s+(.+)$", text, flags=re.MULTILINE)}
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file_part, _, anchor = target.partition("#")
        if file_part and not (path.parent / file_part).exists():
            broken.append(target)
        elif not file_part and anchor not in anchors:
            broken.append(target)
    return broken


@pytest.mark.parametrize("path", [*DOCS, *TERRAFORM_DOCS], ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_inside_the_docs_resolves(path: Path) -> None:
    """GIVEN a doc WHEN its #anchor links and relative file links are followed THEN each heading or file exists."""
    broken = _broken_links(path)
    assert not broken, f"{path.relative_to(REPO)}: links to nothing: {broken}"


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    """GIVEN a doc linking a missing heading and a missing file WHEN it is checked THEN both are named."""
    doc = tmp_path / "d.md"
    doc.write_text("# The IoT box: `run`\n[ok](#the-iot-box-run) [gone](#no-such) [file](missing.md) [web](https://x.org)\n")
    assert _broken_links(doc) == ["#no-such", "missing.md"]


@pytest.mark.parametrize("path", sorted((REPO / "docs").glob("*.toml")), ids=lambda p: p.name)
def test_settings_files_in_docs_load(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN a settings file kept in docs/ (make screenshot's) WHEN it is loaded THEN it is valid."""
    for name in [n for n in os.environ if n.startswith("ENERGYMON_")]:
        monkeypatch.delenv(name)
    assert load_settings(path).tariff_model() is not None
