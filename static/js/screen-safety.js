// The chamber screen's safety controls on the moderator page: the blackout (key b, lifted
// with Shift+B), the countdown of a delayed show with its cancel (key x), and the meeting's
// delay. moderate.js loads this module and calls setupScreenSafety(page); the state comes
// from the moderation socket (snapshot `pending_show`, `meeting.blackout`, and the events
// `show_scheduled`, `show_cancelled`, `shown`, `blackout`, `meeting`).
import { el, format, readJson } from "./dom.js";

const TICK_MS = 200;

export function setupScreenSafety(page) {
  const strings = readJson("screen-safety-strings");
  const slot = page.slot("screen");
  if (!strings || !slot) return null;

  let blackout = Boolean(page.store.meeting && page.store.meeting.blackout);
  let ownDelay = page.store.meeting ? page.store.meeting.show_delay_s : null;
  // { id, dueAt (this browser's clock, ms) } or null.
  let pending = fromView(page.state.pending_show);
  let busy = false;

  const status = el("p", { class: "blackout-status", id: "blackout-status", role: "status" });
  const blackoutButton = el("button", { type: "button", class: "danger blackout-button", id: "blackout-button", "aria-pressed": "false", "aria-describedby": "blackout-status" });
  const countdownText = el("span", { class: "countdown-text", id: "countdown-text" });
  const pendingText = el("span", { class: "pending-question", id: "pending-question" });
  const cancelButton = el("button", { type: "button", class: "cancel-show", id: "cancel-show" }, strings.cancel);
  const pendingBox = el("div", { class: "pending-show", id: "pending-show", hidden: true },
    el("p", { class: "pending-line" }, el("strong", {}, countdownText), " ", pendingText), cancelButton);
  const delayInput = el("input", { type: "number", id: "show-delay", min: 0, max: 300, step: 1, inputmode: "numeric", "aria-describedby": "show-delay-help" });
  const delayNow = el("p", { class: "small muted", id: "show-delay-now" });
  const delayForm = el("form", { class: "delay-form", id: "delay-form" },
    el("label", { for: "show-delay" }, strings.delayLabel),
    el("div", { class: "add-row" }, delayInput, el("button", { type: "submit" }, strings.delaySet)),
    el("p", { class: "small muted", id: "show-delay-help" }, format(strings.delayHelp, { n: strings.defaultDelay })),
    delayNow);
  const errorBox = el("p", { class: "form-error", id: "screen-safety-error", role: "alert", hidden: true });
  slot.append(el("div", { class: "screen-safety", id: "screen-safety" },
    el("div", { class: "blackout-row" }, blackoutButton, status), pendingBox, errorBox, delayForm));

  function fromView(view) {
    if (!view) return null;
    return { id: view.submission_id, dueAt: Date.now() + (view.remaining_s || 0) * 1000 };
  }

  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  function render() {
    document.body.classList.toggle("screen-blackout", blackout);
    blackoutButton.textContent = blackout ? strings.lift : strings.blackoutKey;
    blackoutButton.setAttribute("aria-pressed", blackout ? "true" : "false");
    blackoutButton.classList.toggle("danger", !blackout);
    status.textContent = blackout ? strings.dark : strings.light;
    status.classList.toggle("dark", blackout);
    const effective = ownDelay ?? strings.defaultDelay;
    delayNow.textContent = effective > 0 ? format(strings.delayNow, { n: effective }) : strings.delayNone;
    if (document.activeElement !== delayInput) delayInput.value = ownDelay ?? "";
    renderPending();
  }

  function renderPending() {
    pendingBox.hidden = !pending;
    if (!pending) return;
    const left = Math.max(0, Math.ceil((pending.dueAt - Date.now()) / 1000));
    countdownText.textContent = left > 0
      ? format(strings.pending, { id: pending.id, n: left })
      : format(strings.pendingNow, { id: pending.id });
    const sub = page.store.submissions.get(pending.id);
    const gone = sub && sub.status !== "approved";
    pendingText.textContent = sub ? `${sub.text}${gone ? ` ${strings.pendingGone}` : ""}` : "";
  }

  setInterval(() => { if (pending) renderPending(); }, TICK_MS);

  async function call(path, body) {
    busy = true;
    try {
      const { response, answer } = await page.request("POST", `${page.api}/screen/${path}`, body);
      if (!response.ok) {
        showError(answer.detail || strings.network);
        return null;
      }
      showError("");
      const view = answer.screen;
      blackout = view.blackout;
      ownDelay = view.show_delay_s;
      pending = view.pending_show ? (pending && pending.id === view.pending_show.submission_id ? pending : fromView(view.pending_show)) : null;
      render();
      return view;
    } catch {
      showError(strings.network);
      return null;
    } finally {
      busy = false;
    }
  }

  async function goDark() {
    if (blackout) {
      page.announce(strings.alreadyDark);
      return;
    }
    if (await call("blackout", { on: true })) page.announce(strings.wentDark);
  }

  async function lift() {
    if (!blackout) return;
    if (await call("blackout", { on: false })) page.announce(strings.cameBack);
  }

  async function cancel() {
    if (!pending) {
      page.announce(strings.nothingPending);
      return;
    }
    const id = pending.id;
    if (await call("cancel", { submission_id: id })) page.announce(format(strings.cancelled, { id }));
  }

  blackoutButton.addEventListener("click", () => (blackout ? lift() : goDark()));
  cancelButton.addEventListener("click", cancel);
  delayForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const raw = delayInput.value.trim();
    call("delay", { seconds: raw === "" ? null : Number(raw) });
  });

  page.registerKey("b", { help: strings.keyBlackout, run: goDark });
  page.registerKey("B", { help: strings.keyLift, run: lift });
  page.registerKey("x", { help: strings.keyCancel, run: cancel });

  page.onMessage((message) => {
    if (message.meeting) {
      blackout = Boolean(message.meeting.blackout);
      ownDelay = message.meeting.show_delay_s ?? null;
    }
    if (message.type === "snapshot") {
      pending = fromView(message.pending_show);
    } else if (message.type === "show_scheduled") {
      pending = fromView(message.pending_show);
      if (pending) page.announce(format(strings.announcePending, { id: pending.id, n: Math.round(message.pending_show.remaining_s) }));
    } else if ("pending_show" in message && message.pending_show === null) {
      pending = null;
      const cancelled = message.cancelled;
      if (cancelled && !busy) {
        page.announce(format(strings.cancelledBy[cancelled.reason] || strings.cancelledBy.cancelled, { id: cancelled.submission_id }));
      }
    } else if (message.type === "shown" && pending
      && (message.submissions || []).some((s) => s.id === pending.id && s.status === "on_screen")) {
      pending = null;
    }
    render();
  });

  render();
  return { render };
}
