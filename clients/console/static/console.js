// Closeout console: confirmation of operator actions and live countdowns to window closes.
// No inline scripts anywhere (the Content Security Policy forbids them); htmx does the rest.
"use strict";

document.addEventListener("submit", (event) => {
  const question = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

function remaining(closesAt) {
  const ms = Date.parse(closesAt) - Date.now();
  if (Number.isNaN(ms)) return null;
  if (ms <= 0) return "closing (server clock)";
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return "closes in " + (h > 0 ? h + ":" + pad(m) : String(m)) + ":" + pad(s % 60);
}

function tick() {
  for (const el of document.querySelectorAll("[data-closes-at]")) {
    const text = remaining(el.dataset.closesAt);
    if (text !== null) {
      el.textContent = text;
      el.title = "window closes at " + el.dataset.closesAt;
    }
  }
}

tick();
setInterval(tick, 1000);
document.addEventListener("htmx:afterSwap", tick);
