#!/usr/bin/env bash
# fuzz.sh - run every Go fuzz target in the repository, one after the other.
#
# Targets are discovered by grepping *_test.go files for `func FuzzXxx(`, so a
# new target is picked up without editing this script.
#
# Environment:
#   FUZZTIME  how long each target runs (default 10s), passed to -fuzztime
#   FUZZ      optional extended regexp; only targets whose name matches run
#   GO        go command (default go)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

fuzztime="${FUZZTIME:-10s}"
filter="${FUZZ:-}"
gocmd="${GO:-go}"

# "dir name" pairs, sorted, from every *_test.go outside VCS/vendor/node_modules.
mapfile -t targets < <(
  find . \( -name .git -o -name node_modules -o -name vendor -o -name testdata \) -prune \
    -o -name '*_test.go' -type f -print0 |
    xargs -0 -r grep -HoE '^func Fuzz[A-Za-z0-9_]*\(' |
    sed -E 's#^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\($#\1 \2#' |
    sort -u
)

if [ "${#targets[@]}" -eq 0 ]; then
  echo "fuzz: no Fuzz targets found"
  exit 0
fi

ran=0
for t in "${targets[@]}"; do
  dir="${t% *}"
  name="${t#* }"
  if [ -n "$filter" ] && ! [[ "$name" =~ $filter ]]; then
    continue
  fi
  echo "==> fuzz $dir $name ($fuzztime)"
  # -fuzzminimizetime bounds the minimisation of each new input, which
  # otherwise stalls a short run for up to 60 s.
  "$gocmd" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s "$dir"
  ran=$((ran + 1))
done
echo "fuzz: ran $ran target(s)"
