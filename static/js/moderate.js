// The moderator's page: a live queue, one button per action, and keyboard shortcuts.
// Actions name the status the moderator saw, so a click that lost a race with another
// moderator gets a clear 409 instead of silently undoing their work.
import { connect, connectionIndicator } from "./live.js";
import { byTime, Store } from "./store.js";
import { el, format, readJson, replaceChildren, questionMeta } from "./dom.js";

const state = readJson("state");
const strings = readJson("strings");
const root = document.getElementById("moderate");
const queue = document.getElementById("queue");
const errorBox = document.getElementById("action-error");
const announcer = document.getElementById("announcer");
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const store = new Store(state);

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
const KEYS = { a: "approve", r: "reject", s: "show", h: "hide", d: "answer", e: "edit", m: "merge", u: "restore" };

const collectors = new Map((state.collectors || []).map((c) => [c.source, c]));
const replies = new Map((state.replies || []).map((r) => [r.id, r]));
const verifiedOnly = document.getElementById("verified-only");

let tab = "pending";
let selectedId = null;
let ready = false;

function visible() {
  let items = tab === "all" ? [...store.submissions.values()] : store.withStatus(tab);
  if (verifiedOnly.checked) items = items.filter((s) => s.verified);
  const field = { approved: "approved_at", answered: "answered_at", rejected: "rejected_at" }[tab] || "received_at";
  return items.sort(byTime(field));
}

function card(sub) {
  const buttons = (ACTIONS[sub.status] || []).map((action) =>
    el("button", { type: "button", class: `action action-${action}`, dataset: { action, id: sub.id } }, strings[action]));
  return el("li", {
      class: `item status-${sub.status}${sub.id === selectedId ? " selected" : ""}`,
      tabindex: sub.id === selectedId ? "0" : "-1",
      dataset: { id: sub.id },
      "aria-label": `#${sub.id} ${sub.author}: ${sub.text}`,
    },
    el("div", { class: "item-head" },
      el("span", { class: "item-id" }, `#${sub.id}`),
      el("span", { class: "item-status" }, strings.statuses[sub.status] || sub.status),
      sub.edited ? el("span", { class: "edited" }, strings.edited) : null),
    el("p", { class: "item-text" }, sub.text),
    sub.edited ? el("p", { class: "item-original muted small" }, `${strings.original} ${sub.original_text}`) : null,
    el("p", { class: "question-meta" },
      sub.avatar_url ? el("img", { class: "avatar", src: sub.avatar_url, alt: "", width: 24, height: 24, loading: "lazy", referrerpolicy: "no-referrer" }) : null,
      questionMeta(sub, strings),
      sub.handle ? el("span", { class: "handle" }, `@${sub.handle}`) : null,
      sub.url ? el("a", { href: sub.url, target: "_blank", rel: "noopener noreferrer" }, strings.viewPost) : null),
    sub.rejection_reason ? el("p", { class: "muted small" }, `${strings.reason} ${sub.rejection_reason}`) : null,
    sub.merged_into ? el("p", { class: "muted small" }, format(strings.mergedInto, { n: sub.merged_into })) : null,
    el("div", { class: "item-actions" }, buttons));
}

function render() {
  const focusInQueue = queue.contains(document.activeElement);
  const focusedAction = document.activeElement?.dataset?.action;
  const items = visible();
  if (!items.some((s) => s.id === selectedId)) selectedId = items.length ? items[0].id : null;
  replaceChildren(queue, items.map(card));
  document.getElementById("queue-empty").hidden = items.length > 0;
  for (const key of TABS) {
    const count = key === "all" ? store.submissions.size : store.withStatus(key).length;
    document.querySelector(`[data-count="${key}"]`).textContent = String(count);
  }
  const current = store.onScreen();
  replaceChildren(document.getElementById("on-screen"), [
    current ? card(current) : el("p", { class: "muted" }, strings.nothingOnScreen),
  ]);
  if (store.meeting) document.getElementById("meeting-status").textContent = store.meeting.status;
  // New questions arriving must never steal or lose the moderator's place.
  if (focusInQueue && selectedId !== null) {
    const item = queue.querySelector(`[data-id="${selectedId}"]`);
    const target = (focusedAction && item?.querySelector(`[data-action="${focusedAction}"]`)) || item;
    target?.focus();
  }
}

