"""The console's pages. Each module here exposes ``PAGE = Page(...)``; ``bot.web.app.PAGES`` lists
them, and the navigation is built from that list in its order."""

from __future__ import annotations

from bot.web.deps import Page as Page
