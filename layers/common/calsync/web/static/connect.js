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
    // every 2 s for a minute (the first appointments arriving), then every 10 s, for 10 minutes at most
    var url = region.getAttribute("data-refresh");
    var polls = 0;
    function tick() {
      polls += 1;
      if (polls > 84) { return; }
      fetch(url, {credentials: "same-origin"}).then(function (answer) {
        return answer.ok ? answer.text() : null;
      }).then(function (html) {
        if (html !== null) { region.innerHTML = html; }
        setTimeout(tick, polls < 30 ? 2000 : 10000);
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
