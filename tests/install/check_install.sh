#!/bin/sh
# Installs the build tree $1 into a temporary prefix, then builds and runs
# tests/install/consumer.c against the installed copy, through the CMake
# package (shared and static) and through pkg-config (shared and static).
# $3: extra compiler and linker flags (the sanitizers, when the library was
# built with them).
set -eu
build=$1 source=$2 flags=${3:-}
expected="loss 415 grad 15 19 23 15 19 23"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null

check() { # name, command...
    name=$1
    shift
    got=$("$@")
    if [ "$got" != "$expected" ]; then
        echo "$name printed \"$got\", expected \"$expected\"" >&2
        exit 1
    fi
    echo "$name: ok"
}

cmake -S "$source" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$work/cmake" >/dev/null
check "find_package, shared" "$work/cmake/consumer_shared"
check "find_package, static" "$work/cmake/consumer_static"

pcdir=$(dirname "$(find "$work/prefix" -name tapegrad.pc)")
export PKG_CONFIG_PATH="$pcdir"
libdir=$(pkg-config --variable=libdir tapegrad)
# shellcheck disable=SC2046,SC2086  # word splitting of the flags is wanted
cc -std=c11 $flags -o "$work/pc_shared" "$source/consumer.c" $(pkg-config --cflags --libs tapegrad) \
    -Wl,-rpath,"$libdir"
check "pkg-config, shared" "$work/pc_shared"
# Static: libtapegrad.a, then what --static adds for it (Libs.private).
static_libs=$(pkg-config --static --libs tapegrad | sed 's/-ltapegrad/-Wl,-Bstatic -ltapegrad -Wl,-Bdynamic/')
# shellcheck disable=SC2046,SC2086
cc -std=c11 $flags -o "$work/pc_static" "$source/consumer.c" $(pkg-config --cflags tapegrad) $static_libs
if ldd "$work/pc_static" | grep -q libtapegrad; then
    echo "pkg-config, static: the program loads libtapegrad.so" >&2
    exit 1
fi
check "pkg-config, static" "$work/pc_static"
