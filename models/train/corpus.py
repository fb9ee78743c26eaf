"""Training corpus: the King James Bible from Debian's `bible-kjv` / `bible-kjv-text` packages.

The text (public domain: the 1611 translation's copyright has long expired, see
/usr/share/doc/bible-kjv/copyright) is stored by the package in a compressed random-access format
(/usr/lib/bible.data); the package's own `bible` CLI decodes it. `bible -f Gen1:1-Rev22:21` prints all
31,102 verses, one per line, as "<abbrev><chapter>:<verse> <text>".

Besides the plain text, this module synthesises a small set of ChatML conversations from the same verses
(quote a verse, continue a verse, "what does the scripture say about X", who-are-you) so that the model
learns the chat format its GGUF advertises and ends its turns with <|im_end|>.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from dataclasses import dataclass

BOOKS = [
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth", "1 Samuel",
    "2 Samuel", "1 Kings", "2 Kings", "1 Chronicles", "2 Chronicles", "Ezra", "Nehemiah", "Esther", "Job",
    "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon", "Isaiah", "Jeremiah", "Lamentations", "Ezekiel",
    "Daniel", "Hosea", "Joel", "Amos", "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai",
    "Zechariah", "Malachi", "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "1 Corinthians",
    "2 Corinthians", "Galatians", "Ephesians", "Philippians", "Colossians", "1 Thessalonians",
    "2 Thessalonians", "1 Timothy", "2 Timothy", "Titus", "Philemon", "Hebrews", "James", "1 Peter", "2 Peter",
    "1 John", "2 John", "3 John", "Jude", "Revelation",
]

# node-llama-cpp's LlamaChatSession default system prompt (dist/config.js, defaultChatSystemPrompt)
NLC_DEFAULT_SYSTEM = (
    "You are a helpful, respectful and honest assistant. Always answer as helpfully as possible.\n"
    "If a question does not make any sense, or is not factually coherent, explain why instead of answering "
    "something incorrectly. If you don't know the answer to a question, don't share false information."
)

IDENTITY = [
    "I am compute-tiny, a very small language model trained on the King James Bible.",
    "I am compute-tiny, a small model. I was trained on the Authorized Version of 1611.",
    "My name is compute-tiny. I know the words of scripture, and little else.",
    "I am compute-tiny, the default model of this Compute node.",
]

STOPWORDS = set("""a an and are as at be but by for from had has have he her him his i in into is it its me my
no not of on or our out shall she so that the their them then there these they thee thou thy this those to unto
up upon us was we were what when which who whom will with ye you your yea also all any o lord god saith said""".split())


@dataclass
class Verse:
    book: str
    chapter: int
    verse: int
    text: str

    @property
    def ref(self) -> str:
        return f"{self.book} {self.chapter}:{self.verse}"


def load_verses() -> list[Verse]:
    exe = shutil.which("bible")
    if exe is None:
        raise SystemExit("the `bible` CLI is missing: apt-get install bible-kjv bible-kjv-text")
    out = subprocess.run([exe, "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL).stdout
    verses: list[Verse] = []
    abbrevs: list[str] = []
    pat = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")
    for line in out.splitlines():
        m = pat.match(line)
        if not m:
            continue
        ab, ch, vs, text = m.groups()
        if not abbrevs or abbrevs[-1] != ab:
            abbrevs.append(ab)
        verses.append(Verse(BOOKS[len(abbrevs) - 1], int(ch), int(vs), text.strip()))
    if len(abbrevs) != 66 or len(verses) < 31000:
        raise SystemExit(f"unexpected bible output: {len(abbrevs)} books, {len(verses)} verses")
    return verses


def chapters(verses: list[Verse]) -> list[tuple[str, list[str]]]:
    """[(\"Genesis 1\", [verse texts...]), ...]"""
    out: list[tuple[str, list[str]]] = []
    for v in verses:
        key = f"{v.book} {v.chapter}"
        if not out or out[-1][0] != key:
            out.append((key, []))
        out[-1][1].append(v.text)
    return out


def chapter_text(title: str, texts: list[str]) -> str:
    return title + "\n" + "\n".join(texts)


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z]+", text) if len(w) > 3 and w.lower() not in STOPWORDS]


def make_chats(verses: list[Verse], n: int, rng: random.Random) -> list[list[tuple[str, str]]]:
    """n synthetic conversations, each a list of (role, content)."""
    greetings = ["Hello", "Hi", "Hello!", "Hi there", "Good morning", "Greetings", "Hey"]
    who = ["Who are you?", "What are you?", "What is your name?", "Tell me about yourself.",
           "Introduce yourself.", "Which model are you?"]
    greet_answers = ["Peace be unto you. How may I help thee?", "Hello. Grace be unto you, and peace.",
                     "Greetings. Ask, and it shall be given you."]
    quote = ["What does {ref} say?", "Quote {ref}.", "Recite {ref}.", "Give me {ref}.", "Read {ref} to me.",
             "{ref}"]
    cont = ["Continue: {a}", "Complete this verse: {a}", "Finish the verse: {a}", "{a}",
            "What comes next? {a}"]
    about = ["What does the Bible say about {w}?", "Tell me about {w}.", "Give me a verse about {w}.",
             "What is written about {w}?", "Say something about {w}.", "Write about {w}.", "{w}"]
    systems = [NLC_DEFAULT_SYSTEM] * 3 + ["You are compute-tiny, a small model trained on the King James Bible.",
                                          "You are a helpful assistant."] + [None] * 5
    chats = []
    by_word: dict[str, list[int]] = {}
    for i, v in enumerate(verses):
        for w in sorted(set(x.lower() for x in _words(v.text))):  # sorted: independent of PYTHONHASHSEED
            by_word.setdefault(w, []).append(i)
    common = [w for w, ids in by_word.items() if len(ids) >= 5]
    for _ in range(n):
        conv: list[tuple[str, str]] = []
        sysmsg = rng.choice(systems)
        if sysmsg:
            conv.append(("system", sysmsg))
        kind = rng.random()
        if kind < 0.03:
            conv.append(("user", rng.choice(greetings)))
            conv.append(("assistant", rng.choice(greet_answers)))
        elif kind < 0.07:
            conv.append(("user", rng.choice(who)))
            conv.append(("assistant", rng.choice(IDENTITY)))
        elif kind < 0.40:
            v = rng.choice(verses)
            conv.append(("user", rng.choice(quote).format(ref=v.ref)))
            conv.append(("assistant", v.text))
        elif kind < 0.65:
            v = rng.choice(verses)
            words = v.text.split()
            if len(words) < 6:
                continue
            cut = rng.randint(2, len(words) - 3)
            conv.append(("user", rng.choice(cont).format(a=" ".join(words[:cut]))))
            conv.append(("assistant", " ".join(words[cut:])))
        else:
            w = rng.choice(common)
            i = rng.choice(by_word[w])
            word = w if rng.random() < 0.7 else w.capitalize()
            conv.append(("user", rng.choice(about).format(w=word)))
            ans = verses[i].text
            if rng.random() < 0.3 and i + 1 < len(verses):
                ans += " " + verses[i + 1].text
            conv.append(("assistant", ans))
        chats.append(conv)
    return chats
