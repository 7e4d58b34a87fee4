// The activity log: who did what and when, from the event log (GET .../activity), kept live:
// each event that arrives on the socket makes the panel fetch what came after what it shows.
import { el, format } from "./dom.js";

const PAGE = 50;
const KEEP = 300;

export function setupActivity(page) {
  const { strings } = page;
  const panel = document.getElementById("activity");
  const list = document.getElementById("activity-list");
  const everything = document.getElementById("activity-all");
  const older = document.getElementById("activity-older");
  const errorLine = document.getElementById("activity-error");
  let shown = 0; // the newest seq the panel covers
  let oldest = null; // the oldest entry's seq, for "Older"
  let timer = null;
  let loading = null;

  function url(params) {
    const query = new URLSearchParams({ limit: String(PAGE), ...params });
    if (!everything.checked) query.set("actions_only", "true");
    return `${panel.dataset.api}?${query}`;
  }

  function entry(item) {
    const time = item.at ? new Date(item.at) : null;
    return el("li", { class: `activity-entry activity-${item.type}`, dataset: { seq: item.seq } },
      el("time", { datetime: item.at || "" }, time ? time.toLocaleTimeString(document.documentElement.lang || undefined) : "–"),
      " ",
      el("span", { class: "activity-who" }, item.actor || strings.activityNobody),
      " ",
      el("span", { class: "activity-what" }, item.summary),
      item.submission_id
        ? [" ", el("button", { type: "button", class: "link-button activity-goto", dataset: { goto: item.submission_id },
            "aria-label": format(strings.activityGoto, { id: item.submission_id }) }, strings.activityShow)]
        : null);
  }

  function fail(message) {
    errorLine.textContent = message || "";
    errorLine.hidden = !message;
  }

  async function fetchJson(address) {
    const response = await fetch(address, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(response.status === 401 ? strings.sessionExpired : answer.detail || strings.network);
    return answer;
  }

  function finish() {
    while (list.children.length > KEEP) list.lastElementChild.remove();
    const last = list.lastElementChild;
    oldest = last ? Number(last.dataset.seq) : null;
    document.getElementById("activity-empty").hidden = list.children.length > 0;
  }

  // From scratch: the newest page.
  async function load() {
    clearTimeout(timer);
    const run = (async () => {
      try {
        const answer = await fetchJson(url({}));
        list.replaceChildren(...answer.entries.map(entry));
        shown = answer.seq;
        older.hidden = !answer.more;
        fail("");
      } catch (error) {
        fail(error.message);
      }
      finish();
    })();
    loading = run;
    await run;
    if (loading === run) loading = null;
  }

  // What happened since the newest entry shown.
  async function catchUp() {
    if (loading) await loading;
    try {
      const answer = await fetchJson(url({ after: String(shown), limit: "200" }));
      if (answer.more) {
        await load(); // far behind: start again from the newest
        return;
      }
      const known = new Set([...list.children].map((li) => li.dataset.seq));
      const fresh = answer.entries.filter((item) => !known.has(String(item.seq)));
      list.prepend(...fresh.map(entry));
      shown = Math.max(shown, answer.seq);
      fail("");
    } catch (error) {
      fail(error.message);
    }
    finish();
  }

  older.addEventListener("click", async () => {
    if (oldest === null) return;
    try {
      const answer = await fetchJson(url({ before: String(oldest) }));
      list.append(...answer.entries.map(entry));
      older.hidden = !answer.more;
      fail("");
    } catch (error) {
      fail(error.message);
    }
    finish();
  });

  everything.addEventListener("change", load);

  list.addEventListener("click", (event) => {
    const button = event.target.closest("[data-goto]");
    if (button) page.goTo(Number(button.dataset.goto));
  });

  load();
  return {
    onMessage(message) {
      if (message.type === "snapshot") {
        load();
      } else if (typeof message.seq === "number" && message.seq > shown) {
        clearTimeout(timer);
        timer = setTimeout(catchUp, 250);
      }
    },
  };
}
