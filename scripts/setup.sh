#!/usr/bin/env bash
# setup.sh - install the test dependencies that are missing, and nothing else.
#
# Meant for a fresh Debian machine (run as root, or as a user with sudo):
#   - Debian packages mosquitto, mosquitto-clients and chromium, for the
#     interop and browser tests;
#   - the npm packages pinned in test/js/package-lock.json (once that folder
#     exists), via `npm ci`.
# When everything is present it only checks and returns.
#
# Outside CI a dependency that cannot be installed is reported and the script
# goes on (the tests that need it skip with a message). With CI=true it is an
# error, because in CI a missing component must fail the run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ci="${CI:-}"
is_ci() { [ "$ci" = "true" ] || [ "$ci" = "1" ]; }

say() { echo "setup: $*"; }

# fail reports a problem; fatal under CI, a warning otherwise.
fail() {
  if is_ci; then
    echo "setup: error: $*" >&2
    exit 1
  fi
  echo "setup: warning: $*" >&2
}

# have CMD: true if CMD is on PATH or in an sbin directory (mosquitto lives in
# /usr/sbin, which is not on every user's PATH).
have() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ]
}

# Run a command as root: directly when root, else through sudo when present.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
  else
    return 127
  fi
}

# --- Debian packages -------------------------------------------------------
pkgs=()
have mosquitto || pkgs+=(mosquitto)
if ! have mosquitto_pub || ! have mosquitto_sub; then pkgs+=(mosquitto-clients); fi
have chromium || pkgs+=(chromium)

npm_dir=test/js
needs_npm=false
if [ -f "$npm_dir/package.json" ]; then
  needs_npm=true
  have npm || pkgs+=(npm)
fi

if [ "${#pkgs[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    fail "missing ${pkgs[*]} and apt-get is not available; install them by hand"
  elif [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    fail "missing ${pkgs[*]}; run as root or install sudo (apt-get install -y --no-install-recommends ${pkgs[*]})"
  else
    say "installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get update -qq; then
      fail "apt-get update failed"
    elif ! as_root apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; then
      fail "apt-get install ${pkgs[*]} failed"
    fi
  fi
fi

# --- npm packages ----------------------------------------------------------
# Reinstall when node_modules is missing or older than the lock file (npm ci
# writes node_modules/.package-lock.json on every install).
if $needs_npm; then
  stamp="$npm_dir/node_modules/.package-lock.json"
  if [ ! -d "$npm_dir/node_modules" ] || [ ! -f "$stamp" ] ||
    { [ -f "$npm_dir/package-lock.json" ] && [ "$npm_dir/package-lock.json" -nt "$stamp" ]; }; then
    if ! have npm; then
      fail "npm is not available; cannot install $npm_dir/node_modules"
    else
      say "npm ci in $npm_dir"
      if ! (cd "$npm_dir" && npm ci --no-audit --no-fund); then
        fail "npm ci in $npm_dir failed"
      fi
    fi
  fi
fi

say "ok"
