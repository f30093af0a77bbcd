"""The curators' console: cards, their delivery, and the commands curators type."""
