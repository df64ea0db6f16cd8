#!/bin/sh
# Checks that every library natter builds against is present (via pkg-config) and, when it is
# not, installs the Debian packages as root or prints the one apt-get line to run.
# Usage: mk/deps.sh [--install]   (exit 0 when everything is present afterwards)
set -u

# pkg-config module : Debian package that provides it
PAIRS="ncursesw:libncurses-dev readline:libreadline-dev openblas:libopenblas-dev yaml-0.1:libyaml-dev libutf8proc:libutf8proc-dev libxxhash:libxxhash-dev libcurl:libcurl4-openssl-dev libmicrohttpd:libmicrohttpd-dev jansson:libjansson-dev sqlite3:libsqlite3-dev"
# tools the build and tests need : package
TOOLS="cc:gcc make:make pkg-config:pkg-config tmux:tmux"
# tools only the fuzz targets need (make fuzz, tests/test_fuzz.sh): installed as root like the
# rest, but their absence stops nothing (the fuzz smoke test then skips, saying so)
OPTIONAL="clang:clang /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a:libclang-rt-14-dev"

missing=""
command -v pkg-config >/dev/null 2>&1 || missing="pkg-config"
for t in $TOOLS; do
    bin=${t%%:*}; pkg=${t#*:}
    command -v "$bin" >/dev/null 2>&1 || missing="$missing $pkg"
done
if command -v pkg-config >/dev/null 2>&1; then
    for p in $PAIRS; do
        mod=${p%%:*}; pkg=${p#*:}
        pkg-config --exists "$mod" 2>/dev/null || missing="$missing $pkg"
    done
else
    for p in $PAIRS; do missing="$missing ${p#*:}"; done
fi
missing=$(echo $missing | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/ *$//')
optional=""
for t in $OPTIONAL; do
    what=${t%%:*}; pkg=${t#*:}
    case "$what" in
        /*) ls $what >/dev/null 2>&1 || optional="$optional $pkg" ;;
        *) command -v "$what" >/dev/null 2>&1 || optional="$optional $pkg" ;;
    esac
done
if [ -n "$optional" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "natter: installing the fuzzing tools:$optional" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq $optional; } >&2 ||
        echo "natter: could not install$optional; the fuzz smoke test will skip" >&2
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "natter: installing missing packages: $missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq $missing >&2 || {
        echo "natter: apt-get install failed; run: apt-get install $missing" >&2; exit 1; }
    exit 0
fi
echo "natter: missing build dependencies. Run as root:" >&2
echo "    apt-get install $missing" >&2
exit 1
