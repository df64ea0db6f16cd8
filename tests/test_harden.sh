#!/bin/sh
# tests/test_harden.sh — the reproductions of issue 17's hostile-input probe, kept as tests:
# escape sequences from files never reach the terminal on any command-line path (natter info,
# --check, --list-personas, YAML diagnostics, import-card, export to a terminal), deeply nested
# YAML is refused with file:line:col before libyaml's cost explodes, FIFOs and other
# non-regular files are refused (never opened blocking) wherever natter takes a file,
# import-card writes nothing it would reject, the terminal is restored and the session saved
# on every way out, and a terminal without cursor addressing (TERM=dumb, TERM unset) gets a
# plain line-by-line chat. Model tests skip without ../shared/fixtures.
. "$(dirname "$0")/lib.sh"
case "$STORIES" in /*) ;; *) STORIES="$(pwd)/$STORIES" ;; esac
export XDG_CONFIG_HOME="$tmp/config" XDG_STATE_HOME="$tmp/state"
GUIDE="$(pwd)/models/natter-guide.gguf"
ESC=$(printf '\033')

if [ ! -x "$NATTER" ]; then
    skip "$NATTER is not built"
    finish
fi

# no_esc NAME FILE: FILE holds no ESC or BEL byte (nothing could drive the terminal) and does
# show the ESC as its picture ␛.
no_esc() {
    if grep -q "[$ESC$(printf '\007')]" "$2"; then bad "$1: a raw control byte reached the terminal" "$(cat -v "$2")"
    elif ! grep -q "␛" "$2"; then bad "$1: the escape is not shown as ␛" "$(cat -v "$2")"
    else ok; fi
}

# --- 1. escape sequences from files ----------------------------------------------------------
# A GGUF written byte by byte: le N BYTES writes N little-endian, kvs KEY VALUE a string pair.
le() { _n=$1; _i=0; while [ $_i -lt "$2" ]; do printf "\\$(printf '%03o' $((_n % 256)))"; _n=$((_n / 256)); _i=$((_i + 1)); done; }
kvs() { le ${#1} 8; printf '%s' "$1"; le 8 4; _v=$(printf "$2"); le "$(printf '%s' "$_v" | wc -c)" 8; printf '%s' "$_v"; }
{ printf GGUF; le 3 4; le 0 8; le 3 8
  kvs general.architecture 'llama\033]0;PWNED\007'; kvs general.name 'evil\033[2Jname'
  kvs tokenizer.ggml.model 'gpt2\033]52;c;SGk=\007'; } >"$tmp/evil.gguf"
"$NATTER" info "$tmp/evil.gguf" >"$tmp/info.out" 2>&1
no_esc "natter info (general.name, architecture, tokenizer model in an error)" "$tmp/info.out"
check "natter info still names the file" grep -q "^name: *evil␛\[2Jname" "$tmp/info.out"
"$NATTER" -m "$tmp/evil.gguf" -p hi >"$tmp/load.out" 2>&1
no_esc "loading it (the error text)" "$tmp/load.out"

mkdir -p "$tmp/config/natter/prompts"
printf 'name: "evil\\e]0;T\\a"\ndescription: "d\\e[2J"\nsystem: Hi.\n' >"$tmp/config/natter/prompts/ev.yaml"
"$NATTER" --list-personas >"$tmp/lp" 2>&1
grep "ev.yaml" "$tmp/lp" >"$tmp/lp1"
no_esc "--list-personas (name and description)" "$tmp/lp1"
"$NATTER" --check "$tmp/config/natter/prompts/ev.yaml" >"$tmp/ck" 2>&1
no_esc "--check (the persona's name)" "$tmp/ck"
printf 'name: x\nsystem: Hi.\ntemperature: 1 # %s[2J\n' "$ESC" >"$tmp/ctl.yaml"
"$NATTER" --check "$tmp/ctl.yaml" >"$tmp/ctl" 2>&1
no_esc "YAML diagnostics quoting the source line" "$tmp/ctl"
check "the diagnostic still has file:line:col" grep -q "ctl.yaml:3:18: " "$tmp/ctl"
printf '{"spec": "chara_card_v2", "data": {"name": "Ev\\u001b]0;T\\u0007il", "description": "d", "first_mes": "hi"}}' >"$tmp/evcard.json"
"$NATTER" import-card "$tmp/evcard.json" -o "$tmp/evcard.yaml" >"$tmp/ic" 2>&1
no_esc "import-card's 'wrote ...' line" "$tmp/ic"

if [ -f "$STORIES" ] && command -v script >/dev/null 2>&1; then
    "$NATTER" -m "$STORIES" --ctx 128 --seed 5 -n 8 -p "Once upon a time" --save "$tmp/ex.yaml" >/dev/null 2>&1
    sed 's/^  text: " /  text: "\\e]52;c;SGk=\\a\\e[2J /' "$tmp/ex.yaml" >"$tmp/ex2.yaml"
    script -qec "'$NATTER' export '$tmp/ex2.yaml'" /dev/null >"$tmp/ext" 2>&1
    tr -d '\r' <"$tmp/ext" >"$tmp/ext2"
    no_esc "natter export (Markdown) to a terminal" "$tmp/ext2"
    "$NATTER" export "$tmp/ex2.yaml" >"$tmp/exf" 2>&1
    check "natter export to a file keeps the bytes as they are" grep -q "$ESC\[2J" "$tmp/exf"
else
    skip "export to a terminal: $STORIES or script(1) absent"
fi

# --- 2. deeply nested YAML: refused with file:line:col before libyaml's cost explodes ----------
# 40,000 levels took libyaml 6 s to 30 s; a refusal comes at once. The timeout turns a hang
# into a failure (the check is the message, not the time).
deep() { printf "$1"; head -c 40000 /dev/zero | tr '\0' '['; head -c 40000 /dev/zero | tr '\0' ']'; echo; }
deep 'name: deep\nsystem: s\nstop: ' >"$tmp/deep.yaml"
timeout 60 "$NATTER" --check "$tmp/deep.yaml" >"$tmp/deep.out" 2>&1
check "a 40,000-deep persona: --check refuses it at file:line:col ($(head -c 200 "$tmp/deep.out"))" \
    grep -q "deep.yaml:3:70: YAML nested deeper than 64 levels" "$tmp/deep.out"
deep 'natter-session: 1\nmessages: ' >"$tmp/deeps.yaml"
timeout 60 "$NATTER" export "$tmp/deeps.yaml" >"$tmp/deeps.out" 2>&1
check "a 40,000-deep session: export refuses it ($(head -c 200 "$tmp/deeps.out"))" \
    grep -q "deeps.yaml:2:74: YAML nested deeper than 64 levels" "$tmp/deeps.out"
cp "$tmp/deep.yaml" "$tmp/config/natter/prompts/"
timeout 60 "$NATTER" --list-personas >"$tmp/deepl.out" 2>&1
check "--list-personas with a 40,000-deep file in prompts/ lists the rest" grep -q "^ev" "$tmp/deepl.out"
rm "$tmp/config/natter/prompts/deep.yaml"
printf 'name: ok\nsystem: s\nstop: [[[[[[[[[[[["a"]]]]]]]]]]]]\n' >"$tmp/shallow.yaml"
"$NATTER" --check "$tmp/shallow.yaml" >"$tmp/shallow.out" 2>&1
check "12 levels are not refused for their depth" sh -c "! grep -q 'nested deeper' '$tmp/shallow.out'"

# --- 3. FIFOs and other non-regular files: refused at once, saying what they are --------------
# Before, each of these opened the FIFO and waited forever for a writer; the timeout turns a
# hang into a failure, the check is the message.
mkfifo "$tmp/fifo"
fifo_case() { # fifo_case NAME ARGS...: natter ARGS says the FIFO is one, exits non-zero
    _name=$1; shift
    timeout 20 "$NATTER" "$@" </dev/null >"$tmp/ff.out" 2>&1; _rc=$?
    if [ "$_rc" -ne 0 ] && [ "$_rc" -ne 124 ] && grep -q "is a FIFO (named pipe), not a regular file" "$tmp/ff.out"; then ok
    else bad "a FIFO given to $_name (exit $_rc)" "$(cat "$tmp/ff.out")"; fi
}
fifo_case "--check" --check "$tmp/fifo"
fifo_case "import-card" import-card "$tmp/fifo" -o "$tmp/ff.yaml"
fifo_case "info" info "$tmp/fifo"
fifo_case "tokenize" tokenize "$tmp/fifo"
fifo_case "-m" -m "$tmp/fifo" -p hi
fifo_case "replay" replay "$tmp/fifo"
fifo_case "export" export "$tmp/fifo"
fifo_case "--resume" --resume "$tmp/fifo" -p hi
fifo_case "--persona" --persona "$tmp/fifo" -p hi
fifo_case "serve -m" serve -m "$tmp/fifo" --port 0
# The config file of the remote servers (read at every start): a FIFO, and one nested 40,000
# deep, are refused with their place, at once.
mkdir -p "$tmp/cfgf/natter" "$tmp/cfgd/natter"; mkfifo "$tmp/cfgf/natter/config.yaml"
XDG_CONFIG_HOME="$tmp/cfgf" timeout 20 "$NATTER" -m x.gguf -p hi </dev/null >"$tmp/cfg.out" 2>&1
check "a FIFO as the config file ($(head -1 "$tmp/cfg.out"))" \
    grep -q "cfgf/natter/config.yaml: is a FIFO (named pipe), not a regular file" "$tmp/cfg.out"
deep 'api-base: ' >"$tmp/cfgd/natter/config.yaml"
XDG_CONFIG_HOME="$tmp/cfgd" timeout 20 "$NATTER" -m x.gguf -p hi </dev/null >"$tmp/cfg.out" 2>&1
check "a 40,000-deep config file ($(head -c 160 "$tmp/cfg.out"))" \
    grep -q "cfgd/natter/config.yaml:1:74: YAML nested deeper than 64 levels" "$tmp/cfg.out"
printf 'name: p\nsystem: s\ncontext:\n  - file: %s\n' "$tmp/fifo" >"$tmp/pctx.yaml"
fifo_case "a persona's context: file" --check "$tmp/pctx.yaml"
timeout 20 "$NATTER" -m /tmp -p hi </dev/null >"$tmp/dir.out" 2>&1
check "a folder given to -m is called one ($(cat "$tmp/dir.out"))" grep -q "/tmp: is a folder, not a regular file" "$tmp/dir.out"
if [ -f "$STORIES" ]; then
    fifo_case "--context" -m "$STORIES" --context "$tmp/fifo" -p hi
    fifo_case "perplexity -f" perplexity -m "$STORIES" -f "$tmp/fifo"
    fifo_case "--docs" -m "$STORIES" --docs "$tmp/fifo" -p hi
    # The document index's own file: a FIFO there is named (SQLite said "disk I/O error"), a
    # file that is no database says the fix.
    mkdir -p "$tmp/xc/natter/index"; mkfifo "$tmp/xc/natter/index/docs.sqlite"
    XDG_CACHE_HOME="$tmp/xc" timeout 20 "$NATTER" -m "$STORIES" --docs tests/data/docs -p hi </dev/null >"$tmp/xc.out" 2>&1
    check "a FIFO where the document index goes ($(cat "$tmp/xc.out"))" \
        grep -q "docs.sqlite: is a FIFO (named pipe), not a regular file (move it away" "$tmp/xc.out"
    rm "$tmp/xc/natter/index/docs.sqlite"; head -c 4096 /dev/zero | tr '\0' x >"$tmp/xc/natter/index/docs.sqlite"
    XDG_CACHE_HOME="$tmp/xc" timeout 20 "$NATTER" -m "$STORIES" --docs tests/data/docs -p hi </dev/null >"$tmp/xc.out" 2>&1
    check "a document index that is no database says to remove it ($(cat "$tmp/xc.out"))" \
        grep -q "docs.sqlite: file is not a database (remove it: the index is a cache" "$tmp/xc.out"
    "$NATTER" -m "$STORIES" --ctx 128 --seed 5 -n 4 -p "Once" --save "$tmp/mp.yaml" >/dev/null 2>&1
    sed "s|^  path: .*|  path: $tmp/fifo|; s|^  file: .*|  file: fifo|" "$tmp/mp.yaml" >"$tmp/mp2.yaml"
    fifo_case "a session's model.path (replay)" replay "$tmp/mp2.yaml" --check
    fifo_case "a session's model.path (--resume)" --resume "$tmp/mp2.yaml" -p hi
else
    skip "FIFO tests that need a model: $STORIES absent" 7
fi

# --- 4. replay --check checks every field it can recompute -----------------------------------
if [ -f "$STORIES" ]; then
    "$NATTER" -m "$STORIES" --ctx 128 --seed 5 -n 8 -p "Once upon a time" --save "$tmp/rp.yaml" >/dev/null 2>&1
    "$NATTER" replay "$tmp/rp.yaml" --check >"$tmp/rp.out" 2>&1
    check "replay --check of the file as written passes ($(tail -1 "$tmp/rp.out"))" [ $? -eq 0 ]
    # The answer's text edited, its token ids kept.
    sed '/role: assistant/,$ s/^  text: .*/  text: "HACKED TEXT"/' "$tmp/rp.yaml" >"$tmp/rp1.yaml"
    "$NATTER" replay "$tmp/rp1.yaml" --check >"$tmp/rp1.out" 2>&1
    check "replay --check of an edited answer text: exit 1" [ $? -eq 1 ]
    check "replay --check names the edited text ($(head -1 "$tmp/rp1.out"))" \
        grep -qF "message 2: $tmp/rp1.yaml: the recorded text is not the text of its 8 tokens" "$tmp/rp1.out"
    for pl in 3 1000000000; do
        sed "s/^  prompt_length: .*/  prompt_length: $pl/" "$tmp/rp.yaml" >"$tmp/rp2.yaml"
        "$NATTER" replay "$tmp/rp2.yaml" --check >"$tmp/rp2.out" 2>&1
        check "replay --check of prompt_length $pl: exit 1" [ $? -eq 1 ]
        check "replay --check names the prompt length ($(head -1 "$tmp/rp2.out"))" \
            grep -qF "the prompt rebuilt from the recording has 19 tokens, its 'prompt_length' says $pl" "$tmp/rp2.out"
    done
