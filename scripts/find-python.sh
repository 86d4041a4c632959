#!/usr/bin/env bash
# Prints the path of a Python 3.8-3.10 interpreter (Rasa 3.6 supports nothing newer), or fails saying what to install.
set -u
ok() { "$1" -c 'import sys, venv; sys.exit(not ((3, 8) <= sys.version_info[:2] <= (3, 10)))' >/dev/null 2>&1; }
candidates=("${PYTHON:-}" python3.10 python3.9 python3.8)
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for v in 3.10 3.9 3.8; do
  for p in $(ls -d "$root"/versions/"$v".*/bin/python 2>/dev/null | sort -rV); do candidates+=("$p"); done
done
candidates+=(python3 python)
for c in "${candidates[@]}"; do
  [ -n "$c" ] || continue
  path=$(command -v "$c" 2>/dev/null) || continue
  if ok "$path"; then echo "$path"; exit 0; fi
done
cat >&2 <<'MSG'
BackCheck needs Python 3.8, 3.9 or 3.10 (Rasa 3.6 does not run on newer versions), with the venv module.
Install one, for example:  pyenv install 3.10.13   or   apt-get install python3.10 python3.10-venv
or point PYTHON at an interpreter:  make PYTHON=/path/to/python3.10 run
MSG
exit 1
