#!/bin/sh
# README.md's "A first program", compiled as the README says: the first C
# block of that section is saved as first.c and built with
# `cc -std=c11 first.c $(pkg-config --cflags --libs tapegrad)` against the
# build tree $1 installed under a temporary prefix, then run.
# $2: the repository; $3: extra compiler and linker flags (the sanitizers).
set -eu
build=$1 repository=$2 flags=${3:-}
expected="loss 0.9060, dL/dw[0][0] -0.0036"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset LD_LIBRARY_PATH

awk '/^## A first program$/ { section = 1; next }
     /^## / { section = 0 }
     section && /^```c$/ && !done { inside = 1; next }
     inside && /^```$/ { inside = 0; done = 1 }
     inside' "$repository/README.md" >"$work/first.c"
if [ ! -s "$work/first.c" ]; then
    echo "README.md has no C block under \"## A first program\"" >&2
    exit 1
fi

cmake --install "$build" --prefix "$work/prefix" >/dev/null
PKG_CONFIG_PATH=$(dirname "$(find "$work/prefix" -name tapegrad.pc)")
export PKG_CONFIG_PATH
cd "$work"
# shellcheck disable=SC2046,SC2086  # word splitting of the flags is wanted
cc -std=c11 -Wall -Wextra -Werror $flags first.c $(pkg-config --cflags --libs tapegrad)
got=$(./a.out)
if [ "$got" != "$expected" ]; then
    echo "the first program printed \"$got\", expected \"$expected\"" >&2
    exit 1
fi
echo "README's first program: $got"
