// The moderator's page: a live queue, one button per action, and keyboard shortcuts.
// Actions name the status the moderator saw, so a click that lost a race with another
// moderator gets a clear 409 instead of silently undoing their work.
//
// Other modules plug in through the `page` object (see `page` below): triage.js decorates
// each card, screen-safety.js adds the screen delay and blackout controls; both are loaded
// if present, so the page works without them.
import { connect, connectionIndicator } from "./live.js";
import { byTime, Store } from "./store.js";
import { el, format, number, readJson, replaceChildren, questionMeta } from "./dom.js";
import { createLocks } from "./moderate-locks.js";
import { setupCounts } from "./moderate-counts.js";
import { setupActivity } from "./moderate-activity.js";
import { setupOrdering } from "./moderate-order.js";

const state = readJson("state");
const strings = readJson("strings");
const root = document.getElementById("moderate");
const queue = document.getElementById("queue");
const errorBox = document.getElementById("action-error");
const noticeBox = document.getElementById("notice");
const announcer = document.getElementById("announcer");
const searchBox = document.getElementById("search");
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const store = new Store(state);
const locks = createLocks();

const TABS = ["pending", "approved", "on_screen", "answered", "rejected", "merged", "all"];
// Which actions each status offers, in the order of the buttons.
const ACTIONS = {
  pending: ["approve", "reject", "edit", "merge"],
  approved: ["show", "restore", "edit", "merge"],
  on_screen: ["hide", "answer", "edit", "merge"],
  answered: ["edit"],
  rejected: ["restore", "merge"],
  merged: [],
};
const ACTION_KEYS = { a: "approve", r: "reject", s: "show", h: "hide", d: "answer", e: "edit", m: "merge", u: "restore" };
// Who made a question what it is now: the view's field for each status.
const DONE_BY = {
  approved: ["approved_by", "approved_at"], rejected: ["rejected_by", "rejected_at"],
  on_screen: ["shown_by", "shown_at"], answered: ["answered_by", "answered_at"],
  pending: ["restored_by", "restored_at"], merged: ["merged_by", "merged_at"],
};

const collectors = new Map((state.collectors || []).map((c) => [c.source, c]));
const replies = new Map((state.replies || []).map((r) => [r.id, r]));
const verifiedOnly = document.getElementById("verified-only");

let tab = "pending";
let selectedId = null;
let ready = false;
let query = ""; // the search, folded
let order = []; // ids listed at the last render, to keep the place when one goes
let keyboardInQueue = false; // the moderator works in the queue: keep focus there
let socket = null;
const inFlight = new Set(); // questions this page is acting on now
const filters = []; // other modules' filters
const keys = new Map(); // key -> {help, run}
const messageHandlers = [];
const cards = new Map(); // id -> {sub, signature, node}: cards are rebuilt only when changed
let generation = 0; // bumped to rebuild every card
let extensions = { decorate: null };

// -- the queue ---------------------------------------------------------------------------------

