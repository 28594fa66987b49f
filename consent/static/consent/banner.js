/* Custodia consent banner: dependency-free, embedded with one script tag:
   <script src="https://HUB/consent/banner.js?key=pk_..." data-property-key="pk_..." data-region="EU"></script>
   First in <head>, without defer or async, when the page has Google tags: the Consent Mode
   defaults are then in the dataLayer before any tag runs (the ?key= inlines the property's
   mapping and per-region defaults). Optional: data-language="de" overrides the browser's
   languages; data-identity="<assertion signed by the site's backend>" links a known customer.
   Optional: data-mode="center" renders the full choice list inline (privacy center).
   The visitor id is random, kept in this site's localStorage; no personal data is sent, except
   the identity assertion the site itself gives for its logged-in customer (in a POST body). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var key = script.getAttribute("data-property-key");
  var region = script.getAttribute("data-region") || "";
  var mode = script.getAttribute("data-mode") || "banner";
  var hub = new URL(script.src, window.location.href).origin;
  var lang = languages();
  var STORE = "custodia_visitor";
  var state = { config: null, current: {} };
  var CONSENT_MODE = /*CONSENT_MODE*/null;
  var CONSENT_TYPES = ["ad_storage", "ad_user_data", "ad_personalization", "analytics_storage",
    "functionality_storage", "personalization_storage", "security_storage"];

  /* Google Consent Mode v2: gtag's own queue format (an arguments object per command). */
  function gtagPush() {
    window.dataLayer = window.dataLayer || [];
    window.dataLayer.push(arguments);
  }

  function merged(states, extra) {
    var out = {};
    Object.keys(states).forEach(function (k) { out[k] = states[k]; });
    Object.keys(extra).forEach(function (k) { out[k] = extra[k]; });
    return out;
  }

  /* Before any other script: per-regime defaults with gtag's `region`, and a page-wide default,
     the one of data-region when the site knows it, else everything denied; GPC denies the
     types standing for sale or sharing where the law honours it. */
  function consentModeDefaults() {
    var table = CONSENT_MODE || { types: CONSENT_TYPES, wait_for_update: 500, regimes: [] };
    var gpc = navigator.globalPrivacyControl === true;
    var wait = table.wait_for_update;
    var page = {};
    table.types.forEach(function (type) { page[type] = "denied"; });
    table.regimes.forEach(function (regime) {
      var states = merged(regime.defaults, {});
      if (gpc) { regime.gpc_denies.forEach(function (type) { states[type] = "denied"; }); }
      gtagPush("consent", "default", merged(states, { region: regime.gtag_regions, wait_for_update: wait }));
      if (region && regime.regions.indexOf(region.toUpperCase()) >= 0) { page = states; }
    });
    gtagPush("consent", "default", merged(page, { wait_for_update: wait }));
  }

  /* After the visitor's choices are known or change: a type is granted when every purpose
     it stands for is granted (essential ones always are), else denied. */
  function consentModeUpdate() {
    var mapping = state.config.consent_mode || {};
    var purposes = {};
    state.config.purposes.forEach(function (p) { purposes[p.slug] = p; });
    var update = {};
    CONSENT_TYPES.forEach(function (type) {
      var slugs = (mapping[type] || []).filter(function (slug) { return purposes[slug]; });
      var granted = slugs.length > 0 && slugs.every(function (slug) {
        var p = purposes[slug];
        var chosen = state.current[slug];
        return p.essential || (chosen ? chosen.state === "granted" : p["default"] === "granted");
      });
      update[type] = granted ? "granted" : "denied";
    });
    gtagPush("consent", "update", update);
  }

  consentModeDefaults();

  /* The visitor's languages, most wanted first: data-language (or ?custodia_lang= in the page's
     address) overrides navigator.languages; the hub falls back to the property's default. */
  function languages() {
    var fromPage = /[?&]custodia_lang=([A-Za-z-]{2,16})/.exec(window.location.search);
    var override = script.getAttribute("data-language") || (fromPage ? fromPage[1] : "");
    if (override) { return override; }
    return (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""]).join(",");
  }

  function t(name, fallback) {
    var texts = (state.config && state.config.texts) || {};
    return texts[name] || fallback;
  }

  /* ---- IAB GPP CMP API: window.__gpp (GPP CMP API 1.1). Kept apart from the banner code: the
     banner calls gpp.loaded / gpp.changing / gpp.updated; the hub computes the GPP string
     (consent/gpp), so this block only serves it. A page stub's queue and listeners are taken
     over, calls made before the configuration arrives are answered as the spec says for a
     loading CMP, and a __gppLocator frame lets iframes call it with postMessage. ---- */
  function custodiaGpp() {
    var data = null;
    var status = { cmp: "loading", display: "hidden", signal: "not ready" };
    var listeners = [];
    var lastId = 0;

    function ping() {
      return {
        gppVersion: "1.1", cmpStatus: status.cmp, cmpDisplayStatus: status.display,
        signalStatus: status.signal, supportedAPIs: data ? data.supported_apis : [], cmpId: 1,
        sectionList: data ? data.section_ids : [], applicableSections: data ? data.applicable_sections : [-1],
        gppString: data ? data.string : "", parsedSections: data ? data.sections : {}
      };
    }
    function fire(eventName, value) {
      listeners.slice().forEach(function (l) {
        try { l.callback({ eventName: eventName, listenerId: l.id, data: value, pingData: ping() }, true); } catch (e) { /* a listener's error is its own */ }
      });
    }
    function section(name) { return data && data.sections[name] ? data.sections[name] : null; }
    function field(path) {
      var dot = String(path).indexOf(".");
      var segments = dot > 0 ? section(String(path).slice(0, dot)) : null;
      var name = String(path).slice(dot + 1);
      if (!segments) { return null; }
      for (var i = 0; i < segments.length; i++) { if (name in segments[i]) { return segments[i][name]; } }
      return null;
    }
    function gppApi(command, callback, parameter) {
      var respond = typeof callback === "function" ? callback : function () {};
      if (command === "ping") { respond(ping(), true); return; }
      if (command === "addEventListener") {
        lastId += 1;
        listeners.push({ id: lastId, callback: respond, parameter: parameter });
        respond({ eventName: "listenerRegistered", listenerId: lastId, data: true, pingData: ping() }, true);
        return;
      }
      if (command === "removeEventListener") {
        var before = listeners.length;
        listeners = listeners.filter(function (l) { return l.id !== Number(parameter); });
        respond(listeners.length < before, true);
        return;
      }
      if (command === "hasSection") { respond(data ? !!section(parameter) : null, true); return; }
      if (command === "getSection") { respond(section(parameter), true); return; }
      if (command === "getField") { respond(field(parameter), true); return; }
      respond(null, false);
    }

    var stub = window.__gpp;
    var queue = [];
    if (typeof stub === "function") {
      try { queue = stub() || []; } catch (e) { queue = []; }
      (stub.events || []).forEach(function (e) { listeners.push({ id: e.id, callback: e.callback, parameter: e.parameter }); });
      lastId = stub.lastId || 0;
    }
    window.__gpp = gppApi;
    queue.forEach(function (args) { gppApi.apply(null, args); });

    window.addEventListener("message", function (event) {
      var json = event.data;
      if (typeof json === "string") { try { json = JSON.parse(json); } catch (e) { return; } }
      if (!json || typeof json !== "object" || !json.__gppCall || !event.source) { return; }
      var call = json.__gppCall;
      gppApi(call.command, function (value, success) {
        var reply = { __gppReturn: { returnValue: value, success: success, callId: call.callId } };
        event.source.postMessage(typeof event.data === "string" ? JSON.stringify(reply) : reply, "*");
      }, call.parameter);
    });
    (function addLocator() {
      if (window.frames.__gppLocator) { return; }
      if (!document.body) { setTimeout(addLocator, 10); return; }
      var frame = document.createElement("iframe");
      frame.style.cssText = "display:none"; frame.name = "__gppLocator"; frame.title = "GPP locator";
      document.body.appendChild(frame);
    }());

    function set(key, eventName, value) { if (status[key] !== value) { status[key] = value; fire(eventName, value); } }
    function update(next) {
      if (!next) { return; }
      var old = data;
      data = next;
      Object.keys(next.sections).forEach(function (name) {
        if (!old || JSON.stringify(old.sections[name]) !== JSON.stringify(next.sections[name])) { fire("sectionChange", name); }
      });
    }
    return {
      loaded: function (next, visible) {
        set("cmp", "cmpStatus", "loaded");
        update(next);
        set("display", "cmpDisplayStatus", visible ? "visible" : "hidden");
        set("signal", "signalStatus", "ready");
      },
      changing: function () { set("signal", "signalStatus", "not ready"); },
      updated: function (next, visible) {
        set("display", "cmpDisplayStatus", visible ? "visible" : "hidden");
        update(next);
        set("signal", "signalStatus", "ready");
      },
      unchanged: function () { set("signal", "signalStatus", "ready"); },
      failed: function () { set("cmp", "cmpStatus", "error"); }
    };
  }
  var gpp = custodiaGpp();
  /* ---- end of the IAB GPP CMP API ---- */

  function randomId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function visitorId() {
    var fromHash = /(?:^|[#&])visitor=([A-Za-z0-9-]{8,64})/.exec(window.location.hash);
    if (fromHash) { try { localStorage.setItem(STORE, fromHash[1]); } catch (e) { /* private mode */ } return fromHash[1]; }
    var id = null;
    try { id = localStorage.getItem(STORE); } catch (e) { id = null; }
    if (!id) { id = randomId(); try { localStorage.setItem(STORE, id); } catch (e) { /* ignore */ } }
    return id;
  }

  /* `plain`: the body goes as text/plain (JSON all the same), a "simple" request with no CORS
     preflight before it: the config call, whose body carries the visitor id (never the URL). */
  function api(path, params, body, plain) {
    var query = "key=" + encodeURIComponent(key);
    Object.keys(params || {}).forEach(function (k) { query += "&" + k + "=" + encodeURIComponent(params[k]); });
    var type = plain ? "text/plain;charset=UTF-8" : "application/json";
    var options = body ? { method: "POST", headers: { "Content-Type": type }, body: JSON.stringify(body) } : {};
    options.credentials = "omit";
    return fetch(hub + "/api/v1/consent/public/" + path + "?" + query, options).then(function (r) {
      return r.json().then(function (data) { if (!r.ok) { throw data; } return data; });
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function publish() {
    consentModeUpdate();
    window.Custodia.choices = state.current;
    document.dispatchEvent(new CustomEvent("custodia:consent", { detail: state.current }));
  }

  function decided() {
    return state.config.purposes.every(function (p) { return p.essential || state.current[p.slug]; });
  }

  function save(choices) {
    gpp.changing();
    return api("consents/", {}, {
      visitor_id: visitorId(), region: state.config.region, choices: choices,
      notice: state.config.notice ? state.config.notice.id : undefined
    }).then(function (data) { state.current = data.current; publish(); render(); gpp.updated(data.gpp, mode === "center" || !decided()); },
      function (err) { gpp.unchanged(); throw err; });
  }

  function render() {
    var old = document.getElementById("custodia-banner");
    if (old) { old.remove(); }
    var cfg = state.config;
    if (mode !== "center" && decided()) { return renderReopen(); }
    var box = el("div", { id: "custodia-banner", role: "dialog", "aria-label": t("dialog", "Privacy choices"), lang: cfg.language || "",
      style: mode === "center" ? "" : "position:fixed;left:0;right:0;bottom:0;z-index:2147483647;background:#fff;" +
        "border-top:2px solid #264b5d;padding:16px;font:14px/1.4 system-ui,sans-serif;color:#222;" });
    if (cfg.notice) {
      box.appendChild(el("strong", {}, cfg.notice.title));
      box.appendChild(el("p", {}, cfg.notice.text));
    }
    if (cfg.gpc && cfg.jurisdiction.honours_gpc) {
      box.appendChild(el("p", { "data-gpc": "honoured" }, t("gpc_honoured", "Your browser's Global Privacy Control signal is honoured: " +
        "you are opted out of the sale or sharing of your personal information.")));
    }
    var list = el("ul", { style: "list-style:none;padding:0" });
    cfg.purposes.forEach(function (p) {
      var item = el("li");
      var current = state.current[p.slug] ? state.current[p.slug].state : p["default"];
      var box2 = el("input", { type: "checkbox", name: p.slug, id: "custodia-" + p.slug });
      box2.checked = p.essential || current === "granted";
      box2.disabled = p.essential;
      var label = el("label", { "for": "custodia-" + p.slug }, " " + p.name + (p.essential ? " (" + t("always_on", "always on") + ")" : ""));
      item.appendChild(box2); item.appendChild(label);
      item.appendChild(el("div", { style: "color:#555;font-size:12px" }, p.description));
      list.appendChild(item);
    });
    box.appendChild(list);
    function collect(all) {
      var choices = {};
      cfg.purposes.forEach(function (p) {
        if (p.essential) { return; }
        var checked = all === undefined ? document.getElementById("custodia-" + p.slug).checked : all;
        choices[p.slug] = checked ? "granted" : (state.current[p.slug] && state.current[p.slug].state === "granted" ? "withdrawn" : "denied");
      });
      return choices;
    }
    [[t("accept_all", "Accept all"), true], [t("reject_all", "Reject all"), false], [t("save", "Save choices"), undefined]].forEach(function (b) {
      var button = el("button", { type: "button", "data-action": String(b[1]) }, b[0]);
      button.style.marginRight = "8px";
      button.addEventListener("click", function () { save(collect(b[1])); });
      box.appendChild(button);
    });
    if (mode !== "center") {
      var link = el("a", { href: hub + "/privacy-center/?key=" + encodeURIComponent(key) + "&lang=" + encodeURIComponent(cfg.language || "") + "#visitor=" + visitorId(),
        target: "_blank", rel: "noopener", style: "margin-left:8px" }, t("privacy_center", "Privacy center"));
      box.appendChild(link);
    }
    (mode === "center" ? (document.getElementById("custodia-center") || document.body) : document.body).appendChild(box);
  }

  function renderReopen() {
    var button = el("button", { id: "custodia-banner", type: "button", "aria-label": t("dialog", "Privacy choices"),
      style: "position:fixed;left:8px;bottom:8px;z-index:2147483647;font:12px system-ui,sans-serif" }, t("dialog", "Privacy choices"));
    button.addEventListener("click", function () { mode = "open"; render(); mode = "banner"; });
    document.body.appendChild(button);
  }

  window.Custodia = { choices: {}, open: function () { mode = "open"; render(); mode = "banner"; } };
  /* A known customer: the site's backend signed who they are (data-identity, or
     Custodia.identify(assertion)); the hub links this visitor to them, and their choices follow. */
  function identify(assertion) {
    if (!assertion) { return Promise.resolve(null); }
    return api("identify/", {}, { visitor_id: visitorId(), assertion: assertion })["catch"](function (err) {
      if (window.console) { console.warn("Custodia identity:", err && err.error ? err.error.code : err); }
      return null;
    });
  }

  function whenReady(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }

  window.Custodia.identify = identify;
  identify(script.getAttribute("data-identity")).then(function () {
    return api("config/", { region: region, lang: lang }, { visitor_id: visitorId() }, true);
  }).then(function (cfg) {
    state.config = cfg;
    state.current = cfg.current || {};
    publish();
    whenReady(render);
    gpp.loaded(cfg.gpp, mode === "center" || !decided());
  })["catch"](function (err) { gpp.failed(); if (window.console) { console.warn("Custodia banner:", err && err.error ? err.error.code : err); } });
}());
