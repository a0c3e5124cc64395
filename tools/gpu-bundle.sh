#!/usr/bin/env bash
# Packs into .gpu/ (gitignored) what tools/gpu-check.sh needs on a GPU machine that has no Rust
# toolchain, no network and no Vulkan loader, and gets the repository at an unknown path:
#   .gpu/bin/     stripped release builds: the test binaries cuda_backend, wgpu_backend and
#                 backend_cli, the benchmark `backends`, and `tessera` (which backend_cli runs);
#   .gpu/shared/  the Cornell box reference (../shared does not travel with the repository);
#   .gpu/debs/    the Vulkan loader (libvulkan1) and the GL dispatch libraries NVIDIA's Vulkan
#                 driver links against, unpacked there by gpu-check.sh;
#   .gpu/sources.sha256  the sources built, so gpu-check.sh can tell a stale bundle.
# Run it here (Cargo, network); then copy the working tree with .gpu/ to the GPU machine and run
#   tools/gpu-check.sh 2>&1 | tee gpu-check.log
# Rebuild after every source change: gpu-check.sh fails when the bundle does not match.
# PROFILE=ci builds without LTO (faster here; the same code, a little slower CPU benchmark).
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${PROFILE:-release}"
SHARED="${TESSERA_SHARED_DIR:-../shared}"
# The bundle travels with the repository; tools that copy trees to lent GPU machines cap both
# together (64 MiB where this was written).
LIMIT_MIB=50

reference="$SHARED/reference/cornell-box"
if [ ! -f "$reference/mitsuba3-256x256-depth8-8192spp.exr" ]; then
    echo "gpu-bundle: the Cornell box reference is missing from $reference (set TESSERA_SHARED_DIR)" >&2
    exit 1
fi

rm -rf .gpu
mkdir -p .gpu/bin .gpu/shared/reference .gpu/debs

# Cargo prints one JSON line per artifact; keep the executables as "name<TAB>path".
executables() {
    jq -r 'select(.reason == "compiler-artifact" and .executable != null)
           | "\(.target.name)\t\(.executable)"'
}
echo "== building ($PROFILE)"
{
    cargo test --profile "$PROFILE" --no-run --message-format=json \
        -p tessera-renderer --test cuda_backend --test wgpu_backend
    # Also builds the `tessera` binary that backend_cli runs.
    cargo test --profile "$PROFILE" --no-run --message-format=json -p tessera --test backend_cli
    cargo bench --profile "$PROFILE" --no-run --message-format=json \
        -p tessera-renderer --bench backends
} | executables | sort -u >.gpu/executables.tsv

for name in cuda_backend wgpu_backend backend_cli backends tessera; do
    path=$(awk -F'\t' -v n="$name" '$1 == n { print $2 }' .gpu/executables.tsv)
    if [ -z "$path" ] || [ "$(printf '%s\n' "$path" | wc -l)" -ne 1 ]; then
        echo "gpu-bundle: expected one executable named $name, found: '${path}'" >&2
        exit 1
    fi
    strip --strip-all -o ".gpu/bin/$name" "$path"
done
rm .gpu/executables.tsv

cp -r "$reference" .gpu/shared/reference/
chmod -R u+w .gpu/shared # the shared folder is read-only; a rebuild must be able to delete it

echo "== downloading the Vulkan loader"
# amd64 package lists of their own, so the host's apt state and architecture do not matter.
lists=$(mktemp -d)
trap 'rm -rf "$lists"' EXIT
mkdir -p "$lists/partial"
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
# shellcheck disable=SC2086 # $o is several options
apt-get $o update >/dev/null
# NVIDIA's Vulkan driver is a GLX/EGL library: it needs libglvnd's dispatch libraries beside the
# loader.
# shellcheck disable=SC2086
(cd .gpu/debs && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)

# Everything compiled into the binaries, tracked or new; gpu-check.sh checks it with sha256sum -c.
# (Tracked files deleted from the working tree are left out.)
git ls-files -z --cached --others --exclude-standard -- \
    '*.rs' '*.toml' Cargo.lock 'shaders/*' |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    xargs -0 sha256sum >.gpu/sources.sha256
changes=$([ -z "$(git status --porcelain)" ] || echo ' with uncommitted changes')
echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(git rev-parse --short HEAD)$changes, profile $PROFILE" >.gpu/BUILD

echo
echo "== .gpu/"
(cd .gpu && du -b bin/* debs/* shared/reference/cornell-box/* | sort -k2 |
    awk '{ printf "%8.1f MiB  %s\n", $1 / 1048576, $2 }')
total=$(du -sb .gpu | cut -f1)
repo=$(git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    xargs -0 du -cb 2>/dev/null |
    awk '$2 == "total" { n += $1 } END { print n + 0 }')
awk -v t="$total" -v r="$repo" 'BEGIN {
    printf "total %.1f MiB; the rest of the working tree adds %.1f MiB (keep both under 64 MiB)\n",
        t / 1048576, r / 1048576 }'
cat .gpu/BUILD
if [ "$total" -gt $((LIMIT_MIB * 1048576)) ]; then
    echo "gpu-bundle: .gpu/ is over $LIMIT_MIB MiB" >&2
    exit 1
fi
