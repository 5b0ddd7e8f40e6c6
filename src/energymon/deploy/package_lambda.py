"""Build the Lambda deployment zip: our package plus exactly what the handler imports, reproducibly.

What goes in:

* ``energymon`` from the source tree (no ``__pycache__``);
* the closure of :data:`HANDLER_DISTRIBUTIONS` (what ``energymon.runtimes.lambda_handler`` imports
  transitively, found by tracing a real invocation) minus :data:`RUNTIME_PROVIDED` (boto3 and its own
  dependencies ship with the Lambda Python runtime). Each is pinned to the version installed here and
  fetched as a wheel for the target (``pip install --target --platform manylinux2014_<arch>
  --only-binary=:all: --implementation cp --python-version X.Y --no-deps``).

Reproducible: entries sorted, every mtime 1980-01-01, every mode 0644, no directory entries, no
bytecode (``--no-compile``, so the dist-info RECORD files list no ``.pyc`` either). Same inputs, same sha256.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from energymon.errors import EnergymonError

__all__ = [
    "ARCHITECTURES",
    "HANDLER_DISTRIBUTIONS",
    "READ_API_DISTRIBUTIONS",
    "RUNTIME_PROVIDED",
    "LambdaPackage",
    "PackageError",
    "build_lambda_zip",
    "pinned_requirements",
    "runtime_provided_modules",
]

ARCHITECTURES = {"arm64": "aarch64", "x86_64": "x86_64"}

# Third-party distributions ``energymon.runtimes.lambda_handler`` imports (directly or through the processor
# and the AWS adapters). tzdata: zoneinfo falls back to it where the OS has no zone files.
HANDLER_DISTRIBUTIONS = ("aws-lambda-powertools", "orjson", "pydantic", "tenacity", "tzdata")

# What the read API Lambda (``energymon.runtimes.api_lambda``: the FastAPI app through Mangum) adds; the same zip
# serves both functions. plotly for the dashboard's plotly.min.js, uvicorn and prometheus-client because
# energymon.api imports them; pydantic-settings for the settings model.
READ_API_DISTRIBUTIONS = ("fastapi", "mangum", "plotly", "uvicorn", "prometheus-client", "pydantic-settings")

# Part of the Lambda Python runtime (boto3 and its dependency closure): never packaged.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
)

_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
_PIP_ERROR_LINES = 12
_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = (".pyc", ".pyo")


class PackageError(EnergymonError):
    """The deployment zip could not be built; the message says why."""


@dataclass(frozen=True)
class LambdaPackage:
    path: Path
    size: int
    sha256: str
    requirements: tuple[str, ...]
    entries: int


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements(python_version: str = "3.12", arch: str = "arm64",
                        roots: tuple[str, ...] = HANDLER_DISTRIBUTIONS + READ_API_DISTRIBUTIONS) -> tuple[str, ...]:
    """``name==version`` for the dependency closure of ``roots`` as installed here, minus the runtime's own."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    env: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
    env.update(python_version=python_version, python_full_version=f"{python_version}.0", sys_platform="linux",
               platform_system="Linux", platform_machine=ARCHITECTURES[arch], os_name="posix",
               implementation_name="cpython", platform_python_implementation="CPython", extra="")
    provided = {_canonical(n) for n in RUNTIME_PROVIDED}
    pins: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = _canonical(todo.pop())
        if name in pins or name in provided:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            raise PackageError(f"{name} is needed by the Lambda handler but is not installed in this "
                               f"environment ({sys.prefix}); install the project first") from None
        pins[name] = dist.version
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return tuple(f"{name}=={version}" for name, version in sorted(pins.items()))


def _source_root() -> Path:
    import energymon

    return Path(energymon.__file__).resolve().parent


def _files(root: Path, prefix: str = "") -> dict[str, Path]:
    """Archive name → file, skipping bytecode caches."""
    out: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        for filename in filenames:
            if filename.endswith(_SKIP_SUFFIXES):
                continue
            path = Path(dirpath) / filename
            out[prefix + path.relative_to(root).as_posix()] = path
    return out


def _pip_install(requirements: tuple[str, ...], target: Path, arch: str, python_version: str) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
        "--target", str(target), "--platform", f"manylinux2014_{ARCHITECTURES[arch]}", "--only-binary=:all:",
        "--implementation", "cp", "--python-version", python_version, "--no-deps", "--no-compile",
        *requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        # pip's explanation, without its very long "Ignored the following versions" lists
        lines = (result.stderr or result.stdout).strip().splitlines()[-_PIP_ERROR_LINES:]
        detail = "\n".join(line if len(line) <= 300 else line[:300] + " …" for line in lines)
        raise PackageError(f"pip could not fetch the {arch} / Python {python_version} wheels "
                           f"(exit {result.returncode}):\n{detail}")


def _check_output(output: Path) -> None:
    if output.is_dir():
        raise PackageError(f"output {output} is a directory; give a file name such as {output / 'lambda.zip'}")
    blocker = next((p for p in (output.parent, *output.parent.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise PackageError(f"cannot create the output directory {output.parent}: {blocker} is a file")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PackageError(f"cannot create the output directory {output.parent}: {exc.strerror}") from None
    if not os.access(output.parent, os.W_OK | os.X_OK):
        raise PackageError(f"cannot write to {output.parent} (permission denied)")


def build_lambda_zip(output: Path, arch: str = "arm64", python_version: str = "3.12") -> LambdaPackage:
    """Write the deployment zip to ``output`` (atomically) and describe it."""
    if arch not in ARCHITECTURES:
        raise PackageError(f"unknown architecture {arch!r}: Lambda runs {' or '.join(ARCHITECTURES)}")
    if not re.fullmatch(r"3\.\d{1,2}", python_version):
        raise PackageError(f"python version {python_version!r} is not of the form 3.X (e.g. 3.12)")
    _check_output(output)
    requirements = pinned_requirements(python_version, arch)
    with tempfile.TemporaryDirectory(prefix="energymon-lambda-") as tmp:
        target = Path(tmp) / "site"
        _pip_install(requirements, target, arch, python_version)
        entries = _files(target)
        # pip --target may leave a bin/ of console scripts: nothing the handler can use.
        entries = {name: path for name, path in entries.items() if not name.startswith("bin/")}
        clash = [name for name in entries if name.startswith("energymon/")]
        if clash:
            raise PackageError(f"a dependency ships files inside energymon/: {clash[:3]}")
        entries.update(_files(_source_root(), "energymon/"))
        partial = output.with_name(f".{output.name}.partial")
        try:
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
                for name in sorted(entries):
                    info = zipfile.ZipInfo(name, date_time=_EPOCH)
                    info.external_attr = _FILE_MODE
                    info.create_system = 3
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, entries[name].read_bytes(), compresslevel=9)
            os.replace(partial, output)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise PackageError(f"cannot write {output}: {exc.strerror or exc}") from None
    digest = hashlib.sha256()
    with output.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return LambdaPackage(output, output.stat().st_size, digest.hexdigest(), requirements, len(entries))


def runtime_provided_modules() -> tuple[str, ...]:
    """Top-level import names of :data:`RUNTIME_PROVIDED` as installed here (tests mirror the runtime with them)."""
    provided = {_canonical(n) for n in RUNTIME_PROVIDED}
    return tuple(sorted(top for top, dists in md.packages_distributions().items()
                        if any(_canonical(d) in provided for d in dists)))
