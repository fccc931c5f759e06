// The connect page works without this script; with it, the preview follows every choice as it is made,
// the status refreshes itself while the first events arrive, and the Microsoft hand-off needs no click.
(function () {
  "use strict";

  function post(url, form) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/x-www-form-urlencoded"},
      body: new URLSearchParams(new FormData(form)).toString()
    }).then(function (answer) { return answer.ok ? answer.text() : null; });
  }

  function preview(form) {
    var target = document.getElementById("preview");
    var pending = null;
    function update() {
      clearTimeout(pending);
      pending = setTimeout(function () {
        post(form.getAttribute("data-preview-url"), form).then(function (html) {
          if (html !== null) { target.innerHTML = html; }
        });
      }, 150);
    }
    form.addEventListener("change", update);
    form.addEventListener("input", update);
  }

  function refresh(region) {
    var url = region.getAttribute("data-refresh");
    function tick() {
      var status = region.querySelector("[data-settled]");
      if (status && status.getAttribute("data-settled") === "true" && region.getAttribute("data-polls") > 3) { return; }
      fetch(url, {credentials: "same-origin"}).then(function (answer) {
        return answer.ok ? answer.text() : null;
      }).then(function (html) {
        if (html !== null) { region.innerHTML = html; }
        region.setAttribute("data-polls", String(Number(region.getAttribute("data-polls") || 0) + 1));
        setTimeout(tick, 2000);
      });
    }
    setTimeout(tick, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-preview-url]");
    if (form) { preview(form); }
    var region = document.querySelector("[data-refresh]");
    if (region) { refresh(region); }
    var handOff = document.querySelector("form[data-autosubmit]");
    if (handOff) { handOff.submit(); }
  });
}());
