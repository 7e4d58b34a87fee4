// The client's copy of a meeting: submissions by id, updated by snapshots and events.
// Every event carries the full view of each submission it changed, so applying one twice
// (a replay overlapping a snapshot) changes nothing.

export class Store {
  constructor(state) {
    this.submissions = new Map();
    this.meeting = null;
    this.agenda = { items: [], current: null };
    if (state) this.snapshot(state);
  }

  snapshot(state) {
    this.submissions.clear();
    this.meeting = state.meeting || this.meeting;
    if (state.agenda) this.agenda = state.agenda;
    const lists = [state.submissions, state.approved, state.answered, state.on_screen ? [state.on_screen] : []];
    for (const list of lists) for (const sub of list || []) this.upsert(sub);
  }

  apply(message) {
    if (message.type === "snapshot") {
      this.snapshot(message);
      return;
    }
    if (message.meeting) this.meeting = message.meeting;
    if (message.agenda) this.agenda = message.agenda;
    for (const sub of message.submissions || []) this.upsert(sub);
  }

  upsert(sub) {
    if (sub.status === "withdrawn") this.submissions.delete(sub.id);
    else this.submissions.set(sub.id, sub);
  }

  withStatus(status) {
    return [...this.submissions.values()].filter((s) => s.status === status);
  }

  onScreen() {
    return this.withStatus("on_screen")[0] || null;
  }

  // The agenda item under discussion now, or null (none, or a break).
  currentItem() {
    const { items = [], current = null } = this.agenda || {};
    return items.find((item) => item.id === current) || null;
  }

  // The queue order, the same on the screen, the public page and the moderator page: by
  // `position` (kept by the server from the priority score and moderators' moves), then
  // first-come, first-served.
  approved() {
    return this.withStatus("approved").sort(byPosition);
  }

  answered() {
    return this.withStatus("answered").sort(byTime("answered_at"));
  }
}

export function byTime(field) {
  return (a, b) => (a[field] || "").localeCompare(b[field] || "") || a.id - b.id;
}

// Ascending position; a question without one (not yet placed) after those with one.
export function byPosition(a, b) {
  const pa = typeof a.position === "number" ? a.position : Infinity;
  const pb = typeof b.position === "number" ? b.position : Infinity;
  if (pa !== pb) return pa < pb ? -1 : 1;
  return byTime("approved_at")(a, b);
}
