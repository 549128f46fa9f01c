"""Safety: brand-safety labels on content (GARM / IAB categories with risk levels),
user reports, moderators' decisions, and each viewer's sensitive-media choice.

Other domains use only what this module exports.
"""

from plaza.safety.api import build_router
from plaza.safety.classifier import Classifier, Finding, load_classifier
from plaza.safety.events import ContentLabelled
from plaza.safety.labels import Category, Label, Risk, SensitiveMedia, Source, is_sensitive
from plaza.safety.lexicon import LexiconClassifier
from plaza.safety.preferences import SafetyPreferences, SafetySettings
from plaza.safety.service import SafetyPolicy, SafetyService, SubjectResolver

__all__ = [
    "Category",
    "Classifier",
    "ContentLabelled",
    "Finding",
    "Label",
    "LexiconClassifier",
    "Risk",
    "SafetyPolicy",
    "SafetyPreferences",
    "SafetyService",
    "SafetySettings",
    "SensitiveMedia",
    "Source",
    "SubjectResolver",
    "build_router",
    "is_sensitive",
    "load_classifier",
]
