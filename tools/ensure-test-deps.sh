#!/usr/bin/env bash
# What `make test` needs beyond the project's own virtual environment, checked before anything runs:
#
#   mosquitto, mosquitto_pub   Debian mosquitto + mosquitto-clients (IoT Core's stand-in, e2e publishers)
#   /usr/bin/chromium          Debian chromium + fonts-dejavu-core (the dashboard's browser tests)
#   prometheus, promtool       Debian prometheus (scrapes /metrics and runs the Grafana dashboard's queries)
#   dot                        Debian graphviz (renders the architecture diagram, docs/architecture.py)
#   python3 -m venv            Debian python3-venv (the project venv and checkov's are made with it)
#   checkov                    its own venv, $ENERGYMON_CHECKOV_VENV (default /opt/energymon-checkov-venv),
#                              made by .ci/install-infra-tools.sh (it pins an old boto3)
#   terraform + /opt/tf-plugins  come with the machine image; named when missing, never installed here
#
# Whatever is missing is installed when it can be (root with apt-get; checkov wherever its venv can be
# written); otherwise the script stops at once, naming each missing piece and the command that installs
# it. When everything is there it only looks (a few file tests: milliseconds), so every run may call it.
set -euo pipefail

# Bash alone (no dirname): the check must work with a PATH that lacks everything.
script_dir="${BASH_SOURCE[0]%/*}"
[[ "${script_dir}" == "${BASH_SOURCE[0]}" ]] && script_dir=.
repo_root="$(cd "${script_dir}/.." && pwd)"
checkov_venv="${ENERGYMON_CHECKOV_VENV:-/opt/energymon-checkov-venv}"
provider_mirror="${ENERGYMON_TF_PROVIDER_MIRROR:-/opt/tf-plugins}"
python_bin="${PYTHON:-python3}"
project_stamp="${repo_root}/.venv/.installed"

say() { printf 'ensure-test-deps: %s\n' "$*" >&2; }

# --- what is missing -------------------------------------------------------------------------------
debs=()       # Debian packages to install
unfixable=()  # "what — how to install it" lines this script cannot act on

on_path_or() { command -v "$1" >/dev/null 2>&1 || [[ -x "$2" ]]; }

on_path_or mosquitto /usr/sbin/mosquitto || debs+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || debs+=(mosquitto-clients)  # the tests call it by name
[[ -x /usr/bin/chromium ]] || debs+=(chromium)
on_path_or prometheus /usr/bin/prometheus || debs+=(prometheus)  # promtool comes with it
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || debs+=(fonts-dejavu-core)
command -v dot >/dev/null 2>&1 || debs+=(graphviz)

checkov_missing=false
[[ -x "${checkov_venv}/bin/checkov" ]] || checkov_missing=true

# A venv is made only when the project's or checkov's is missing: only then does python3-venv matter.
if [[ ! -e "${project_stamp}" ]] || ${checkov_missing}; then
  if ! command -v "${python_bin}" >/dev/null 2>&1; then
    unfixable+=("${python_bin} (Python 3.11 or later) — install it with: sudo apt-get install python3 python3-venv")
  elif ! "${python_bin}" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    debs+=(python3-venv)
  fi
fi

if ! command -v terraform >/dev/null 2>&1; then
  unfixable+=("terraform on PATH — install Terraform 1.11 (the machine image provides it; this script does not)")
fi
if [[ ! -d "${provider_mirror}" ]]; then
  unfixable+=("the offline Terraform provider mirror ${provider_mirror} (hashicorp/aws) — it comes with the machine image; set ENERGYMON_TF_PROVIDER_MIRROR if it is elsewhere")
fi

if [[ ${#debs[@]} -eq 0 ]] && ! ${checkov_missing} && [[ ${#unfixable[@]} -eq 0 ]]; then
  exit 0
fi

# --- can we install? ----------------------------------------------------------------------------------
# After installing, the script runs itself once more with installing off, to prove the result.
recheck="${ENSURE_TEST_DEPS_RECHECK:-}"
can_apt=false
if [[ -z "${recheck}" && ${EUID} -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  can_apt=true
fi
# checkov's venv needs python3-venv (from apt here, or already present) and a writable place
# (python -m venv makes missing parent folders: the nearest one that exists must be writable).
writable_ancestor() {
  local dir="$1"
  while [[ ! -e "${dir}" && "${dir}" == */* ]]; do
    dir="${dir%/*}"
    dir="${dir:-/}"
  done
  [[ -d "${dir}" && -w "${dir}" ]]
}
can_checkov=false
if [[ -z "${recheck}" ]] && writable_ancestor "${checkov_venv}"; then
  if [[ " ${debs[*]-} " != *" python3-venv "* ]] || ${can_apt}; then
    can_checkov=true
  fi
fi
if [[ -n "${ENERGYMON_CHECKOV_VENV:-}" ]]; then
  install_checkov="ENERGYMON_CHECKOV_VENV=${checkov_venv} bash .ci/install-infra-tools.sh"
else
  install_checkov="sudo bash .ci/install-infra-tools.sh (or set ENERGYMON_CHECKOV_VENV to a writable folder and run it without sudo)"
fi

missing=()
if [[ ${#debs[@]} -gt 0 ]] && ! ${can_apt}; then
  for deb in "${debs[@]}"; do
    case "${deb}" in
      mosquitto) what="mosquitto" ;;
      mosquitto-clients) what="mosquitto_pub" ;;
      chromium) what="chromium (/usr/bin/chromium)" ;;
      prometheus) what="prometheus and promtool (the Grafana dashboard's query tests)" ;;
      fonts-dejavu-core) what="the DejaVu fonts (the dashboard screenshots)" ;;
      graphviz) what="dot (Graphviz, the architecture diagram)" ;;
      python3-venv) what="python3 -m venv" ;;
      *) what="${deb}" ;;
    esac
    missing+=("${what} — install it with: sudo apt-get install ${deb}")
  done
fi
if ${checkov_missing} && ! ${can_checkov}; then
  missing+=("checkov (${checkov_venv}/bin/checkov) — install it with: ${install_checkov}")
fi
for line in "${unfixable[@]+"${unfixable[@]}"}"; do
  [[ -n "${line}" ]] && missing+=("${line}")
done

if [[ ${#missing[@]} -gt 0 ]]; then
  for line in "${missing[@]}"; do
    say "missing: ${line}"
  done
  if [[ ${#debs[@]} -gt 1 ]] && ! ${can_apt}; then
    say "all the Debian packages at once: sudo apt-get install ${debs[*]}"
  fi
  if [[ -n "${recheck}" ]]; then
    say "still missing after installing: install the above by hand, then run make test again"
  else
    say "nothing was run: install the above, then run make test again"
  fi
  exit 1
fi

# --- install ------------------------------------------------------------------------------------------
if [[ ${#debs[@]} -gt 0 ]]; then
  say "installing Debian packages: ${debs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null; }; then
    say "apt-get could not install ${debs[*]}; install them by hand: sudo apt-get install ${debs[*]}"
    exit 1
  fi
fi
if ${checkov_missing}; then
  ENERGYMON_CHECKOV_VENV="${checkov_venv}" PYTHON="${python_bin}" bash "${repo_root}/.ci/install-infra-tools.sh"
fi
ENSURE_TEST_DEPS_RECHECK=1 bash "${BASH_SOURCE[0]}"
say "everything make test uses is installed"
