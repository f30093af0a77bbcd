"""What the web console's sign-in and session operations say to people (English)."""

from __future__ import annotations

from datetime import datetime

from bot.ops.messages import when

LINK_UNKNOWN = "That sign-in link is not valid. Ask the bot for a new one."
LINK_USED = "That sign-in link was used already: each link works once. Ask the bot for a new one."
LINK_EXPIRED = "That sign-in link has expired (links last 15 minutes). Ask the bot for a new one."
NOT_A_CURATOR_ANY_MORE = "This curator is no longer in the configuration."
SESSION_GONE = "You are signed out. Sign in again with a new link."
SIGNED_OUT = "Signed out."
NO_PRIVATE_ROUTE = (
    "no private way to reach this curator: give her a telegram id or a mastodon account in the"
    " config, or print a link on the server with `python -m bot web login-link`"
)


def link_made(curator: str, url: str, expires_at: datetime) -> str:
    return f"Sign-in link for {curator}, valid once until {when(expires_at)}:\n{url}"


def link_message(community: str, url: str) -> str:
    """The private message that carries a link: the link alone on its line, and what it is for."""
    return (
        f"Your sign-in link to the {community} curators' console, valid once for 15 minutes:\n"
        f"{url}\nIf you did not ask for it, ignore this message."
    )


def link_sent(curator: str, where: str) -> str:
    return f"A sign-in link was sent to {curator} in private on {where}."


def signed_in(curator: str) -> str:
    return f"Signed in as {curator}."


def signed_out_everywhere(curator: str, sessions: int) -> str:
    s = "session" if sessions == 1 else "sessions"
    return f"Signed {curator} out everywhere ({sessions} {s} closed)."
