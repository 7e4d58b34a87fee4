// Triage on the moderator's cards: the category (changed in one action), the flags, the
// priority score, and likely duplicates with a suggested "merge into". moderate.js calls
// `decorate(node, sub, page)` for every card it builds and `setupTriage(page)` once.
//
// Everything here is built with textContent and attributes only: a question's text, an
// author's name or a category label typed by an admin stays inert text.
import { el, format, readJson } from "./dom.js";

const OPEN = new Set(["pending", "approved", "on_screen"]);
const FLAGS = ["profanity", "link", "shouting", "long", "muted_author"];
const MINUTE = 60000;

let strings = {};
let categories = []; // [{key, label}] in the town's order
let weights = null; // {verified, asked, votes, age_per_minute}
let filterCategory = "";
let filterFlagged = false;

function s(key, fallback) {
  return strings[key] || fallback || key;
}

function categoryLabel(key) {
  const found = categories.find((c) => c.key === key);
  return found ? found.label : key;
}

// The live score: the points the server keeps plus the minutes waited (priority.py).
export function liveScore(sub, now = Date.now()) {
  const points = typeof sub.score === "number" ? sub.score : 0;
  if (!weights || !sub.received_at) return points;
  const waited = Math.max(0, (now - new Date(sub.received_at).getTime()) / MINUTE);
  return points + weights.age_per_minute * waited;
}

function scoreParts(sub) {
  if (!weights) return "";
  const minutes = sub.received_at ? Math.max(0, Math.round((Date.now() - new Date(sub.received_at).getTime()) / MINUTE)) : 0;
  return format(s("scoreParts", "verified {verified} · asked {asked} · votes {votes} · waited {minutes} min"), {
    verified: sub.verified ? weights.verified : 0,
    asked: Math.max(0, (sub.asked_count || 1) - 1) * weights.asked,
    votes: (sub.votes || 0) * weights.votes,
    minutes,
  });
}

function categoryControl(sub, page) {
  const label = format(s("categoryOf", "Category of question #{id}"), { id: sub.id });
  if (sub.status === "merged" || !categories.length) {
    return sub.category ? el("span", { class: "badge category" }, categoryLabel(sub.category)) : null;
  }
  const known = categories.some((c) => c.key === sub.category);
  const options = [
    sub.category === null || sub.category === undefined
      ? el("option", { value: "", selected: true, disabled: true }, s("noCategory", "no category"))
      : null,
    !known && sub.category ? el("option", { value: sub.category, selected: true }, sub.category) : null,
    ...categories.map((c) => el("option", { value: c.key, selected: c.key === sub.category }, c.label)),
  ];
  const select = el("select", {
    class: `category-select${sub.category_suggested ? " suggested" : ""}`,
    "aria-label": label,
    title: sub.category_suggested ? s("suggested", "suggested automatically") : label,
    dataset: { categoryFor: sub.id },
  }, options);
  select.addEventListener("change", async () => {
    const chosen = select.value;
    select.disabled = true;
    const answer = await page.act("categorize", sub.id, { category: chosen });
    select.disabled = false;
    if (answer) page.announce(format(s("categorized", "Question #{id}: {category}"), { id: sub.id, category: categoryLabel(chosen) }));
  });
  return el("span", { class: "category-field" },
    select,
    sub.category_suggested ? el("span", { class: "suggested-mark", title: s("suggested", "suggested automatically") }, s("auto", "auto")) : null);
}

function flagBadges(sub) {
  const flags = (sub.flags || []).filter((f) => FLAGS.includes(f));
  if (!flags.length) return null;
  return el("span", { class: "flags", role: "group", "aria-label": s("flagsLabel", "Flags") },
    flags.map((flag) => el("span", { class: `badge flag flag-${flag}`, title: (strings.flagHelp || {})[flag] || null }, (strings.flags || {})[flag] || flag)));
}

function scoreBadge(node, sub) {
  // The approved tab already shows the score beside the place in line.
  if (node.querySelector(".item-score") || !OPEN.has(sub.status)) return null;
  return el("span", { class: "badge score", title: scoreParts(sub) },
    format(s("score", "score {n}"), { n: Math.round(liveScore(sub) * 10) / 10 }));
}

function duplicateLine(sub, page) {
  if (!OPEN.has(sub.status)) return null;
  const found = (sub.duplicates || []).filter((d) => {
    const other = page.store.submissions.get(d.id);
    return other && OPEN.has(other.status) && other.id !== sub.id;
  });
  if (!found.length) return null;
  const best = found[0];
  return el("p", { class: "duplicates small" },
    el("span", { class: "duplicates-label" }, s("looksLike", "Looks like:")), " ",
    found.flatMap((d, i) => [
      i ? ", " : "",
      el("button", { type: "button", class: "link-button", dataset: { gotoQuestion: d.id } },
        format(s("duplicateOf", "#{id} ({n}%)"), { id: d.id, n: Math.round(d.similarity) })),
    ]),
    " ",
    el("button", {
      type: "button",
      class: "merge-into",
      dataset: { mergeInto: best.id, id: sub.id },
      title: s("mergeIntoHelp", "Everyone who asked this counts on the question kept, and is told when it is answered."),
    }, format(s("mergeInto", "Merge into #{id}"), { id: best.id })));
}

