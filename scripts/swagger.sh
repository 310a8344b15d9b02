#!/bin/sh
# swagger.sh - installs the npm packages lakeapi needs into a build tree (never into the repo).
#
#   scripts/swagger.sh [BUILD_DIR]           swagger-ui-dist into BUILD_DIR/web/node_modules:
#                                            lakeapi serves /docs from there (the default of
#                                            SWAGGER_UI_DIR is <dir of the executable>/web/...)
#   scripts/swagger.sh --tests [BUILD_DIR]   also the test tools (OpenAPI validator, playwright-core)
#                                            into BUILD_DIR/tests-openapi/node_modules, and
#                                            @supabase/postgrest-js into BUILD_DIR/tests-rest-js
#
# BUILD_DIR defaults to build. Versions are pinned by web/package-lock.json and
# tests/openapi/package-lock.json (npm ci). A tree that is already installed from the same lock
# file is left alone, so this is cheap to call from every `make build`. Install scripts are not
# run (--ignore-scripts): swagger-ui-dist only ships files, and its dependency's postinstall
# would phone home.
set -eu

die() {
    echo "swagger.sh: $*" >&2
    exit 1
}

tests=0
if [ "${1:-}" = "--tests" ]; then
    tests=1
    shift
fi
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd -P)

command -v npm >/dev/null 2>&1 || die "npm not found (install Node.js: Debian packages nodejs npm)"

# install SRC_DIR DEST_DIR: npm ci of SRC_DIR's package.json + lock into DEST_DIR.
install() {
    src=$1
    dest=$2
    if [ -d "$dest/node_modules" ] && cmp -s "$src/package-lock.json" "$dest/package-lock.json"; then
        return 0
    fi
    mkdir -p "$dest"
    cp "$src/package.json" "$src/package-lock.json" "$dest/"
    echo "swagger.sh: npm ci in $dest" >&2
    (cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
        die "npm ci failed in $dest"
}

mkdir -p "$build"
build=$(cd "$build" && pwd -P)
install "$root/web" "$build/web"
[ -f "$build/web/node_modules/swagger-ui-dist/swagger-ui-bundle.js" ] ||
    die "swagger-ui-dist did not install into $build/web/node_modules"
if [ "$tests" -eq 1 ]; then
    install "$root/tests/openapi" "$build/tests-openapi"
    install "$root/tests/rest_js" "$build/tests-rest-js" # @supabase/postgrest-js (test_rest_js.py)
fi
