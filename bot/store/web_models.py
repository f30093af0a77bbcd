"""The web console's tables: single-use sign-in links, server-side sessions, and the secret that
signs the session cookies when the config gives none. Part of ``bot.store.models``' metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import Base, Id, UTCDateTime


class WebSignInLink(Base):
    """A link a curator signs in with, once, within its lifetime. Only a hash of its token is
    kept, so the table read by someone else signs no one in."""

    __tablename__ = "web_sign_in_links"
    __table_args__ = (UniqueConstraint("token_hash"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    curator: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: not used yet


class WebSession(Base):
    """A signed-in browser. The cookie holds the signed session id; the row holds a hash of it,
    the curator, the form token (CSRF) and when it was last used (idle expiry)."""

    __tablename__ = "web_sessions"
    __table_args__ = (
        UniqueConstraint("session_hash"),
        Index("ix_web_sessions_community_curator", "community_id", "curator"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    curator: Mapped[str] = mapped_column(String(255))
    session_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the session id
    csrf_token: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))  # None: the community's first
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # signed out


class WebSecret(Base):
    """The cookie-signing secret generated at first use when ``web.secret`` is not configured:
    one per community, so a cookie from another deployment fails."""

    __tablename__ = "web_secrets"
    __table_args__ = (UniqueConstraint("community_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
