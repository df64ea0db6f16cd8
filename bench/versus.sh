#!/bin/sh
# bench/versus.sh — natter against llama.cpp's llama-bench on the same GGUF files, side by side.
#
#   bench/versus.sh [-n NATTER] [-r ROUNDS] [-t "1 2"] [-k KV_TYPE] [-i avx2] LLAMA_BENCH [MODEL.gguf ...]
#
# For every model and thread count it runs `natter bench -m MODEL --json` and
# `llama-bench -m MODEL -p 128 -n 64 -r 1 -o csv` alternately, ROUNDS times each (the order flips
# every round), and prints the median prompt (pp128) and generation (tg64) speeds of both and
# their ratio natter ÷ llama.cpp. On a shared machine absolute speeds drift; interleaving keeps
# both programs under the same conditions, so the ratios hold better than either number. The
# 1-minute load average is printed before and after, and the processor's name first (ratios
# from different processors do not compare). Without MODEL arguments it takes the
# files `natter bench` writes in its cache folder (run `natter bench` once to create them).
# A thread count of 0 (-t "1 2 0") runs natter with its default (--threads 0: prompts on every
# CPU, decoding on one or all as it measures, see natter(1)) against llama-bench on every CPU.
# -k f32|f16|q8_0 sets both programs' KV cache type (natter --kv-type, llama-bench -ctk/-ctv,
# with -fa 1 for q8_0, which llama.cpp needs for a quantized V cache); default f16, both
# programs' default.
# -i avx2 compares the two programs' AVX2 code on a CPU that has more: natter with
# NATTER_ISA=avx2, llama-bench from a copy of its folder that holds no CPU variant above
# Haswell (llama.cpp picks the best libggml-cpu-*.so it finds next to the executable).
set -eu

natter=build/natter
rounds=3
threads="1 2"
kv=f16
isa=
while getopts n:r:t:k:i: opt; do
    case $opt in
    n) natter=$OPTARG ;;
    r) rounds=$OPTARG ;;
    t) threads=$OPTARG ;;
    k) kv=$OPTARG ;;
    i) isa=$OPTARG ;;
    *) echo "usage: $0 [-n NATTER] [-r ROUNDS] [-t \"1 2\"] [-k KV_TYPE] [-i avx2] LLAMA_BENCH [MODEL.gguf ...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
