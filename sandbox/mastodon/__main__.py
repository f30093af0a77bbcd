"""``python -m sandbox.mastodon``: serve a Mastodon sandbox until interrupted."""

from sandbox.mastodon.emulator import main

raise SystemExit(main())
