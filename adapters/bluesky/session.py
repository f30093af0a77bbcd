"""The central account's Bluesky session, kept in the database between runs, encrypted.

Bluesky allows 30 logins per 5 minutes and 300 a day per account, so the bot logs in once and
then lives on the session (the SDK refreshes it; every refresh is written back here). The row
is encrypted with a key derived from the app password: a copy of the database alone does not
give the session away, and a new app password simply means one new login.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, delete, select

from bot.domain import Platform
from bot.store import models as m
from bot.store.store import Store, dialect_insert

log = logging.getLogger(__name__)

_SALT = b"coalesce/bluesky-session/v1"


def session_key(app_password: str, account: str) -> bytes:
    """A Fernet key derived from the app password (HKDF-SHA256), bound to the account."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=account.encode()).derive(
        app_password.encode()
    )
    return base64.urlsafe_b64encode(raw)


class SessionVault:
    """Load and save one account's session string; blocking calls (run them in a thread)."""

    def __init__(
        self,
        engine: Engine,
        community_slug: str,
        community_name: str,
        account: str,
        key: bytes,
        *,
        platform: Platform = Platform.BLUESKY,
        own_engine: bool = False,
    ) -> None:
        self.engine = engine
        self.slug = community_slug
        self.name = community_name
        self.account = account
        self.platform = platform
        self._fernet = Fernet(key)
        self._community_id: int | None = None
        self._own_engine = own_engine

    def _community(self, now: datetime) -> int:
        if self._community_id is None:
            self._community_id = Store.open(self.engine, self.slug, self.name, now).community_id
        return self._community_id

    def load(self, now: datetime) -> str | None:
        """The stored session string, or None (none stored, or it cannot be decrypted)."""
        cid = self._community(now)
        with self.engine.connect() as conn:
            sealed = conn.execute(
                select(m.PlatformSession.session).where(
                    m.PlatformSession.community_id == cid,
                    m.PlatformSession.platform == self.platform.value,
                    m.PlatformSession.account == self.account,
                )
            ).scalar_one_or_none()
        if sealed is None:
            return None
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, UnicodeDecodeError):
            # Sealed under another app password (or tampered with): a fresh login replaces it.
            log.warning(
                "stored session cannot be read; logging in afresh",
                extra={"platform": self.platform.value, "account": self.account},
            )
            return None

    def save(self, session: str, now: datetime) -> None:
        cid = self._community(now)
        sealed = self._fernet.encrypt(session.encode()).decode()
        with self.engine.begin() as conn:
            stmt = dialect_insert(conn, m.table(m.PlatformSession)).values(
                community_id=cid,
                platform=self.platform.value,
                account=self.account,
                session=sealed,
                updated_at=now,
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["community_id", "platform", "account"],
                    set_={"session": sealed, "updated_at": now},
                )
            )

    def clear(self, now: datetime) -> None:
        cid = self._community(now)
        with self.engine.begin() as conn:
            conn.execute(
                delete(m.PlatformSession).where(
                    m.PlatformSession.community_id == cid,
                    m.PlatformSession.platform == self.platform.value,
                    m.PlatformSession.account == self.account,
                )
            )

    def close(self) -> None:
        if self._own_engine:
            self.engine.dispose()
