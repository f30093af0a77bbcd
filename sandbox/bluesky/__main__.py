"""``python -m sandbox.bluesky``: serve a Bluesky sandbox until interrupted."""

from sandbox.bluesky.emulator import main

raise SystemExit(main())