else
    skip "replay --check tests: $STORIES absent" 6
fi

# --- 7. import-card checks the limits before writing anything ---------------------------------
big() { head -c "$1" /dev/zero | tr '\0' a; }
{ printf '{"spec": "chara_card_v2", "data": {"name": "'; big 5000000; printf '", "description": "d"}}'; } >"$tmp/bigname.json"
{ printf '{"spec": "chara_card_v2", "data": {"name": "Big", "description": "'; big 11000000; printf '"}}'; } >"$tmp/bigfield.json"
for c in bigname bigfield; do
    "$NATTER" import-card "$tmp/$c.json" -o "$tmp/$c.yaml" >"$tmp/$c.out" 2>&1
    check "import-card of $c.json: exit 1" [ $? -eq 1 ]
    check "import-card of $c.json: no file left behind" [ ! -e "$tmp/$c.yaml" ]
    check "import-card of $c.json: says nothing was written ($(head -c 300 "$tmp/$c.out"))" \
        grep -q "nothing written" "$tmp/$c.out"
done
check "the limit is named" grep -q "a persona file holds at most 4 MiB" "$tmp/bigfield.out"

# --- 6. the model file truncated while natter runs: a message, not SIGBUS ---------------------
if [ -f "$STORIES" ]; then
    cp "$STORIES" "$tmp/bus.gguf"
    NATTER_TEST_TOKEN_DELAY_MS=30 "$NATTER" -m "$tmp/bus.gguf" --raw --temp 0 --ctx 128 -n 120 \
        -p "Once upon" >"$tmp/bus.out" 2>"$tmp/bus.err" &
    pid=$!
    # The first tokens are out (the weights are being read), then the file shrinks under them.
    i=0; while [ "$i" -lt 100 ] && [ ! -s "$tmp/bus.out" ]; do sleep 0.1; i=$((i + 1)); done
    truncate -s 100000 "$tmp/bus.gguf"
    wait "$pid"; rc=$?
    check "a truncated model ends the one-shot answer with status 1, not SIGBUS ($rc)" [ "$rc" -eq 1 ]
    check "and says the model file changed ($(cat "$tmp/bus.err"))" \
        grep -q "^natter: the model file changed on disk" "$tmp/bus.err"
    check "the answer up to then was printed" [ -s "$tmp/bus.out" ]
