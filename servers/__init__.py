"""Concurrency models for the fileproto server: thin drivers over one connection handler."""
