"""The curators' web console: Starlette pages over the application layer (``bot.ops``)."""
