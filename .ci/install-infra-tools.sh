#!/usr/bin/env bash
# Install checkov for the Terraform tests, idempotently, in its own virtual environment (it pins an old
# boto3 that must not leak into the project venv): $ENERGYMON_CHECKOV_VENV, default
# /opt/energymon-checkov-venv. `make test` runs it (through tools/ensure-test-deps.sh) when checkov is
# missing; moto[server] and boto3 come with the project's test extras.
#
# Terraform itself and the offline provider mirror (/opt/tf-plugins) come with the machine.
set -euo pipefail

checkov_venv="${ENERGYMON_CHECKOV_VENV:-/opt/energymon-checkov-venv}"
python_bin="${PYTHON:-python3}"

log() { printf '[install-infra-tools] %s\n' "$*"; }
# pip warns once per package about the local index layout; keep real errors only.
quiet_pip() { grep -v 'is ignored: it is neither a file nor a directory' || true; }

if [[ -x "${checkov_venv}/bin/checkov" ]] && "${checkov_venv}/bin/checkov" --version >/dev/null 2>&1; then
  log "checkov present: $("${checkov_venv}/bin/checkov" --version) in ${checkov_venv}"
else
  log "installing checkov into ${checkov_venv}"
  "${python_bin}" -m venv "${checkov_venv}"
  "${checkov_venv}/bin/pip" install -q --upgrade pip 2> >(quiet_pip >&2)
  "${checkov_venv}/bin/pip" install -q 'checkov>=3.2,<4' 2> >(quiet_pip >&2)
  log "checkov installed: $("${checkov_venv}/bin/checkov" --version)"
fi
