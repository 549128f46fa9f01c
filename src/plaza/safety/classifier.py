"""The classifier seam: anything with ``name``, ``version`` and ``classify`` can label
new content. ``PLAZA_SAFETY_CLASSIFIER`` names it: ``lexicon`` (the built-in rules) or
``package.module:Name`` (a class or factory called with no arguments).

Classifiers run inside the creator's write transaction, so ``classify`` is
synchronous and must be quick and local (no network, no model server round trip).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from plaza.safety.labels import Category, Risk


@dataclass(frozen=True)
class Finding:
    """A classifier's verdict on one category, with a short reason for moderators."""

    category: Category
    risk: Risk
    reason: str = ""


@runtime_checkable
class Classifier(Protocol):
    """Labels text (and knows what media kinds come with it). ``name`` and ``version``
    are stored with every label it gives, so a moderator can tell which rules spoke."""

    name: str
    version: str

    def classify(self, text: str, media_kinds: Sequence[str]) -> Sequence[Finding]:
        """Findings for ``text``; at most one per category is kept (the most severe)."""
        ...


BUILTIN = {"lexicon": "plaza.safety.lexicon:LexiconClassifier"}


def load_classifier(spec: str, *, lexicon_path: Path | None = None) -> Classifier:
    """The classifier ``spec`` names: a built-in name or ``module:attribute``.

    Raises ``ValueError`` for a spec that does not name a classifier, at start-up
    rather than at the first post.
    """
    if spec == "lexicon":
        from plaza.safety.lexicon import LexiconClassifier

        return LexiconClassifier(lexicon_path)
    target = BUILTIN.get(spec, spec)
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"classifier {spec!r}: expected a built-in name or 'module:Name'")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"classifier {spec!r} cannot be imported: {exc}") from exc
    try:
        classifier = factory()
    except TypeError as exc:
        raise ValueError(f"classifier {spec!r} cannot be made without arguments: {exc}") from exc
    if not isinstance(classifier, Classifier):
        raise ValueError(f"classifier {spec!r} lacks name, version or classify()")
    return classifier
