// The replay page: the server renders the video, the questions at their times and the
// chapters, and every time is a plain link (?t=) that works without JavaScript. Here those
// links seek in place, the question on screen at the playback time is highlighted as the
// video plays, and "Share this moment" copies a link to the current time.
import { readJson } from "./dom.js";

const strings = readJson("strings") || {};
const video = document.getElementById("video");
const timeline = document.getElementById("timeline");
const EPSILON = 0.05; // a seek lands on the exact time asked, give or take float rounding

function spans(selector, startKey) {
  return [...document.querySelectorAll(selector)].map((node) => ({
    node,
    start: Number(node.dataset[startKey]),
    end: node.dataset.end ? Number(node.dataset.end) : Infinity,
  }));
}

const moments = spans("#timeline .moment[data-offset]", "offset");
const chapters = spans("#chapters .chapter[data-start]", "start");

// "90", "90.5", "1:30", "1:02:03", "1h2m3s": seconds, or null.
export function parseTime(text) {
  if (!text) return null;
  const value = String(text).trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  let match = value.match(/^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/);
  if (match) return Number(match[1] || 0) * 3600 + Number(match[2]) * 60 + Number(match[3]);
  match = value.match(/^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/);
  if (match && (match[1] || match[2] || match[3])) {
    return Number(match[1] || 0) * 3600 + Number(match[2] || 0) * 60 + Number(match[3] || 0);
  }
  return null;
}

function timeParam(seconds) {
  return String(Math.round(seconds * 10) / 10);
}

// The span playing at time t: the latest one that started and has not ended.
function activeAt(list, t) {
  let found = null;
  for (const span of list) {
    if (span.start <= t + EPSILON && t < span.end) found = span;
  }
  return found;
}

function mark(list, active) {
  for (const span of list) {
    const on = span === active;
    if (span.node.classList.contains("current") === on) continue;
    span.node.classList.toggle("current", on);
    if (on) span.node.setAttribute("aria-current", "true");
    else span.node.removeAttribute("aria-current");
  }
}

// Keep the highlighted question in sight where the list scrolls on its own (wide screens),
// without moving the page (on a phone the list sits under the video).
function reveal(node) {
  if (!timeline || !node) return;
  const style = getComputedStyle(timeline);
  if (!/(auto|scroll)/.test(style.overflowY) || timeline.scrollHeight <= timeline.clientHeight) return;
  const top = node.offsetTop - timeline.offsetTop;
  const bottom = top + node.offsetHeight;
  if (top < timeline.scrollTop || bottom > timeline.scrollTop + timeline.clientHeight) {
    timeline.scrollTop = Math.max(0, top - timeline.clientHeight / 3);
  }
}

let shown = null;
function highlight(t, { follow = true } = {}) {
  const moment = activeAt(moments, t);
  mark(moments, moment);
  mark(chapters, activeAt(chapters, t));
  if (moment !== shown) {
    shown = moment;
    if (follow && moment) reveal(moment.node);
  }
}

function remember(seconds) {
  const url = new URL(window.location.href);
  url.searchParams.set("t", timeParam(seconds));
  url.searchParams.delete("q");
  url.hash = "";
  window.history.replaceState(null, "", url);
}

function whenReady(run) {
  if (video.readyState >= 1) run();
  else video.addEventListener("loadedmetadata", run, { once: true });
}

export function seek(seconds, { play = true } = {}) {
  if (!video || !Number.isFinite(seconds)) return;
  whenReady(() => {
    const duration = Number.isFinite(video.duration) ? video.duration : Infinity;
    video.currentTime = Math.min(Math.max(0, seconds), duration);
    if (play) video.play().catch(() => {});
  });
  highlight(seconds, { follow: false });
}

if (video) {
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-seek]");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    const seconds = Number(link.dataset.seek);
    seek(seconds);
    remember(seconds);
  });

  video.addEventListener("timeupdate", () => highlight(video.currentTime));
  video.addEventListener("seeked", () => highlight(video.currentTime));

  // ?t= and ?q= came through the server (data-start and the #t= media fragment); #t= is ours.
  const fromHash = parseTime((window.location.hash.match(/^#t=([^&]+)/) || [])[1]);
  const start = fromHash ?? parseTime(video.dataset.start);
  if (start !== null) {
    seek(start, { play: false });
    const target = activeAt(moments, start);
    if (target) reveal(target.node);
  }

  const share = document.getElementById("share");
  const fallback = document.getElementById("share-fallback");
  const field = document.getElementById("share-url");
  const status = document.getElementById("share-status");
  share.hidden = false;
  share.addEventListener("click", async () => {
    const url = new URL(window.location.pathname, window.location.origin);
    url.searchParams.set("t", String(Math.floor(video.currentTime)));
    field.value = url.href;
    fallback.hidden = false;
    try {
      await navigator.clipboard.writeText(url.href);
      status.textContent = strings.copied || "";
    } catch {
      // No clipboard (an insecure origin, or permission refused): the link is there to copy.
      status.textContent = strings.copyHere || "";
      field.focus();
      field.select();
    }
  });
}
