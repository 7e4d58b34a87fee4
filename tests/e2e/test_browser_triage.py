"""Triage in a real browser: the category changes in one action, flags are inert text."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from council.models import Submission
from council.moderation import admin
from tests.e2e.conftest import Contexts
from tests.factories import LiveServer

pytestmark = pytest.mark.browser

PAYLOAD = '<img src=x onerror="window.__pwned=1">'
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + (event.sample || ""));
});
"""


def card(page: Page, sub_id: int):  # type: ignore[no-untyped-def]
    return page.locator(f'#queue .item[data-id="{sub_id}"]')


def category_of(server: LiveServer, sub_id: int) -> tuple[str | None, bool]:
    with server.db.session() as session:
        sub = session.get(Submission, sub_id)
        assert sub is not None
        return sub.category, sub.category_suggested


def test_a_moderator_changes_the_category_in_one_action_and_others_see_it(
    contexts: Contexts, server: LiveServer
) -> None:
    sub = server.submit(name="Ana", text="¿Cuándo arreglan la farola de la calle Mayor?")
    first, second = contexts.moderator(), contexts.moderator()
    select = card(first, sub["id"]).locator("select.category-select")
    expect(select).to_have_value("lighting")
    expect(card(first, sub["id"]).locator(".suggested-mark")).to_be_visible()

    select.select_option("streets")

    expect(card(second, sub["id"]).locator("select.category-select")).to_have_value(
        "streets", timeout=5_000
    )
    expect(card(second, sub["id"]).locator(".suggested-mark")).to_have_count(0)
    assert category_of(server, sub["id"]) == ("streets", False)
    # The filter shows only that category.
    second.locator("#category-filter").select_option("lighting")
    expect(card(second, sub["id"])).to_have_count(0)
    second.locator("#category-filter").select_option("streets")
    expect(card(second, sub["id"])).to_be_visible()


def test_the_c_key_reaches_the_category_of_the_selected_question(
    contexts: Contexts, server: LiveServer
) -> None:
    sub = server.submit(name="Ana", text="Hay una fuga de agua en la plaza")
    page = contexts.moderator()
    card(page, sub["id"]).click()
    page.keyboard.press("c")
    select = card(page, sub["id"]).locator("select.category-select")
    expect(select).to_be_focused()
    page.keyboard.press("Escape")
    select.select_option("police")
    expect(select).to_have_value("police")


def test_flags_and_admin_labels_show_as_inert_text(contexts: Contexts, server: LiveServer) -> None:
    # An admin's category name carrying a payload, and a question that earns flags.
    server.write(
        admin.edit_categories,
        categories=[
            {"key": "lighting", "label": PAYLOAD, "keywords": ["farola"]},
            {"key": "other", "label": "Otros", "keywords": []},
        ],
    )
    sub = server.submit(
        name=PAYLOAD, text=f"{PAYLOAD} LA FAROLA ES UNA MIERDA, MIRAD www.example.org"
    )
    page = contexts.moderator()
    page.add_init_script(WATCH_CSP)
    page.reload()
    item = card(page, sub["id"])
    flags = item.locator(".badge.flag")
    expect(flags).to_have_text(["profanity", "link"])
    expect(item.locator("select.category-select option:checked")).to_have_text(PAYLOAD)
    expect(item.locator(".item-text")).to_contain_text(PAYLOAD)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("[onerror]").count() == 0
    assert page.evaluate("window.__cspViolations") == []


def test_a_likely_duplicate_is_merged_from_its_suggestion(
    contexts: Contexts, server: LiveServer
) -> None:
    kept = server.submit(name="Ana", text="¿Cuándo arreglan la farola de la calle Mayor?")
    again = server.submit(name="Luis", text="cuando arreglan la farola de la calle mayor!!")
    page = contexts.moderator()
    item = card(page, again["id"])
    expect(item.locator(".duplicates")).to_contain_text(f"#{kept['id']}")
    item.locator("[data-merge-into]").click()
    expect(card(page, again["id"])).to_have_count(0)
    expect(card(page, kept["id"]).locator(".asked")).to_have_text("+1 asked this")