function fold(text) {
  return String(text || "").normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

function matches(sub) {
  if (!query) return true;
  const words = query.split(/\s+/).filter(Boolean);
  const haystack = fold([`#${sub.id}`, sub.text, sub.original_text, sub.author, sub.handle, sub.neighborhood].join(" "));
  return words.every((word) => haystack.includes(word));
}

function visible() {
  let items;
  if (tab === "all") items = [...store.submissions.values()];
  else if (tab === "approved") items = store.approved();
  else items = store.withStatus(tab);
  if (verifiedOnly.checked) items = items.filter((s) => s.verified);
  if (query) items = items.filter(matches);
  for (const keep of filters) {
    try {
      items = items.filter(keep);
    } catch (error) {
      console.error(error);
    }
  }
  if (tab !== "approved") {
    const field = { answered: "answered_at", rejected: "rejected_at" }[tab] || "received_at";
    items.sort(byTime(field));
  }
  return items;
}

function card(sub, { rank = null, lookers = [], onScreenBox = false } = {}) {
  const buttons = (ACTIONS[sub.status] || []).map((action) =>
    el("button", { type: "button", class: `action action-${action}`, dataset: { action, id: sub.id } }, strings[action]));
  const reorder = rank !== null && !onScreenBox;
  if (reorder) {
    buttons.push(
      el("button", { type: "button", class: "move", dataset: { move: "up", id: sub.id }, "aria-label": format(strings.moveUpLabel, { id: sub.id }) }, "↑"),
      el("button", { type: "button", class: "move", dataset: { move: "down", id: sub.id }, "aria-label": format(strings.moveDownLabel, { id: sub.id }) }, "↓"));
  }
  const node = el("li", {
      class: `item status-${sub.status}${sub.id === selectedId && !onScreenBox ? " selected" : ""}${lookers.length ? " watched" : ""}`,
      tabindex: sub.id === selectedId && !onScreenBox ? "0" : "-1",
      dataset: { id: sub.id },
      draggable: reorder ? "true" : null,
      "aria-label": `#${sub.id} ${sub.author}: ${sub.text}`,
    },
    el("div", { class: "item-head" },
      reorder ? el("span", { class: "drag-handle", "aria-hidden": "true", title: strings.dragHandle }, "⠿") : null,
      rank !== null ? el("span", { class: "item-rank", title: strings.rankTitle }, format(strings.rank, { n: rank })) : null,
      el("span", { class: "item-id" }, `#${sub.id}`),
      el("span", { class: "item-status" }, strings.statuses[sub.status] || sub.status),
      rank !== null && typeof sub.score === "number"
        ? el("span", { class: "item-score", title: strings.scoreTitle }, format(strings.score, { n: Math.round(sub.score * 10) / 10 }))
        : null,
      sub.edited ? el("span", { class: "edited" }, strings.edited) : null,
      lookers.length ? el("span", { class: "viewing-badge" }, format(strings.viewing, { names: lookers.join(", ") })) : null),
    el("p", { class: "item-text" }, sub.text),
    sub.edited ? el("p", { class: "item-original muted small" }, `${strings.original} ${sub.original_text}`) : null,
    el("p", { class: "question-meta" },
      sub.avatar_url ? el("img", { class: "avatar", src: sub.avatar_url, alt: "", width: 24, height: 24, loading: "lazy", referrerpolicy: "no-referrer" }) : null,
      questionMeta(sub, strings),
      sub.handle ? el("span", { class: "handle" }, sub.handle.startsWith("@") ? sub.handle : `@${sub.handle}`) : null,
      sub.url ? el("a", { href: sub.url, target: "_blank", rel: "noopener noreferrer" }, strings.viewPost) : null),
    reasonLine(sub),
    sub.merged_into ? el("p", { class: "muted small" }, format(strings.mergedInto, { n: sub.merged_into })) : null,
    el("div", { class: "item-actions" }, buttons));
  if (extensions.decorate) {
    try {
      extensions.decorate(node, sub, page);
    } catch (error) {
      console.error(error);
    }
  }
  return node;
}

function reasonLine(sub) {
  if (sub.status !== "rejected" && !sub.rejection_reason) return null;
  const label = sub.rejection_key ? strings.reasons[sub.rejection_key] || sub.rejection_key : null;
  const words = [label, sub.rejection_reason].filter(Boolean).join(": ");
  return words ? el("p", { class: "muted small" }, `${strings.reason} ${words}`) : null;
}

// The card for `sub`, reused while nothing it shows has changed.
function cached(sub, options) {
  const signature = `${generation}|${options.rank}|${options.lookers.join(",")}`;
  const hit = cards.get(sub.id);
  if (hit && hit.sub === sub && hit.signature === signature) return hit.node;
  const node = card(sub, options);
  cards.set(sub.id, { sub, signature, node });
  return node;
}

// Put `nodes` in `list` in this order, moving as few as possible (a moved node loses focus).
function reconcile(list, nodes) {
  const wanted = new Set(nodes);
  for (const child of [...list.children]) if (!wanted.has(child)) child.remove();
  let cursor = list.firstElementChild;
  for (const node of nodes) {
    if (node === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(node, cursor);
  }
}

// When the selected question leaves the list (acted on, here or by someone else), the
// selection goes to the one that followed it, so the moderator's place does not jump.
function keepPlace(items) {
  const ids = new Set(items.map((s) => s.id));
  if (selectedId !== null && ids.has(selectedId)) return;
  const was = order.indexOf(selectedId);
  let next = null;
  if (was >= 0) {
    next = order.slice(was + 1).find((id) => ids.has(id)) ?? [...order.slice(0, was)].reverse().find((id) => ids.has(id)) ?? null;
  }
  selectedId = next ?? (items.length ? items[0].id : null);
}

const STEP_MORE = 200;
let limit = STEP_MORE; // cards shown in the list (see render)
let renderQueued = false;
let rebuildQueued = false;
let countsUpdate = () => {};

// Renders come in bursts (several events a second): one per task is enough.
function scheduleRender({ rebuild = false } = {}) {
  if (rebuild) rebuildQueued = true;
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(render, 0);
}

function render() {
  renderQueued = false;
  if (rebuildQueued) {
    generation += 1;
    rebuildQueued = false;
  }
  const focused = document.activeElement;
  const focusInQueue = queue.contains(focused) || (keyboardInQueue && (focused === document.body || focused === null || !focused.isConnected));
  const focusedAction = queue.contains(focused) ? focused?.dataset?.action || focused?.dataset?.move : null;
  const items = visible();
  const previous = selectedId;
  keepPlace(items);
  // Thousands of cards would make every event slow to show: the list shows the first
  // `limit`, and grows to keep the selection in it (j past the end, "Show more").
  const at = items.findIndex((s) => s.id === selectedId);
  if (at >= limit) limit = at + 1 + STEP_MORE / 4;
  const shown = items.slice(0, limit);
  const ranked = tab === "approved";
  const nodes = shown.map((sub, index) => cached(sub, { rank: ranked ? index + 1 : null, lookers: locks.who(sub.id) }));
  reconcile(queue, nodes);
  order = items.map((s) => s.id);
  for (const node of nodes) {
    const on = Number(node.dataset.id) === selectedId;
    node.classList.toggle("selected", on);
    node.tabIndex = on ? 0 : -1;
  }
  document.getElementById("queue-empty").hidden = items.length > 0;
  const more = document.getElementById("queue-more");
  more.hidden = items.length <= shown.length;
  if (!more.hidden) more.textContent = format(strings.showMore, { n: Math.min(STEP_MORE, items.length - shown.length), left: items.length - shown.length });
  const byStatus = {};
  for (const sub of store.submissions.values()) byStatus[sub.status] = (byStatus[sub.status] || 0) + 1;
  for (const key of TABS) {
    const count = key === "all" ? store.submissions.size : byStatus[key] || 0;
    document.querySelector(`[data-count="${key}"]`).textContent = String(count);
  }
  renderOnScreen();
  renderSearchSummary(items.length);
  renderViewers();
  if (store.meeting) document.getElementById("meeting-status").textContent = store.meeting.status;
  countsUpdate();
  if (selectedId !== previous) locks.look(selectedId);
  // New questions arriving, or others acting, must never steal or lose the moderator's place.
  if (focusInQueue && selectedId !== null) {
    const item = queue.querySelector(`[data-id="${selectedId}"]`);
    const target = (focusedAction && item?.querySelector(`[data-action="${focusedAction}"], [data-move="${focusedAction}"]`)) || item;
    if (target && document.activeElement !== target) target.focus({ preventScroll: !keyboardInQueue });
  }
}

let onScreenCard = { sub: null, node: null, generation: -1 };
function renderOnScreen() {
  const current = store.onScreen();
  const box = document.getElementById("on-screen");
  if (!current) {
    if (onScreenCard.sub !== null || !box.firstElementChild) {
      onScreenCard = { sub: null, node: null, generation };
      replaceChildren(box, [el("p", { class: "muted" }, strings.nothingOnScreen)]);
    }
    return;
  }
  if (onScreenCard.sub === current && onScreenCard.generation === generation) return;
  const hadFocus = box.contains(document.activeElement) ? document.activeElement.dataset.action : null;
  onScreenCard = { sub: current, node: card(current, { onScreenBox: true }), generation };
  replaceChildren(box, [el("ul", { class: "queue" }, onScreenCard.node)]);
  if (hadFocus) onScreenCard.node.querySelector(`[data-action="${hadFocus}"]`)?.focus();
}

function renderSearchSummary(shown) {
  const line = document.getElementById("search-summary");
  line.hidden = !query;
  if (query) line.textContent = format(strings.searchSummary, { n: shown, query: searchBox.value.trim() });
}

function renderViewers() {
  const line = document.getElementById("viewers");
  const others = locks.others();
  line.hidden = others.length === 0;
  line.textContent = others.length
    ? format(strings.viewers, { list: others.map((v) => format(strings.viewerAt, { user: v.user, id: v.submission_id })).join(", ") })
    : "";
}

function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString(document.documentElement.lang || undefined) : "–";
}

function renderSources() {
  const box = document.getElementById("sources");
  const list = [...collectors.values()];
  const replyList = [...replies.values()];
  box.hidden = list.length === 0 && replyList.length === 0;
  replaceChildren(document.getElementById("collectors"), list.map((c) => {
    const trouble = ["failed", "retrying", "rate_limited", "paused"].includes(c.status);
    return el("li", { class: `collector collector-${c.status}`, dataset: { source: c.source } },
      el("strong", {}, strings.sourceNames[c.source] || c.source), " ",
      el("span", { class: "collector-status" }, strings.collectorStates[c.status] || c.status),
      c.paused_until ? ` (${format(strings.until, { time: clock(c.paused_until) })})` : "",
      " · ", format(strings.lastPoll, { time: clock(c.last_poll_at) }),
      " · ", format(strings.collected, { n: c.collected }),
      // Only X charges per read; Mastodon and Bluesky cost nothing to show.
      c.source === "x" ? ` · ${format(strings.cost, { cost: number(c.estimated_cost, 3) })}` : "",
      c.source === "x" && c.cost_cap !== null && c.cost_cap !== undefined ? ` ${format(strings.costCap, { cap: c.cost_cap })}` : "",
      trouble && c.last_error ? el("p", { class: "collector-error", role: c.status === "failed" ? "alert" : null }, c.last_error) : null,
      c.status === "failed" ? el("button", { type: "button", dataset: { retrySource: c.source } }, strings.retry) : null);
  }));
  const count = (status) => replyList.filter((r) => r.status === status).length;
  document.getElementById("replies-box").hidden = replyList.length === 0;
  document.getElementById("replies-summary").textContent = format(strings.repliesSummary, {
    sent: count("sent"), pending: count("pending") + count("sending"), failed: count("failed"), uncertain: count("uncertain"),
  });
  replaceChildren(document.getElementById("replies-problems"),
    replyList.filter((r) => r.status === "failed" || r.status === "uncertain").map((r) =>
      el("li", { class: `reply-${r.status}` },
        format(r.status === "failed" ? strings.replyFailed : strings.replyUncertain, { id: r.submission, error: r.last_error || "" }), " ",
        el("button", { type: "button", dataset: { replyId: r.id } }, strings.sendAgain))));
}

function select(id, focus = true) {
  selectedId = id;
  // Beyond the cards shown: the render shows more, up to it.
  if (!queue.querySelector(`[data-id="${id}"]`)) render();
  for (const item of queue.querySelectorAll(".item")) {
    const on = Number(item.dataset.id) === id;
    item.classList.toggle("selected", on);
    item.tabIndex = on ? 0 : -1;
    if (on && focus) {
      keyboardInQueue = true;
      item.focus();
    }
  }
  locks.look(id);
}

function move(step) {
  const items = visible();
  if (!items.length) return;
  const index = items.findIndex((s) => s.id === selectedId);
  const next = items[index < 0 ? 0 : Math.min(items.length - 1, Math.max(0, index + step))];
  select(next.id);
}

function switchTab(key) {
  tab = key;
  for (const button of document.querySelectorAll("[data-tab]")) {
    const on = button.dataset.tab === key;
    button.setAttribute("aria-selected", on ? "true" : "false");
    button.tabIndex = on ? 0 : -1;
  }
  document.getElementById("queue-panel").setAttribute("aria-labelledby", `tab-${key}`);
  selectedId = null;
  order = [];
  limit = STEP_MORE;
  render();
}

// Show question `id` wherever it is: its status's tab, selected.
function goTo(id) {
  const sub = store.submissions.get(id);
  if (!sub) return;
  if (query) {
    searchBox.value = "";
    query = "";
  }
  if (tab !== "all" && tab !== sub.status) switchTab(TABS.includes(sub.status) ? sub.status : "all");
  render();
  select(id);
}

function showError(message) {
  errorBox.textContent = message || "";
  errorBox.hidden = !message;
}

function showNotice(message) {
  noticeBox.textContent = message || "";
  noticeBox.hidden = !message;
}

function announce(message) {
  announcer.textContent = message;
}

// "approved by ana at 19:03:12": who made a question what it is now.
function doneBy(sub) {
  const [byField, atField] = DONE_BY[sub.status] || [];
  const status = strings.statuses[sub.status] || sub.status;
  if (!byField || !sub[byField]) return format(strings.nowStatus, { status });
  return format(strings.nowStatusBy, { status, who: sub[byField], time: clock(sub[atField]) });
}

async function request(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
    body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin",
  });
  const answer = await response.json().catch(() => ({}));
  return { response, answer };
}

