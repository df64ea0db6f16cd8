#!/bin/sh
# Tests for sessions on the command line (app/conv/session.c, app/conv/replay.c, app/cmd/cmd_session.c):
# `kill -9` during saves never leaves a broken or mixed file; `-p --save`, `--resume` and
# `replay --check` (1 and 2 threads) agree; replay overrides print side by side; `export`
# writes Markdown and OpenAI-style JSON; corrupt files give file:line:col errors and stay as
# they were; stop strings at the limits (16 of 255 bytes from a persona) are saved whole and
# replayed alike, and beyond them refused with file:line:col. The kill test uses the helper
# modes of the test_session program next to natter (build/tests/test_session); model tests
# skip without ../shared/fixtures.
# The closing line names the script, not the test_session program run beside it.
T_NAME=test_session.sh
. "$(dirname "$0")/lib.sh"
HELPER="$(dirname "$NATTER")/tests/test_session"
export XDG_STATE_HOME="$tmp/state"

# --- kill -9 at random moments while a session is saved over and over ----------------------
if [ -x "$HELPER" ]; then
    f="$tmp/kill.yaml"
    last=0; broken=0; rounds=0
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        rm -f "$f.ready"
        "$HELPER" --save-loop "$f" &
        pid=$!
        # Once it has saved a version (however slowly a loaded machine starts it; at most
        # 10 s), 10..300 ms more: many saves per run, the kill lands anywhere in one.
        k=0
        while [ ! -f "$f.ready" ] && [ "$k" -lt 1000 ]; do sleep 0.01; k=$((k + 1)); done
        ms=$(( ($(od -An -N2 -tu2 /dev/urandom) % 290) + 10 ))
        sleep "$(printf '0.%03d' "$ms")"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        [ -f "$f" ] || continue
        rounds=$((rounds + 1))
        v=$("$HELPER" --check-version "$f" 2>"$tmp/kill.err")
        if [ $? -ne 0 ]; then
            broken=$((broken + 1)); cat "$tmp/kill.err"; cp "$f" "$tmp/broken.yaml"
        elif [ "$v" -lt "$last" ]; then
            broken=$((broken + 1)); echo "version went back from $last to $v"
        else
            last=$v
        fi
    done
    check "kill -9 during saves: $broken of $rounds files broken or older" [ "$broken" -eq 0 ]
    check "kill -9 test saved at least a few versions (last $last)" [ "$last" -ge 3 ]
    check "session files are private (mode $(stat -c %a "$f"))" [ "$(stat -c %a "$f")" = 600 ]
    check "natter export reads the survivor" sh -c "'$NATTER' export '$f' --format json >/dev/null"
    rm -f "$tmp"/kill.yaml.tmp* "$f.ready"
else
    skip "kill -9 test: $HELPER not built"
fi

# --- corrupt files: exact messages, left untouched ------------------------------------------
printf 'natter-session: 9\nmessages: []\n' >"$tmp/ver.yaml"
cp "$tmp/ver.yaml" "$tmp/ver.orig"
"$NATTER" export "$tmp/ver.yaml" >"$tmp/ver.out" 2>"$tmp/ver.err"
rc=$?
check "bad version: exit 1 ($rc)" [ "$rc" -eq 1 ]
printf 'natter export: %s:1:17: unsupported session version 9 (this natter reads version 1)\nnatter-session: 9\n                ^\n' "$tmp/ver.yaml" >"$tmp/ver.want"
check "bad version: exact message" cmp -s "$tmp/ver.err" "$tmp/ver.want"
check "bad version: file untouched" cmp -s "$tmp/ver.yaml" "$tmp/ver.orig"
printf 'name: tutor\nsystem: You teach.\n' >"$tmp/foreign.yaml"
"$NATTER" replay "$tmp/foreign.yaml" --check >/dev/null 2>"$tmp/foreign.err"
check "foreign YAML: exit 1" [ $? -eq 1 ]
check "foreign YAML: message" grep -qF "foreign.yaml:1:1: not a natter session (no 'natter-session' key)" "$tmp/foreign.err"

