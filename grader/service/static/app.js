// The assignment page's one script: as a student types, a debounced check shows how each
// answer is read (never whether it is right) and the draft is saved. Maths in the sheet and
// in matrix previews is rendered by the bundled KaTeX.
(function () {
  "use strict";
  const DELAY = 350;

  function matrixTex(text) {
    let value;
    try { value = JSON.parse(text); } catch (e) { return null; }
    if (!Array.isArray(value) || value.length === 0) return null;
    const rows = Array.isArray(value[0]) ? value : [value];
    if (!rows.every((r) => Array.isArray(r) && r.every((x) => typeof x === "number"))) return null;
    return "\\begin{bmatrix}" + rows.map((r) => r.join(" & ")).join(" \\\\ ") + "\\end{bmatrix}";
  }

  function show(box, answer, reading) {
    box.textContent = "";
    box.className = "preview " + reading.status;
    if (reading.status === "ok") {
      const label = document.createElement("span");
      label.textContent = "Read as: ";
      box.appendChild(label);
      const tex = matrixTex(reading.read_as);
      const out = document.createElement(tex && window.katex ? "span" : "code");
      if (tex && window.katex) window.katex.render(tex, out, { throwOnError: false });
      else out.textContent = reading.read_as;
      out.className = "read-as";
      box.appendChild(out);
      if (reading.message) { const m = document.createElement("span"); m.textContent = " " + reading.message; box.appendChild(m); }
    } else {
      const m = document.createElement("div");
      m.className = "message";
      m.textContent = reading.message;
      box.appendChild(m);
      if (reading.position !== null && reading.position !== undefined && answer.indexOf("\n") < 0) {
        const caret = document.createElement("pre");
        caret.className = "caret";
        caret.textContent = answer + "\n" + " ".repeat(Math.min(reading.position, answer.length)) + "^";
        box.appendChild(caret);
      }
    }
  }

  function setup(form) {
    const assignment = form.dataset.assignment;
    const csrf = form.dataset.csrf;
    const headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf };
    const base = "/api/v1/assignments/" + encodeURIComponent(assignment);
    form.querySelectorAll("[data-part]").forEach((field) => {
      const box = document.getElementById(field.id.replace("answer-", "preview-"));
      let timer = null;
      let latest = 0;
      async function run() {
        const answer = field.value;
        const ticket = ++latest;
        fetch(base + "/drafts", { method: "PUT", headers, body: JSON.stringify({ part: field.dataset.part, answer }), credentials: "same-origin" });
        if (!answer.trim()) { box.textContent = ""; box.className = "preview"; return; }
        try {
          const response = await fetch(base + "/check", { method: "POST", headers, body: JSON.stringify({ part: field.dataset.part, answer }), credentials: "same-origin" });
          const data = await response.json();
          if (ticket !== latest) return; // a newer keystroke's check is on its way
          if (response.ok) show(box, answer, data);
          else { box.className = "preview invalid"; box.textContent = data.detail || ("Check failed (" + response.status + ")"); }
        } catch (e) { if (ticket === latest) box.textContent = "Could not reach the server to check this answer."; }
      }
      field.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, DELAY); });
      if (field.value.trim()) run();
    });
  }

  // An assignment with code parts: grading runs the code in the sandbox and takes seconds, so
  // the form is posted by fetch while the page says so (with the time spent), then the report
  // page opens. The form's submission key makes a retry safe (graded once).
  function submitWithProgress(form) {
    const box = document.getElementById("grading");
    const button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (button.disabled) return;
      button.disabled = true;
      box.hidden = false;
      box.className = "grading";
      box.querySelector("progress").hidden = false;
      const text = box.querySelector(".grading-text");
      const started = Date.now();
      const tick = () => { text.textContent = "Grading: running your code… " + Math.floor((Date.now() - started) / 1000) + " s"; };
      tick();
      const timer = setInterval(tick, 1000);
      try {
        const response = await fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin", headers: { "Accept": "application/json" } });
        if (response.ok && response.redirected) { window.location.assign(response.url); return; }
        let detail = "";
        try { detail = (await response.json()).detail; } catch (e) { /* not JSON */ }
        throw new Error(detail || ("the server answered " + response.status));
      } catch (e) {
        clearInterval(timer);
        box.className = "grading failed";
        box.querySelector("progress").hidden = true;
        text.textContent = "Not submitted: " + e.message;
        button.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (window.renderMathInElement) {
      window.renderMathInElement(document.body, { delimiters: [{ left: "$$", right: "$$", display: true }, { left: "$", right: "$", display: false }], throwOnError: false });
    }
    document.querySelectorAll("dd.given").forEach((dd) => {
      const tex = matrixTex(dd.dataset.value);
      if (tex && window.katex) { const span = document.createElement("div"); window.katex.render(tex, span, { throwOnError: false, displayMode: true }); dd.replaceChildren(span); }
    });
    const form = document.getElementById("answers");
    if (form) setup(form);
    if (form && form.dataset.code) submitWithProgress(form);
  });
})();

// An LTI deep linking response goes back to the course's LMS at once (the page's button does
// the same without scripts).
document.querySelectorAll("form[data-autosubmit]").forEach(function (form) { form.submit(); });
