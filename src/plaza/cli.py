"""The ``plaza`` command: serve, migrate, demo data and operator helpers."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import click
import uvicorn

from plaza.app import Plaza, build, start, stop
from plaza.config import Settings
from plaza.core import migrations
from plaza.core.errors import DomainError
from plaza.core.logging import configure_logging
from plaza.identity import ClientInfo
from plaza.premium import PREMIUM, Entitlement
from plaza.social import NewPost

T = TypeVar("T")

DEMO_PASSWORD = "plaza-demo-2026"  # noqa: S105 - documented in the README for demo data
DEMO_USERS = ("demo", "alice", "bob", "carol")


def _run(work: Callable[[Plaza], Awaitable[T]]) -> T:
    """Run ``work`` against a started (migrated) Plaza, outside any web server."""
    settings = Settings()

    async def main() -> T:
        plaza = build(settings)
        lease = await start(plaza)
        try:
            return await work(plaza)
        finally:
            await stop(plaza, lease)

    try:
        return asyncio.run(main())
    except DomainError as exc:
        raise click.ClickException(exc.detail) from exc


@click.group()
def main() -> None:
    """Plaza: posts, messages, calls and a wallet in one account, with no phone number."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve Plaza. Applies pending migrations first unless PLAZA_AUTO_MIGRATE=false,
    in which case it refuses to start on an outdated schema."""
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    if settings.auto_migrate:
        # Once here, before the workers start, so that they do not race to migrate.
        migrations.upgrade(settings.resolved_database_url)
    uvicorn.run(
        "plaza.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        ws="websockets-sansio",
        # Stream frames are small JSON; per-message deflate would keep ~45 KiB of zlib
        # state for every idle connection (measured in bench/stream_connections.py).
        ws_per_message_deflate=False,
    )


@main.command()
def migrate() -> None:
    """Apply pending database migrations."""
    settings = Settings()
    migrations.upgrade(settings.resolved_database_url)
    click.echo(
        f"database is at {sorted(migrations.head_revisions(settings.resolved_database_url))}"
    )


# Who follows whom, and what they say, on a fresh demo install.
_DEMO_FOLLOWS = {
    "demo": ("alice", "bob", "carol"),
    "alice": ("demo", "bob"),
    "bob": ("demo", "alice", "carol"),
    "carol": ("alice",),
}
_DEMO_POSTS = (
    ("alice", "Morning! Trying out #Plaza: no phone number needed, and 2FA without SMS."),
    ("bob", "Anyone up for a #coffee later? @alice @carol"),
    ("carol", "Reading https://en.wikipedia.org/wiki/Federated_social_network on the train."),
    ("demo", "Hello, Plaza! This is the demo account. Follow @alice and @bob for more."),
)

_DEMO_CHAT = (
    ("alice", "Hi! Welcome to Plaza. Messages, calls and payments, no phone number."),
    ("demo", "Thanks! Is that coffee with Bob still on?"),
    ("alice", "Yes, 4pm. You can send me money for it from this chat, too."),
)


async def _demo_social(plaza: Plaza) -> None:
    """Follows among the demo accounts, a few posts, a reply and likes."""
    ids: dict[str, int] = {}
    for name in DEMO_USERS:
        found = await plaza.identity.find_user(name)
        if found is not None:
            ids[name] = found.id
    for follower, followees in _DEMO_FOLLOWS.items():
        for followee in followees:
            await plaza.social_graph.follow(ids[follower], followee)
    posted = {}
    for author, text in _DEMO_POSTS:
        posted[author] = await plaza.posts.create(ids[author], NewPost(text=text))
    coffee = posted["bob"].post.id
    await plaza.posts.create(ids["alice"], NewPost(text="Count me in ☕", reply_to=coffee))
    for fan in ("demo", "carol"):
        await plaza.posts.like(ids[fan], posted["alice"].post.id)
    # A direct conversation in the inbox, so the Messages page is not empty. The
    # demo account follows alice, so her first message lands in its inbox.
    chat = await plaza.messaging.conversations.start(ids["alice"], ["demo"], None)
    thread = int(chat.conversation["id"])
    last = 0
    for n, (author, text) in enumerate(_DEMO_CHAT):
        if author == "demo":
            # Demo read what came before answering; alice's last message stays unread.
            await plaza.messaging.receipts.mark(ids["demo"], thread, last, "read")
        sent = await plaza.messaging.messages.send(
            ids[author], thread, text=text, client_id=f"demo-{n}"
        )
        last = int(sent.message["id"])


@main.command()
def demo() -> None:
    """Load demo data: the accounts demo, alice, bob and carol (password in the README)."""

    async def load(plaza: Plaza) -> list[str]:
        made = []
        for name in DEMO_USERS:
            if await plaza.identity.find_user(name) is None:
                await plaza.identity.register(
                    username=name,
                    password=DEMO_PASSWORD,
                    email=None,
                    client=_cli_client(),
                )
                made.append(name)
        if "demo" in made:
            await _demo_social(plaza)
        for name in DEMO_USERS:
            # A $100.00 sandbox top-up each; it settles after the rail delay (the
            # server's periodic job), as a real bank deposit would.
            found = await plaza.identity.find_user(name)
            if found is not None:
                await plaza.payments.demo_top_up(found.id, 10_000)
        return made

    made = _run(load)
    click.echo(f"demo users: {', '.join(DEMO_USERS)} (password {DEMO_PASSWORD!r}); new: {made}")


@main.command()
@click.argument("username")
@click.option("--email", default=None)
@click.option("--admin", is_flag=True, help="Make the account an administrator.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def createuser(username: str, email: str | None, admin: bool, password_stdin: bool) -> None:
    """Create an account (asks for the password)."""
    password = _read_password(password_stdin)

    async def create(plaza: Plaza) -> None:
        await plaza.identity.register(
            username=username, password=password, email=email, client=_cli_client()
        )
        if admin:
            await plaza.identity.set_admin(username, True)

    _run(create)
    click.echo(f"created {username}{' (admin)' if admin else ''}")


@main.group()
def admin() -> None:
    """Operator helpers."""


@admin.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True)
def set_password(username: str, password_stdin: bool) -> None:
    """Set a user's password and sign them out everywhere."""
    password = _read_password(password_stdin)
    _run(lambda plaza: plaza.identity.admin_set_password(username, password))
    click.echo(f"password of {username} changed; all of their sessions ended")


