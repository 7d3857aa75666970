(function () {
  "use strict";
  function mark(key, on) {
    var selector = 'path[data-a="' + key + '"],path[data-b="' + key + '"]';
    document.querySelectorAll(selector).forEach(function (p) { p.classList.toggle("hl", on); });
  }
  function setup() {
    document.querySelectorAll("svg.dorsum-diagram g.n").forEach(function (g) {
      var key = g.getAttribute("data-k");
      g.addEventListener("mouseenter", function () { mark(key, true); });
      g.addEventListener("mouseleave", function () { mark(key, false); });
    });
    document.body.dataset.loaded = "ok";
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
