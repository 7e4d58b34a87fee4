// The public meeting page: the form (sent through the API when JavaScript runs) and the
// live list of approved questions.
import { connect, connectionIndicator } from "./live.js";
import { Store } from "./store.js";
import { el, questionMeta, readJson, replaceChildren } from "./dom.js";

const state = readJson("state");
const strings = readJson("strings");
const store = new Store(state);
const live = document.getElementById("live");

function questionItem(sub) {
  return el("li", { class: "question", dataset: { id: sub.id } },
    el("p", { class: "question-text" }, sub.text),
    el("p", { class: "question-meta" }, questionMeta(sub, strings)));
}

function render() {
  const current = store.onScreen();
  replaceChildren(document.getElementById("on-screen"), [
    current
      ? el("ul", { class: "questions current" }, questionItem(current))
      : el("p", { class: "muted" }, strings.noneOnScreen),
  ]);
  const approved = store.approved();
  replaceChildren(document.getElementById("approved"), approved.map(questionItem));
  document.getElementById("approved-empty").hidden = approved.length > 0;
  replaceChildren(document.getElementById("answered"), store.answered().reverse().map(questionItem));
  const item = store.currentItem();
  document.getElementById("agenda-current-title").textContent = item ? item.title : "";
  document.getElementById("agenda-current").hidden = !item;
}

connect(live.dataset.ws, {
  after: state.seq,
  onStatus: connectionIndicator(),
  onMessage(message) {
    store.apply(message);
    render();
  },
});

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
