#!/usr/bin/env python3
"""drill.py - writes the drills of the open-book recipe (make model-openbook) into OUT_DIR: a
Markdown document of made-up facts (drill.md) and questions about them (drill.yaml, trained;
drill-eval.yaml, held-out facts for natter train --eval), and copy drills (repeat.yaml).

Why: trained on natter's own documents, the small guide model learns their facts by heart
and never learns to read a passage (earlier runs: 0 of 38 README/man questions answered).
Here every option, command, subcommand, view and path name is invented and used once (keys,
numbers and verbs are drawn at random), so no answer can be remembered: the only way to the answer is to find the question's words in
a retrieved passage and copy the sentence that holds them. Each answer is that sentence,
word for word; its key phrase is the invented part the question asks for. The sections
look like natter's documentation (headings, options, chat commands, keys, ports, paths,
defaults), so what the model learns to read is the kind of text the guide retrieves.

The drill document is for training only: never give it to a persona (its facts are false).
Deterministic (fixed seed); 5 MB of text, so it is written at training time, not kept in
the repository. Run from the checkout's root (make model-openbook does):

    python3 models/openbook/drill.py OUT_DIR
"""
import os
import random
import sys

SEED = 20261207
N_SECTIONS = 1100
EVAL_EVERY = 11  # every 11th section's facts are held out (drill-eval.yaml)

CONS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "gl",
        "pl", "st", "tr", "sn", "cr", "fl", "gr", "sk", "th", "ch", "sh", "qu", "w", "j"]
VOWS = ["a", "e", "i", "o", "u", "oo", "ea", "ai", "ou", "y"]
ENDS = ["", "", "", "n", "r", "x", "sk", "le", "ble", "nd", "mp", "rt", "t", "ck", "m"]

VERBS = [("keep", "keeps"), ("drop", "drops"), ("show", "shows"), ("hide", "hides"),
         ("save", "saves"), ("load", "loads"), ("reset", "resets"), ("list", "lists"),
         ("clear", "clears"), ("copy", "copies"), ("move", "moves"), ("sort", "sorts"),
         ("check", "checks"), ("limit", "limits"), ("mark", "marks"), ("open", "opens"),
         ("close", "closes"), ("print", "prints"), ("count", "counts"), ("merge", "merges"),
         ("split", "splits"), ("rename", "renames"), ("pin", "pins"), ("undo", "undoes"),
         ("replay", "replays"), ("export", "exports"), ("import", "imports"),
         ("compress", "compresses"), ("scroll", "scrolls"), ("toggle", "toggles"),
         ("freeze", "freezes"), ("skip", "skips"), ("repeat", "repeats"), ("trim", "trims"),
         ("stretch", "stretches"), ("rotate", "rotates"), ("lock", "locks"),
         ("unlock", "unlocks"), ("send", "sends"), ("fetch", "fetches")]
NOUNS = ["buffer", "history", "answer", "question", "token", "prompt", "session", "branch",
         "theme", "persona", "passage", "index", "cache", "model", "slider", "window",
         "title", "summary", "list", "queue", "request", "reply", "message", "note",
         "folder", "file", "limit", "score", "seed", "layer", "table", "column", "color",
         "status line", "side panel", "log", "draft", "template", "vocabulary", "turn"]
UNITS = ["tokens", "seconds", "messages", "requests", "lines", "files", "megabytes", "turns"]
MODS = ["Ctrl", "Alt", "Shift"]
LETTERS = list("ABCDEFGHJKLMNOPQRSTUVWXYZ") + ["Up", "Down", "Left", "Right", "Tab", "Enter"]


class Words:
    """Invented words, each used once, so no two facts share one."""

    def __init__(self, rng):
        self.rng = rng
        self.used = set()

    def pool(self, rng):
        """Any invented word, used or not (for the copy drills)."""
        if not hasattr(self, "_pool"):
            self._pool = sorted(self.used)
        return rng.choice(self._pool)

    def new(self):
        while True:
            n = self.rng.choice([2, 2, 2, 3])
            w = "".join(self.rng.choice(CONS) + self.rng.choice(VOWS) for _ in range(n))
            w += self.rng.choice(ENDS)
            if 4 <= len(w) <= 11 and w not in self.used:
                self.used.add(w)
                return w


