"""Post text: normalisation, X-style length counting and entity parsing.

The length rule follows X (twitter-text v3) in spirit, simplified where it does not
matter for Plaza: text is NFC-normalised, every URL counts as ``URL_WEIGHT``
characters however long it is, and everything else counts one per user-perceived
character (extended grapheme cluster, the ``regex`` module's ``\\X``), so that
"é" (e + combining accent) and a family emoji joined by ZWJs each count once.

Entity offsets are code-point offsets into the normalised text (Python ``str``
indices), which is what the web client slices with ``Array.from(text)``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import regex  # type: ignore[import-untyped]  # no stubs are published for it

URL_WEIGHT = 23
MAX_LENGTH = 280
LONG_MAX_LENGTH = 25_000

# Top-level domains that make a schemeless "example.com" a link on their own, as in
# twitter-text. Other (country) TLDs only count with a path ("bit.ly" is in the list,
# "notes.txt" and "e.g." are not links; "abc.de/x" is).
_GTLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|name|pro|aero|coop|museum|mobi|asia|tel|travel|"
    "io|co|dev|app|ai|me|tv|ly|gg|fm|to|sh|so|xyz|online|site|tech|store|shop|blog|news|"
    "social|page|link|cloud|club|live|world|today|media|space|website|art|design"
)
_LABEL = r"[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?"
# A path runs to the next whitespace; trailing punctuation is trimmed afterwards,
# so "see https://x.com/a." does not swallow the full stop.
_PATH = r"(?:/[^\s<>\"]*)?"
_PORT = r"(?::\d{1,5})?"
_URL_RE = regex.compile(
    rf"""
    (?<![\p{{L}}\p{{N}}@$#_/.-])   # not glued to a word, a mention, a path or an email
    (?:
        https?://[^\s<>"]+                                  # with a scheme: anything
      | (?:{_LABEL}\.)+(?:{_GTLDS}){_PORT}(?![\p{{L}}\p{{N}}-]){_PATH}  # gTLD, path optional
      | (?:{_LABEL}\.)+[a-z]{{2}}{_PORT}/[^\s<>"]*          # ccTLD needs a path
    )
    """,
    regex.VERBOSE | regex.IGNORECASE,
)
_TRAILING = ".,:;!?'\")]}>*"

# Usernames are identity's rule (3-32 of [A-Za-z0-9_]); a shorter "@x" is not a mention.
_MENTION_RE = regex.compile(r"(?<![\p{L}\p{N}_@.])@([A-Za-z0-9_]{3,32})(?![A-Za-z0-9_@])")
# A hashtag holds letters, marks, digits and underscores, and at least one letter
# (so "#1" is not a tag), and is not glued to a word ("a#b") or an HTML entity ("&#39").
_HASHTAG_RE = regex.compile(
    r"(?<![\p{L}\p{N}_&#])#([\p{L}\p{M}\p{Nd}_]*\p{L}[\p{L}\p{M}\p{Nd}_]*)", regex.UNICODE
)
_GRAPHEME_RE = regex.compile(r"\X")


@dataclass(frozen=True)
class Span:
    """An entity: its value and [start, end) code-point offsets into the text."""

    value: str
    start: int
    end: int


@dataclass(frozen=True)
class ParsedText:
    text: str
    weighted_length: int
    urls: list[Span] = field(default_factory=list)
    mentions: list[Span] = field(default_factory=list)
    hashtags: list[Span] = field(default_factory=list)

    def entities(self) -> dict[str, list[dict[str, str | int]]]:
        """The JSON shape stored on the post and served as PostOut.entities."""
        return {
            "mentions": [
                {"username": m.value, "start": m.start, "end": m.end} for m in self.mentions
            ],
            "hashtags": [{"tag": h.value, "start": h.start, "end": h.end} for h in self.hashtags],
            "urls": [{"url": u.value, "start": u.start, "end": u.end} for u in self.urls],
        }


def normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def graphemes(text: str) -> int:
    return len(_GRAPHEME_RE.findall(text))


def find_urls(text: str) -> list[Span]:
    found: list[Span] = []
    for match in _URL_RE.finditer(text):
        value = match.group(0).rstrip(_TRAILING)
        # A closing bracket that belongs to the URL ("wiki/Foo_(bar)") stays.
        if match.group(0)[len(value) : len(value) + 1] == ")" and value.count("(") > value.count(
            ")"
        ):
            value += ")"
        if "." not in value.split("://", 1)[-1]:
            continue  # "https://localhost" style hosts are not links in a post
        found.append(Span(value, match.start(), match.start() + len(value)))
    return found


def _outside(spans: list[Span], start: int, end: int) -> bool:
    return all(end <= s.start or start >= s.end for s in spans)


def parse(text: str) -> ParsedText:
    """Normalise ``text`` (NFC), measure it and find its URLs, mentions and hashtags."""
    text = normalise(text)
    urls = find_urls(text)
    length = 0
    cursor = 0
    for url in urls:
        length += graphemes(text[cursor : url.start]) + URL_WEIGHT
        cursor = url.end
    length += graphemes(text[cursor:])
    mentions = [
        Span(m.group(1), m.start(), m.end())
        for m in _MENTION_RE.finditer(text)
        if _outside(urls, m.start(), m.end())
    ]
    hashtags = [
        Span(h.group(1), h.start(), h.end())
        for h in _HASHTAG_RE.finditer(text)
        if _outside(urls, h.start(), h.end())
    ]
    return ParsedText(text, length, urls, mentions, hashtags)


def weighted_length(text: str) -> int:
    return parse(text).weighted_length
