"""Curation: from watched posts to candidates, the queue curators decide, and the amplifier."""