// One action on the server, naming the status this page saw. A 409 (someone else acted
// first) shows what the question is now, and the page takes that state.
async function perform(action, id, body = {}) {
  const sub = store.submissions.get(id);
  if (!sub) return null;
  const edit = action === "edit";
  const url = `${root.dataset.api}/${id}${edit ? "" : `/${action}`}`;
  inFlight.add(id);
  try {
    const { response, answer } = await request(edit ? "PATCH" : "POST", url, { expected_status: sub.status, ...body });
    if (response.ok) {
      showError("");
      showNotice("");
      if (answer.submission) store.upsert(answer.submission);
      for (const changed of answer.submissions || []) store.upsert(changed);
      return answer;
    }
    if (answer.current) store.upsert(answer.current);
    if (response.status === 401) showError(strings.sessionExpired);
    else if (response.status === 409 && answer.current) showError(`${answer.detail} ${doneBy(answer.current)}`);
    else showError(answer.detail || strings.network);
    return null;
  } catch {
    showError(strings.network);
    return null;
  } finally {
    inFlight.delete(id);
    render();
  }
}

// Enter in a dialog's field confirms it (the form's first button is Cancel, which a plain
// Enter would press); in a text area, Ctrl+Enter does.
function confirmOnEnter(event) {
  if (event.key !== "Enter" || event.isComposing) return;
  if (event.target.tagName === "TEXTAREA" && !(event.ctrlKey || event.metaKey)) return;
  event.preventDefault();
  event.target.closest("dialog").close("ok");
}

