/* Privacy center: open a data-subject request and confirm it with the mailed code.
   Same origin as the hub; the property key identifies the website. No dependencies. */
(function () {
  "use strict";
  var intake = document.getElementById("dsar-intake");
  var confirm = document.getElementById("dsar-confirm");
  var status = document.getElementById("dsar-status");
  if (!intake) { return; }
  var key = intake.getAttribute("data-key");

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Custodia-Key": key },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    });
  }
  function say(text) { status.textContent = text; }
  // The sentences come translated from the page (data-* on the status line); {name} is filled in.
  function text(name, values) {
    return (status.getAttribute("data-" + name) || "").replace(/\{(\w+)\}/g, function (all, k) {
      return Object.prototype.hasOwnProperty.call(values || {}, k) ? values[k] : all;
    });
  }
  // An error the page words in the visitor's language (data-error-<code>), else the API's.
  function problem(data) {
    var error = (data && data.error) || {};
    return (error.code && text("error-" + error.code)) || error.message || text("failed");
  }
  function day(iso) {
    var lang = document.documentElement.lang || undefined;
    var date = new Date(iso);
    if (isNaN(date.getTime())) { return iso.slice(0, 10); }
    try {
      return date.toLocaleDateString(lang, { year: "numeric", month: "long", day: "numeric" });
    } catch (err) {
      return iso.slice(0, 10);
    }
  }

  intake.addEventListener("submit", function (event) {
    event.preventDefault();
    var form = new FormData(intake);
    intake.querySelector("button[type=submit]").disabled = true;
    var body = { kind: form.get("kind"), email: form.get("email"), region: form.get("region") };
    if (form.get("description")) { body.details = { description: form.get("description") }; }
    post("/api/v1/dsar/intake/", body).then(function (res) {
      if (!res.ok) {
        intake.querySelector("button[type=submit]").disabled = false;
        if (res.data && res.data.error && res.data.error.code === "details_too_long") {
          intake.elements.description.setAttribute("aria-invalid", "true");
          intake.elements.description.focus();
        }
        return say(problem(res.data));
      }
      // Sent: the request form is done with (a second click would open a second request);
      // the next step is the code.
      intake.reset();
      Array.prototype.forEach.call(intake.elements, function (field) { field.disabled = true; });
      intake.hidden = true;
      confirm.hidden = false;
      confirm.elements.reference.value = res.data.reference;
      confirm.elements.code.focus();
      say(text("sent", { reference: res.data.reference }));
    });
  });

  confirm.addEventListener("submit", function (event) {
    event.preventDefault();
    var form = new FormData(confirm);
    post("/api/v1/dsar/intake/confirm/", {
      reference: String(form.get("reference")).trim(), code: String(form.get("code")).trim()
    }).then(function (res) {
      if (!res.ok) { return say(problem(res.data)); }
      confirm.hidden = true;
      say(text("confirmed", { reference: res.data.reference, date: day(res.data.due_at) }));
    });
  });
})();
