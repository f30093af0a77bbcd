"""Attacks: what a stranger or bad input tries, and the proof it cannot make the account act."""
