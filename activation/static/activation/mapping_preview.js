// Live preview of a source's custom mapping against a pasted sample payload (admin form).
// Posts the mapping, the sample and the regions to the preview view, which writes nothing and
// answers with masked values; everything is rendered as text, never as HTML.
(function () {
  "use strict";

  function field(name) {
    return document.querySelector('[name="' + name + '"]');
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function list(title, items, render) {
    var section = document.createDocumentFragment();
    section.appendChild(el("h4", title + " (" + items.length + ")"));
    var ul = el("ul");
    items.forEach(function (item) { ul.appendChild(el("li", render(item))); });
    section.appendChild(ul);
    return section;
  }

  function missing(box, body) {
    if ((body.missing_paths || []).length) {
      box.appendChild(el("p", "Not in this sample (skipped): " + body.missing_paths.join(", "),
        "help mapping-missing"));
    }
  }

  function show(box, body) {
    box.textContent = "";
    var errors = body.errors || [];
    if (errors.length) {
      var ul = el("ul", undefined, "errorlist mapping-errors");
      errors.forEach(function (e) { ul.appendChild(el("li", e)); });
      box.appendChild(ul);
      missing(box, body);
      return;
    }
    box.appendChild(el("p", "Message id: " + body.message_id, "mapping-message-id"));
    box.appendChild(list("Identifiers", body.identifiers, function (i) {
      return i.kind + ": " + i.value;
    }));
    box.appendChild(list("Attributes", body.attributes, function (a) {
      return a.key + " (" + a.category + "): " + JSON.stringify(a.value);
    }));
    box.appendChild(list("Events", body.events, function (e) {
      return e.name + " " + JSON.stringify(e.payload) + (e.occurred_at ? " at " + e.occurred_at : "");
    }));
    missing(box, body);
  }

  function ready() {
    var button = document.getElementById("mapping-preview-button");
    var box = document.getElementById("mapping-preview");
    if (!button || !box) return;
    var timer = null;
    var sequence = 0;

    function run() {
      var data = new FormData();
      ["mapping", "sample", "regions", "csrfmiddlewaretoken"].forEach(function (name) {
        var input = field(name);
        data.append(name, input ? input.value : "");
      });
      var mine = ++sequence;
      box.setAttribute("aria-busy", "true");
      fetch(button.dataset.url, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (body) { if (mine === sequence) show(box, body); })
        .catch(function () { if (mine === sequence) show(box, { errors: ["The preview failed."] }); })
        .finally(function () { if (mine === sequence) box.removeAttribute("aria-busy"); });
    }

    function soon() {
      clearTimeout(timer);
      timer = setTimeout(run, 400);
    }

    button.addEventListener("click", run);
    ["mapping", "sample"].forEach(function (name) {
      var input = field(name);
      if (input) input.addEventListener("input", soon);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
