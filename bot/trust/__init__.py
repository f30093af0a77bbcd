"""Trust: consent, safety, the last look before each platform call, and request budgets."""