function muteButton(sub) {
  if (sub.status === "merged") return null;
  const muted = (sub.flags || []).includes("muted_author");
  return el("button", {
    type: "button",
    class: "link-button mute-author",
    dataset: { muteFor: sub.id, muted: muted ? "1" : "" },
  }, muted ? s("unmute", "Unmute author") : s("mute", "Mute author"));
}

// Adds the triage row to a card (called by moderate.js for every card it builds).
export function decorate(node, sub, page) {
  const row = el("div", { class: "triage-row" },
    categoryControl(sub, page),
    flagBadges(sub),
    scoreBadge(node, sub),
    muteButton(sub));
  const actions = node.querySelector(".item-actions");
  node.insertBefore(row, actions);
  const duplicates = duplicateLine(sub, page);
  if (duplicates) node.insertBefore(duplicates, actions);
}

function readState(state) {
  if (!state) return;
  if (Array.isArray(state.categories)) categories = state.categories;
  if (state.priority) weights = state.priority;
}

function stylesheet() {
  if (document.querySelector('link[data-triage]')) return;
  const module = new URL(import.meta.url);
  const link = el("link", { rel: "stylesheet", href: new URL("../css/triage.css", module).pathname, dataset: { triage: "1" } });
  document.head.append(link);
}

function toolbar(page) {
  const slot = page.slot("toolbar");
  if (!slot) return;
  const select = el("select", { id: "category-filter", "aria-label": s("filterLabel", "Category") });
  const fill = () => {
    const current = filterCategory;
    select.replaceChildren(
      el("option", { value: "" }, s("allCategories", "All categories")),
      ...categories.map((c) => el("option", { value: c.key }, c.label)),
      el("option", { value: "none" }, s("noCategory", "no category")));
    select.value = [...select.options].some((o) => o.value === current) ? current : "";
    filterCategory = select.value;
  };
  fill();
  select.addEventListener("change", () => { filterCategory = select.value; page.render(); });
  const flagged = el("input", { type: "checkbox", id: "flagged-only" });
  flagged.addEventListener("change", () => { filterFlagged = flagged.checked; page.render(); });
  slot.append(
    el("label", { class: "category-filter", for: "category-filter" }, s("filterLabel", "Category"), " ", select),
    el("label", { class: "checkbox" }, flagged, " ", s("flaggedOnly", "Flagged only")));
  return fill;
}

export function setupTriage(page) {
  strings = readJson("triage-strings") || page.strings.triage || {};
  readState(page.state);
  stylesheet();
  const refill = toolbar(page);
  page.addFilter((sub) => {
    if (filterCategory === "none" && sub.category) return false;
    if (filterCategory && filterCategory !== "none" && sub.category !== filterCategory) return false;
    if (filterFlagged && !(sub.flags || []).length) return false;
    return true;
  });
  page.onMessage((message) => {
    if (message.type === "snapshot") {
      readState(message);
      if (refill) refill();
      page.render({ rebuild: true });
    }
    if (message.type === "muted" && message.mute) {
      page.announce(format(message.mute.muted ? s("mutedNow", "{handle} is muted for this meeting") : s("unmutedNow", "{handle} is no longer muted"), { handle: message.mute.handle }));
    }
  });
  page.registerKey("c", {
    help: s("keyCategory", "Change the category"),
    run: (event, sub) => {
      if (!sub) return;
      const select = page.queue.querySelector(`[data-category-for="${sub.id}"]`);
      if (select) { select.focus(); if (typeof select.showPicker === "function") { try { select.showPicker(); } catch { /* not allowed: focus is enough */ } } }
    },
  });
  page.queue.addEventListener("click", async (event) => {
    const merge = event.target.closest("[data-merge-into]");
    if (merge) {
      event.stopPropagation();
      await page.act("merge", Number(merge.dataset.id), { into: Number(merge.dataset.mergeInto) });
      return;
    }
    const jump = event.target.closest("[data-goto-question]");
    if (jump) {
      event.stopPropagation();
      page.goTo(Number(jump.dataset.gotoQuestion));
      return;
    }
    const mute = event.target.closest("[data-mute-for]");
    if (mute) {
      event.stopPropagation();
      const path = mute.dataset.muted ? "unmute" : "mute";
      mute.disabled = true;
      try {
        const { response, answer } = await page.request("POST", `${page.api}/${path}`, { submission: Number(mute.dataset.muteFor) });
        page.showError(response.ok ? "" : answer.detail || s("network", "Could not reach the server."));
      } catch {
        page.showError(s("network", "Could not reach the server."));
      } finally {
        mute.disabled = false;
      }
    }
  });
}