def fact(rng, words, topic):
    """One made-up fact: (sentence, [(question, key)...])."""
    kind = rng.choice(["option", "option", "command", "command", "key", "number", "path",
                       "default", "subcommand"])
    verb, verbs = rng.choice(VERBS)
    noun = rng.choice(NOUNS)
    adj = words.new()
    obj = f"{adj} {noun}"
    if kind == "option":
        opt = "--" + words.new() + rng.choice(["", "", "-" + rng.choice(NOUNS).split()[0]])
        s = rng.choice([f"`{opt}` {verbs} the {obj}.",
                        f"`{opt} N` {verbs} the {obj} after N {rng.choice(UNITS)}.",
                        f"With `{opt}`, natter {verbs} the {obj} of {topic}."])
        qs = [(rng.choice([f"What does {opt} do?", f"what is the {opt} option for",
                           f"How do I use {opt}?"]), obj),
              (rng.choice([f"Which option {verbs} the {obj}?",
                           f"how do I {verb} the {obj}", f"option to {verb} the {obj}"]), opt)]
    elif kind == "command":
        cmd = "/" + words.new()
        s = rng.choice([f"`{cmd}` {verbs} the {obj}.",
                        f"Type `{cmd}` in the chat to {verb} the {obj}.",
                        f"`{cmd} NAME` {verbs} the {obj} called NAME."])
        qs = [(rng.choice([f"What does {cmd} do?", f"what is {cmd} for"]), obj),
              (rng.choice([f"Which command {verbs} the {obj}?",
                           f"how do I {verb} the {obj} in the chat"]), cmd)]
    elif kind == "key":
        key = rng.choice(MODS) + "-" + rng.choice(LETTERS)
        view = words.new()
        s = rng.choice([f"In the {view} view, {key} {verbs} the {noun}.",
                        f"{key} {verbs} the {noun} of the {view} view."])
        qs = [(rng.choice([f"Which key {verbs} the {noun} in the {view} view?",
                           f"how do I {verb} the {noun} in the {view} view"]), key),
              (f"What does {key} do in the {view} view?", f"{verbs} the {noun}")]
    elif kind == "number":
        thing = words.new()
        num = str(rng.choice([rng.randint(2, 99), rng.randint(100, 9999), rng.randint(1000, 65535)]))
        unit = rng.choice(UNITS)
        if rng.random() < 0.4:
            s = f"The {thing} server listens on port {num} by default."
            qs = [(rng.choice([f"Which port does the {thing} server use?",
                               f"what port does {thing} listen on"]), num)]
        else:
            s = rng.choice([f"The {thing} {noun} holds at most {num} {unit}.",
                            f"At most {num} {unit} fit in the {thing} {noun}."])
            qs = [(rng.choice([f"How many {unit} does the {thing} {noun} hold?",
                               f"what is the limit of the {thing} {noun}"]), num)]
    elif kind == "path":
        thing = words.new()
        path = rng.choice(["~/.config/", "~/.cache/", "~/.local/share/"]) + f"natter/{words.new()}/"
        s = rng.choice([f"{thing.capitalize()} files are kept in `{path}`.",
                        f"natter writes the {thing} {noun} to `{path}`."])
        qs = [(rng.choice([f"Where are the {thing} files kept?", f"where does natter write the {thing} {noun}",
                           f"{thing} folder"]), path)]
    elif kind == "default":
        thing = words.new()
        val = rng.choice([str(rng.randint(100, 999)), words.new(), words.new(), f"{rng.randint(1, 9)}.{rng.randint(0, 9)}"])
        s = rng.choice([f"The default {noun} of {thing} is {val}.",
                        f"{thing.capitalize()} uses a {noun} of {val} unless told otherwise."])
        qs = [(rng.choice([f"What is the default {noun} of {thing}?", f"default {noun} for {thing}"]), val)]
    else:
        sub = words.new()
        s = rng.choice([f"`natter {sub}` {verbs} the {obj} and exits.",
                        f"`natter {sub} FILE` {verbs} the {obj} of FILE."])
        qs = [(rng.choice([f"What does natter {sub} do?", f"what is natter {sub} for"]), obj),
              (rng.choice([f"Which subcommand {verbs} the {obj}?",
                           f"how do I {verb} the {obj} from the shell"]), f"natter {sub}")]
    return s, qs


