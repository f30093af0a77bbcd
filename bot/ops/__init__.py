"""The application layer: every operation a person can do, written once for every face."""
