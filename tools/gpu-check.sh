#!/usr/bin/env bash
# Everything that needs a GPU, in one command, on a machine with an NVIDIA GPU:
#   1. the CUDA tests (kernel compiled with NVRTC, Cornell box against the Mitsuba reference,
#      materials scene against the CPU), which plain `cargo test` lists as ignored;
#   2. the wgpu tests on NVIDIA's Vulkan driver (not lavapipe);
#   3. `tessera render --backend cuda|wgpu` on the Cornell box against the reference;
#   4. samples per second of each backend at 1024x1024, max depth 8.
# Prints one summary and exits non-zero if any step fails, including when CUDA or the NVIDIA
# Vulkan driver is missing.
#
# With .gpu/ from tools/gpu-bundle.sh it runs those prebuilt binaries and needs neither Cargo
# nor network, for GPU machines with neither (../shared need not be there either). On the
# build machine: tools/gpu-bundle.sh; then, with the tree and .gpu/ copied to the GPU machine:
# tools/gpu-check.sh 2>&1 | tee gpu-check.log
# Without .gpu/ (or with GPU_CHECK_CARGO=1) it builds and runs everything with Cargo.
# Either way it first makes the machine usable: unpacks the bundled Vulkan loader when there is
# none (needs root), points the loader at NVIDIA's driver when no driver is registered, and
# makes CUDA 13's libnvrtc.so.13 findable.
#
# Settings: SIZE, SPP, BACKENDS (benchmark: 1024, 16, cuda,wgpu,cpu; `wgpu` takes only a
# hardware adapter, `wgpu-any` lavapipe too), TESSERA_WGPU_ADAPTER (the wgpu tests' adapter,
# default NVIDIA), STEP_TIMEOUT (seconds per step with the bundle, default 120, so the summary
# comes out even where lent machines stop a command after 10 minutes).
# shellcheck disable=SC2317 # the steps' functions are called through `step`
set -uo pipefail # no -e: every step runs, and the summary counts the failures
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 1
export PATH="$PATH:/usr/sbin:/sbin" # ldconfig

SIZE="${SIZE:-1024}"
SPP="${SPP:-16}"
BACKENDS="${BACKENDS:-cuda,wgpu,cpu}"
ADAPTER="${TESSERA_WGPU_ADAPTER:-NVIDIA}"
STEP_TIMEOUT="${STEP_TIMEOUT:-120}"
BIN="$ROOT/.gpu/bin"
if [ -d "$BIN" ] && [ -z "${GPU_CHECK_CARGO:-}" ]; then bundle=1; else bundle=; fi

status=0
summary=()
step() {
    local name=$1 started=$SECONDS code
    shift
    echo
    echo "== $name"
    "$@"
    code=$?
    if [ "$code" -eq 0 ]; then
        summary+=("ok      $name ($((SECONDS - started)) s)")
    else
        [ "$code" -eq 124 ] && echo "!! timed out after $STEP_TIMEOUT s"
        summary+=("FAILED  $name ($((SECONDS - started)) s, exit $code)")
        status=1
    fi
}

# A bundled binary, run from `dir` as Cargo would (the package's root), under the step limit.
bundled() {
    local dir=$1 name=$2
    shift 2
    (cd "$ROOT/$dir" && timeout --kill-after=10 "$STEP_TIMEOUT" "$BIN/$name" "$@")
}

# --- the machine ---------------------------------------------------------------------------

if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader ||
        nvidia-smi -L
else
    echo "nvidia-smi not found: is the NVIDIA driver installed?"
fi

# The Vulkan loader (libvulkan.so.1), which the GPU machine's image lacks.
# The linker cache is read whole before grep sees it: with pipefail, `ldconfig -p | grep -q` can
# report "not found" when grep exits at the first match and ldconfig gets SIGPIPE.
if grep -q 'libvulkan\.so\.1 ' <<<"$(ldconfig -p)"; then
    echo "Vulkan loader: installed"
