# Shared by scripts/demo and scripts/test: find Python >= 3.12 and keep .venv installed.
# shellcheck shell=bash

find_python() {
  local candidates=()
  [ -n "${RECOUP_PYTHON:-}" ] && candidates+=("$RECOUP_PYTHON")
  candidates+=(python3.13 python3.12 python3 python)
  if [ -d "${PYENV_ROOT:-$HOME/.pyenv}/versions" ]; then
    for d in $(ls -1r "${PYENV_ROOT:-$HOME/.pyenv}/versions" 2>/dev/null); do
      candidates+=("${PYENV_ROOT:-$HOME/.pyenv}/versions/$d/bin/python3")
    done
  fi
  for c in "${candidates[@]}"; do
    local exe
    exe=$(command -v "$c" 2>/dev/null) || continue
    if "$exe" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      echo "$exe"
      return 0
    fi
  done
  echo "Recoup needs Python 3.12 or newer and none was found (tried: ${candidates[*]})." >&2
  echo "Install Python 3.12+ or point RECOUP_PYTHON at one, e.g. RECOUP_PYTHON=/usr/bin/python3.12." >&2
  return 1
}

# ensure_venv EXTRAS — create .venv with a Python >= 3.12 and install the project with the
# pinned versions of requirements.lock; re-installs only when pyproject or the lock changed.
ensure_venv() {
  local extras="$1" venv="${RECOUP_VENV:-.venv}"
  if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then
    echo "Existing $venv is older than Python 3.12: recreating it." >&2
    rm -rf "$venv"
  fi
  if [ ! -x "$venv/bin/python" ]; then
    local py
    py=$(find_python) || return 1
    echo "Using $py ($("$py" --version 2>&1)) for $venv" >&2
    "$py" -m venv "$venv" || return 1
  fi
  local stamp="$venv/.recoup-installed-$extras"
  local want
  want=$(cat pyproject.toml requirements.lock | "$venv/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing Recoup and its pinned dependencies into $venv …" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25" || return 1
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[$extras]" || return 1
    echo "$want" > "$stamp"
  fi
}
