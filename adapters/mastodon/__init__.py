"""Mastodon: watch hashtag timelines and mentions, boost what curators approve."""
