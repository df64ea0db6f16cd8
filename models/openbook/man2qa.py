#!/usr/bin/env python3
"""man2qa.py - writes models/openbook/man.yaml: open-book training pairs from the entries of
man/natter.1 (options, commands, keys, chat commands), so the guide model learns to answer by
reading a man page's passage, not only the corpus's own.

Each .TP entry becomes a question about its option, command or key, phrased a few ways, whose
answer is the entry's first sentence or two as the page says them, and whose key phrase is
three of its words (make model-openbook's --persona training places the passages retrieval finds and
checks that one holds the key). Entries that touch what models/eval/docs.yaml asks (an eval key
phrase in the entry, or the entry's subject in an eval question or answer) are left out, so
that held-out set stays held out. Run from the checkout's root:

    python3 models/openbook/man2qa.py > models/openbook/man.yaml
"""
import re
import sys

SECTIONS = {"OPTIONS": "option", "COMMANDS": "subcommand", "KEYS": "key", "CHAT COMMANDS": "chat"}

ESCAPES = [("\\-", "-"), ("\\fB", ""), ("\\fI", ""), ("\\fR", ""), ("\\fP", ""), ("\\(em", "\u2014"),
           ("\\(en", "\u2013"), ("\\(aq", "'"), ("\\(dq", '"'), ("\\(mu", "\u00d7"), ("\\(S2", "\u00b2"),
           ("\\(bu", "*"), ("\\(<=", "<="), ("\\(>=", ">="), ("\\(->", "->"), ("\\e", "\\"),
           ("\\ ", " "), ("\\&", ""), ("\\|", ""), ("\\c", "")]


def unescape(s):
    for a, b in ESCAPES:
        s = s.replace(a, b)
    return s


def macro_args(rest):
    """Splits a font macro's arguments: quoted strings keep their spaces."""
    out, cur, q, i = [], "", False, 0
    while i < len(rest):
        c = rest[i]
        if c == '"':
            q = not q
        elif c == " " and not q:
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    if cur:
        out.append(cur)
    return out


def roff_line(line):
    """One roff line as text, or None for requests that carry none."""
    if line.startswith(".\\\""):
        return None
    m = re.match(r"^\.(B|I|BR|IR|BI|IB|RB|RI)(?:\s+(.*))?$", line)
    if m:
        args = macro_args(m.group(2) or "")
        if m.group(1) in ("B", "I"):
            return unescape(" ".join(args))
        return unescape("".join(args))
    if line.startswith("."):
        return None
    return unescape(line)


def entries(lines):
    """(section, tag, description) for each .TP entry of the sections above."""
    sec, i = None, 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith(".SH "):
            sec = ln[4:].strip().strip('"')
        if ln.startswith(".TP") and sec in SECTIONS and i + 1 < len(lines):
            tag = roff_line(lines[i + 1]) or ""
            j, desc = i + 2, []
            while j < len(lines) and not re.match(r"^\.(TP|PP|SH|SS|RS|RE|IP|nf|EX)\b", lines[j]):
                t = roff_line(lines[j])
                if t is not None:
                    desc.append(t)
                j += 1
            text = " ".join(desc)
            text = re.sub(r"\s+", " ", text).strip()
            text = re.sub(r" ([,.;:)])", r"\1", text)
            text = re.sub(r"\( ", "(", text)
            if tag and text:
                yield sec, tag.strip(), text
            i = j
            continue
        i += 1


def subject(kind, tag):
    if kind == "option":
        m = re.search(r"--[a-z0-9][a-z0-9-]*", tag)
        return m.group(0) if m else None
    if kind == "chat":
        m = re.match(r"^(/[a-z]+)", tag)
        return m.group(1) if m else None
    if kind == "subcommand":
        m = re.match(r"^(natter [a-z][a-z-]*)", tag)
        return m.group(1) if m else None
    if kind == "key":
        return tag if len(tag) <= 24 else None
    return None


PHRASINGS = {
    "option": ["What does {s} do?", "what is the {s} option for", "{s} option", "How do I use {s}?"],
    "subcommand": ["What does {s} do?", "what is {s} for", "how do I use {s}"],
    "key": ["What does {s} do?", "what happens when I press {s}", "{s} key"],
    "chat": ["What does {s} do?", "what is the {s} command for", "{s} command", "How do I use {s}?"],
}


def answer_of(text):
    """The first sentence, and the second when the first is short; at most ~260 characters."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z(/\-])", text)
    ans = parts[0]
    if len(ans) < 70 and len(parts) > 1:
        ans += " " + parts[1]
    if len(ans) > 260:
        cut = ans[:260]
        k = max(cut.rfind("; "), cut.rfind(", "))
        ans = (cut[:k] if k > 80 else cut.rsplit(" ", 1)[0]) + "."
    return ans


def key_of(ans):
    """Three consecutive plain words of the answer: found in the passage, whatever its markup."""
    words = ans.split(" ")
    for i in range(len(words) - 2):
        w = words[i:i + 3]
        if all(re.fullmatch(r"[A-Za-z]{3,}", x) for x in w):
            return " ".join(w)
    return None


def yaml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    lines = open("man/natter.1", encoding="utf-8").read().split("\n")
    ev = open("models/eval/docs.yaml", encoding="utf-8").read()
    ev_keys = [k.lower() for k in re.findall(r'^\s*key:\s*"(.*)"\s*$', ev, re.M)]
    ev_text = ev.lower()
    out, seen = [], set()
    for sec, tag, text in entries(lines):
        kind = SECTIONS[sec]
        s = subject(kind, tag)
        if not s or s in seen:
            continue
        low = text.lower() + " " + tag.lower()
        if any(k in low for k in ev_keys) or s.lower() in ev_text:
            continue  # the held-out set asks about it
        ans = answer_of(text)
        key = key_of(ans)
        if not key or len(ans) < 20:
            continue
        seen.add(s)
        ph = [p.format(s=s) for p in PHRASINGS[kind]]
        out.append((ph, ans, key))
    w = sys.stdout.write
    w("# Generated by models/openbook/man2qa.py from man/natter.1: do not edit, run it again.\n")
    w("# Open-book training pairs whose answers are the man page's own words (see the script).\n")
    w("examples:\n")
    for ph, ans, key in out:
        w("  - user: %s\n" % yaml_str(ph[0]))
        w("    also: [%s]\n" % ", ".join(yaml_str(p) for p in ph[1:]))
        w("    assistant: %s\n" % yaml_str(ans))
        w("    key: %s\n" % yaml_str(key))


main()
