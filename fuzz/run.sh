#!/usr/bin/env bash
# Runs every fuzz target (or those named after the first argument) for SECONDS each, one at a
# time on one core, starting from the hand-made seeds (seeds/<target>, written by make_seeds.py)
# and the corpus grown so far (corpus/<target>, where new inputs go), then minimises the corpus
# (see `minimise`), and prints each target's CPU time. Stable toolchain, no sanitizer.
# docs/RELIABILITY.md, "Fuzzing".
#
#   fuzz/run.sh 180                          # every target, 3 minutes each
#   fuzz/run.sh 600 selection_csv extract_csv
#   fuzz/run.sh 0                            # only minimise the corpora again
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build -s none

# Keeps of corpus/<target> only the inputs that reach edges the seeds do not (hit counts
# ignored, so the corpus stays small enough to commit): a libFuzzer merge into a folder that
# starts with the seeds, which are then taken out again.
minimise() {
  local t=$1 fresh
  fresh=$(mktemp -d)
  cp "seeds/$t"/* "$fresh/"
  "target/x86_64-unknown-linux-gnu/release/$t" -merge=1 -use_counters=0 -rss_limit_mb=2048 -timeout=10 \
    "$fresh" "corpus/$t" >/dev/null 2>&1
  for seed in "seeds/$t"/*; do rm -f "$fresh/$(basename "$seed")"; done
  rm -rf "corpus/$t"
  mv "$fresh" "corpus/$t"
  chmod 755 "corpus/$t"
}
if ((seconds == 0)); then
  for t in "${targets[@]}"; do
    minimise "$t"
    echo "$t: corpus now $(ls "corpus/$t" | wc -l) files, $(cat "corpus/$t"/* | wc -c) bytes"
  done
  exit 0
fi
for t in "${targets[@]}"; do
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10)
  case $t in
    *_csv) args+=(-max_len=8192 -dict="$PWD/dict/csv.dict") ;;
  esac
  TIMEFORMAT="$t: %U s user + %S s system CPU, %R s wall"
  mkdir -p "corpus/$t"
  time cargo fuzz run -s none "$t" "corpus/$t" "seeds/$t" -- "${args[@]}" 2>&1 | grep -E '^#[0-9]+ +(INITED|DONE)|^Done|ERROR|panicked|Test unit written' || true
  minimise "$t"
  echo "$t: corpus now $(ls "corpus/$t" | wc -l) files, $(cat "corpus/$t"/* | wc -c) bytes"
done
