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
