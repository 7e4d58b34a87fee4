// The chamber screen: no mouse, no keyboard, nobody to press reload. It shows what the
// server says is on screen and resyncs by itself after any drop.
import { connect, connectionIndicator } from "./live.js";
import { Store } from "./store.js";
import { el, questionMeta, readJson, replaceChildren } from "./dom.js";

const state = readJson("state");
const strings = readJson("strings");
const store = new Store(state);
const NEXT_SHOWN = 4;

// Largest font size (px) at which the text fits its box: long Spanish questions shrink, short
// ones fill the screen, nothing ever overflows.
export function fitText(node, box, { max = 160, min = 18 } = {}) {
  let low = min;
  let high = max;
  node.style.fontSize = `${high}px`;
  if (box.scrollHeight <= box.clientHeight && box.scrollWidth <= box.clientWidth) return high;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    node.style.fontSize = `${middle}px`;
    if (box.scrollHeight <= box.clientHeight && box.scrollWidth <= box.clientWidth) low = middle;
    else high = middle;
  }
  node.style.fontSize = `${low}px`;
  return low;
}

function render() {
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
    el("li", {}, el("span", { class: "next-text" }, sub.text), " ", el("span", { class: "next-author" }, sub.author))));
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
  onStatus: connectionIndicator(),
  onMessage(message) {
    store.apply(message);
    render();
  },
});