function ask(dialogId, inputId, initial = "") {
  const dialog = document.getElementById(dialogId);
  const input = document.getElementById(inputId);
  input.value = initial;
  input.addEventListener("keydown", confirmOnEnter);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      input.removeEventListener("keydown", confirmOnEnter);
      resolve(dialog.returnValue === "ok" ? input.value : null);
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    input.focus();
    input.select?.();
  });
}

// The reject dialog: a reason from the fixed list (1-9 picks one) and an optional note.
function askReason() {
  const dialog = document.getElementById("reason-dialog");
  const note = document.getElementById("reason-note");
  const choices = [...dialog.querySelectorAll("input[name=reason]")];
  note.value = "";
  choices.forEach((input, index) => { input.checked = index === 0; });
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const picked = choices.find((input) => input.checked);
      resolve(dialog.returnValue === "ok" && picked ? { reason: picked.value, note: note.value.trim() } : null);
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    choices[0]?.focus();
  });
}

document.getElementById("reason-dialog").addEventListener("keydown", (event) => {
  const dialog = event.currentTarget;
  const choices = [...dialog.querySelectorAll("input[name=reason]")];
  if (event.target === document.getElementById("reason-note")) {
    if (event.key === "Enter") { event.preventDefault(); dialog.close("ok"); }
    return;
  }
  if (/^[1-9]$/.test(event.key) && choices[Number(event.key) - 1]) {
    event.preventDefault();
    choices[Number(event.key) - 1].checked = true;
    choices[Number(event.key) - 1].focus();
  } else if (event.key === "Enter" && event.target.name === "reason") {
    // Enter on a reason rejects (the form's first button is Cancel).
    event.preventDefault();
    dialog.close("ok");
  }
});

