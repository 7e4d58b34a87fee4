// The chamber screen: no mouse, no keyboard, nobody to press reload. It shows what the
// server says is on screen and resyncs by itself after any drop.
import { connect, connectionIndicator } from "./live.js";
import { Store } from "./store.js";
import { el, format, questionMeta, readJson, replaceChildren } from "./dom.js";

const state = readJson("state");
const strings = readJson("strings");
const store = new Store(state);
const NEXT_SHOWN = 4;

// Largest font size (px) at which the text fits its box: long Spanish questions shrink, short
// ones fill the screen, nothing ever overflows. Words are kept whole when that still gives
// type readable from the back of the room; a word too long for that ("Electroencefalografistas"
// at 160 px, a pasted link) is broken instead, where the broken text comes out larger.
export function fitText(node, box, { max = 160, min = 18 } = {}) {
  const readable = Math.max(min, Math.round(window.innerHeight * 0.04));
  node.style.overflowWrap = "normal";
  const whole = largestFitting(node, box, min, max);
  if (whole >= readable) return whole;
  node.style.overflowWrap = ""; // the stylesheet's: break anywhere
  const broken = largestFitting(node, box, min, max);
  if (broken > whole) return broken;
  node.style.overflowWrap = "normal";
  node.style.fontSize = `${whole}px`;
  return whole;
}

function fits(node, box) {
  return box.scrollHeight <= box.clientHeight && box.scrollWidth <= box.clientWidth
    && node.scrollWidth <= node.clientWidth;
}

function largestFitting(node, box, min, max) {
  let low = min;
  let high = max;
  node.style.fontSize = `${high}px`;
  if (fits(node, box)) return high;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    node.style.fontSize = `${middle}px`;
    if (fits(node, box)) low = middle;
    else high = middle;
  }
  node.style.fontSize = `${low}px`;
  return low;
}

// "+N asked this" and the "me too" count under an up-next item, when there is any.
function nextMeta(sub) {
  const parts = [
    sub.asked_count > 1 ? el("span", { class: "asked" }, format(strings.asked, { n: sub.asked_count - 1 })) : null,
    sub.votes > 0 ? el("span", { class: "votes" }, format(strings.votes, { n: sub.votes })) : null,
  ].filter(Boolean);
  return parts.length ? el("span", { class: "next-meta" }, parts) : null;
}

// A blackout clears the screen at once: no question is even kept in the page, so nothing
// can show through. Lifting it renders the screen again from the store, as it is now.
function renderBlackout(dark) {
  document.body.classList.toggle("blackout", dark);
  const title = document.getElementById("blackout-title");
  title.hidden = !dark;
  if (store.meeting) title.textContent = store.meeting.title;
  if (dark) {
    replaceChildren(document.getElementById("current-box"), []);
    replaceChildren(document.getElementById("next-list"), []);
  }
  return dark;
}

function render() {
  // The clerk set another language for this meeting: every word here came from the server.
  if (store.meeting && (store.meeting.language || null) !== (state.meeting.language || null)) {
    window.location.reload();
    return;
  }
  if (renderBlackout(Boolean(store.meeting && store.meeting.blackout))) return;
  const box = document.getElementById("current-box");
  const current = store.onScreen();
  if (current) {
    const text = el("blockquote", { class: "current-text", id: "current-text", dataset: { id: current.id } }, current.text);
    replaceChildren(box, [text, el("p", { class: "current-meta", id: "current-meta" }, questionMeta(current, strings))]);
    fitText(text, box);
  } else {
    replaceChildren(box, [el("p", { class: "idle", id: "idle" }, strings.idle)]);
  }
  const next = store.approved().slice(0, NEXT_SHOWN);
  replaceChildren(document.getElementById("next-list"), next.map((sub) =>
    el("li", {}, el("span", { class: "next-text" }, sub.text), " ", el("span", { class: "next-author" }, sub.author), nextMeta(sub))));
  if (store.meeting) document.getElementById("meeting-title").textContent = store.meeting.title;
  const item = store.currentItem();
  const agenda = document.getElementById("agenda-current");
  agenda.textContent = item ? item.title : "";
  agenda.hidden = !item;
}

render();
window.addEventListener("resize", render);
connect(document.body.dataset.ws, {
  after: state.seq,
  // A projector must show the right question again within seconds of a server restart.
  maxDelay: 1000,
  onStatus: connectionIndicator(),
  onMessage(message) {
    store.apply(message);
    render();
  },
});
