#!/usr/bin/env bash
# Fuzzes the frame decoder with libFuzzer and AddressSanitizer.
#   ./scripts/fuzz.sh [seconds]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=.build-fuzz
mkdir -p "$out/corpus"
swiftc -sanitize=fuzzer,address -parse-as-library -O \
    -module-name FrameDecoderFuzzer \
    Sources/ChatProtocol/*/*.swift Fuzz/FrameDecoderFuzzer.swift \
    -o "$out/frame-decoder-fuzzer"
printf '%s' '{"type":"say","text":"hi","ref":"r"}' > "$out/corpus/say"
printf '%s' '{"type":"whisper","to":"\u00c5sa","text":"\ud83d\ude00"}' > "$out/corpus/whisper"
"$out/frame-decoder-fuzzer" -max_total_time="$seconds" -max_len=4096 "$out/corpus"
