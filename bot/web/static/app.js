// The curators' console: small, dependency-free helpers every page may use.
// Loaded as a file (the Content-Security-Policy forbids inline script); pages add their own
// behaviour through window.Coalesce rather than <script> blocks.
"use strict";

(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.getAttribute("content") : "";

  function toast(message, kind) {
    const area = document.getElementById("toasts");
    if (!area || !message) return;
    const el = document.createElement("div");
    el.className = "toast toast-" + (kind || "ok");
    el.textContent = message; // never innerHTML: messages may quote members
    area.appendChild(el);
    fade(el);
  }

  function fade(el) {
    setTimeout(function () { el.classList.add("hide"); }, 6000);
    setTimeout(function () { el.remove(); }, 6500);
  }

  // POST a form-encoded body with the session's form token; resolves to the parsed JSON answer.
  async function post(url, fields) {
    const body = new URLSearchParams(fields || {});
    const response = await fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: body,
      credentials: "same-origin",
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data: data };
  }

  // Keyboard shortcuts: pages register keys; typing in a field never triggers them.
  const keys = {};
  function onKey(key, handler) { keys[key] = handler; }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    const handler = keys[event.key];
    if (handler) {
      event.preventDefault();
      handler(event);
    }
  });

  // <form data-confirm="question">: asks before submitting.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  document.querySelectorAll("#toasts .toast").forEach(fade);

  window.Coalesce = { csrf: csrf, toast: toast, post: post, onKey: onKey };
})();

// The queue page: decisions without a reload, j/k/a/r/s, and live updates (server-sent events).
(function () {
  if (document.body.getAttribute("data-page") !== "queue") return;
  const C = window.Coalesce;
  const cards = document.getElementById("cards");
  if (!cards) return;

  function all() { return Array.from(cards.querySelectorAll(".qcard")); }
  function current() { return cards.querySelector(".qcard.selected"); }
  function select(card) {
    all().forEach(function (c) { c.classList.remove("selected"); });
    if (!card) return;
    card.classList.add("selected");
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    const list = all();
    if (!list.length) return;
    const at = list.indexOf(current());
    const next = at < 0 ? 0 : Math.min(list.length - 1, Math.max(0, at + step));
    select(list[next]);
  }

  // Put a fresh card (HTML from this app's own template) in place of the old one.
  function replace(id, html) {
    const old = document.getElementById("c-" + id);
    if (!old || !html) return;
    const holder = document.createElement("div");
    holder.innerHTML = html.trim();
    const fresh = holder.firstElementChild;
    if (!fresh) return;
    const wasSelected = old.classList.contains("selected");
    old.replaceWith(fresh);
    fresh.classList.add("changed");
    if (wasSelected) fresh.classList.add("selected");
  }

  async function act(form) {
    const fields = {};
    new FormData(form).forEach(function (value, key) { if (key !== "csrf_token") fields[key] = value; });
    const answer = await C.post(form.getAttribute("action"), fields);
    if (answer.data) {
      C.toast(answer.data.message, answer.ok ? "ok" : "error");
      if (answer.data.card) replace(answer.data.id, answer.data.card);
    } else {
      C.toast("Error " + answer.status, "error");
    }
  }

  cards.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.classList || !form.classList.contains("act")) return;
    event.preventDefault();
    act(form);
  });

  function actOnSelected(kind) {
    const card = current();
    if (!card) return;
    const form = card.querySelector('form[data-act="' + kind + '"]');
    if (!form) return;
    if (kind === "reject") {
      const reason = form.querySelector('input[name="reason"]');
      if (reason) { reason.focus(); return; } // Enter in the field rejects
    }
    act(form);
  }

  C.onKey("j", function () { move(1); });
  C.onKey("k", function () { move(-1); });
  C.onKey("a", function () { actOnSelected("approve"); });
  C.onKey("r", function () { actOnSelected("reject"); });
  C.onKey("s", function () { actOnSelected("snooze"); });

  // Live: the server says which candidate changed; the page fetches that card again.
  async function refresh(id) {
    if (!document.getElementById("c-" + id)) return;
    const response = await fetch("/queue/card/" + encodeURIComponent(id), { credentials: "same-origin" });
    if (response.ok) replace(id, await response.text());
  }
  const source = cards.getAttribute("data-live");
  if (source && window.EventSource) {
    const events = new EventSource(source);
    events.addEventListener("candidate", function (event) { refresh(event.data); });
    events.addEventListener("open", function () { document.body.setAttribute("data-live", "on"); });
  }
})();
