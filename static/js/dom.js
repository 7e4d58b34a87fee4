// Building DOM from untrusted text: only textContent and attributes, never innerHTML,
// so a question containing <script> or <img onerror> stays plain text.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function readJson(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

// A number as the page's language writes it (<html lang>: "1,5" in Spanish, "1.5" in English).
export function number(n, digits = 0) {
  const options = { minimumFractionDigits: digits, maximumFractionDigits: digits };
  return new Intl.NumberFormat(document.documentElement.lang || undefined, options).format(n);
}

export function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

// The meta line under a question: author, neighbourhood, source, badges.
export function questionMeta(sub, strings) {
  return [
    el("span", { class: "author" }, sub.author),
    sub.neighborhood ? el("span", { class: "neighborhood" }, sub.neighborhood) : null,
    el("span", { class: `source source-${sub.source}` }, sub.source),
    sub.verified ? el("span", { class: "badge verified" }, strings.verified) : null,
    sub.asked_count > 1 ? el("span", { class: "asked" }, format(strings.asked, { n: sub.asked_count - 1 })) : null,
    // "Me too" votes; pages that show them another way (the public page's button) leave
    // strings.votes out.
    strings.votes && sub.votes > 0 ? el("span", { class: "votes" }, format(strings.votes, { n: sub.votes })) : null,
  ];
}

export function replaceChildren(node, children) {
  node.replaceChildren(...children.filter(Boolean));
}
