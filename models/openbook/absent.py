#!/usr/bin/env python3
"""absent.py - writes OUT.yaml: more open-book training questions about things natter does
not have, each answered "The documents do not say." (make model-openbook trains them with
the hand-written models/openbook/absent.yaml).

Why: asked about something it does not have, the guide model is handed the passages that
match the question's other words best (a facts passage about themes for "a built-in VPN")
and copies one: 11 of 40 of models/eval/unknown.yaml's questions got "The documents do not
say." after training on absent.yaml's 40 hand-written things. Here a few hundred more
things, asked the ways people ask (can it, does it have, is there, does it support), so
that the model learns that passages which do not name the thing asked about do not answer.

Nothing here may be something natter has (none is named in README, the man pages or the
corpus: searched when the list was written), and nothing may be what unknown.yaml asks
about: a thing sharing a content word with one of its questions is left out, so that set
stays held out. Deterministic. Run from the checkout's root:

    python3 models/openbook/absent.py OUT.yaml
"""
import random
import re
import sys

SEED = 20261209

# Things a program could have; natter has none of them.
THINGS = """calendar|email client|weather forecast|spreadsheet editor|photo editor|video player|
music player|GPS navigation|alarm clock|todo app|contact book|web shop|crypto wallet|
stock ticker|fitness tracker|sleep tracker|barcode scanner|QR code generator|PDF editor|
slide show maker|video editor|screen recorder app|remote desktop|SSH client|FTP client|
torrent client|ad blocker|antivirus scanner|firewall|disk defragmenter|partition editor|
printer driver|scanner driver|webcam filter|chat with friends|social network feed|
dating profile|job board|weather radar|flight tracker|train timetable|taxi booking|
food delivery|hotel booking|movie tickets|sports scores|lottery numbers|horoscope|
tarot reading|meditation timer|breathing coach|diet planner|calorie counter|step counter|
heart rate monitor|blood pressure log|medication reminder|baby monitor|pet feeder|
smart home control|light switch|thermostat control|garage door opener|doorbell camera|
car diagnostics|bike computer|drone control|robot arm control|3D printer slicer|
CNC controller|oscilloscope|logic analyzer|circuit simulator|chemistry lab|telescope control|
star chart|bird song identifier|plant identifier|mushroom guide|genealogy tree|
wedding planner|budget tracker|tax calculator|invoice generator|payroll system|
point of sale|inventory system|CRM|helpdesk tickets|issue tracker for teams|
project gantt chart|time sheet|mind map|whiteboard|sticky notes|flash cards|
language lessons|typing tutor|math homework solver|exam proctoring|plagiarism checker|
citation manager|reference manager for papers|e-book reader|audiobook player|
comic viewer|photo album|video chat|voice mail|fax machine|pager|walkie-talkie|
radio tuner|TV guide|podcast player|RSS reader|newsletter sender|blog engine|wiki server|
forum software|web hosting|domain registration|DNS server|mail server|VPN server|
proxy server|load balancer|container orchestration|database administration|
spreadsheet formulas|pivot tables|chart plotting|GIS maps|CAD drawing|font editor|
icon designer|pixel art editor|animation studio|game engine|level editor|
multiplayer lobby|leaderboard|achievements|virtual pet|slot machine|poker table|
sudoku generator|crossword maker|jigsaw puzzle|trivia quiz show|
emoji keyboard|sticker packs|GIF search|meme generator|voice changer|
noise cancellation|equalizer|metronome|guitar tuner|piano keyboard|drum machine|
sheet music editor|lyrics finder|radio streaming|clipboard history app|password generator|
two-factor codes|fingerprint login|face unlock|parental controls|screen time limits|
eye tracking|gesture control|VR headset mode|AR overlay|holograms|satellite link|
Bluetooth pairing|NFC payments|USB tethering|battery saver|dark web search|
encryption of the hard disk|file sync to the cloud|photo backup to the cloud|
automatic email replies|calendar invitations|meeting transcription|
video subtitles|OCR of scanned pages|receipt scanning|business card scanner""".replace("\n", "")

TEMPLATES = [
    "Does natter have {a}?", "Can natter work as {a}?", "Is there {a} in natter?",
    "does natter come with {a}", "Does natter support {t}?", "{t} in natter",
    "Can I use natter as {a}?", "natter {t}?", "how do I open the {t} in natter",
    "Where is natter's {t}?",
]
STOP = set("natter does have with from that this there what which your into about".split())


def content(s):
    return {w for w in re.findall(r"[a-z0-9]+", s.lower()) if len(w) > 2 and w not in STOP}


def yaml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python3 models/openbook/absent.py OUT.yaml\n")
        sys.exit(2)
    ev = open("models/eval/unknown.yaml", encoding="utf-8").read()
    held = set()
    for q in re.findall(r'heldout:\s*\["(.*?)"\]', ev):
        held |= content(q)
    rng = random.Random(SEED)
    things = [t.strip() for t in THINGS.split("|") if t.strip()]
    out, left = [], 0
    for t in things:
        if content(t) & held:
            left += 1
            continue
        a = ("an " if t[0].lower() in "aeiou" else "a ") + t
        out.append([p.format(t=t, a=a) for p in rng.sample(TEMPLATES, 4)])
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.write("# Written by models/openbook/absent.py: questions about things natter does not have.\n")
        f.write("examples:\n")
        for ph in out:
            f.write("  - user: %s\n" % yaml_str(ph[0]))
            f.write("    also: [%s]\n" % ", ".join(yaml_str(p) for p in ph[1:]))
            f.write('    assistant: "The documents do not say."\n')
            f.write('    key: "do not say"\n')
    sys.stderr.write("absent.py: %d things (%d left out: unknown.yaml asks about them)\n"
                     % (len(out), left))


if __name__ == "__main__":
    main()
