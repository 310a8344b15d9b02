#!/usr/bin/env bash
# bench/auth.sh - the cost of access control: RS256 + SET LOCAL ROLE vs no auth, and the
# session transaction in pgbench (see bench/auth.py). Needs wrk and pgbench.
set -euo pipefail
cd "$(dirname "$0")/.."
DEPS_EXTRA="wrk" scripts/deps.sh
exec /usr/bin/python3 bench/auth.py "$@"
