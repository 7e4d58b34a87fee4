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
      sub.handle ? el("span", { class: "handle" }, sub.handle.startsWith("@") ? sub.handle : `@${sub.handle}`) : null,
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
        : el("button", { type: "button", dataset: { agendaItem: item.id }, "aria-label": format(strings.makeCurrentLabel, { title: item.title }) }, strings.makeCurrent));
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
  return gb >= 1 ? `${gb.toFixed(1)} GB` : `${Math.round(n / 1024 ** 2)} MB`;
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
    setText("rec-gaps", typeof gaps === "number" ? (gaps > 0 ? format(strings.gaps, { n: gaps.toFixed(1) }) : strings.noGaps) : "–");
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

render();
renderSources();
renderAgenda();
renderRecording();
loadRecording();
connect(root.dataset.ws, {
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
    store.apply(message);
    if (message.type === "agenda" || message.type === "snapshot") renderAgenda();
    if (ready && message.type === "received") {
      for (const sub of message.submissions || []) announcer.textContent = format(strings.newQuestion, { name: sub.author });
    }
    ready = true;
    render();
  },
});
