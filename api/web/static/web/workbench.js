// Progressive enhancement of the policy editor: as the officer types, keep the text (valid or not) and show
// its problems with line and column, the same check the "Save and check" button runs. Without this file the
// page is a plain form.
(function () {
  "use strict";
  var form = document.getElementById("editor");
  if (!form || !window.fetch) { return; }
  var text = document.getElementById("text-input");
  var status = document.getElementById("live-status");
  var lines = document.getElementById("lines");
  var count = document.getElementById("problem-count");
  var zh = document.documentElement.lang === "zh-CN";
  var timer = null, sent = text.value;

  function render(value, problems) {
    var at = {};
    problems.forEach(function (p) { var n = p.line || 1; (at[n] = at[n] || []).push(p); });
    lines.textContent = "";
    value.split("\n").forEach(function (line, i) {
      var li = document.createElement("li"), code = document.createElement("code");
      li.value = i + 1; li.id = "L" + (i + 1);
      code.textContent = line; li.appendChild(code);
      (at[i + 1] || []).forEach(function (p) {
        var note = document.createElement("p");
        note.className = "problem"; note.setAttribute("role", "note");
        var where = zh ? "第 " + p.line + " 行" + (p.column ? "，第 " + p.column + " 列" : "")
                       : "line " + p.line + (p.column ? ", column " + p.column : "");
        note.textContent = where + ": " + p.message + (p.hint ? " — " + p.hint : "");
        li.appendChild(note); li.className = "has-problem";
      });
      lines.appendChild(li);
    });
    count.textContent = String(problems.length);
  }

  function check() {
    var value = text.value;
    if (value === sent) { return; }
    sent = value;
    var body = new URLSearchParams(new FormData(form));
    fetch(form.dataset.live, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (answer) {
        if (text.value !== value) { return; }  // typed on meanwhile: the next answer counts
        render(value, answer.problems);
        status.textContent = answer.problems.length
          ? (zh ? "已保存，有 " + answer.problems.length + " 处问题" : "saved, " + answer.problems.length + " problem(s)")
          : (zh ? "已保存，未发现问题" : "saved, no problems");
      })
      .catch(function () { status.textContent = zh ? "自动保存失败，请点击保存" : "not saved: use the button"; });
  }

  form.addEventListener("submit", function () { clearTimeout(timer); });  // the button saves it now
  text.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 400);
  });
})();
