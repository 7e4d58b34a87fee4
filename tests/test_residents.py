"""The register of verified residents: handles checked at town hall earn a badge everywhere."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from council.db import Database
from council.errors import Conflict, InvalidInput, NotFound
from council.intake import Post, collect
from council.models import Submission
from council.residents import add_resident, import_csv, is_verified, remove_resident
from tests.factories import log_in, make_user


def post(number: int, handle: str) -> Post:
    return Post(
        external_id=str(number), text=f"pregunta {number}", author_name=handle, handle=handle
    )


def collected(db: Database, *posts: Post) -> list[Submission]:
    meeting_id = 1
    stored, _events = db.run_write(collect, meeting_id=meeting_id, source="x", posts=list(posts))
    return stored


@pytest.mark.parametrize("written", ["Vecina_Jun", "@vecina_jun", "  @VECINA_JUN "])
def test_handles_match_without_regard_to_case_or_at_sign(db: Database, written: str) -> None:
    db.run_write(add_resident, handle=written)
    with db.session() as session:
        assert is_verified(session, source="x", handle="@VeCiNa_jUn")
        assert not is_verified(session, source="x", handle="vecina_jun2")
        assert not is_verified(session, source="mastodon", handle="vecina_jun")


def test_posts_from_registered_handles_carry_the_badge(db: Database, meeting: str) -> None:
    db.run_write(add_resident, handle="@Vecina_Jun")
    verified, other = collected(db, post(1, "vecina_jun"), post(2, "forastero"))
    assert verified.verified and not other.verified


def test_registering_a_handle_badges_their_open_questions_at_once(
    client: TestClient, db: Database, meeting: str
) -> None:
    [pending] = collected(db, post(1, "Vecina_Jun"))
    make_user(db, "clerk", role="admin")
    csrf = log_in(client, "clerk")
    with (
        client.websocket_connect("/ws/meetings/pleno/moderation") as moderation,
        client.websocket_connect("/ws/meetings/pleno") as public,
    ):
        moderation.receive_json()
        public.receive_json()
        client.post("/admin/residents", data={"csrf_token": csrf, "handle": "vecina_jun"})
        message = moderation.receive_json()
        assert message["type"] == "verified"
        assert (message["submissions"][0]["id"], message["submissions"][0]["verified"]) == (
            pending.id,
            True,
        )
        # A pending question is nobody's business on the public socket: the next public
        # message is the approval below, not the badge.
        client.post(
            f"/api/meetings/pleno/submissions/{pending.id}/approve", headers={"X-CSRF-Token": csrf}
        )
        assert public.receive_json()["type"] == "approved"
    with db.session() as session:
        assert session.get(Submission, pending.id).verified  # type: ignore[union-attr]


def test_bad_handles_and_duplicates_are_refused_clearly(db: Database) -> None:
    with pytest.raises(InvalidInput, match="should look like @PlenoJun"):
        db.run_write(add_resident, handle="not a handle!")
    with pytest.raises(InvalidInput, match="use x, mastodon or bluesky"):
        db.run_write(add_resident, handle="ana", source="myspace")
    db.run_write(add_resident, handle="ana@mastodon.social", source="mastodon")
    with pytest.raises(Conflict, match="already"):
        db.run_write(add_resident, handle="@Ana@Mastodon.Social", source="mastodon")
    with pytest.raises(NotFound):
        db.run_write(remove_resident, handle="nadie")


def test_csv_import_adds_good_rows_and_names_bad_ones(db: Database) -> None:
    text = (
        "handle,source,note\n@PlenoJun,x,\nbad handle!,x,\n@PlenoJun,,\n"
        "jun.bsky.social,bluesky,ok\n"
    )
    result, _events = db.run_write(import_csv, text=text)
    assert (result.added, result.already) == (2, 1)
    assert result.errors == [
        "Line 3: “bad handle!” is not a valid X handle; it should look like @PlenoJun."
    ]


def test_admin_page_registers_imports_and_removes_residents(
    client: TestClient, db: Database
) -> None:
    make_user(db, "clerk", role="admin")
    csrf = log_in(client, "clerk")
    page = client.post(
        "/admin/residents",
        data={"csrf_token": csrf, "handle": "@Vecina_Jun", "source": "x", "note": "DNI visto"},
    )
    assert page.status_code == 200 and "vecina_jun is now" not in page.text
    assert "@Vecina_Jun is now a verified resident." in page.text and "DNI visto" in page.text
    imported = client.post(
        "/admin/residents/import",
        data={"csrf_token": csrf},
        files={"file": ("lista.csv", b"handle\n@uno\n@dos\nmal!\n", "text/csv")},
    )
    assert imported.status_code == 422
    assert "Added 2; 0 were already registered." in imported.text and "Line 4" in imported.text
    not_utf8 = client.post(
        "/admin/residents/import",
        data={"csrf_token": csrf},
        files={"file": ("lista.csv", "@pe\xf1a\n".encode("latin-1"), "text/csv")},
    )
    assert not_utf8.status_code == 422 and "not UTF-8" in not_utf8.text
    client.post(
        "/admin/residents/remove", data={"csrf_token": csrf, "handle": "uno", "source": "x"}
    )
    with db.session() as session:
        assert not is_verified(session, source="x", handle="uno")
        assert is_verified(session, source="x", handle="dos")
    forged = client.post("/admin/residents", data={"csrf_token": "x", "handle": "@tres"})
    assert forged.status_code == 403


@pytest.mark.parametrize(
    ("written", "source", "stored"),
    [
        ("@Paco@Mastodon.Social", "mastodon", "paco@mastodon.social"),
        ("https://mastodon.social/@paco", "mastodon", "paco@mastodon.social"),
        ("ana.maria@misskey.io", "mastodon", "ana.maria@misskey.io"),
        ("@BegoSaez.bsky.social", "bluesky", "begosaez.bsky.social"),
        ("https://bsky.app/profile/begosaez.bsky.social", "bluesky", "begosaez.bsky.social"),
        ("https://x.com/Vecina_Jun", "x", "vecina_jun"),
    ],
)
def test_handles_from_every_source_are_normalised(
    db: Database, written: str, source: str, stored: str
) -> None:
    resident, _events = db.run_write(add_resident, handle=written, source=source)
    assert (resident.source, resident.handle) == (source, stored)


@pytest.mark.parametrize(
    ("written", "source", "hint"),
    [
        ("@paco", "mastodon", "@vecina@mastodon.social"),
        ("not a handle", "bluesky", "jun.bsky.social"),
    ],
)
def test_a_handle_without_its_server_is_refused_with_an_example(
    db: Database, written: str, source: str, hint: str
) -> None:
    with pytest.raises(InvalidInput, match=hint):
        db.run_write(add_resident, handle=written, source=source)


def test_mastodon_and_bluesky_posts_carry_the_badge(db: Database, meeting: str) -> None:
    db.run_write(add_resident, handle="@Paco@Jun.Social", source="mastodon")
    db.run_write(add_resident, handle="bego.bsky.social", source="bluesky")
    toot = Post(
        external_id="https://jun.social/users/paco/statuses/1",
        text="una",
        author_name="Paco",
        handle="Paco@jun.social",
    )
    skeet = Post(
        external_id="at://did:plc:b/app.bsky.feed.post/1",
        text="otra",
        author_name="Bego",
        handle="bego.bsky.social",
    )
    [from_mastodon], _events = db.run_write(collect, meeting_id=1, source="mastodon", posts=[toot])
    [from_bluesky], _events = db.run_write(collect, meeting_id=1, source="bluesky", posts=[skeet])
    assert from_mastodon.verified and from_bluesky.verified
    # The same handle on another source is someone else.
    [elsewhere], _events = db.run_write(
        collect, meeting_id=1, source="x", posts=[post(3, "bego.bsky.social")]
    )
    assert not elsewhere.verified
