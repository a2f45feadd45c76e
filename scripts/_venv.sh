# Sourced by the scripts in this folder: makes sure .venv exists and holds the
# package (editable) with its test extras, reinstalling when pyproject.toml changes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.installed-pyproject"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" >&2
fi
if ! cmp -s "$root/pyproject.toml" "$stamp" 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -e "$root[test]" >&2
  cp "$root/pyproject.toml" "$stamp"
fi