async function act(action, id) {
  const sub = store.submissions.get(id);
  // A key pressed again before the server answered would only earn a 409.
  if (!sub || inFlight.has(id) || !(ACTIONS[sub.status] || []).includes(action)) return;
  let body = {};
  if (action === "edit") {
    document.getElementById("edit-original").textContent = `${strings.original} ${sub.original_text}`;
    const text = await ask("edit-dialog", "edit-input", sub.text);
    if (text === null) return refocus();
    body = { text };
  } else if (action === "reject") {
    const picked = await askReason();
    if (picked === null) return refocus();
    body = picked.note ? picked : { reason: picked.reason };
  } else if (action === "merge") {
    const suggested = (sub.duplicates || []).find((d) => store.submissions.get(d.id)?.status !== "merged");
    const into = await ask("merge-dialog", "merge-input", suggested ? String(suggested.id) : "");
    if (into === null || into === "") return refocus();
    body = { into: Number(into) };
  }
  await perform(action, id, body);
  refocus();
}

// Back to the selected card after a dialog or an action (the node may have been rebuilt).
function refocus() {
  const item = queue.querySelector(`[data-id="${selectedId}"]`);
  if (item) {
    keyboardInQueue = true;
    item.focus();
  }
}

async function simplePost(url) {
  try {
    const { response, answer } = await request("POST", url);
    showError(response.ok ? "" : answer.detail || strings.network);
    return response.ok ? answer : null;
  } catch {
    showError(strings.network);
    return null;
  }
}

root.addEventListener("click", async (event) => {
  const retry = event.target.closest("[data-retry-source]");
  if (retry) {
    await simplePost(`/api/meetings/${root.dataset.slug}/collectors/${retry.dataset.retrySource}/retry`);
    return;
  }
  const again = event.target.closest("[data-reply-id]");
  if (again) {
    const answer = await simplePost(`/api/meetings/${root.dataset.slug}/replies/${again.dataset.replyId}/send-again`);
    if (answer) { replies.set(answer.reply.id, answer.reply); renderSources(); }
    return;
  }
  const button = event.target.closest("[data-action]");
  if (button) {
    const id = Number(button.dataset.id);
    if (queue.contains(button)) select(id, false);
    act(button.dataset.action, id);
    return;
  }
  const item = event.target.closest(".item");
  if (item && queue.contains(item) && !event.target.closest("button, a, input, select, textarea")) select(Number(item.dataset.id), false);
});

// Where the moderator is working: focus that leaves for another control (a panel, the
// search) stops the queue from taking it back; focus lost with a removed card does not.
document.addEventListener("focusin", (event) => {
  keyboardInQueue = queue.contains(event.target);
});
document.addEventListener("mousedown", (event) => {
  if (!queue.contains(event.target)) keyboardInQueue = false;
});

document.querySelector(".tabs").addEventListener("click", (event) => {
  const button = event.target.closest("[data-tab]");
  if (button) switchTab(button.dataset.tab);
});

document.querySelector(".tabs").addEventListener("keydown", (event) => {
  if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
  const index = TABS.indexOf(tab) + (event.key === "ArrowRight" ? 1 : -1);
  switchTab(TABS[(index + TABS.length) % TABS.length]);
  document.getElementById(`tab-${tab}`).focus();
});

function openHelp() {
  document.getElementById("help-dialog").showModal();
}

document.getElementById("help-button").addEventListener("click", openHelp);

// -- search ------------------------------------------------------------------------------------

searchBox.addEventListener("input", () => {
  query = fold(searchBox.value.trim());
  limit = STEP_MORE;
  render();
});

document.getElementById("queue-more").addEventListener("click", () => {
  limit += STEP_MORE;
  render();
});

