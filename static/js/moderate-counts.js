// Counts at a glance, computed from the page's own copy of the meeting (the Store), so they
// move with every event: totals by status, the same per source and per category, and a
// small chart of questions received per minute over the meeting, drawn here on a canvas.
import { el, format, number, replaceChildren } from "./dom.js";

const STATUSES = ["pending", "approved", "on_screen", "answered", "rejected", "merged"];
const COLUMNS = ["received", "pending", "approved", "on_screen", "answered", "rejected"];
const NICE_MINUTES = [1, 2, 3, 5, 10, 15, 20, 30, 60];
const MAX_BARS = 90;
const MIN_MINUTES = 20;
const MINUTE = 60000;

function clockOf(ms) {
  // The page's language (<html lang>), not the browser's: the page may have been switched.
  return new Date(ms).toLocaleTimeString(document.documentElement.lang || [], { hour: "2-digit", minute: "2-digit" });
}

function oneDecimal(n) {
  return n >= 10 || Number.isInteger(n) ? number(Math.round(n)) : number(n, 1);
}

// {key: {received, pending, approved, ...}} for the questions grouped by `keyOf`.
function tally(subs, keyOf) {
  const rows = new Map();
  for (const sub of subs) {
    const key = keyOf(sub);
    let row = rows.get(key);
    if (!row) {
      row = { received: 0 };
      for (const status of STATUSES) row[status] = 0;
      rows.set(key, row);
    }
    row.received += 1;
    row[sub.status] = (row[sub.status] || 0) + 1;
  }
  return [...rows.entries()].sort((a, b) => b[1].received - a[1].received || String(a[0]).localeCompare(String(b[0])));
}

// Questions received per minute: buckets from the first question to now.
export function perMinute(times, now) {
  if (!times.length) return null;
  // At least MIN_MINUTES wide, so the first minutes of a meeting are not one wide bar.
  const start = Math.floor(Math.min(now - (MIN_MINUTES - 1) * MINUTE, ...times) / MINUTE) * MINUTE;
  const end = Math.max(now, ...times);
  const minutes = Math.max(1, Math.ceil((end - start + 1) / MINUTE));
  const step = NICE_MINUTES.find((n) => minutes / n <= MAX_BARS) || Math.ceil(minutes / MAX_BARS);
  const counts = new Array(Math.ceil(minutes / step)).fill(0);
  for (const t of times) counts[Math.min(counts.length - 1, Math.floor((t - start) / (step * MINUTE)))] += 1;
  return { start, step, rates: counts.map((n) => n / step) };
}

export function setupCounts(page) {
  const { store, strings } = page;
  const box = document.getElementById("counts");
  const chart = document.getElementById("qpm-chart");
  const categoryLabels = new Map((page.state.categories || []).map((c) => [c.key, c.label]));
  let drawn = "";

  function statusName(key) {
    return key === "received" ? strings.received : strings.statuses[key] || key;
  }

  function table(id, rows, nameOf) {
    const body = document.querySelector(`#${id} tbody`);
    replaceChildren(body, rows.map(([key, row]) =>
      el("tr", {},
        el("th", { scope: "row" }, nameOf(key)),
        COLUMNS.map((column) => el("td", { dataset: { column } }, String(row[column] || 0))))));
    document.getElementById(id).hidden = rows.length === 0;
  }

  function drawChart(subs, force = false) {
    const times = [];
    for (const sub of subs) {
      const t = Date.parse(sub.received_at);
      if (Number.isFinite(t)) times.push(t);
    }
    const now = Date.now();
    // Redrawn when a question arrives or the minute turns, not on every event.
    const signature = `${times.length}:${Math.floor(now / MINUTE)}`;
    if (signature === drawn && !force) return;
    drawn = signature;
    const series = perMinute(times, now);
    const summary = document.getElementById("qpm-summary");
    const axis = document.getElementById("qpm-axis");
    const context = chart.getContext("2d");
    // Sharp on any screen: the canvas has as many pixels as the screen shows.
    const scale = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(chart.clientWidth * scale));
    const height = Math.max(1, Math.round(chart.clientHeight * scale));
    if (chart.width !== width || chart.height !== height) {
      chart.width = width;
      chart.height = height;
    }
    context.clearRect(0, 0, width, height);
    if (!series) {
      summary.textContent = strings.qpmEmpty;
      chart.dataset.bars = "0";
      axis.hidden = true;
      return;
    }
    const { start, step, rates } = series;
    const peak = Math.max(...rates);
    const peakAt = start + rates.indexOf(peak) * step * MINUTE;
    const recent = times.filter((t) => t > now - 5 * MINUTE).length / 5;
    const slot = width / rates.length;
    const style = getComputedStyle(chart);
    context.fillStyle = style.color;
    rates.forEach((rate, i) => {
      if (!rate) return;
      const bar = Math.max(2 * scale, (rate / peak) * (height - 2 * scale));
      context.fillRect(i * slot + slot * 0.1, height - bar, Math.max(1, slot * 0.8), bar);
    });
    context.fillStyle = style.borderBottomColor;
    context.fillRect(0, height - scale, width, scale);
    chart.dataset.bars = String(rates.length);
    chart.dataset.peak = oneDecimal(peak);
    summary.textContent = format(strings.qpmSummary, { now: oneDecimal(recent), peak: oneDecimal(peak), time: clockOf(peakAt) });
    axis.hidden = false;
    document.getElementById("qpm-start").textContent = clockOf(start);
    document.getElementById("qpm-peak").textContent = format(strings.qpmScale, { n: oneDecimal(peak), step });
    document.getElementById("qpm-end").textContent = clockOf(now);
  }

  function update() {
    const subs = [...store.submissions.values()];
    const totals = { received: subs.length };
    for (const status of STATUSES) totals[status] = 0;
    for (const sub of subs) totals[sub.status] = (totals[sub.status] || 0) + 1;
    for (const node of box.querySelectorAll("[data-total]")) node.textContent = String(totals[node.dataset.total] || 0);
    table("by-source", tally(subs, (s) => s.source || "web"), (key) => strings.sourceNames[key] || key);
    const categorised = subs.some((s) => s.category);
    table("by-category", categorised ? tally(subs, (s) => s.category || "") : [],
      (key) => (key ? categoryLabels.get(key) || key : strings.uncategorised));
    drawChart(subs);
  }

  for (const th of box.querySelectorAll("thead [data-column]")) th.textContent = statusName(th.dataset.column);
  // The time axis moves on even when nothing arrives; a resized (or opened) panel redraws.
  setInterval(() => drawChart([...store.submissions.values()]), 30000);
  new ResizeObserver(() => drawChart([...store.submissions.values()], true)).observe(chart);
  return update;
}
