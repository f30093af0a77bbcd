"""``python -m bot``: the command line, one face of the application layer."""