elif compgen -G "$ROOT/.gpu/debs/*.deb" >/dev/null && [ "$(id -u)" -eq 0 ]; then
    # Unpacked into / (the image has no apt sources to install from), then the linker cache.
    for f in "$ROOT"/.gpu/debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
    echo "Vulkan loader: unpacked from $(cd "$ROOT/.gpu/debs" && echo *.deb)"
else
    echo "Vulkan loader: missing (libvulkan.so.1; apt-get install libvulkan1, or as root with .gpu/debs from tools/gpu-bundle.sh): the wgpu steps will fail"
fi

# NVIDIA's Vulkan driver: the container runtime puts its manifest where the loader does not look.
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$nvidia_icd" ] &&
    ! compgen -G "/usr/share/vulkan/icd.d/nvidia*.json" >/dev/null &&
    ! compgen -G "/etc/vulkan/icd.d/nvidia*.json" >/dev/null; then
    export VK_DRIVER_FILES="$nvidia_icd" VK_ICD_FILENAMES="$nvidia_icd" # the second for old loaders
    echo "Vulkan driver: VK_DRIVER_FILES=$nvidia_icd"
fi
# The loader skips a driver whose library does not load; say why rather than "no adapter".
for icd in ${VK_DRIVER_FILES:-} /usr/share/vulkan/icd.d/nvidia*.json /etc/vulkan/icd.d/nvidia*.json; do
    [ -f "$icd" ] || continue
    lib=$(sed -n 's/.*"library_path" *: *"\([^"]*\)".*/\1/p' "$icd" | head -1)
    case "$lib" in
    /*) ;;
    *) lib=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }') ;;
    esac
    if [ -z "$lib" ] || [ ! -e "$lib" ]; then
        echo "Vulkan driver: $icd names a library that is not on the library path"
    elif missing=$(ldd "$lib" 2>/dev/null | grep 'not found'); then
        echo "Vulkan driver: $lib cannot load, it lacks: $(echo "$missing" | awk '{ printf "%s ", $1 }')"
    fi
    break
done

# NVRTC. cudarc, built for CUDA 12.8 (the cuda-12080 feature in renderer/Cargo.toml), tries
# libnvrtc.so, libnvrtc.so.12, .11, .10, .9 and .1, not CUDA 13's libnvrtc.so.13; libnvrtc.so
# comes only with the toolkit's development files, and the nvidia-cuda-nvrtc wheel ships only
# libnvrtc.so.N. When cudarc would find none, link the newest libnvrtc.so.N there is (toolkit or
# wheel) as libnvrtc.so in a folder put first on the library path, beside its own folder (for
# libnvrtc-builtins). NVRTC 13's PTX needs driver 580 or newer, which CUDA 13 comes with.
nvrtc_known() {
    grep -Eq '^\s*libnvrtc\.so(\.(12|11|10|9|1))? ' <<<"$(ldconfig -p)" && return 0
    local d name
    for d in ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }}; do
        for name in libnvrtc.so libnvrtc.so.{12,11,10,9,1}; do [ -e "$d/$name" ] && return 0; done
    done
    return 1
}
if nvrtc_known; then
    echo "NVRTC: found under a name cudarc looks for"
else
    roots=(/usr/local /opt /usr/lib /usr/lib64)
    for d in ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }}; do [ -d "$d" ] && roots+=("$d"); done
    newest=$(find "${roots[@]}" -regextype posix-extended -regex '.*/libnvrtc\.so\.[0-9]+' \
        \( -type f -o -type l \) 2>/dev/null |
        sed -E 's/.*\.so\.([0-9]+)$/\1 &/' | sort -n -k1,1 | tail -1 | cut -d' ' -f2-)
    if [ -n "$newest" ]; then
        link_dir="${TMPDIR:-/tmp}/tessera-gpu-lib"
        mkdir -p "$link_dir"
        ln -sfn "$newest" "$link_dir/libnvrtc.so"
        LD_LIBRARY_PATH="$link_dir:$(dirname "$newest")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        export LD_LIBRARY_PATH
        echo "NVRTC: $newest, linked as $link_dir/libnvrtc.so"
    else
        echo "NVRTC: no libnvrtc.so* found (CUDA toolkit or pip's nvidia-cuda-nvrtc): the CUDA steps will fail"
    fi
