"""The demo's world: the sandboxes with a believable community in them (members, posts, the
curators' Telegram group), seeded from a fixed epoch so a re-seed gives the same ids, and the
config the demo writes for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.domain import Platform
from bot.ports import PlatformAdapter

CURATOR = "ana"
CURATOR_TELEGRAM = 1001  # ana's Telegram user id: her taps on the cards decide
TG_CURATORS, TG_COMMUNITY, TG_CHANNEL = -1001000000001, -1001000000002, -1001000000003

# (username, display name, profile note)
MEMBERS = [
    ("dra_rivera", "Dra. Sofía Rivera", "Pediatric cardiologist. Mentor. Mamá."),
    ("lupe_md", "Guadalupe Ortiz, MD", "Family medicine resident in El Paso"),
    ("camila_ms3", "Camila Reyes", "MS3 · first-gen · future surgeon"),
    ("dr_paz", "Dra. Valeria Paz", "Emergency physician; public health nerd"),
    ("marisol_pa", "Marisol Vega, PA-C", "Physician assistant, oncology"),
    ("ines_quiet", "Inés Morales", "Neurologist. #nobot — please don't boost my posts"),
    ("spam4u", "Followers 4 U", "Buy followers cheap"),
]

# (author, text, hours ago, reply to index or None)
POSTS: list[tuple[str, str, float, int | None]] = [
    (
        "dra_rivera",
        "Proud to welcome 12 new mentees to our peer mentoring circle! #LatinasInMedicine",
        30,
        None,
    ),
    ("lupe_md", "Matched into family medicine at my first choice program 🎉 #LatinasInMedicine", 26, None),
    ("camila_ms3", "Study group for Step 2 starts Monday, DM me to join #LatinasInMedicine #MedEd", 20, None),
    ("dr_paz", "Hoy di mi primera charla sobre salud pública en español #LatinasEnMedicina", 16, None),
    (
        "marisol_pa",
        "Scholarship for PA students from underrepresented backgrounds closes Dec 15 #LatinasInMedicine",
        12,
        None,
    ),
    ("lupe_md", "Congratulations!! #LatinasInMedicine", 11, 0),
    ("camila_ms3", "So inspiring, thank you for doing this #LatinasInMedicine", 10, 0),
    ("ines_quiet", "New paper out on stroke care access in rural Texas #LatinasInMedicine", 8, None),
    ("spam4u", "Grow your audience fast!! #LatinasInMedicine", 6, None),
    (
        "dra_rivera",
        "Grand rounds today: caring for kids with congenital heart disease #LatinasInMedicine",
        4,
        None,
    ),
    ("dr_paz", "Night shift reflections: the nurses held us together tonight #LatinasInMedicine", 2, None),
    ("marisol_pa", "Looking for a mentor in surgical oncology — ideas welcome #LatinasInMedicine", 1, None),
]

# Bluesky: (handle, display name, profile text), then (author, text, hours ago, reply to or None)
BLUESKY_MEMBERS = [
    ("paz.test", "Dra. Valeria Paz", "Emergency physician; public health nerd"),
    ("camila.test", "Camila Reyes", "MS3 · first-gen · future surgeon"),
    ("lucia.test", "Lucía Herrera, MD", "Internal medicine. #noboost"),
]
BLUESKY_POSTS: list[tuple[str, str, float, int | None]] = [
    (
        "paz.test",
        "Our residency program opened two spots for visiting students 🩺 #LatinasInMedicine",
        9,
        None,
    ),
    (
        "camila.test",
        "Passed Step 1!! Gracias a todas las que me apoyaron 💜 #LatinasEnMedicina",
        5,
        None,
    ),
    ("lucia.test", "Clinic was wild today #LatinasInMedicine", 3, None),
    ("paz.test", "Free webinar on negotiating your first contract, Thursday 7pm ET", 2, None),
    ("camila.test", "@latinasinmed.test this is worth sharing!", 1, 3),
]


@dataclass
class DemoWorld:
    """The sandboxes with the demo community in them."""

    epoch: datetime

    def __post_init__(self) -> None:
        from sandbox.world import Rooms, SandboxWorld

        self.world = SandboxWorld(
            rooms=Rooms(curators=TG_CURATORS, community=TG_COMMUNITY, channel=TG_CHANNEL),
            mastodon={
                "domain": "medicine.example",
                "username": "latinasinmed",
                "display_name": "Latinas in Medicine",
            },
            bluesky={"handle": "latinasinmed.test", "display_name": "Latinas in Medicine"},
            telegram={"bot_username": "LatinasInMedBot", "bot_first_name": "Latinas in Medicine"},
        )
        self.mastodon, self.bluesky, self.telegram = self.world.sandboxes
        self.statuses: list[dict[str, Any]] = []
        self.skeets: list[str] = []

    def start(self) -> DemoWorld:
        self.world.start()
        self._seed()
        return self

    def stop(self) -> None:
        self.world.stop()

    def _seed(self) -> None:
        m = self.mastodon
        accounts = {
            u: m.add_account(u, display_name=d, note=n, created_at=self.epoch - timedelta(days=400))
            for u, d, n in MEMBERS
        }
        for username, text, hours, reply_to in POSTS:
            parent = self.statuses[reply_to] if reply_to is not None else None
            self.statuses.append(
                m.post(
                    accounts[username],
                    text,
                    in_reply_to=parent,
                    created_at=self.epoch - timedelta(hours=hours),
                )
            )
        # A member nominates a post that also carries the hashtag: the same post arrives twice.
        nominee = self.statuses[2]
        m.post(
            accounts["dr_paz"],
            f"@{m.central['acct']} this deserves a boost!",
            in_reply_to=nominee,
            created_at=self.epoch - timedelta(hours=0.5),
        )
        b = self.bluesky
        dids = {h: b.add_account(h, display_name=d, description=n) for h, d, n in BLUESKY_MEMBERS}
        for handle, text, hours, replied in BLUESKY_POSTS:
            above = self.skeets[replied] if replied is not None else None
            when = self.epoch - timedelta(hours=hours)
            self.skeets.append(b.post(dids[handle], text, reply_to=above, created_at=when))
        self._seed_telegram()

    def _seed_telegram(self) -> None:
        """The curators' group (ana and rosa), a community group with members, the channel."""
        t = self.telegram
        ana, rosa = t.add_user(CURATOR_TELEGRAM, "Ana", "ana_curates"), t.add_user(1002, "Rosa", "rosa_rn")
        lupita, sofi, bea = (
            t.add_user(3001, "Lupita", "lupita_md"),
            t.add_user(3002, "Sofi"),
            t.add_user(3003, "Bea", "bea_ms3"),
        )
        t.add_chat(TG_CURATORS, "supergroup", "Latinas in Medicine · curators", members=[ana, rosa])
        t.add_chat(TG_COMMUNITY, "supergroup", "Latinas in Medicine", members=[lupita, sofi, bea])
        t.add_chat(TG_CHANNEL, "channel", "Latinas in Medicine", username="latinasinmed")
        t.user_sends(lupita, TG_COMMUNITY, "Defended my thesis today!! Gracias a todas 💜 #LatinasInMedicine")
        t.user_sends(sofi, TG_COMMUNITY, "Anyone going to the LMSA conference in March?")
        clinic = t.user_sends(
            sofi, TG_COMMUNITY, "Our free clinic needs Spanish-speaking volunteers Saturday"
        )
        t.user_sends(bea, TG_COMMUNITY, "/nominate", reply_to=clinic)

    def adapters(self, settings: Settings) -> dict[Platform, PlatformAdapter]:
        from adapters.mastodon.adapter import MastodonAdapter, client_for
        from adapters.mastodon.settings import MastodonSettings

        cfg = MastodonSettings(
            api_base_url=self.mastodon.base_url, access_token=self.mastodon.token, request_timeout=10
        )
        client = client_for(cfg)
        backfill = timedelta(hours=settings.curation.max_age_hours)
        return {
            Platform.MASTODON: MastodonAdapter(client, cfg, backfill=backfill),
            Platform.BLUESKY: self._bluesky_adapter(backfill),
            Platform.TELEGRAM: self._telegram_adapter(settings),
        }

    def _telegram_adapter(self, settings: Settings) -> PlatformAdapter:
        from adapters.telegram.adapter import TelegramAdapter, build_application
        from adapters.telegram.settings import TelegramSettings
        from bot.clock import SystemClock

        t = self.telegram
        cfg = TelegramSettings(
            bot_token=t.token,
            curator_chat_id=TG_CURATORS,
            community_chat_ids=(TG_COMMUNITY,),
            channel_id=TG_CHANNEL,
            spotlight_on_channel=True,
            base_url=t.bot_base_url,
            poll_timeout=5,
            sync_seconds=5,
        )
        return TelegramAdapter(build_application(cfg, SystemClock()), cfg, community=settings.community.name)

    def _bluesky_adapter(self, backfill: timedelta) -> PlatformAdapter:
        from adapters.bluesky.adapter import BlueskyAdapter, make_client
        from adapters.bluesky.settings import BlueskySettings

        b = self.bluesky
        cfg = BlueskySettings(
            handle="latinasinmed.test",
            app_password=b.password,
            service_url=b.base_url,
            jetstream_url=b.ws_url,
            jetstream_compress=False,
            caught_up_idle_seconds=0.5,
        )
        return BlueskyAdapter(make_client(cfg.service_url, timeout=10), cfg, backfill=backfill)


