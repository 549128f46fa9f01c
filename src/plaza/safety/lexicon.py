"""The built-in classifier: whole-word lexicon matching plus a few spam heuristics.

Text and terms are normalised the same way (NFKC, case folding, accents removed,
whitespace collapsed), so full-width "PORN", "Porn" and "pörn" match the term "porn", while
"pornographic" does not match "porn" unless listed itself (whole words only).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from plaza.safety.classifier import Finding
from plaza.safety.labels import SEVERITY, Category, Risk

DEFAULT_LEXICON = Path(__file__).parent / "data" / "lexicon.json"

# Spam heuristics, for posts that carry no listed phrase.
LINKS_MEDIUM = 4  # this many links in one text reads as link spam
LINKS_HIGH = 8
CHAR_RUN = 10  # the same character this many times in a row ("!!!!!!!!!!")
REPEATED_WORD = 8  # one word this many times, and at least half of all words

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_CHAR_RUN = re.compile(r"(\S)\1{" + str(CHAR_RUN - 1) + ",}")
_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    """NFKC, case-folded, without combining marks, with whitespace runs as one space."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(unicodedata.normalize("NFC", bare).split())


def _pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    cleaned = sorted({normalise(t) for t in terms if t.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    alternatives = "|".join(re.escape(t) for t in cleaned)
    # Lookarounds rather than \b, so that terms which start or end in punctuation
    # ("ar-15") still need a non-word character (or the edge) on each side.
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


class LexiconClassifier:
    """Rules from a JSON lexicon: ``{"version", "categories": {category: {risk: [terms]}}}``."""

    name = "lexicon"

    def __init__(self, path: Path | None = None) -> None:
        source = path or DEFAULT_LEXICON
        data: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
        self.version = str(data.get("version", "unversioned"))
        self._rules: list[tuple[Category, Risk, re.Pattern[str]]] = []
        for category_name, levels in data["categories"].items():
            category = Category(category_name)  # an unknown name fails at start-up
            for risk_name, terms in levels.items():
                pattern = _pattern(terms)
                if pattern is not None:
                    self._rules.append((category, Risk(risk_name), pattern))
        # Most severe first: the first rule that matches a category decides it.
        self._rules.sort(key=lambda rule: -SEVERITY[rule[1]])

    def classify(self, text: str, media_kinds: Sequence[str]) -> list[Finding]:
        """Lexicon and spam findings for ``text``. The built-in rules read text only."""
        plain = normalise(text)
        found: dict[Category, Finding] = {}
        for category, risk, pattern in self._rules:
            if category in found:
                continue
            match = pattern.search(plain)
            if match:
                found[category] = Finding(category, risk, f"term {match.group(0)!r}")
        spam = _spam(text)
        if spam is not None:
            current = found.get(Category.SPAM)
            if current is None or SEVERITY[spam.risk] > SEVERITY[current.risk]:
                found[Category.SPAM] = spam
        return list(found.values())


def _spam(text: str) -> Finding | None:
    links = len(_URL.findall(text))
    if links >= LINKS_HIGH:
        return Finding(Category.SPAM, Risk.HIGH, f"{links} links")
    if links >= LINKS_MEDIUM:
        return Finding(Category.SPAM, Risk.MEDIUM, f"{links} links")
    words = [w.casefold() for w in _WORD.findall(text)]
    if words:
        top, count = Counter(words).most_common(1)[0]
        if count >= REPEATED_WORD and count * 2 >= len(words):
            return Finding(Category.SPAM, Risk.MEDIUM, f"{top!r} repeated {count} times")
    if _CHAR_RUN.search(text):
        return Finding(Category.SPAM, Risk.LOW, "a character repeated many times")
    return None
