#!/usr/bin/env bash
# Refresh requirements.lock: every package the image installs (pyproject.toml's
# dependencies and its build requirements), pinned with hashes, for every platform and
# for Python 3.11 and newer. The Dockerfile installs it with `pip install --require-hashes`.
#
#   make lock            (or scripts/lock.sh; needs uv, which `make lock` installs in .venv)
#
# Run it after changing a dependency in pyproject.toml, or to take newer releases within
# its ranges; commit the result. Index and certificates come from the environment
# (UV_INDEX_URL, SSL_CERT_FILE), and no index URL is written into the file.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}

# The build requirements, so the image builds the project offline (--no-build-isolation).
build_requirements=$(python3 - <<'EOF'
import tomllib
with open("pyproject.toml", "rb") as file:
    print("\n".join(tomllib.load(file)["build-system"]["requires"]))
EOF
)

printf '%s\n' "$build_requirements" > .build-requirements.in
trap 'rm -f .build-requirements.in' EXIT
"$UV" pip compile pyproject.toml .build-requirements.in \
  --universal --python-version 3.11 --generate-hashes \
  --no-header --annotation-style line --quiet --output-file requirements.lock.new
{
  echo "# The image's pinned requirements, with hashes: refresh with \`make lock\` (scripts/lock.sh)."
  echo "# pyproject.toml's dependencies and build requirements, for Python 3.11+ on any platform."
  cat requirements.lock.new
} > requirements.lock
rm -f requirements.lock.new
echo "requirements.lock: $(grep -c '^[a-zA-Z0-9]' requirements.lock) packages pinned"
