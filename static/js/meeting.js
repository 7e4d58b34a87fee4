// The public meeting page: the form (sent through the API when JavaScript runs), the live
// list of approved questions with their "me too" buttons, and how many were rejected and why.
import { connect, connectionIndicator } from "./live.js";
import { Store } from "./store.js";
import { el, format, questionMeta, readJson, replaceChildren } from "./dom.js";

const state = readJson("state");
const strings = readJson("strings");
const store = new Store(state);
const live = document.getElementById("live");
const slug = state.meeting.slug;
// What this browser voted for: rendered by the server from its cookie, so it survives reloads.
const myVotes = new Set(readJson("my-votes") || []);
let rejections = state.rejections || null;

function voteButton(sub) {
  const voted = myVotes.has(sub.id);
  const label = voted ? strings.meTooVoted : strings.meToo;
  const count = sub.votes || 0;
  return el("form", { class: "me-too-form", method: "post", action: `/m/${slug}/votes` },
    el("input", { type: "hidden", name: "submission_id", value: sub.id }),
    el("button", {
      type: "submit",
      class: voted ? "me-too voted" : "me-too",
      dataset: { vote: sub.id },
      // A description, not the name: the name stays the words on the button (WCAG 2.5.3).
      title: format(strings.meTooLabel, { label, n: count }),
      "aria-disabled": voted ? "true" : null,
    }, el("span", { class: "me-too-label" }, label), " ", el("span", { class: "me-too-count" }, count)));
}

function questionItem(sub) {
  const votable = sub.status === "approved" || sub.status === "on_screen";
  return el("li", { class: "question", id: `q-${sub.id}`, dataset: { id: sub.id } },
    el("p", { class: "question-text" }, sub.text),
    el("p", { class: "question-meta" }, questionMeta(sub, strings)),
    votable ? voteButton(sub)
      : sub.votes > 0 ? el("p", { class: "me-too-total" }, format(strings.meTooTotal, { n: sub.votes })) : null);
}

function renderRejections() {
  const node = document.getElementById("rejections");
  if (!rejections) return;
  // In the moderators' order of reasons (JSON objects do not keep one everywhere).
  const order = (key) => (strings.reasonOrder.includes(key) ? strings.reasonOrder.indexOf(key) : 99);
  const counts = Object.entries(rejections)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => order(a) - order(b))
    .map(([key, n]) => format(strings.reasonCount, { n, reason: (strings.reasons[key] || key.replace(/_/g, " ")).toLowerCase() }));
  setText(node, counts.length ? format(strings.rejectedSoFar, { counts: counts.join(", ") }) : strings.noneRejected);
  node.hidden = false;
}

// Screen readers hear what is new, once: a question newly up next or newly on screen. The
// lists are rebuilt at every vote, so they are not live regions themselves.
const announcer = document.getElementById("announcer");
const seen = new Set(store.approved().concat(store.onScreen() || []).map((sub) => sub.id));
let heardOnScreen = store.onScreen()?.id ?? null;

function announceNews(current, approved, dark) {
  const news = [];
  if (current && !dark && current.id !== heardOnScreen) {
    news.push(format(strings.announceOnScreen, { text: current.text, author: current.author }));
  }
  heardOnScreen = current && !dark ? current.id : null;
  const fresh = approved.filter((sub) => !seen.has(sub.id));
  if (fresh.length === 1) news.push(format(strings.announceNew, { text: fresh[0].text, author: fresh[0].author }));
  else if (fresh.length > 1) news.push(format(strings.announceMany, { n: fresh.length }));
  for (const sub of approved.concat(current || [])) seen.add(sub.id);
  if (news.length) announcer.textContent = news.join(" ");
}

