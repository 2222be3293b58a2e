#!/usr/bin/env bash
# The Service and EndToEnd tests (and any other suites named in SUITES)
# under AddressSanitizer and/or ThreadSanitizer, each in its own build
# folder (.build-asan, .build-tsan) so the normal .build stays as it is.
#   scripts/sanitize.sh [address|thread|all]       (default: all)
# Environment: SUITES (swift test --filter regex; default the Service and
# EndToEnd tests), JOBS (build jobs; default nproc), ASAN_OPTIONS_EXTRA /
# TSAN_OPTIONS_EXTRA (replace the default sanitizer options).
# Prints, per sanitizer, the build and test times and "clean" or the
# findings (each sanitizer report's first lines); exits non-zero on any
# finding or failed test. Full logs: .build-<san>/sanitize.log.
set -uo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
SUITES="${SUITES:-ServiceTests|EndToEndTests}"
JOBS="${JOBS:-$(nproc)}"
export MOED_TEST_MODEL="${MOED_TEST_MODEL:-$PWD/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
# The gateway (moegate, on SwiftNIO) is left out of these builds (Package.swift)
# and its end-to-end suites skipped: they run in the normal suite.
export MOED_NO_GATEWAY=1
# Reports go to files (one per process: the test runner, and every moed and
# moectl the end-to-end tests start, whose stderr the tests do not show).
# A leak report at exit is not a finding here: the tests kill daemons, and
# plugins are never unloaded by design.
asan_defaults="detect_leaks=0:halt_on_error=1"
tsan_defaults="halt_on_error=0:second_deadlock_stack=1:report_signal_unsafe=0"

case "$which" in
    address) sanitizers=(address) ;;
    thread) sanitizers=(thread) ;;
    all) sanitizers=(address thread) ;;
    *) echo "usage: $0 [address|thread|all]" >&2; exit 2 ;;
esac

status=0
for san in "${sanitizers[@]}"; do
    short=${san:0:1}san  # asan, tsan
    scratch=".build-$short"
    log="$scratch/sanitize.log"
    # Reports are written under the temporary folder, open to every uid
    # (sticky): the peer-access tests run moectl as another uid, whose
    # sanitizer runtime exits 1 without a word when it cannot open its
    # log_path, and a clone may sit in a folder that uid cannot enter.
    # They are copied to $scratch/reports at the end.
    kept="$PWD/$scratch/reports"
    reports=$(mktemp -d "${TMPDIR:-/tmp}/moed-$short-reports-XXXXXX")
    chmod 1777 "$reports"
    rm -rf "$kept"; mkdir -p "$scratch"
    : >"$log"
    export ASAN_OPTIONS="${ASAN_OPTIONS_EXTRA:-$asan_defaults}:log_path=$reports/asan"
    export TSAN_OPTIONS="${TSAN_OPTIONS_EXTRA:-$tsan_defaults}:log_path=$reports/tsan"
    echo "== $san: building into $scratch (jobs $JOBS)"
    start=$(date +%s)
    # The TSan runtime is linked into each executable; plugins dlopen'ed by
    # moed need its symbols exported from it, or dlopen fails with
    # "undefined symbol: __tsan_external_write".
    flags=()
    [ "$san" = thread ] && flags=(-Xlinker --export-dynamic)
    if ! swift build --build-tests --sanitize="$san" --scratch-path "$scratch" -j "$JOBS" "${flags[@]}" >>"$log" 2>&1; then
        echo "   build FAILED after $(( $(date +%s) - start )) s; see $log"; tail -20 "$log"; status=1; rm -rf "$reports"; continue
    fi
    built=$(date +%s)
    echo "   built in $(( built - start )) s; running tests matching '$SUITES'"
    swift test --skip-build --sanitize="$san" --scratch-path "$scratch" "${flags[@]}" --filter "$SUITES" --skip Gateway >>"$log" 2>&1
    rc=$?
    done_at=$(date +%s)
    echo "   tests ran in $(( done_at - built )) s (exit $rc)"
    cp -r "$reports" "$kept" && rm -rf "$reports"
    reports="$kept"
    findings=$(cat "$reports"/* "$log" 2>/dev/null | grep -cE '^(==[0-9]+==ERROR: |WARNING: ThreadSanitizer)')
    if [ "$rc" -eq 0 ] && [ "$findings" -eq 0 ]; then
        echo "   $san: clean"
    else
        status=1
        echo "   $san: $findings sanitizer report line(s), test exit $rc"
        echo "   reports: $reports (one file per process)"
        cat "$reports"/* 2>/dev/null | grep -E '^SUMMARY: ' | sort | uniq -c | sort -rn | head -30
        cat "$reports"/* 2>/dev/null | grep -E -A14 '^(==[0-9]+==ERROR: |WARNING: ThreadSanitizer)' | head -100
        grep -E '✘' "$log" | head -30
    fi
done
exit $status