@admin.command("make-admin")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="Take administrator rights away instead.")
def make_admin(username: str, revoke: bool) -> None:
    """Grant (or with --revoke, remove) administrator rights."""
    _run(lambda plaza: plaza.identity.set_admin(username, not revoke))
    click.echo(f"{username} is {'no longer ' if revoke else ''}an administrator")


@admin.command("purge-deleted")
def purge_deleted() -> None:
    """Delete accounts whose deletion grace period has ended (also runs hourly)."""
    count = _run(lambda plaza: plaza.lifecycle.purge_due())
    click.echo(f"purged {count} account(s)")


def _grant_command(entitlement: str, what: str) -> Callable[[str, int | None, bool], None]:
    def command(username: str, days: int | None, revoke: bool) -> None:
        async def work(plaza: Plaza) -> str:
            user = await plaza.identity.find_user(username)
            if user is None:
                raise click.ClickException(f"no user named {username!r}")
            if revoke:
                count = await plaza.entitlements.revoke(user.id, entitlement, source="admin")
                return f"ended {count} complimentary {what} grant(s) of {user.username}"
            until = plaza.clock.now() + timedelta(days=days) if days else None
            grant = await plaza.entitlements.grant(
                user.id, entitlement, until=until, source="admin", note="plaza admin"
            )
            ends = "without end"
            if grant.expires_at is not None:
                ends = f"until {grant.expires_at:%Y-%m-%d %H:%M} UTC"
            return f"{user.username} has complimentary {what} {ends}"

        click.echo(_run(work))

    return command


_GRANT_OPTIONS = (
    click.argument("username"),
    click.option("--days", type=click.IntRange(min=1), default=None, help="Length of the grant."),
    click.option("--revoke", is_flag=True, help="End the complimentary grants instead."),
)


def _with_grant_options(
    function: Callable[[str, int | None, bool], None],
) -> Callable[[str, int | None, bool], None]:
    for decorate in reversed(_GRANT_OPTIONS):
        function = decorate(function)
    return function


admin.command(
    "grant-premium",
    help="Give complimentary Premium (every Premium entitlement), as X grants some accounts.",
)(_with_grant_options(_grant_command(PREMIUM, "Premium")))
admin.command("grant-verified", help="Give the verified badge alone, without the rest of Premium.")(
    _with_grant_options(_grant_command(Entitlement.VERIFIED, "verification"))
)


@main.group()
def ledger() -> None:
    """The double-entry ledger."""


@ledger.command("verify")
def ledger_verify() -> None:
    """Check every ledger invariant from the stored history; exit 1 if one fails."""
    report = _run(lambda plaza: plaza.ledger.verify())
    for name, passed, detail in report.checks:
        click.echo(f"[{'ok' if passed else 'FAILED'}] {name}: {detail}")
    click.echo("counts: " + ", ".join(f"{k}={v}" for k, v in sorted(report.counts.items())))
    if not report.ok:
        click.echo("ledger verification FAILED", err=True)
        sys.exit(1)
    click.echo("ledger verified: every invariant holds")


@main.group()
def premium() -> None:
    """Premium subscriptions."""


@premium.command("renew")
def premium_renew() -> None:
    """Renew, retry or expire every subscription that is due now (what the scheduler
    does every PLAZA_PREMIUM_RENEWAL_INTERVAL_SECONDS); safe beside running servers."""
    report = _run(lambda plaza: plaza.billing.renew_due())
    click.echo(f"renewed {report.charged}, failed {report.failed}, expired {report.expired}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise click.ClickException("the passwords differ")
    return first


def _cli_client() -> ClientInfo:
    return ClientInfo(ip="", user_agent="plaza-cli")


if __name__ == "__main__":
    main()
