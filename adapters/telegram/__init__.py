"""Telegram: the curators' console, member posts and nominations, and the community channel."""
