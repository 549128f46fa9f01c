"""Shared infrastructure every domain builds on: storage, ids, errors, events, limits."""
