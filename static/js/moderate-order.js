// Reordering the approved queue: drag a card onto another, the ↑/↓ buttons, or Shift+K /
// Shift+J on the selected one. Each is one `move` action on the server ({"before": id} or
// {"after": id}); the new order comes back as a `reordered` event to every page.
import { format } from "./dom.js";

export function setupOrdering(page, { inApprovedTab, visible }) {
  const { queue, strings } = page;
  let dragged = null;

  function clearMarks() {
    for (const node of queue.querySelectorAll(".drop-before, .drop-after")) node.classList.remove("drop-before", "drop-after");
  }

  async function move(id, where) {
    const answer = await page.act("move", id, where);
    if (answer) {
      const items = visible();
      const index = items.findIndex((s) => s.id === id);
      if (index >= 0) page.announce(format(strings.movedTo, { id, n: index + 1 }));
    }
  }

  // One place up (-1) or down (+1) among the questions listed.
  function step(id, direction) {
    if (!inApprovedTab()) return;
    const items = visible();
    const index = items.findIndex((s) => s.id === id);
    const neighbour = items[index + direction];
    if (index < 0 || !neighbour) return;
    move(id, direction > 0 ? { after: neighbour.id } : { before: neighbour.id });
  }

  page.registerKey("J", { help: strings.keyMoveDown, run: (event, sub) => sub && step(sub.id, 1) });
  page.registerKey("K", { help: strings.keyMoveUp, run: (event, sub) => sub && step(sub.id, -1) });

  queue.addEventListener("click", (event) => {
    const button = event.target.closest("[data-move]");
    if (!button) return;
    const id = Number(button.dataset.id);
    page.select(id, false);
    step(id, button.dataset.move === "down" ? 1 : -1);
  });

  queue.addEventListener("dragstart", (event) => {
    const item = event.target.closest?.(".item[draggable='true']");
    if (!item) return;
    dragged = Number(item.dataset.id);
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", `#${dragged}`);
    item.classList.add("dragging");
  });

  queue.addEventListener("dragover", (event) => {
    if (dragged === null) return;
    const item = event.target.closest(".item");
    clearMarks();
    if (!item || Number(item.dataset.id) === dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    const box = item.getBoundingClientRect();
    item.classList.add(event.clientY > box.top + box.height / 2 ? "drop-after" : "drop-before");
  });

  queue.addEventListener("drop", (event) => {
    const item = event.target.closest(".item");
    if (dragged === null || !item) return;
    event.preventDefault();
    const target = Number(item.dataset.id);
    const after = item.classList.contains("drop-after");
    const id = dragged;
    clearMarks();
    if (target !== id) {
      page.select(id, false);
      move(id, after ? { after: target } : { before: target });
    }
  });

  queue.addEventListener("dragend", () => {
    clearMarks();
    for (const node of queue.querySelectorAll(".dragging")) node.classList.remove("dragging");
    dragged = null;
  });
}
