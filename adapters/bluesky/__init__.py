"""Bluesky: watch the hashtag on Jetstream, the firehose or search; repost what curators approve."""