if [ $# -lt 1 ]; then
    echo "usage: $0 [-n NATTER] [-r ROUNDS] [-t \"1 2\"] [-k KV_TYPE] [-i avx2] LLAMA_BENCH [MODEL.gguf ...]" >&2
    exit 2
fi
case $isa in
"" | avx2) ;;
*) echo "$0: -i $isa: only avx2 is known" >&2; exit 2 ;;
esac
llama=$1
shift
[ -x "$llama" ] || { echo "$0: $llama: not an executable llama-bench" >&2; exit 2; }
[ -x "$natter" ] || { echo "$0: $natter: not an executable natter (build it, or pass -n)" >&2; exit 2; }
if [ $# -eq 0 ]; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/natter/bench
    set -- "$cache"/*.gguf
    [ -e "$1" ] || { echo "$0: no models in $cache: run 'natter bench' first" >&2; exit 2; }
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ "$isa" = avx2 ]; then
    export NATTER_ISA=avx2
    # the executable copied (the loader looks next to the real file), the rest linked, the
    # CPU variants above Haswell left out
    src=$(dirname "$llama")
    mkdir "$tmp/llama"
    for f in "$src"/*; do
        case $(basename "$f") in
        libggml-cpu-*.so) case $(basename "$f") in libggml-cpu-haswell.so | libggml-cpu-sandybridge.so | libggml-cpu-x64.so) ;; *) continue ;; esac ;;
        esac
        ln -s "$(cd "$src" && pwd)/$(basename "$f")" "$tmp/llama/"
    done
    rm "$tmp/llama/$(basename "$llama")"
    cp "$llama" "$tmp/llama/"
    llama=$tmp/llama/$(basename "$llama")
fi

load() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?"; }

# natter: prints "PP TG" tokens/s of one run
run_natter() {
    "$natter" bench -m "$1" --threads "$2" --kv-type "$kv" --json 2>/dev/null |
        awk -F'"tokens_per_s":' '/"test":"pp128"/ { split($2, a, ","); pp = a[1] }
                                 /"test":"tg64"/ { split($2, a, ","); tg = a[1] }
                                 END { if (pp == "" || tg == "") exit 1; print pp, tg }'
}

# llama-bench: the same two numbers from its CSV (columns found by name)
run_llama() {
    fa=0
    [ "$kv" = q8_0 ] && fa=1
    lt=$2
    [ "$lt" -eq 0 ] && lt=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
    "$llama" -m "$1" -t "$lt" -p 128 -n 64 -r 1 -ctk "$kv" -ctv "$kv" -fa "$fa" -o csv 2>/dev/null |
        awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { gsub(/"/, "", $i); col[$i] = i }; next }
                 { gsub(/"/, "") }
                 $col["n_prompt"] == 128 && $col["n_gen"] == 0 { pp = $col["avg_ts"] }
                 $col["n_prompt"] == 0 && $col["n_gen"] == 64 { tg = $col["avg_ts"] }
                 END { if (pp == "" || tg == "") exit 1; print pp, tg }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "processor: ${cpu:-unknown}; natter's kernels: ${NATTER_ISA:-the best it finds} (natter bench prints which)"
echo "load average before: $(load)"
for m in "$@"; do
    for t in $threads; do
        key=$(basename "$m").$t
        r=1
        while [ "$r" -le "$rounds" ]; do
            if [ $((r % 2)) -eq 1 ]; then
                run_natter "$m" "$t" >>"$tmp/$key.natter" || echo "$0: natter failed on $m" >&2
                run_llama "$m" "$t" >>"$tmp/$key.llama" || echo "$0: llama-bench failed on $m" >&2
            else
                run_llama "$m" "$t" >>"$tmp/$key.llama" || echo "$0: llama-bench failed on $m" >&2
                run_natter "$m" "$t" >>"$tmp/$key.natter" || echo "$0: natter failed on $m" >&2
            fi
            r=$((r + 1))
        done
    done
done
echo "load average after: $(load)"
echo
printf '%-36s %3s | %9s %9s %6s | %9s %9s %6s\n' model thr "pp natter" "pp llama" ratio \
    "tg natter" "tg llama" ratio
for m in "$@"; do
    for t in $threads; do
        key=$(basename "$m").$t
        np=$(cut -d' ' -f1 "$tmp/$key.natter" 2>/dev/null | median)
        ng=$(cut -d' ' -f2 "$tmp/$key.natter" 2>/dev/null | median)
        lp=$(cut -d' ' -f1 "$tmp/$key.llama" 2>/dev/null | median)
        lg=$(cut -d' ' -f2 "$tmp/$key.llama" 2>/dev/null | median)
        awk -v m="$(basename "$m")" -v t="$t" -v np="$np" -v lp="$lp" -v ng="$ng" -v lg="$lg" 'BEGIN {
            printf "%-36s %3s | %9.2f %9.2f %6.2f | %9.2f %9.2f %6.2f\n", m, t, np, lp,
                   (lp > 0 ? np / lp : 0), ng, lg, (lg > 0 ? ng / lg : 0) }'
    done
done
echo
echo "tokens/s, medians of $rounds interleaved runs each, $kv KV cache; ratio = natter / llama.cpp"
if [ "$isa" = avx2 ]; then echo "AVX2 code only: natter with NATTER_ISA=avx2, llama.cpp's variants up to Haswell"; fi
case " $threads " in *" 0 "*) echo "thr 0: natter's default thread use, llama.cpp on every CPU" ;; esac