// Setting the same text again would make a live region speak again.
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function render() {
  // Counts change every second while people vote: the button that has the focus is
  // rebuilt, so give the focus back to its successor (keyboard users keep their place).
  const focused = document.activeElement?.dataset?.vote;
  const current = store.onScreen();
  const dark = Boolean(store.meeting && store.meeting.blackout);
  replaceChildren(document.getElementById("on-screen"), [
    dark ? el("p", { class: "muted" }, strings.screenDark)
      : current ? el("ul", { class: "questions current" }, questionItem(current))
        : el("p", { class: "muted" }, strings.noneOnScreen),
  ]);
  const approved = store.approved();
  replaceChildren(document.getElementById("approved"), approved.map(questionItem));
  document.getElementById("approved-empty").hidden = approved.length > 0;
  replaceChildren(document.getElementById("answered"), store.answered().reverse().map(questionItem));
  const item = store.currentItem();
  setText(document.getElementById("agenda-current-title"), item ? item.title : "");
  document.getElementById("agenda-current").hidden = !item;
  renderRejections();
  announceNews(current, approved, dark);
  if (focused) live.querySelector(`[data-vote="${focused}"]`)?.focus();
}

const voteStatus = document.getElementById("vote-status");

async function vote(id) {
  if (myVotes.has(id)) return;
  try {
    const response = await fetch(`/api/meetings/${slug}/votes`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ submission_id: id }),
    });
    const answer = await response.json().catch(() => ({}));
    if (response.ok) {
      myVotes.add(id);
      voteStatus.textContent = "";
      const sub = store.submissions.get(id);
      // Our own count at once; everyone else's arrives with the next `voted` message.
      if (sub) store.upsert({ ...sub, votes: Math.max(sub.votes || 0, answer.votes) });
      render();
    } else {
      voteStatus.textContent = answer.detail || strings.network;
    }
  } catch {
    voteStatus.textContent = strings.network;
  }
}

live.addEventListener("submit", (event) => {
  const form = event.target.closest(".me-too-form");
  if (!form) return;
  event.preventDefault();
  vote(Number(form.querySelector("[data-vote]").dataset.vote));
});

connect(live.dataset.ws, {
  after: state.seq,
  onStatus: connectionIndicator(),
  onMessage(message) {
    if (message.rejections) rejections = message.rejections;
    store.apply(message);
    render();
  },
});
renderRejections();

const form = document.getElementById("ask-form");
if (form) {
  const done = document.getElementById("ask-done");
  const formError = document.getElementById("form-error");

  function showErrors(errors, message) {
    for (const field of ["name", "text", "neighborhood"]) {
      const node = document.getElementById(`${field}-error`);
      node.textContent = errors[field] || "";
      node.hidden = !errors[field];
      document.getElementById(field).setAttribute("aria-invalid", errors[field] ? "true" : "false");
    }
    const general = Object.keys(errors).some((k) => ["name", "text", "neighborhood"].includes(k));
    formError.textContent = general ? "" : message || "";
    formError.hidden = general || !message;
    const first = ["name", "text", "neighborhood"].find((f) => errors[f]);
    if (first) document.getElementById(first).focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const data = Object.fromEntries(new FormData(form));
    const body = { name: data.name, text: data.text };
    if (data.neighborhood) body.neighborhood = data.neighborhood;
    if (data.website) body.website = data.website;
    try {
      const response = await fetch(form.dataset.api, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      if (response.status === 201) {
        showErrors({}, "");
        form.reset();
        form.hidden = true;
        document.getElementById("track-link").href = answer.track_url;
        done.hidden = false;
        document.getElementById("track-link").focus();
      } else {
        showErrors(answer.errors || {}, answer.detail || strings.network);
      }
    } catch {
      showErrors({}, strings.network);
    } finally {
      button.disabled = false;
    }
  });

  document.getElementById("ask-again").addEventListener("click", () => {
    done.hidden = true;
    form.hidden = false;
    document.getElementById("text").focus();
  });
}

// Council's own live stream, while the meeting is being recorded.
const liveVideo = document.getElementById("live-video");
if (liveVideo) {
  import("./player.js").then(async ({ playLive }) => {
    const how = await playLive(liveVideo, liveVideo.dataset.src);
    liveVideo.dataset.player = how;
    if (how === "unsupported") document.getElementById("live-unsupported").hidden = false;
  });
}
