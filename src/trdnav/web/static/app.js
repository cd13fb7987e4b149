/* trdnav web app: small progressive enhancements. Every page works without this script. */
"use strict";

(function () {
  function words(label) {
    return label.replace(/_/g, " ");
  }

  /* Instrument forms: the running total and band as items are answered (the server
     computes the same on save; domains score their highest item, as QIDS-SR16 does). */
  function runningTotal(form) {
    var scale = JSON.parse(form.getAttribute("data-scale"));
    var out = document.getElementById("running-total");
    var itemCount = scale.domains.reduce(function (n, d) { return n + d.length; }, 0);

    function answer(number) {
      var checked = form.querySelector('input[name="items[' + (number - 1) + ']"]:checked');
      return checked ? parseInt(checked.value, 10) : null;
    }

    function update() {
      var answered = 0;
      for (var n = 1; n <= itemCount; n++) {
        if (answer(n) !== null) { answered++; }
      }
      var total = 0;
      scale.domains.forEach(function (domain) {
        var best = 0;
        domain.forEach(function (n) { best = Math.max(best, answer(n) || 0); });
        total += best;
      });
      var band = scale.bands.filter(function (b) { return b.min <= total && total <= b.max; })[0];
      var text;
      if (answered === itemCount) {
        text = "Total " + total + " of " + scale.max + ": " + words(band.label) + ".";
        if (total <= scale.remission_max) { text += " Within remission."; }
      } else {
        text = "So far " + total + " of " + scale.max + " (" + words(band.label) + "), " +
          answered + " of " + itemCount + " items answered.";
      }
      out.textContent = text;
      var suicide = answer(scale.suicide_item);
      if (suicide !== null && suicide >= scale.alert_at) {
        var flag = document.createElement("span");
        flag.className = "flag";
        flag.textContent = " Suicide item positive: assess suicide risk now.";
        out.appendChild(flag);
      }
    }

    form.addEventListener("change", update);
    update();
  }

  function confirmBeforeSubmit(form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-scale]").forEach(runningTotal);
    document.querySelectorAll("form[data-confirm]").forEach(confirmBeforeSubmit);
    var summary = document.getElementById("error-summary") || document.getElementById("stale-notice");
    if (summary) {
      summary.setAttribute("tabindex", "-1");
      summary.focus();
    }
  });
})();
