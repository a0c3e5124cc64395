#!/usr/bin/env bash
# Everything that needs a GPU, in one command, on a machine with an NVIDIA GPU:
#   1. the CUDA tests (kernel compiled with NVRTC, Cornell box against the Mitsuba reference,
#      materials scene against the CPU), which plain `cargo test` lists as ignored;
#   2. the wgpu tests on NVIDIA's Vulkan driver (not lavapipe);
#   3. `tessera render --backend cuda|wgpu` on the Cornell box against the reference;
#   4. samples per second of each backend at 1024x1024, max depth 8.
# Exits non-zero if any step fails, including when CUDA or the NVIDIA Vulkan driver is missing.
set -uo pipefail
cd "$(dirname "$0")/.."

SIZE="${SIZE:-1024}"
SPP="${SPP:-16}"
status=0
step() {
    echo
    echo "== $1"
    shift
    if ! "$@"; then
        echo "!! failed: $*"
        status=1
    fi
}

if command -v nvidia-smi >/dev/null; then
    nvidia-smi -L
else
    echo "nvidia-smi not found: is the NVIDIA driver installed?"
fi
if ! command -v cargo >/dev/null; then
    echo "cargo not found: install Rust (https://rustup.rs) to build the project" >&2
    exit 1
fi

step "CUDA tests" \
    cargo test --release -p tessera-renderer --test cuda_backend -- --include-ignored --nocapture
step "wgpu tests on the NVIDIA Vulkan driver" \
    env TESSERA_WGPU_ADAPTER="${TESSERA_WGPU_ADAPTER:-NVIDIA}" \
    cargo test --release -p tessera-renderer --test wgpu_backend -- --nocapture --test-threads 1
step "tessera render --backend cuda and wgpu, Cornell box against the reference" \
    cargo test --release -p tessera --test backend_cli -- --include-ignored --nocapture
step "benchmark: ${SIZE}x${SIZE}, ${SPP} spp, max depth 8" \
    cargo bench -p tessera-renderer --bench backends -- \
    --size "$SIZE" --spp "$SPP" --max-depth 8 --backends cuda,wgpu,cpu

echo
if [ "$status" -eq 0 ]; then echo "gpu-check: all passed"; else echo "gpu-check: FAILED"; fi
exit "$status"
