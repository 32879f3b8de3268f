#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (clang's, from the Swift toolchain) of every parser and
# encoder that takes outside input: setting values and URLs, firmware profiles, the tool's
# settings files, templates with mail and form encoding, CA certificate PEM, and spool files on
# recovery, what the Outbound Events page decodes from clients (admin_input), and the C ABI itself (every oe_* function, in a network namespace of its own so that
# nothing it does can reach another host). Each target runs SECONDS (default 20) from its seed corpus in fuzz/corpus/<target>;
# new inputs go to a scratch corpus, crashes to fuzz/crashes/ (and fail the run).
# Usage: fuzz/run.sh [SECONDS] [TARGET...]      make fuzz runs 300 s per target.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(values profile settings_file template spool ca_pem abi admin_input)

scripts/install-deps.sh build
scratch=.build/fuzz
swift build --scratch-path "$scratch" --target OutboundEvents -Xswiftc -sanitize=fuzzer,address \
    -Xcc -fsanitize=fuzzer-no-link,address >/dev/null
modules="$scratch/debug/Modules"
# The objects of a module's current sources only: a file renamed or removed since an earlier
# build leaves its object behind in the scratch folder.
objects() {
    find "Sources/$1" -name '*.swift' -printf '%f\n' | sed "s|^|$scratch/debug/$1.build/|; s|\$|.o|"
}
# The core and its C checksum (CChecksum), for every target.
core=($(objects OutboundEventsCore) "$scratch/debug/CChecksum.build/crc32c.c.o"
      -Xcc -fmodule-map-file="$scratch/debug/CChecksum.build/module.modulemap" -Xcc -I -Xcc Sources/CChecksum/include)
# CSystem, the C module over the system headers, for the targets beyond the core.
system=("$scratch/debug/CSystem.build/csystem.c.o" -Xcc -fmodule-map-file="$scratch/debug/CSystem.build/module.modulemap"
        -Xcc -I -Xcc Sources/CSystem/include)
mkdir -p "$scratch/fuzzers" fuzz/crashes
report="$scratch/fuzzers/report.txt"
: > "$report"
for target in "${targets[@]}"; do
    binary="$scratch/fuzzers/$target"
    extra=()
    if [ "$target" = ca_pem ]; then
        extra=($(objects TLSMaterial) "$scratch/debug/CShims.build/shims.c.o" "${system[@]}"
               -Xcc -fmodule-map-file=Sources/COpenSSL/module.modulemap
               -Xcc -fmodule-map-file="$scratch/debug/CShims.build/module.modulemap" -Xcc -I -Xcc Sources/CShims/include
               -lssl -lcrypto -lcurl)
    fi
    run=()
    if [ "$target" = abi ]; then
        extra=()
        for module in OutboundEvents OutboundEventsAgent Transfers TLSMaterial Journal Spool Locking; do
            extra+=($(objects "$module"))
        done
        extra+=("$scratch/debug/CShims.build/shims.c.o" "${system[@]}"
                -Xcc -fmodule-map-file=Sources/COpenSSL/module.modulemap -Xcc -fmodule-map-file=Sources/CCurl/module.modulemap
                -Xcc -fmodule-map-file="$scratch/debug/CShims.build/module.modulemap" -Xcc -I -Xcc Sources/CShims/include
                -Xcc -fmodule-map-file="$scratch/debug/COutboundEvents.build/module.modulemap" -Xcc -I -Xcc include
                -lssl -lcrypto -lcurl -lsystemd)
        # No network at all (not even loopback) where the namespace can be had: fuzzed
        # settings can never reach another host.
        if unshare -n true 2>/dev/null; then run=(unshare -n); fi
    fi
    rm -f "$binary"
    if ! swiftc -sanitize=fuzzer,address -parse-as-library -swift-version 6 -I "$modules" "fuzz/Targets/$target.swift" \
        "${core[@]}" "${extra[@]}" -o "$binary" > "$scratch/fuzzers/$target.build.log" 2>&1; then
        grep -v "Cannot export local symbol" "$scratch/fuzzers/$target.build.log"
        echo "fuzz target $target does not build"
        exit 1
    fi
    scratch_corpus=$(mktemp -d)
    mkdir -p "fuzz/corpus/$target"
    echo "== $target: $seconds s"
    if ! "${run[@]}" "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="fuzz/crashes/$target-" \
        -print_final_stats=1 "$scratch_corpus" "fuzz/corpus/$target" > "$scratch/fuzzers/$target.log" 2>&1; then
        tail -40 "$scratch/fuzzers/$target.log"
        echo "fuzz target $target found a crash: see fuzz/crashes/"
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/fuzzers/$target.log")
    coverage=$(grep -o 'cov: [0-9]*' "$scratch/fuzzers/$target.log" | tail -1)
    echo "$target: $runs executions in $seconds s, $coverage, no crash" | tee -a "$report"
    rm -rf "$scratch_corpus"
done
