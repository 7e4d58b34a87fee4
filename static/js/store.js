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

  // The queue order people see: approved first-come, first-served (priority comes later).
  approved() {
    return this.withStatus("approved").sort(byTime("approved_at"));
  }

  answered() {
    return this.withStatus("answered").sort(byTime("answered_at"));
  }
}

export function byTime(field) {
  return (a, b) => (a[field] || "").localeCompare(b[field] || "") || a.id - b.id;
}
