#!/usr/bin/env bash
# CTest "install": `cmake --install` into a temporary prefix, then examples/generate.c built
# against that prefix twice — with pkg-config, and as a tiny CMake project with
# find_package(xattn) — and run. Both programs must draw the same pixels as `xattn generate`
# with the same model, prompt and seed, and write the heatmaps.
# Environment: XATTN_BUILD_DIR (the build to install), XATTN_SOURCE_DIR, XATTN_TEST_TMP,
# XATTN (the program), XATTN_EXTRA_CFLAGS (the sanitizer flags of a sanitizer build).
set -euo pipefail
src=$XATTN_SOURCE_DIR
tmp=$XATTN_TEST_TMP/install
rm -rf "$tmp" && mkdir -p "$tmp"
prefix=$tmp/prefix
model=$src/weights/shapes32
prompt=$src/assets/a-red-circle.safetensors
cflags=${XATTN_EXTRA_CFLAGS:-}

fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$XATTN_BUILD_DIR" --prefix "$prefix" >"$tmp/install.log"
for f in bin/xattn include/xattn.h include/xattn_io.h lib/libxattn.a lib/pkgconfig/xattn.pc \
         lib/cmake/xattn/xattnConfig.cmake; do
    [ -e "$prefix/$f" ] || fail "$prefix/$f was not installed"
done
soname=$(objdump -p "$prefix/lib/libxattn.so" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = libxattn.so.0 ] || fail "libxattn.so has SONAME '$soname', expected libxattn.so.0"
[ ! -e "$prefix/include/xattn_shapes.h" ] || fail "xattn_shapes.h is installed; it is not the engine's"

# 1. pkg-config
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[ "$(pkg-config --variable=includedir xattn)" -ef "$prefix/include" ] ||
    fail "xattn.pc's includedir $(pkg-config --variable=includedir xattn) is not $prefix/include"
# (grep on a captured string: under pipefail, `cmd | grep -q` fails when grep stops reading early)
libs=$(pkg-config --static --libs xattn)
[[ "$libs" == *-lopenblas* ]] || fail "xattn.pc: Libs.private lacks OpenBLAS: $libs"
# shellcheck disable=SC2046
cc $cflags "$src/examples/generate.c" $(pkg-config --cflags --libs xattn) \
    -Wl,-rpath,"$prefix/lib" -o "$tmp/generate_pc"
loaded=$(ldd "$tmp/generate_pc")
[[ "$loaded" == *"$prefix/lib/libxattn.so.0"* ]] || fail "generate_pc does not load $prefix/lib/libxattn.so.0: $loaded"
(cd "$tmp" && OMP_WAIT_POLICY=passive ./generate_pc "$model" "$prompt" pc.png pc-heat 3)

# 2. find_package(xattn)
mkdir -p "$tmp/app"
cp "$src/examples/generate.c" "$tmp/app/"
cat >"$tmp/app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(app C)
find_package(xattn REQUIRED)
add_executable(app generate.c)
target_link_libraries(app xattn::xattn)
CMAKE
cmake -S "$tmp/app" -B "$tmp/app/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$cflags" \
    >"$tmp/app.log"
cmake --build "$tmp/app/build" >>"$tmp/app.log"
(cd "$tmp" && OMP_WAIT_POLICY=passive ./app/build/app "$model" "$prompt" cmake.png cmake-heat 3)

# 3. the same pixels as the program, and the heatmaps written
"$XATTN" generate -m "$model" -p "$prompt" -s 3 -o "$tmp/cli.png" --quiet
for out in pc cmake; do
    "$XATTN" compare "$tmp/cli.png" "$tmp/$out.png" --tolerance 0 >/dev/null ||
        fail "$out.png differs from xattn generate's image"
    for f in grid.png heatmaps.safetensors 1-red.png 2-circle.png; do
        [ -s "$tmp/$out-heat/$f" ] || fail "$out-heat/$f missing"
    done
done
echo "install: pkg-config and find_package builds ran; images equal xattn generate's"