searchBox.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    event.preventDefault();
    searchBox.value = "";
    query = "";
    render();
    refocus();
  } else if (event.key === "Enter" || event.key === "ArrowDown") {
    event.preventDefault();
    render();
    refocus();
  }
});

// -- keys ----------------------------------------------------------------------------------

// A shortcut for this page; false when the key is taken. Other modules register theirs.
function registerKey(key, { help = "", run }) {
  if (keys.has(key)) return false;
  keys.set(key, { help, run });
  if (help) {
    const list = document.getElementById("help-extra");
    list.append(el("dt", {}, key), el("dd", {}, help));
  }
  return true;
}

const BUILT_IN = (key) => ["j", "k", "ArrowDown", "ArrowUp", "?", "/", "Escape"].includes(key) || key in ACTION_KEYS || /^[1-7]$/.test(key);
const selected = () => (selectedId === null ? null : store.submissions.get(selectedId) || null);

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest("input, textarea, select, dialog, [contenteditable]")) return;
  const key = event.key;
  if (key === "j" || key === "ArrowDown") { move(1); event.preventDefault(); }
  else if (key === "k" || key === "ArrowUp") { move(-1); event.preventDefault(); }
  else if (key === "?") openHelp();
  else if (key === "/") { event.preventDefault(); searchBox.focus(); searchBox.select(); }
  else if (key === "Escape" && query) { searchBox.value = ""; query = ""; render(); }
  else if (/^[1-7]$/.test(key)) { switchTab(TABS[Number(key) - 1]); document.getElementById(`tab-${tab}`).focus(); }
  else if (ACTION_KEYS[key]) {
    // Hide and answered act on the question on screen, whatever is selected.
    const id = key === "h" || key === "d" ? store.onScreen()?.id ?? selectedId : selectedId;
    if (id === null || id === undefined) return;
    event.preventDefault();
    act(ACTION_KEYS[key], id);
  } else if (keys.has(key) && !BUILT_IN(key)) {
    event.preventDefault();
    keys.get(key).run(event, selected());
  }
});

verifiedOnly.addEventListener("change", () => render());

// -- what other modules get ------------------------------------------------------------------

const page = {
  store,
  state,
  strings,
  root,
  queue,
  slug: root.dataset.slug,
  api: `/api/meetings/${root.dataset.slug}`,
  request,
  act: perform,
  selected,
  select,
  goTo,
  registerKey,
  onMessage(fn) { messageHandlers.push(fn); },
  addFilter(fn) { filters.push(fn); },
  render: scheduleRender,
  slot(name) { return document.querySelector(`[data-slot="${name}"]`); },
  showError,
  announce,
};

// -- the agenda: which item is under discussion, shown on the chamber screen ------------------

const agendaPanel = document.getElementById("agenda-panel");
const agendaList = document.getElementById("agenda-items");
const agendaError = document.getElementById("agenda-error");

function panelError(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

function renderAgenda() {
  const { items = [], current = null } = store.agenda || {};
  const now = store.currentItem();
  const focused = agendaList.contains(document.activeElement) ? document.activeElement.dataset.agendaItem : null;
  document.getElementById("agenda-now").textContent = now ? format(strings.agendaNow, { title: now.title }) : strings.agendaNone;
  replaceChildren(agendaList, items.map((item) => {
    const on = item.id === current;
    return el("li", { class: `agenda-item${on ? " current" : ""}`, dataset: { item: item.id }, "aria-current": on ? "true" : null },
      el("span", { class: "agenda-title" }, item.title),
      on
        ? el("span", { class: "now-badge" }, strings.nowBadge)
        // The item's title is in the button's name but not shown twice: the name keeps the
        // visible words first, so voice control ("click Make current") finds it.
        : el("button", { type: "button", dataset: { agendaItem: item.id } }, strings.makeCurrent,
          el("span", { class: "visually-hidden" }, `: ${item.title}`)));
  }));
  document.getElementById("agenda-empty").hidden = items.length > 0;
  document.getElementById("agenda-next").disabled = items.length === 0;
  document.getElementById("agenda-break").disabled = current === null;
  if (focused) {
    (agendaList.querySelector(`[data-agenda-item="${focused}"]`) || document.getElementById("agenda-next")).focus();
  }
}

async function agendaCall(url, body) {
  try {
    const { response, answer } = await request("POST", url, body);
    if (response.ok) {
      panelError(agendaError, "");
      store.agenda = answer.agenda;
      renderAgenda();
      return true;
    }
    panelError(agendaError, response.status === 401 ? strings.sessionExpired : answer.detail || strings.network);
  } catch {
    panelError(agendaError, strings.network);
  }
  return false;
}

agendaPanel.addEventListener("click", (event) => {
  const api = agendaPanel.dataset.api;
  const pick = event.target.closest("[data-agenda-item]");
  if (pick) agendaCall(`${api}/current`, { item: Number(pick.dataset.agendaItem) });
  else if (event.target.closest("#agenda-next")) agendaCall(`${api}/current`, { item: "next" });
  else if (event.target.closest("#agenda-break")) agendaCall(`${api}/current`, { item: null });
});

document.getElementById("agenda-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("agenda-title");
  const title = input.value.trim();
  if (!title) { input.focus(); return; }
  if (await agendaCall(agendaPanel.dataset.api, { title })) {
    input.value = "";
    input.focus();
  }
});

