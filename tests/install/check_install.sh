#!/bin/sh
# Installs the build tree $1 under a prefix no loader knows (a temporary
# directory), then builds and runs tests/install/consumer.c against the
# installed copy, through the CMake package (shared and static, in the
# consumer's build tree and installed) and through pkg-config (shared and
# --static), all without LD_LIBRARY_PATH. The static programs must not
# load libtapegrad.so. The op author's headers must be installed, and
# tapegrad.h must not declare what they hold.
# $3: extra compiler and linker flags (the sanitizers, when the library was
# built with them).
set -eu
build=$1 source=$2 flags=${3:-}
expected="loss 415 grad 15 19 23 15 19 23"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset LD_LIBRARY_PATH

cmake --install "$build" --prefix "$work/prefix" >/dev/null

# The op author's headers are installed too, and they alone declare the
# views without gradients and the raw kernels.
include="$work/prefix/include/tapegrad"
printf '#include <tapegrad.h>\n#include <autograd/kernel.h>\nvoid *f(void) { return (void *)tg_view_reshape; }\n' |
    cc -std=c11 -fsyntax-only -I"$include" -x c - ||
    { echo "the op author's headers do not compile from the prefix" >&2; exit 1; }
if printf '#include <tapegrad.h>\nvoid *f(void) { return (void *)tg_view_reshape; }\n' |
    cc -std=c11 -fsyntax-only -I"$include" -x c - 2>/dev/null; then
    echo "tapegrad.h declares tg_view_reshape, which belongs to tensor/kernel.h" >&2
    exit 1
fi
echo "op author's headers: ok"

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

no_shared_tapegrad() { # name, program
    if ldd "$2" 2>&1 | grep -q libtapegrad; then
        echo "$1: the program loads libtapegrad.so:" >&2
        ldd "$2" >&2
        exit 1
    fi
}

cmake -S "$source" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DCMAKE_INSTALL_PREFIX="$work/app" \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$work/cmake" >/dev/null
check "find_package, shared" "$work/cmake/consumer_shared"
no_shared_tapegrad "find_package, static" "$work/cmake/consumer_static"
check "find_package, static" "$work/cmake/consumer_static"
cmake --install "$work/cmake" >/dev/null
check "find_package, shared, installed" "$work/app/bin/consumer_shared"

pcdir=$(dirname "$(find "$work/prefix" -name tapegrad.pc)")
export PKG_CONFIG_PATH="$pcdir"
# shellcheck disable=SC2046,SC2086  # word splitting of the flags is wanted
cc -std=c11 $flags -o "$work/pc_shared" "$source/consumer.c" $(pkg-config --cflags --libs tapegrad)
check "pkg-config, shared" "$work/pc_shared"
case "$flags" in
*-fsanitize=*)
    # The sanitizer runtimes cannot be linked into a fully static program.
    echo "pkg-config, static: not checked in a sanitizer build"
    exit 0
    ;;
esac
# The linker's warning that libgomp's dlopen needs this glibc at run time is expected.
# shellcheck disable=SC2046,SC2086
cc -std=c11 $flags -o "$work/pc_static" "$source/consumer.c" \
    $(pkg-config --cflags --libs --static tapegrad) 2>"$work/pc_static.log" ||
    { cat "$work/pc_static.log" >&2; exit 1; }
no_shared_tapegrad "pkg-config, static" "$work/pc_static"
check "pkg-config, static" "$work/pc_static"
