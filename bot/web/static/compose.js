// Compose: as the curator types, ask the server how the text fits on each platform (it counts
// as the publisher will: graphemes, links as Mastodon counts them, the inert step) and show it.
// Everything shown is set with textContent: the preview quotes what was typed.
"use strict";

(function () {
  const form = document.getElementById("compose-form");
  const text = document.getElementById("compose-text");
  const out = document.getElementById("fit");
  if (!form || !text || !out) return;
  let timer = null;
  let asked = 0;

  function el(tag, cls, content) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  function show(answer) {
    out.replaceChildren();
    const data = answer && answer.data;
    if (!data) {
      out.appendChild(el("p", "fit-bad", (answer && answer.message) || ""));
      return;
    }
    (data.platforms || []).forEach(function (fit, i) {
      const box = el("div", "fit " + (fit.fits ? "fit-ok" : "fit-bad"));
      box.setAttribute("data-platform", fit.platform);
      box.appendChild(el("h3", "", (answer.lines && answer.lines[i]) || fit.platform));
      (fit.parts || []).forEach(function (part, n) {
        const p = el("div", "fit-part" + (part.fits ? "" : " fit-over"));
        p.appendChild(el("span", "fit-count", (n + 1) + "/" + fit.parts.length + " · " + part.length + "/" + fit.max_length));
        p.appendChild(el("div", "fit-text", part.shown));
        box.appendChild(p);
      });
      out.appendChild(box);
    });
    (data.problems || []).forEach(function (problem) {
      if (text.value.trim()) out.appendChild(el("p", "fit-bad", problem));
    });
  }

  async function ask() {
    const mine = ++asked;
    const fields = new URLSearchParams();
    fields.append("text", text.value);
    form.querySelectorAll("input[name=platform]:checked").forEach(function (box) {
      fields.append("platform", box.value);
    });
    const answer = await window.Coalesce.post("/compose/preview", fields);
    if (mine === asked) show(answer.data);
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(ask, 200);
  }

  text.addEventListener("input", soon);
  form.querySelectorAll("input[name=platform]").forEach(function (box) {
    box.addEventListener("change", soon);
  });
  const at = document.getElementById("compose-at");
  const whenAt = document.getElementById("when-at");
  if (at && whenAt) at.addEventListener("input", function () { whenAt.checked = true; });
  ask();
})();
