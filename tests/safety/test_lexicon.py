"""The built-in classifier and the classifier seam."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from plaza.safety import Category, Finding, LexiconClassifier, Risk, load_classifier


def found(text: str, classifier: LexiconClassifier | None = None) -> dict[str, str]:
    classifier = classifier or LexiconClassifier()
    return {f.category.value: f.risk.value for f in classifier.classify(text, [])}


def test_clean_text_has_no_labels() -> None:
    assert found("Lovely morning at the lake, coffee and a good book.") == {}


@pytest.mark.parametrize(
    ("text", "category", "risk"),
    [
        ("selling cracked software, DM", "piracy", "high"),
        ("This is PORN", "adult", "high"),
        ("\uff4e\uff53\uff46\uff57 pics inside", "adult", "medium"),  # full-width (NFKC)
        ("pörn", "adult", "high"),  # accents removed
        ("CLICK\n   here", "spam", "medium"),  # any whitespace inside a phrase
        ("new AR-15 in stock", "arms", "medium"),
        ("they are vermin", "hate_speech", "medium"),
        ("vaccines cause autism, share!", "misinformation", "high"),
    ],
)
def test_terms_match_whole_words_after_normalisation(text: str, category: str, risk: str) -> None:
    assert found(text).get(category) == risk


@pytest.mark.parametrize("text", ["scrap metal", "a pornographic-free zone", "Essex", "crapulent"])
def test_parts_of_words_do_not_match(text: str) -> None:
    labels = found(text)
    assert "obscenity_profanity" not in labels
    assert "adult" not in labels


def test_the_most_severe_level_of_a_category_wins() -> None:
    # "cocaine" is medium, "buy cocaine" is high: one finding per category, the high one.
    findings = LexiconClassifier().classify("cocaine, buy cocaine here", [])
    drugs = [f for f in findings if f.category is Category.DRUGS_ALCOHOL_TOBACCO]
    assert [(f.risk, f.reason) for f in drugs] == [(Risk.HIGH, "term 'buy cocaine'")]


def test_spam_heuristics() -> None:
    links = " ".join(f"https://x{i}.example/" for i in range(4))
    assert found(f"deals {links}") == {"spam": "medium"}
    many = " ".join(f"https://x{i}.example/" for i in range(8))
    assert found(many) == {"spam": "high"}
    assert found("buy " * 10) == {"spam": "medium"}
    assert found("wow!!!!!!!!!!") == {"spam": "low"}
    assert found("wow!!!") == {}
    # A listed spam phrase at high risk is not lowered by a milder heuristic.
    assert found("free followers!!!!!!!!!!!!") == {"spam": "high"}


def test_an_operators_own_lexicon(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.json"
    path.write_text(
        json.dumps({"version": "ops-7", "categories": {"crime": {"high": ["heist crew"]}}})
    )
    classifier = load_classifier("lexicon", lexicon_path=path)
    assert classifier.version == "ops-7"
    assert found("Heist  Crew wanted", classifier) == {"crime": "high"}  # type: ignore[arg-type]
    assert found("porn", classifier) == {}  # type: ignore[arg-type]


def test_an_unknown_category_in_a_lexicon_fails_at_load(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.json"
    path.write_text(json.dumps({"version": "1", "categories": {"gambling": {"high": ["bet"]}}}))
    with pytest.raises(ValueError, match="gambling"):
        LexiconClassifier(path)


class ShoutingClassifier:
    """A classifier of the tests' own: shouting is spam."""

    name = "shouting"
    version = "1"

    def classify(self, text: str, media_kinds: Sequence[str]) -> list[Finding]:
        if text.isupper():
            return [Finding(Category.SPAM, Risk.LOW, "all capitals")]
        return []


def test_a_classifier_named_by_module_and_attribute() -> None:
    classifier = load_classifier("tests.safety.test_lexicon:ShoutingClassifier")
    assert isinstance(classifier, ShoutingClassifier)
    assert classifier.name == "shouting"


@pytest.mark.parametrize(
    "spec", ["nonsense", "tests.safety.test_lexicon:Nope", "json:dumps", "no.such.module:X"]
)
def test_a_spec_that_names_no_classifier_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="classifier"):
        load_classifier(spec)