// -- the recording: state from the API, then live from `recording` and `recorder` messages --

const recPanel = document.getElementById("recording-panel");
const ACTIVE_RECORDING = ["starting", "waiting", "recording", "restarting", "stopping"];
let recording = null; // the latest recording's view, or null
let recorder = null; // the recorder's last report (every ~2 s while recording)
let recorderAt = 0;

function duration(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${String(m).padStart(2, "0")}:${s}`;
}

function bytes(n) {
  const gb = n / 1024 ** 3;
  return gb >= 1 ? `${number(gb, 1)} GB` : `${number(n / 1024 ** 2)} MB`;
}

function recordingState() {
  if (!recording) return "none";
  const wanted = recording.desired === "recording";
  if (!wanted && ACTIVE_RECORDING.includes(recording.status)) return "stopping";
  const report = liveRecorder();
  if (wanted && report && report.state !== "stopped") return report.state;
  return recording.status;
}

function liveRecorder() {
  return recording && recorder && recorder.recording_id === recording.id
    && (recording.desired === "recording" || ACTIVE_RECORDING.includes(recording.status)) ? recorder : null;
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

function renderRecording() {
  const stateName = recordingState();
  const wanted = recording?.desired === "recording";
  const report = liveRecorder();
  recPanel.dataset.state = stateName;
  setText("recording-status", strings.recordingStates[stateName] || stateName);

  const detail = document.getElementById("recording-detail");
  const details = [];
  if (recording && recording.mode === "pull" && recording.pull_url && wanted) details.push(format(strings.pullFrom, { url: recording.pull_url }));
  if (recording?.started_at && wanted) details.push(format(strings.since, { time: clock(recording.started_at) }));
  detail.textContent = details.join(" · ");
  detail.hidden = details.length === 0;

  // Where the encoder sends the stream: OBS wants the server and the key apart.
  const ingestUrl = report?.ingest_url || recording?.ingest_url;
  const pushing = wanted && recording && recording.mode !== "pull" && ingestUrl;
  document.getElementById("recording-ingest").hidden = !pushing;
  if (pushing) {
    const rtmp = recording.mode === "rtmp";
    const cut = ingestUrl.lastIndexOf("/");
    const split = rtmp && cut > ingestUrl.indexOf("://") + 2;
    setText("ingest-help", rtmp ? strings.ingestRtmp : strings.ingestSrt);
    setText("ingest-server-label", split ? strings.server : strings.ingestUrl);
    document.getElementById("ingest-server").value = split ? ingestUrl.slice(0, cut) : ingestUrl;
    document.getElementById("ingest-key").value = split ? ingestUrl.slice(cut + 1) : "";
    document.getElementById("ingest-key-field").hidden = !split;
  }

  const stats = document.getElementById("recording-stats");
  const showStats = Boolean(report) || (wanted && recording?.started_at);
  stats.hidden = !showStats;
  if (showStats) {
    let elapsed = null;
    if (report && typeof report.elapsed_s === "number") {
      elapsed = report.elapsed_s + (stateName === "recording" ? Math.min(5, (Date.now() - recorderAt) / 1000) : 0);
    } else if (recording?.started_at) {
      elapsed = (Date.now() - new Date(recording.started_at).getTime()) / 1000;
    }
    setText("rec-elapsed", elapsed === null ? "–" : duration(elapsed));
    setText("rec-bitrate", report && typeof report.bitrate_kbps === "number" ? format(strings.kbps, { n: Math.round(report.bitrate_kbps) }) : "–");
    const parts = report ? (Array.isArray(report.parts) ? report.parts.length : report.parts) : (recording?.parts || []).length;
    setText("rec-parts", parts === undefined || parts === null ? "–" : String(parts));
    const gaps = report?.gaps_s;
    setText("rec-gaps", typeof gaps === "number" ? (gaps > 0 ? format(strings.gaps, { n: number(gaps, 1) }) : strings.noGaps) : "–");
    setText("rec-disk", report && typeof report.disk_free_bytes === "number" ? bytes(report.disk_free_bytes) : "–");
  }
  const low = Boolean(report?.low_disk);
  const warning = document.getElementById("recording-disk-warning");
  warning.hidden = !low;
  warning.textContent = low ? format(strings.lowDisk, { free: typeof report.disk_free_bytes === "number" ? bytes(report.disk_free_bytes) : "?" }) : "";

  const error = stateName === "ready" ? null : report?.error || recording?.error;
  panelError(document.getElementById("recording-error"), error);
  document.getElementById("recording-replay").hidden = stateName !== "ready";
  document.getElementById("recording-start").hidden = wanted;
  document.getElementById("recording-stop").hidden = !wanted;
}

async function loadRecording() {
  try {
    const response = await fetch(recPanel.dataset.api, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return;
    recording = (await response.json()).recording;
    renderRecording();
  } catch {
    // The websocket's reconnect brings a snapshot, and with it another try.
  }
}

async function recordingCall(url, body) {
  const button = url.endsWith("/stop") ? document.getElementById("recording-stop") : document.getElementById("recording-start-button");
  button.disabled = true;
  try {
    const { response, answer } = await request("POST", url, body);
    if (response.ok) {
      recording = answer.recording;
      renderRecording();
    } else {
      panelError(document.getElementById("recording-error"), response.status === 401 ? strings.sessionExpired : answer.detail || strings.network);
    }
  } catch {
    panelError(document.getElementById("recording-error"), strings.network);
  } finally {
    button.disabled = false;
  }
}

const modeSelect = document.getElementById("recording-mode");
function syncMode() {
  const pull = modeSelect.value === "pull";
  document.getElementById("recording-url-field").hidden = !pull;
  document.getElementById("recording-url").required = pull;
}
modeSelect.addEventListener("change", syncMode);
syncMode();

document.getElementById("recording-start").addEventListener("submit", (event) => {
  event.preventDefault();
  const body = { mode: modeSelect.value };
  if (body.mode === "pull") body.url = document.getElementById("recording-url").value.trim();
  recordingCall(`${recPanel.dataset.api}/start`, body);
});

document.getElementById("recording-stop").addEventListener("click", () => {
  const dialog = document.getElementById("stop-dialog");
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "ok") recordingCall(`${recPanel.dataset.api}/stop`);
  }, { once: true });
  dialog.returnValue = "";
  dialog.showModal();
});

recPanel.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const input = document.getElementById(button.dataset.copy);
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(input.value);
    button.textContent = strings.copied;
  } catch {
    input.focus();
    input.select();
    button.textContent = strings.copyFailed;
  }
  setTimeout(() => { button.textContent = label; }, 2000);
});

// The elapsed time moves between the recorder's reports.
setInterval(() => {
  if (recordingState() === "recording") renderRecording();
}, 1000);

// -- start: other modules, then the first render, then the live socket ----------------------

async function load(path) {
  try {
    return await import(path);
  } catch (error) {
    console.warn(`${path} not loaded`, error);
    return null;
  }
}

function setUp(name, fn) {
  if (typeof fn !== "function") return;
  try {
    fn(page);
  } catch (error) {
    console.error(`${name} failed`, error);
  }
}

const [triage, safety] = await Promise.all([load("./triage.js"), load("./screen-safety.js")]);
extensions = { decorate: typeof triage?.decorate === "function" ? triage.decorate : null };
setUp("setupTriage", triage?.setupTriage);
setUp("setupScreenSafety", safety?.setupScreenSafety);
setupOrdering(page, { inApprovedTab: () => tab === "approved", visible });
countsUpdate = setupCounts(page);
const activity = setupActivity(page);

render();
renderSources();
renderAgenda();
renderRecording();
loadRecording();
socket = connect(root.dataset.ws, {
  after: state.seq,
  onStatus: connectionIndicator(),
  onMessage(message) {
    if (message.type === "recorder") {
      recorder = message.recorder;
      recorderAt = Date.now();
      renderRecording();
      return;
    }
    if (message.type === "recording") {
      if (!recording || message.recording.id >= recording.id) recording = message.recording;
      renderRecording();
    }
    if (message.type === "snapshot") loadRecording();
    if (message.type === "collector") {
      collectors.set(message.collector.source, message.collector);
      renderSources();
      return;
    }
    if (message.type === "reply") {
      replies.set(message.reply.id, message.reply);
      renderSources();
      return;
    }
    if (message.type === "snapshot") {
      collectors.clear();
      for (const c of message.collectors || []) collectors.set(c.source, c);
      replies.clear();
      for (const r of message.replies || []) replies.set(r.id, r);
      renderSources();
    }
    if (message.type === "snapshot" || message.type === "resumed") locks.reset();
    const viewing = locks.apply(message);
    // The question in hand changed under the moderator's eyes: say who did it.
    const before = selectedId === null ? null : store.submissions.get(selectedId);
    if (!viewing) store.apply(message);
    const after = before ? store.submissions.get(before.id) : null;
    if (ready && before && after && after.status !== before.status && !inFlight.has(before.id) && message.type !== "snapshot") {
      showNotice(format(strings.changedByOther, { id: before.id, now: doneBy(after) }));
    }
    if (message.type === "agenda" || message.type === "snapshot") renderAgenda();
    if (ready && message.type === "received") {
      for (const sub of message.submissions || []) announce(format(strings.newQuestion, { name: sub.author }));
    }
    ready = true;
    activity.onMessage(message);
    for (const fn of messageHandlers) {
      try {
        fn(message);
      } catch (error) {
        console.error(error);
      }
    }
    scheduleRender();
  },
});
locks.attach(socket);