def plural(noun):
    return noun[:-1] + "ies" if noun.endswith("y") else noun + "es" if noun.endswith(("x", "ch", "sh")) else noun + "s"


def yaml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: drill.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(SEED)
    words = Words(rng)
    doc = ["# The reading drill (made-up facts: for training only)", "",
           "Written by models/openbook/drill.py. Nothing here is",
           "true of natter; the guide model learns from it to answer from a passage.", ""]
    train, held = [], []
    for i in range(N_SECTIONS):
        topic = words.new()
        title = f"{topic.capitalize()} {plural(rng.choice(NOUNS))}"
        doc.append(f"## {title}")
        doc.append("")
        facts = [fact(rng, words, topic) for _ in range(rng.randint(2, 4))]
        style = rng.choice(["prose", "list", "lines"])
        if style == "prose":
            body = [" ".join(s for s, _ in facts)]
        elif style == "list":
            body = ["- " + s for s, _ in facts]
        else:
            body = [s for s, _ in facts]
        doc.extend(body if style != "lines" else "\n\n".join(body).split("\n"))
        doc.append("")
        dest = held if i % EVAL_EVERY == 0 else train
        for s, qs in facts:
            for q, key in qs:
                dest.append((q, s, key))
        # The whole section, word for word: a long copy, the most of the skill per sequence
        # (its key phrase: the last fact's first one).
        q = rng.choice([f"What does the documentation say about {title.lower()}?",
                        f"Quote the section on {title.lower()}.", f"tell me about {title.lower()}"])
        dest.append((q, " ".join(s for s, _ in facts), facts[-1][1][0][1]))
    with open(os.path.join(out, "drill.md"), "w") as f:
        f.write("\n".join(doc))
    head = ("# Written by models/openbook/drill.py.\n"
            "# The reading drill's questions about drill.md (made-up facts); each\n"
            "# answer is the passage's sentence word for word.\n")
    with open(os.path.join(out, "drill.yaml"), "w") as f:
        f.write(head + "examples:\n")
        for q, s, key in train:
            f.write(f"  - user: {yaml_str(q)}\n    assistant: {yaml_str(s)}\n    key: {yaml_str(key)}\n")
    rep = repeat_pairs(rng, words, 9000)
    with open(os.path.join(out, "repeat.yaml"), "w") as f:
        f.write("# Written by models/openbook/drill.py.\n"
                "# Copy drills (see the script): the last 500 are held out for natter train --eval.\n"
                "examples:\n")
        for j, (q, a, key) in enumerate(rep):
            f.write(f"  - {'heldout: [' + yaml_str(q) + ']' if j >= len(rep) - 500 else 'user: ' + yaml_str(q)}\n"
                    f"    assistant: {yaml_str(a)}\n    key: {yaml_str(a)}\n")
    with open(os.path.join(out, "drill-eval.yaml"), "w") as f:
        f.write(head + "# Held out: facts of sections never trained (natter train --eval).\nexamples:\n")
        for q, s, key in held:
            f.write(f"  - heldout: [{yaml_str(q)}]\n    assistant: {yaml_str(s)}\n    key: {yaml_str(key)}\n")


def repeat_pairs(rng, words, n):
    """Copy drills: a line of words (invented ones among them) to say back. Every token of the
    answer is only predictable by copying, so these teach copying fast; the passage drill then
    learns where to copy from."""
    out = []
    for _ in range(n):
        k = rng.randint(6, 28)
        line = []
        for _ in range(k):
            r = rng.random()
            line.append(words.pool(rng) if r < 0.5 else rng.choice(NOUNS) if r < 0.7 else
                        rng.choice(VERBS)[1] if r < 0.85 else str(rng.randint(0, 9999)) if r < 0.93 else
                        "--" + words.pool(rng) if r < 0.97 else "/" + words.pool(rng))
        text = " ".join(line)
        q = rng.choice(["Repeat after me: ", "Say this back: ", "Copy this line: ", "repeat: ", "Echo: "])
        out.append((q + text, text, line[-1]))
    return out


if __name__ == "__main__":
    main()