function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "–";
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
      " · ", format(strings.cost, { cost: c.estimated_cost.toFixed(3) }),
      c.cost_cap !== null && c.cost_cap !== undefined ? ` ${format(strings.costCap, { cap: c.cost_cap })}` : "",
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
  for (const item of queue.querySelectorAll(".item")) {
    const on = Number(item.dataset.id) === id;
    item.classList.toggle("selected", on);
    item.tabIndex = on ? 0 : -1;
    if (on && focus) item.focus();
  }
}

function move(step) {
  const items = visible();
  if (!items.length) return;
  const index = items.findIndex((s) => s.id === selectedId);
  const next = items[Math.min(items.length - 1, Math.max(0, index + step))];
  select(next.id);
}

function switchTab(key) {
  tab = key;
  for (const button of document.querySelectorAll("[data-tab]")) {
    const on = button.dataset.tab === key;
    button.setAttribute("aria-selected", on ? "true" : "false");
    button.tabIndex = on ? 0 : -1;
  }
  queue.setAttribute("aria-labelledby", `tab-${key}`);
  selectedId = null;
  render();
}

function showError(message) {
  errorBox.textContent = message || "";
  errorBox.hidden = !message;
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

function ask(dialogId, inputId, initial = "") {
  const dialog = document.getElementById(dialogId);
  const input = document.getElementById(inputId);
  input.value = initial;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? input.value : null), { once: true });
    dialog.showModal();
    input.focus();
  });
}

async function act(action, id) {
  const sub = store.submissions.get(id);
  if (!sub || !(ACTIONS[sub.status] || []).includes(action)) return;
  const base = `${root.dataset.api}/${id}`;
  let call;
  if (action === "edit") {
    document.getElementById("edit-original").textContent = `${strings.original} ${sub.original_text}`;
    const text = await ask("edit-dialog", "edit-input", sub.text);
    if (text === null) return;
    call = ["PATCH", base, { text, expected_status: sub.status }];
  } else if (action === "reject") {
    const reason = await ask("reason-dialog", "reason-input");
    if (reason === null) return;
    call = ["POST", `${base}/reject`, { reason, expected_status: sub.status }];
  } else if (action === "merge") {
    const into = await ask("merge-dialog", "merge-input");
    if (into === null || into === "") return;
    call = ["POST", `${base}/merge`, { into: Number(into), expected_status: sub.status }];
  } else {
    call = ["POST", `${base}/${action}`, { expected_status: sub.status }];
  }
  try {
    const { response, answer } = await request(...call);
    if (response.ok) {
      showError("");
      store.upsert(answer.submission);
    } else if (response.status === 401) {
      showError(strings.sessionExpired);
    } else {
      showError(answer.detail || strings.network);
      if (answer.current) store.upsert(answer.current);
    }
  } catch {
    showError(strings.network);
  }
  render();
  queue.querySelector(`[data-id="${selectedId}"]`)?.focus();
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
    select(Number(button.dataset.id), false);
    act(button.dataset.action, Number(button.dataset.id));
    return;
  }
  const item = event.target.closest(".item");
  if (item && queue.contains(item)) select(Number(item.dataset.id), false);
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

document.getElementById("help-button").addEventListener("click", () => document.getElementById("help-dialog").showModal());

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest("input, textarea, select, dialog")) return;
  const key = event.key;
  if (key === "j" || key === "ArrowDown") { move(1); event.preventDefault(); }
  else if (key === "k" || key === "ArrowUp") { move(-1); event.preventDefault(); }
  else if (key === "?") document.getElementById("help-dialog").showModal();
  else if (/^[1-7]$/.test(key)) { switchTab(TABS[Number(key) - 1]); document.getElementById(`tab-${tab}`).focus(); }
  else if (KEYS[key] && selectedId !== null) {
    event.preventDefault();
    const id = key === "h" || key === "d" ? store.onScreen()?.id ?? selectedId : selectedId;
    act(KEYS[key], id);
  }
});

verifiedOnly.addEventListener("change", () => render());

render();
renderSources();
connect(root.dataset.ws, {
  after: state.seq,
  onStatus: connectionIndicator(),
  onMessage(message) {
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
    store.apply(message);
    if (ready && message.type === "received") {
      for (const sub of message.submissions || []) announcer.textContent = format(strings.newQuestion, { name: sub.author });
    }
    ready = true;
    render();
  },
});
