"""The application layer: every operation a person can do (a curator at the console, an operator at
the command line), written once, taking its dependencies explicitly and returning a `Result`."""