# --- stop strings beyond the limits in a persona: file:line:col, nothing loaded --------------
{ printf 'name: many-stops\nsystem: s\nstop:\n'
  for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17; do printf '  - "stop %s"\n' "$k"; done
} >"$tmp/p17.yaml"
"$NATTER" --check "$tmp/p17.yaml" >"$tmp/p17.out" 2>&1
check "persona with 17 stop strings: --check exit 1" [ $? -eq 1 ]
check "persona with 17 stop strings: file:line:col" \
    grep -qF "$tmp/p17.yaml:20:5: 'stop' must have at most 16 strings, not 17" "$tmp/p17.out"
"$NATTER" -m /nonexistent.gguf --persona "$tmp/p17.yaml" -p x >/dev/null 2>"$tmp/p17.err"
check "persona with 17 stop strings: natter refuses it ($(head -1 "$tmp/p17.err"))" \
    grep -qF "p17.yaml:20:5: 'stop' must have at most 16 strings, not 17" "$tmp/p17.err"

# --- a conversation on stories260K: save, resume, replay --check, overrides, export ----------
if [ -f "$STORIES" ]; then
    s="$tmp/chat.yaml"
    "$NATTER" -m "$STORIES" --ctx 256 --temp 0.9 --seed 5 -n 40 -p "Once upon a time" --save "$s" >"$tmp/a1" 2>"$tmp/e1"
    check "-p --save: exit 0 ($(cat "$tmp/e1"))" [ $? -eq 0 ]
    check "-p --save: mode 600" [ "$(stat -c %a "$s")" = 600 ]
    "$NATTER" --resume "$s" --temp 1.1 --seed 6 -n 30 -p "Lily" >"$tmp/a2" 2>"$tmp/e2"
    check "--resume FILE: exit 0 ($(cat "$tmp/e2"))" [ $? -eq 0 ]
    check "--resume FILE: the session grew to 4 messages" grep -q '^message_count: 4$' "$s"
    check "--resume FILE: the recorded answer is the one printed" \
        sh -c "'$NATTER' export '$s' --format md | grep -qF \"\$(head -c 20 '$tmp/a2')\""
    for t in 1 2; do
        "$NATTER" replay "$s" --check --threads $t >"$tmp/c$t" 2>&1
        check "replay --check --threads $t: exit 0 ($(tail -3 "$tmp/c$t"))" [ $? -eq 0 ]
    done
    check "replay --check: summary line" grep -q '^replay check: 2 answers, 70 tokens, all identical$' "$tmp/c1"
    check "the session records the model's xxh3 hash" grep -q '^  hash: xxh3:fb408a3ff45a36b2$' "$s"
    check "the session records the KV cache type (f16 by default)" grep -q '^  kv-type: f16$' "$s"
    # Another cache type is recorded, resumed with and replayed with; a file without the key
    # (an older natter's: an F32 cache) is replayed with F32; a bad value is an error there.
    k="$tmp/kv32.yaml"
    "$NATTER" -m "$STORIES" --ctx 256 --temp 0.9 --seed 5 -n 30 --kv-type f32 -p "Once upon a time" --save "$k" >/dev/null 2>"$tmp/ke1"
    check "--kv-type f32 --save: exit 0 ($(cat "$tmp/ke1"))" [ $? -eq 0 ]
    check "the session records kv-type: f32" grep -q '^  kv-type: f32$' "$k"
    "$NATTER" --resume "$k" --seed 6 -n 20 -p "Lily" >/dev/null 2>"$tmp/ke2"
    check "--resume keeps the session's cache type ($(cat "$tmp/ke2"))" grep -q '^  kv-type: f32$' "$k"
    "$NATTER" replay "$k" --check >"$tmp/kc" 2>&1
    check "replay --check with the recorded f32 cache: exit 0 ($(tail -1 "$tmp/kc"))" [ $? -eq 0 ]
    grep -v '^  kv-type:' "$k" >"$tmp/kvold.yaml"
    "$NATTER" replay "$tmp/kvold.yaml" --check >"$tmp/kco" 2>&1
    check "replay --check of a session without kv-type (F32): exit 0 ($(tail -1 "$tmp/kco"))" [ $? -eq 0 ]
    sed 's/^  kv-type: f32$/  kv-type: q4_0/' "$k" >"$tmp/kvbad.yaml"
    "$NATTER" replay "$tmp/kvbad.yaml" --check >/dev/null 2>"$tmp/kbe"
    check "a bad kv-type: exit 1" [ $? -eq 1 ]
    check "a bad kv-type: file:line:col and the reason" \
        grep -q "kvbad.yaml:[0-9]*:[0-9]*: 'kv-type' must be f32, f16 or q8_0" "$tmp/kbe"
    # A session from an older natter (fnv1a64 hash of the header only): still read, its model
    # recognised by file name and size, and replay says so.
    sed 's/^  hash: xxh3:.*/  hash: fnv1a64:9aa9fa45d7fc6363/' "$s" >"$tmp/old.yaml"
    "$NATTER" replay "$tmp/old.yaml" --check >"$tmp/cold" 2>&1
    check "replay --check of an fnv1a64 session: exit 0 ($(tail -2 "$tmp/cold"))" [ $? -eq 0 ]
    check "replay says the old hash is matched by name and size" \
        grep -q "records an older natter's model hash (fnv1a64:9aa9fa45d7fc6363): the model is recognised by its file name and size" "$tmp/cold"
    # A changed token in the recording is found, with the turn and position.
    sed 's/^  tokens: \[\([0-9]*\), \([0-9]*\), \([0-9]*\),/  tokens: [\1, \2, 7,/' "$s" >"$tmp/edited.yaml"
    "$NATTER" replay "$tmp/edited.yaml" --check >"$tmp/cx" 2>&1
    check "replay --check of an edited recording: exit 1" [ $? -eq 1 ]
    check "replay --check names the turn, the file and the token" grep -qF "message 2: $tmp/edited.yaml: differs at token 2 (of 40 recorded):" "$tmp/cx"
    check "replay --check shows both texts" sh -c "grep -q '^recorded text:' '$tmp/cx' && grep -q '^replayed text:' '$tmp/cx'"
    "$NATTER" replay "$s" --temp 1.5 >"$tmp/ov" 2>&1
    check "replay --temp: exit 0" [ $? -eq 0 ]
    check "replay --temp: side by side" grep -q '^\[2\] recorded (seed 5) *| \[2\] replayed, --temp 1.5$' "$tmp/ov"
    "$NATTER" replay "$s" --temp=1.5 >"$tmp/ov2" 2>&1
    check "replay --temp=1.5: the same as --temp 1.5" cmp -s "$tmp/ov" "$tmp/ov2"
    "$NATTER" replay "$s" --check --temp 2 >/dev/null 2>"$tmp/ce"
    check "replay --check refuses overrides (exit 2)" [ $? -eq 2 ]
    "$NATTER" export "$s" --format json -o "$tmp/chat.json"
    check "export json: OpenAI message shape" sh -c "head -3 '$tmp/chat.json' | tr -d ' \n' | grep -q '^\[{\"role\":\"user\",'"
    check "export json: four messages" [ "$(grep -c '"role"' "$tmp/chat.json")" -eq 4 ]
    # Resume the latest from the sessions folder, model taken from the recording.
    mkdir -p "$XDG_STATE_HOME/natter/sessions"
    cp "$s" "$XDG_STATE_HOME/natter/sessions/latest.yaml"
    "$NATTER" --resume -n 10 --seed 2 -p "The end" >/dev/null 2>"$tmp/e3"
    check "--resume (latest, recorded model): exit 0 ($(cat "$tmp/e3"))" [ $? -eq 0 ]
    check "--resume (latest) updated it" grep -q '^message_count: 6$' "$XDG_STATE_HOME/natter/sessions/latest.yaml"
    "$NATTER" replay latest --check >/dev/null 2>&1
    check "replay NAME from the sessions folder: --check passes" [ $? -eq 0 ]
    # Raw mode (no template) is part of the session: resuming without --raw keeps it.
    r="$tmp/raw.yaml"
    "$NATTER" -m "$STORIES" --raw --ctx 256 --seed 3 -n 30 -p "Once upon a time" --save "$r" >/dev/null 2>&1
    "$NATTER" --resume "$r" --ctx 256 --seed 4 -n 30 -p " Then" >/dev/null 2>&1
    check "--resume of a raw session: still raw" grep -q '^raw: true$' "$r"
    "$NATTER" replay "$r" --check >"$tmp/rawc" 2>&1
    check "replay --check of a raw session ($(tail -1 "$tmp/rawc"))" [ $? -eq 0 ]
    # A corrupt session given to --resume is reported and not overwritten.
    head -c 300 "$s" >"$tmp/cut.yaml"
    cp "$tmp/cut.yaml" "$tmp/cut.orig"
    "$NATTER" --resume "$tmp/cut.yaml" -m "$STORIES" -n 5 -p "x" >/dev/null 2>"$tmp/cut.err"
    check "--resume of a truncated file: exit 1" [ $? -eq 1 ]
    check "--resume of a truncated file: file:line:col" grep -q "cut.yaml:[0-9]*:[0-9]*: " "$tmp/cut.err"
    check "--resume of a truncated file: untouched" cmp -s "$tmp/cut.yaml" "$tmp/cut.orig"
    # Stop strings at the limits: a persona's 16 of up to 255 bytes, one of them 180 bytes of
    # the answer's own text (so it spans a hundred tokens), saved whole and replayed alike.
    yq() { awk '{ if (NR > 1) printf "\\n"; gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); printf "%s", $0 }'; }
    pad=$(printf '%0240d' 0 | tr 0 '~')
    { printf 'name: long-stop\nsystem: Stories.\nstop:\n'
      for k in 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24; do printf '  - "decoy %s %s"\n' "$k" "$pad"; done
    } >"$tmp/ls0.yaml"
    "$NATTER" -m "$STORIES" --persona "$tmp/ls0.yaml" --ctx 512 --temp 0 -n 200 -p "Once upon a time" >"$tmp/ls0.out" 2>"$tmp/ls0.err"
    check "persona with 15 long stop strings: exit 0 ($(cat "$tmp/ls0.err"))" [ $? -eq 0 ]
    tail -c +61 "$tmp/ls0.out" | head -c 180 >"$tmp/piece"
    cp "$tmp/ls0.yaml" "$tmp/ls1.yaml"
    printf '  - "%s"\n' "$(yq <"$tmp/piece")" >>"$tmp/ls1.yaml"
    "$NATTER" -m "$STORIES" --persona "$tmp/ls1.yaml" --ctx 512 --temp 0 -n 200 -p "Once upon a time" --save "$tmp/ls.yaml" >"$tmp/ls1.out" 2>"$tmp/ls1.err"
    check "persona with 16 long stop strings: exit 0 ($(cat "$tmp/ls1.err"))" [ $? -eq 0 ]
    # The answer is the first 60 bytes (and the newline -p prints after it).
    head -c 60 "$tmp/ls0.out" >"$tmp/ls.want"; echo >>"$tmp/ls.want"
    check "a 180-byte stop string cuts the answer before it" cmp -s "$tmp/ls1.out" "$tmp/ls.want"
    check "the session records the end at a stop string" grep -q '^  end: stop-string$' "$tmp/ls.yaml"
    check "the session keeps all 17 stop strings whole (the template's too)" \
        [ "$(grep -c '^  - "' "$tmp/ls.yaml")" -eq 17 ]
    check "the 180-byte one is written whole" grep -qF "  - \"$(yq <"$tmp/piece")\"" "$tmp/ls.yaml"
    "$NATTER" replay "$tmp/ls.yaml" --check >"$tmp/lsc" 2>&1
    check "replay --check with 17 long stop strings ($(tail -1 "$tmp/lsc"))" [ $? -eq 0 ]
    # One byte over the limit in a session: refused with the file and line, never cut.
    awk -v long="$(printf '%0256d' 0 | tr 0 y)" '/^  - "decoy 12 / { print "  - \"" long "\""; next } { print }' \
        "$tmp/ls.yaml" >"$tmp/ls-bad.yaml"
    line=$(grep -n '^  - "yyy' "$tmp/ls-bad.yaml" | cut -d: -f1)
    cp "$tmp/ls-bad.yaml" "$tmp/ls-bad.orig"
    "$NATTER" export "$tmp/ls-bad.yaml" >/dev/null 2>"$tmp/ls-bad.err"
    check "a session with a 256-byte stop string: exit 1" [ $? -eq 1 ]
    check "a session with a 256-byte stop string: file:line:col ($(head -1 "$tmp/ls-bad.err"))" \
        grep -qF "natter export: $tmp/ls-bad.yaml:$line:5: items of 'stop' must have at most 255 bytes, not 256" "$tmp/ls-bad.err"
    "$NATTER" replay "$tmp/ls-bad.yaml" --check >/dev/null 2>&1
    check "replay refuses it too" [ $? -eq 1 ]
    check "and leaves it as it was" cmp -s "$tmp/ls-bad.yaml" "$tmp/ls-bad.orig"
    # --resume keeps what the session was: its persona (found by name), its sampling values
    # (temperature 0 here: two seeds, one answer) and its context size (256: the 100-token
    # answer and a new question do not fit the model's own 128).
    mkdir -p "$tmp/config/natter/prompts"
    printf 'name: greedy\nsystem: Tell a story.\nsampling:\n  temperature: 0\n' >"$tmp/config/natter/prompts/greedy.yaml"
    f="$tmp/faithful.yaml"
    XDG_CONFIG_HOME="$tmp/config" "$NATTER" -m "$STORIES" --persona greedy --ctx 256 -n 100 -p "Once upon a time" --save "$f" >/dev/null 2>"$tmp/fe0"
    check "-p --persona NAME --save: exit 0 ($(cat "$tmp/fe0"))" [ $? -eq 0 ]
    check "the session records the persona by name" grep -q '^persona: greedy$' "$f"
    cp "$f" "$tmp/faithful2.yaml"
    XDG_CONFIG_HOME="$tmp/config" "$NATTER" --resume "$f" -n 20 --seed 1 -p "And then" >"$tmp/fa1" 2>"$tmp/fe1"
    check "--resume in a context of 256: exit 0 ($(cat "$tmp/fe1"))" [ $? -eq 0 ]
    XDG_CONFIG_HOME="$tmp/config" "$NATTER" --resume "$tmp/faithful2.yaml" -n 20 --seed 2 -p "And then" >"$tmp/fa2" 2>/dev/null
    check "--resume keeps the persona's temperature 0 (two seeds, one answer)" cmp -s "$tmp/fa1" "$tmp/fa2"
    check "--resume keeps the persona in the file" grep -q '^persona: greedy$' "$f"
    check "--resume keeps the context size in the file" grep -q '^context: 256$' "$f"
    check "--resume used the persona's system prompt" grep -q '^system: "Tell a story\."$' "$f"
    cp "$tmp/faithful2.yaml" "$tmp/faithful3.yaml"
    XDG_CONFIG_HOME="$tmp/config" "$NATTER" --resume "$tmp/faithful3.yaml" --ctx 128 -n 20 -p "And then" >/dev/null 2>"$tmp/fe3"
    check "--ctx given wins over the session's" grep -q '^context: 128$' "$tmp/faithful3.yaml"
    rm "$tmp/config/natter/prompts/greedy.yaml"
    XDG_CONFIG_HOME="$tmp/config" "$NATTER" --resume "$tmp/faithful2.yaml" -n 5 -p "And then" >/dev/null 2>"$tmp/fe4"
    check "a persona that is gone is said ($(head -1 "$tmp/fe4"))" \
        grep -qF "natter: the session's persona 'greedy' is not there any more; using the default one" "$tmp/fe4"
else
    skip "model tests: $STORIES absent"
fi

finish
