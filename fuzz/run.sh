#!/bin/sh
# Runs one fuzz target for a given time on the stable toolchain.
#
#   fuzz/run.sh TARGET SECONDS [extra libFuzzer flags...]
#
# Builds with cargo-fuzz without a sanitizer (`-s none`: AddressSanitizer
# needs nightly), optimised, with debug assertions and overflow checks,
# then runs libFuzzer at the lowest priority over a scratch copy of the
# seed corpus (fuzz/corpus/TARGET stays as committed); new inputs land in
# fuzz/target-corpus/TARGET, crashes in fuzz/artifacts/TARGET/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=${1:?usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags]}
secs=${2:?usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags]}
shift 2
cd "$here/.."
cargo fuzz build -s none -O -a "$target"
work="$here/target-corpus/$target"
mkdir -p "$work" "$here/artifacts/$target"
exec nice -n 19 cargo fuzz run -s none -O -a "$target" "$work" "$here/corpus/$target" -- \
    -max_total_time="$secs" -max_len=1048576 -rss_limit_mb=512 -timeout=10 \
    -print_final_stats=1 "$@"