fi
cuda_driver=$(ldconfig -p | awk '$1 == "libcuda.so.1" { print $NF; exit }')
echo "CUDA driver: ${cuda_driver:-libcuda.so.1 is not in the linker cache (LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-})}"

if [ -n "$bundle" ]; then
    echo "Bundle: $(cat "$ROOT/.gpu/BUILD" 2>/dev/null || echo '.gpu/BUILD missing')"
    # Tests that run the CLI take it from TESSERA_BIN; the reference travels inside .gpu/.
    export TESSERA_BIN="$BIN/tessera"
    export TESSERA_SHARED_DIR="${TESSERA_SHARED_DIR:-$ROOT/.gpu/shared}"
    tessera=("$BIN/tessera")
else
    if ! command -v cargo >/dev/null; then
        echo "cargo not found and no .gpu/ bundle: install Rust (https://rustup.rs), or run tools/gpu-bundle.sh where Cargo is and carry .gpu" >&2
        exit 1
    fi
    echo "Building with Cargo (no .gpu/ bundle)"
    tessera=(cargo run --quiet --release --bin tessera --)
fi
echo
echo "== tessera devices"
"${tessera[@]}" devices || true

# --- the steps -----------------------------------------------------------------------------

bundle_is_current() {
    # A bundle built from other sources would check code that is not in this tree.
    sha256sum --check --quiet "$ROOT/.gpu/sources.sha256" ||
        { echo "!! .gpu/ was built from other sources: run tools/gpu-bundle.sh again"; return 1; }
}
cuda_tests() {
    if [ -n "$bundle" ]; then
        bundled renderer cuda_backend --include-ignored --nocapture
    else
        cargo test --release -p tessera-renderer --test cuda_backend -- --include-ignored --nocapture
    fi
}
wgpu_tests() {
    if [ -n "$bundle" ]; then
        TESSERA_WGPU_ADAPTER="$ADAPTER" bundled renderer wgpu_backend --nocapture --test-threads 1
    else
        TESSERA_WGPU_ADAPTER="$ADAPTER" \
            cargo test --release -p tessera-renderer --test wgpu_backend -- --nocapture --test-threads 1
    fi
}
cli_tests() {
    if [ -n "$bundle" ]; then
        bundled . backend_cli --include-ignored --nocapture
    else
        cargo test --release -p tessera --test backend_cli -- --include-ignored --nocapture
    fi
}
benchmark() {
    local args=(--size "$SIZE" --spp "$SPP" --max-depth 8 --backends "$BACKENDS")
    if [ -n "$bundle" ]; then
        bundled renderer backends "${args[@]}"
    else
        cargo bench -p tessera-renderer --bench backends -- "${args[@]}"
    fi
}

[ -n "$bundle" ] && step "the bundle matches the sources" bundle_is_current
step "CUDA tests" cuda_tests
step "wgpu tests on the adapter named like '$ADAPTER'" wgpu_tests
step "tessera render --backend cuda and wgpu, Cornell box against the reference" cli_tests
step "benchmark: ${SIZE}x${SIZE}, ${SPP} spp, max depth 8, $BACKENDS" benchmark

echo
echo "== gpu-check summary ($([ -n "$bundle" ] && echo "bundled binaries" || echo "Cargo"), $SECONDS s)"
printf '%s\n' "${summary[@]}"
if [ "$status" -eq 0 ]; then echo "gpu-check: all passed"; else echo "gpu-check: FAILED"; fi
exit "$status"