def demo_config(directory: Path, epoch: datetime) -> dict[str, Any]:
    return {
        "community": {
            "slug": "latinasinmedicine",
            "name": "Latinas in Medicine",
            "hashtags": ["LatinasInMedicine", "LatinasEnMedicina"],
            "languages": ["en", "es"],
        },
        "database": {"url": f"sqlite:///{directory / 'coalesce.db'}"},
        "curators": [{"name": CURATOR, "telegram": CURATOR_TELEGRAM}, {"name": "rosa", "telegram": 1002}],
        "curation": {"max_age_hours": 72},
        "blocklist": {"accounts": ["spam4u@medicine.example"]},
        "amplify": {"max_per_hour": 3600, "burst": 10},
        "series": {
            "timezone": "America/Chicago",
            "schedule": [
                {"name": "digest", "kind": "digest", "cron": "0 9 * * mon"},
                {"name": "interview", "kind": "interview", "cron": "0 12 * * thu"},
            ],
        },
        "sandbox": {"enabled": True, "epoch": epoch.isoformat()},
        # `python -m bot web` serves the curators' console here; sign-in links point to it.
        "web": {"host": "127.0.0.1", "port": 8080, "base_url": "http://127.0.0.1:8080"},
        # As production names them; the sandbox stands in for the servers and hands out its own
        # credentials, so the ${…} variables need not be set.
        "platforms": {
            "mastodon": {
                "api_base_url": "https://medicine.example",
                "access_token": "${MASTODON_ACCESS_TOKEN}",
            },
            "bluesky": {"handle": "latinasinmed.test", "app_password": "${BLUESKY_APP_PASSWORD}"},
            "telegram": {
                "bot_token": "${TELEGRAM_BOT_TOKEN}",
                "curator_chat_id": TG_CURATORS,
                "community_chat_ids": [TG_COMMUNITY],
                "channel_id": TG_CHANNEL,
                "spotlight_on_channel": True,
            },
        },
    }


def world_for(settings: Settings) -> DemoWorld:
    """The sandbox world a ``sandbox: {enabled: true}`` config asks for."""
    epoch = settings.sandbox.epoch or datetime.now(UTC)
    return DemoWorld(epoch).start()
