#!/usr/bin/env bash
# Runs every test project and ends with one line: `N passed, N failed, N skipped`.
# dotnet test prints per-assembly summaries only, so they are added up here; the exit code is dotnet's.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
# Kernel comparisons write their agreement counts here (tests/PacketLife.Lab.Tests/TestReport.cs); printed below.
export PACKETLIFE_TEST_REPORT=$(mktemp)
# The NativeAOT build scripts/packetlife runs is compared with the JIT build (tests/PacketLife.Tests/Cli/NativeAotParityTests.cs).
if scripts/packetlife --version >/dev/null && [ -x artifacts/aot/packetlife ]; then export PACKETLIFE_AOT_BIN="$PWD/artifacts/aot/packetlife"; fi
# A hung test (say a lab namespace that never answers) is killed after 15 minutes instead of eating the CI limit.
dotnet test PacketLife.slnx --blame-hang-timeout 15m --blame-hang-dump-type none "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
counts=$(sed -nE 's/^.*(Passed|Failed)! +- Failed: +([0-9]+), Passed: +([0-9]+), Skipped: +([0-9]+), Total: +([0-9]+).*/\3 \2 \4/p' "$log")
read -r p f s < <(awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}' <<<"$counts")
rm -f "$log"
if [ -s "$PACKETLIFE_TEST_REPORT" ]; then echo "--- kernel comparisons"; cat "$PACKETLIFE_TEST_REPORT"; fi
rm -f "$PACKETLIFE_TEST_REPORT"
# A build error or a crashed test host prints no summary: it still counts as a failure.
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
echo "$p passed, $f failed, $s skipped"
exit "$rc"