else
    skip "truncated model test: $STORIES absent" 3
fi

# --- every way out: the terminal restored, the conversation saved -----------------------------
# idle [TENTHS]: the status bar says idle or stopped.
idle() {
    i=0; lim=${1:-150}
    while [ "$i" -lt "$lim" ]; do
        cap | tail -n 1 | grep -qE " (idle|stopped) *$" && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
natter_pid() { pgrep -P "$(T display-message -p -t nt '#{pane_pid}')" 2>/dev/null | head -n 1; }
# ways NAME DELAY_MS: a fresh chat with a sessions folder of its own, the question asked.
ways() {
    st="$tmp/ways-$1"; mkdir -p "$st"
    t_fresh
    T new-session -d -s nt -x 100 -y 30 \
        "env XDG_STATE_HOME='$st' HOME='$tmp' XDG_CONFIG_HOME='$tmp/config' INPUTRC=/dev/null \
         LANG=C.UTF-8 LC_ALL=C.UTF-8 NATTER_TEST_TOKEN_DELAY_MS=$2 '$NATTER' -m '$GUIDE' --temp 0 -n 40; \
         echo \"EXIT=\$?\"; sleep 600"
    T set-option -t nt status off >/dev/null
    wait_for "F1 shows the keys" 150 || return 1
    T send-keys -t nt "How do I quit natter?" Enter
}
saved() { grep -qs "How do I quit natter" "$st"/natter/sessions/*.yaml; }
# answered: the answer's end autosaved it. Waited for after idle, which can match the status
# bar of before the question (then a Ctrl-C stopped the answer instead of quitting).
answered() { until_ok 150 saved; }
restored() { ! cap | grep -q "F1 shows the keys"; }
way_check() { # way_check NAME EXIT
    if wait_for "EXIT=$2" 150 && restored && saved; then ok "$1: exit $2, terminal restored, session saved"
    else bad "$1: exit $2, terminal restored, session saved" "$(cap; ls -l "$st"/natter/sessions 2>&1)"; fi
}
if command -v tmux >/dev/null 2>&1 && [ -f "$GUIDE" ]; then
    ways quit 0 && idle 300 && answered && T send-keys -t nt "/quit" Enter
    way_check "/quit" 0
    ways ctrlc 0 && idle 300 && answered && T send-keys -t nt C-c && wait_for "press Ctrl-C again" && T send-keys -t nt C-c
    way_check "Ctrl-C twice" 0
    # Mid-answer: 300 ms a token, the signal comes while it is written.
    for sig in TERM:143 HUP:129; do
        ways "${sig%%:*}" 300 && sleep 1.5
        pid=$(natter_pid)
        if [ -n "$pid" ]; then kill -"${sig%%:*}" "$pid"; way_check "SIG${sig%%:*} during an answer" "${sig#*:}"
        else bad "SIG${sig%%:*}: natter's pid not found" "$(cap)"; fi
    done
    # A SIGBUS that is no model file's (the guard passes it on): restored, then re-raised.
    ways bus 0 && idle 300 && answered
    pid=$(natter_pid)
    if [ -n "$pid" ]; then
        kill -BUS "$pid"
        if wait_for "EXIT=135" 100 && restored; then ok; else bad "SIGBUS: terminal restored, exit 135" "$(cap)"; fi
    else
        bad "SIGBUS: natter's pid not found" "$(cap)"
    fi
    # A crash (SIGSEGV) after an answer: the terminal restored, the signal raised again (exit
    # 139: the shell sees the crash), the conversation in its file (autosaved after the answer;
    # nothing more is written from inside a crashed process).
    ways segv 0 && idle 300 && answered
    pid=$(natter_pid)
    if [ -n "$pid" ]; then
        kill -SEGV "$pid"
        way_check "SIGSEGV after an answer" 139
    else
        bad "SIGSEGV: natter's pid not found" "$(cap)"
    fi
    T kill-session -t nt 2>/dev/null
else
    skip "ways out: tmux or $GUIDE absent" 6
fi

# --- 9. a terminal without cursor addressing: the chat line by line -------------------------
# TERM=dumb: before, the chat drew only its status bar and answered unseen. Now a plain chat:
# said once, questions answered visibly, /help, Ctrl-C stops an answer and a question typed
# meanwhile is asked next, /quit saves and leaves; the raw output (tmux pipe-pane) holds no
# escape sequence at all. TERM unset gets the same, saying so.
plain_start() { # plain_start NAME ENV...: the chat in tmux with ENV (and PLAIN_ARGS), its raw output logged
    st="$tmp/plain-$1"; mkdir -p "$st"; shift
    t_fresh
    T new-session -d -s nt -x 120 -y 50 \
        "env $* XDG_STATE_HOME='$st' HOME='$tmp' XDG_CONFIG_HOME='$tmp/config' LANG=C.UTF-8 \
         LC_ALL=C.UTF-8 '$NATTER' -m '$GUIDE' --temp 0 -n 40 ${PLAIN_ARGS:-}; echo \"EXIT=\$?\"; sleep 600"
    T set-option -t nt status off >/dev/null
    : >"$st/raw"
    T pipe-pane -t nt "cat >>'$st/raw'"
}
if command -v tmux >/dev/null 2>&1 && [ -f "$GUIDE" ]; then
    plain_start dumb TERM=dumb NATTER_TEST_TOKEN_DELAY_MS=0
    if wait_for "this is a plain line-by-line chat instead" 150; then
        if cap | grep -q "TERM=dumb cannot move the cursor"; then ok; else bad "TERM=dumb: the reason is said" "$(cap)"; fi
        T send-keys -t nt "How do I quit natter?" Enter
        # The whole answer (under ASan it streams slowly; a line typed meanwhile would join it).
        if wait_for "Ctrl-D twice on an empty line." 300; then ok "TERM=dumb: the question is answered visibly"
        else bad "TERM=dumb: the question is answered visibly" "$(cap)"; fi
        T send-keys -t nt "/help" Enter
        if wait_for "  /sessions " 50; then ok; else bad "TERM=dumb: /help lists the commands" "$(cap)"; fi
        T send-keys -t nt "/set temp" Enter
        if wait_for "natter: temp = 0" 50; then ok; else bad "TERM=dumb: a command's answer" "$(cap)"; fi
        # Branches: /regen writes the new answer; /branch 1 shows the first one again,
        # written out again below (three answers on the terminal in all).
        T send-keys -t nt "/regen" Enter
        _k=0; while [ "$_k" -lt 300 ] && [ "$(cap | grep -c 'Ctrl-D twice on an empty line\.$')" -lt 2 ]; do sleep 0.1; _k=$((_k + 1)); done
        T send-keys -t nt "/branch 1" Enter
        if wait_for "alternative 1 of 2; " 100 && [ "$(cap | grep -c '^Assistant: Type /quit')" -eq 3 ]; then ok
        else bad "TERM=dumb: /regen and /branch write the answer shown" "$(cap)"; fi
        # /replay: its view grows token by token on the same lines, then the verdict.
        T send-keys -t nt "/replay $(ls "$st"/natter/sessions/ | head -n 1 | sed 's/\.yaml$//')" Enter
        if wait_for "replay done: 2 of 2 answers matched the recording" 200 &&
           [ "$(cap | grep -c '^ *Type /quit, or press Ctrl-C twice')" -ge 2 ] &&
           cap | grep -q '^-> matched the recording'; then ok
        else bad "TERM=dumb: /replay writes its view as it grows" "$(cap)"; fi
        # /ab: both sides written, labelled, then its a/b question answered by a line.
        T send-keys -t nt "/ab temp=0 top-k=1" Enter
        if wait_for "Keep A or B? (a/b)" 200 && cap | grep -q '^Assistant (A: temp=0): Type /quit' &&
           cap | grep -q '^Assistant (B: top-k=1): Type /quit'; then
            T send-keys -t nt "a" Enter
            if wait_for "natter: kept A (temp=0)" 100; then ok; else bad "TERM=dumb: /ab's choice" "$(cap)"; fi
        else
            bad "TERM=dumb: /ab writes both sides and asks" "$(cap)"
        fi
        T send-keys -t nt "/quit" Enter
        if wait_for "EXIT=0" 100; then ok; else bad "TERM=dumb: /quit leaves with status 0" "$(cap)"; fi
        check "TERM=dumb: the session is saved" grep -qs "How do I quit natter" "$st"/natter/sessions/*.yaml
        if cap | grep -q "natter: continue it with: natter --resume"; then ok; else bad "TERM=dumb: leaving says where it is saved" "$(cap)"; fi
        if grep -q "$ESC" "$st/raw"; then bad "TERM=dumb: an escape sequence was written" "$(grep "$ESC" "$st/raw" | head -3 | cat -v)"
        else ok; fi
    else
        bad "TERM=dumb: the plain chat did not start" "$(cap)"
    fi
    # Ctrl-C mid-answer (300 ms a token): the answer ends [stopped], and the question typed
    # during it is asked next.
    plain_start stop TERM=dumb NATTER_TEST_TOKEN_DELAY_MS=300
    if wait_for "this is a plain line-by-line chat instead" 150; then
        T send-keys -t nt "How do I quit natter?" Enter
        sleep 1.5
        T send-keys -t nt "What is natter?" Enter
        if wait_for "the question waits for the answer to end" 50; then ok; else bad "TERM=dumb: a question typed during an answer waits" "$(cap)"; fi
        T send-keys -t nt C-c
        if wait_for "[stopped]" 100; then ok; else bad "TERM=dumb: Ctrl-C stops the answer" "$(cap)"; fi
        if wait_for "You: What is natter?" 100; then ok; else bad "TERM=dumb: the waiting question is asked after it" "$(cap)"; fi
        sleep 1; T send-keys -t nt C-c; sleep 0.5
        T send-keys -t nt "/quit" Enter
        if wait_for "EXIT=0" 200; then ok; else bad "TERM=dumb: /quit after the stop" "$(cap)"; fi
    else
        bad "TERM=dumb: the plain chat did not start (stop test)" "$(cap)"
    fi
    plain_start unset -u TERM
    if wait_for "TERM is not set, so the chat screen cannot be drawn" 150; then ok; else bad "TERM unset: the plain chat, saying why" "$(cap)"; fi
    T send-keys -t nt C-d; sleep 0.3; T send-keys -t nt C-d
    if wait_for "EXIT=0" 100; then ok; else bad "TERM unset: Ctrl-D twice leaves" "$(cap)"; fi
    # --plain: the same chat on a terminal that could draw the screen, said without a reason;
    # a question answered, and no escape sequence written (the screen would write many).
    PLAIN_ARGS=--plain plain_start asked TERM=xterm-256color NATTER_TEST_TOKEN_DELAY_MS=0
    if wait_for "natter: the plain line-by-line chat (--plain)." 150; then ok; else bad "--plain: the plain chat on xterm-256color" "$(cap)"; fi
    T send-keys -t nt "How do I quit natter?" Enter
    if wait_for "Assistant:" 300 && ! cap | grep -q "F1 shows the keys"; then ok; else bad "--plain: the question answered as lines" "$(cap)"; fi
    T send-keys -t nt "/quit" Enter
    if wait_for "EXIT=0" 100; then ok; else bad "--plain: /quit leaves" "$(cap)"; fi
    if grep -q "$ESC" "$st/raw"; then bad "--plain: an escape sequence was written" "$(grep "$ESC" "$st/raw" | head -3 | cat -v)"
    else ok; fi
    T kill-session -t nt 2>/dev/null
else
    skip "the plain chat: tmux or $GUIDE absent" 16
fi

# --- 8. messages: the file, the place, the reason, the fix -------------------------------------
"$NATTER" -m x.gguf --ctx 2 -p hi >/dev/null 2>"$tmp/ctx1"
"$NATTER" -m x.gguf --ctx 99999999 -p hi >/dev/null 2>"$tmp/ctx2"
check "--ctx states its range one way ($(cat "$tmp/ctx1") / $(cat "$tmp/ctx2"))" sh -c \
    "grep -q '(16 to 1048576, or 0)' '$tmp/ctx1' && grep -q '(16 to 1048576, or 0)' '$tmp/ctx2'"
if [ -f "$STORIES" ]; then
    "$NATTER" -m "$STORIES" --ctx 128 --seed 5 -n 4 -p "Once" --save "$tmp/at.yaml" >/dev/null 2>&1
    sed 's/^  end: /  changes: [{at: 99999999999, param: temp, value: 1}]\n  end: /' "$tmp/at.yaml" >"$tmp/at2.yaml"
    "$NATTER" export "$tmp/at2.yaml" >"$tmp/at.out" 2>&1
    check "a range is said in whole numbers ($(head -1 "$tmp/at.out"))" \
        grep -q "'at' must be between 0 and 1073741824, not 99999999999" "$tmp/at.out"
else
    skip "range message: $STORIES absent"
fi
mkdir -p "$tmp/card-dir"
"$NATTER" import-card "$tmp/card-dir" >"$tmp/cd.out" 2>&1
check "import-card on a folder says it is one ($(cat "$tmp/cd.out"))" grep -q "card-dir: is a folder, not a regular file" "$tmp/cd.out"
if [ -f "$STORIES" ]; then
    long=$(head -c 400 /dev/zero | tr '\0' 'a' | sed 's/a/a b /g')
    "$NATTER" -m "$STORIES" --ctx 16 -p "$long" >/dev/null 2>"$tmp/full.err"
    check "a prompt longer than the context names the model file ($(cat "$tmp/full.err"))" \
        grep -q "^natter: $STORIES: the prompt needs [0-9]* tokens but the context holds 16 (a longer context: --ctx N" "$tmp/full.err"
else
    skip "context message: $STORIES absent"
fi
if command -v tmux >/dev/null 2>&1 && [ -f "$GUIDE" ]; then
    # The sessions folder is a file: /sessions says so instead of "no saved sessions", and
    # only that (before, the list's "saved sessions, newest first" came after it).
    mkdir -p "$tmp/st/natter"; : >"$tmp/st/natter/sessions"
    t_fresh
    T new-session -d -s nt -x 150 -y 30 \
        "env XDG_STATE_HOME='$tmp/st' HOME='$tmp' LANG=C.UTF-8 '$NATTER' -m '$GUIDE' --temp 0 -n 10; echo \"EXIT=\$?\"; sleep 600"
    T set-option -t nt status off >/dev/null
    if wait_for "F1 shows the keys" 150; then
        T send-keys -t nt "/sessions" Enter
        if wait_for "/sessions: the sessions folder $tmp/st/natter/sessions is a file, not a folder" 50 &&
           ! cap | grep -q "saved sessions, newest first"; then ok
        else bad "/sessions with the sessions folder a file" "$(cap)"; fi
    else
        bad "natter did not start in tmux" "$(cap)"
    fi
    T kill-session -t nt 2>/dev/null
else
    skip "/sessions message: tmux or $GUIDE absent"
fi
# The chat screen at 100 columns: a long error wraps onto more rows instead of losing its
# reason at the edge (/save into a folder that is not there); /replay says which message of
# which file differs, and how, as `natter replay --check` does; an error names the file.
if command -v tmux >/dev/null 2>&1 && [ -f "$STORIES" ]; then
    "$NATTER" -m "$STORIES" --ctx 128 --seed 5 -n 8 -p "Once upon a time" --save "$tmp/rpc.yaml" >/dev/null 2>&1
    sed '/role: assistant/,$ s/^  text: .*/  text: "HACKED TEXT"/' "$tmp/rpc.yaml" >"$tmp/rpc1.yaml"
    sed "s|^  path: .*|  path: $tmp/gone.gguf|; s|^  file: .*|  file: gone.gguf|; s|^  hash: .*|  hash: xxh3:0123456789abcdef|" \
        "$tmp/rpc.yaml" >"$tmp/rpc2.yaml"
    t_fresh
    T new-session -d -s nt -x 100 -y 40 \
        "env XDG_STATE_HOME='$tmp/st2' HOME='$tmp' LANG=C.UTF-8 '$NATTER' -m '$STORIES' --ctx 128 -n 10; echo \"EXIT=\$?\"; sleep 600"
    T set-option -t nt status off >/dev/null
    if wait_for "F1 shows the keys" 150; then
        T send-keys -t nt "/save $tmp/no-such/deeper/x.yaml" Enter
        if wait_for "/save: cannot save: $tmp/no-such/deeper/x.yaml" 50 && wait_for "does not exist" 10 &&
           wait_for "write elsewhere)" 10; then ok "a long /save error wraps with its reason and fix"
        else bad "a long /save error wraps with its reason and fix" "$(cap)"; fi
        T send-keys -t nt "/replay $tmp/rpc1.yaml" Enter
        if wait_for "replay done: 0 of 1" 150 && wait_for "-> message 2: $tmp/rpc1.yaml: the recorded text" 10
        then ok "/replay names the message, the file and the difference"
        else bad "/replay names the message, the file and the difference" "$(cap)"; fi
        T send-keys -t nt "/replay $tmp/rpc2.yaml" Enter
        if wait_for "replay: $tmp/rpc2.yaml: the recorded model gone.gguf was not found" 150
        then ok "/replay's error names the session file"
        else bad "/replay's error names the session file" "$(cap)"; fi
    else
        bad "natter did not start in tmux (100 columns)" "$(cap)"
    fi
    T kill-session -t nt 2>/dev/null
    "$NATTER" replay "$tmp/rpc2.yaml" --check >/dev/null 2>"$tmp/rpc2.err"
    check "replay of a session whose model is gone names the session ($(cat "$tmp/rpc2.err"))" \
        grep -qF "natter replay: $tmp/rpc2.yaml: the recorded model gone.gguf was not found" "$tmp/rpc2.err"
else
    skip "the chat's messages at 100 columns: tmux or $STORIES absent" 4
fi

finish
