#!/usr/bin/env bash
# Usage: fuzz/run_one.sh TARGET SECONDS  (from the repository root).
# One worker (-fork=1: a parent that only supervises, one child fuzzing at a time). Crashes,
# timeouts and OOMs are written to fuzz/artifacts/TARGET/ and fuzzing goes on past them.
set -u
t=$1; secs=$2
mkdir -p fuzz/logs
echo "=== $t $(date +%T) ${secs}s" >>"fuzz/logs/$t.log"
exec cargo +nightly fuzz run -a "$t" "fuzz/corpus/$t" -- \
  -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
  -max_len=65536 -rss_limit_mb=2048 -timeout=10 -max_total_time="$secs" -print_final_stats=1 \
  >>"fuzz/logs/$t.log" 2>&1
