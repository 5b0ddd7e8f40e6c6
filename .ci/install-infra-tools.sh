#!/usr/bin/env bash
# Install the tools the Terraform tests need, idempotently.
#
#   * checkov, in its own virtual environment (it pins an old boto3 that must not
#     leak into the project venv): $ENERGYMON_CHECKOV_VENV, default /opt/energymon-checkov-venv
#   * moto[server] + boto3 into the project venv ($ENERGYMON_VENV, default ./.venv) so the
#     terraform integration test can start a moto server and assert with boto3.
#
# Terraform itself and the offline provider mirror (/opt/tf-plugins) come with the machine.
# Safe to run repeatedly: every step is skipped when its tool is already importable.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
checkov_venv="${ENERGYMON_CHECKOV_VENV:-/opt/energymon-checkov-venv}"
project_venv="${ENERGYMON_VENV:-${repo_root}/.venv}"
python_bin="${PYTHON:-python3}"

log() { printf '[install-infra-tools] %s\n' "$*"; }
# pip warns once per package about the local index layout; keep real errors only.
quiet_pip() { grep -v 'is ignored: it is neither a file nor a directory' || true; }

# --- checkov -------------------------------------------------------------------
if [[ -x "${checkov_venv}/bin/checkov" ]] && "${checkov_venv}/bin/checkov" --version >/dev/null 2>&1; then
  log "checkov present: $("${checkov_venv}/bin/checkov" --version) in ${checkov_venv}"
else
  log "installing checkov into ${checkov_venv}"
  "${python_bin}" -m venv "${checkov_venv}"
  "${checkov_venv}/bin/pip" install -q --upgrade pip 2> >(quiet_pip >&2)
  "${checkov_venv}/bin/pip" install -q 'checkov>=3.2,<4' 2> >(quiet_pip >&2)
  log "checkov installed: $("${checkov_venv}/bin/checkov" --version)"
fi

# --- moto server + boto3 in the project venv -------------------------------------
if [[ -x "${project_venv}/bin/python" ]]; then
  if "${project_venv}/bin/python" -c 'import boto3, moto.server, flask' >/dev/null 2>&1; then
    log "moto[server] + boto3 present in ${project_venv}"
  else
    log "installing moto[server] + boto3 into ${project_venv}"
    "${project_venv}/bin/pip" install -q 'moto[server]>=5.1,<6' 'boto3>=1.34' 2> >(quiet_pip >&2)
  fi
else
  log "no project venv at ${project_venv}; skipping moto install (create the venv first)"
fi

# --- terraform -------------------------------------------------------------------
if command -v terraform >/dev/null 2>&1; then
  log "terraform present: $(terraform version 2>/dev/null | head -n1)"
else
  log "WARNING: terraform not on PATH; the terraform tests will be skipped"
fi
