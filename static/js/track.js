// The submitter's tracking page: their question's status, live.
import { connect, connectionIndicator } from "./live.js";
import { readJson } from "./dom.js";

const strings = readJson("strings");
const section = document.querySelector("[data-ws]");
const statusNode = document.getElementById("status");
const reasonNode = document.getElementById("reason");
const order = ["pending", "approved", "on_screen", "answered"];

// The reason in this page's language: live messages carry the moderator's wording too.
function reason(submission) {
  const label = submission.rejection_key && (strings.reasons || {})[submission.rejection_key];
  if (!label) return submission.rejection_reason;
  const note = submission.rejection_note;
  if (submission.rejection_key === "other" && note) return note;
  return note ? `${label}: ${note}` : label;
}

function render(submission) {
  statusNode.dataset.status = submission.status;
  statusNode.textContent = strings[submission.status] || submission.status;
  // A question joined with a similar one follows it: say so beside its progress.
  const note = reason(submission) || (submission.merged && submission.status !== "merged" ? strings.merged : "");
  reasonNode.textContent = note;
  reasonNode.hidden = !note;
  const reached = order.indexOf(submission.status);
  document.querySelectorAll("[data-step]").forEach((step) => {
    const index = order.indexOf(step.dataset.step);
    step.classList.toggle("done", reached >= 0 && index <= reached);
    if (index === reached) step.setAttribute("aria-current", "step");
    else step.removeAttribute("aria-current");
  });
}

render({
  status: statusNode.dataset.status,
  merged: statusNode.dataset.merged === "true",
  rejection_reason: reasonNode.dataset.reason ? reasonNode.textContent.trim() : null,
});

connect(section.dataset.ws, {
  resume: false,
  onStatus: connectionIndicator(),
  onMessage(message) {
    if (message.submission) render(message.submission);
  },
});
