/* consent-gateway banner: asks before any non-essential cookie or tracker. */
(function () {
  "use strict";
  if (window.consentGateway) return;
  var CONFIG = {{ config | tojson }};
  var STYLESHEET = {{ stylesheet | tojson }};

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return parts[i].slice(eq + 1);
    }
    return null;
  }

  /* The server verifies the signature; the banner only reads the payload. */
  function readConsent() {
    var token = readCookie(CONFIG.cookie);
    if (!token) return null;
    try {
      var encoded = token.split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
      var payload = JSON.parse(atob(encoded + "===".slice((encoded.length + 3) % 4)));
      if (payload.r !== CONFIG.revision) return null;
      return { id: payload.i, categories: payload.c, revision: payload.r, method: payload.m };
    } catch (error) {
      return null;
    }
  }

  function language() {
    var lang = (document.documentElement.lang || "").slice(0, 2).toLowerCase();
    return CONFIG.shown[lang] ? lang : CONFIG.defaultLanguage;
  }

  function record(action, categories) {
    return fetch(CONFIG.prefix, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        action: action,
        categories: categories || [],
        language: language(),
        page: location.pathname
      })
    }).then(function (response) {
      if (!response.ok) throw new Error("consent not recorded: HTTP " + response.status);
      return response.json();
    });
  }

  function choose(action, categories) {
    return record(action, categories).then(function (answer) {
      location.reload();
      return answer;
    });
  }

  function preferencesUrl() {
    return CONFIG.prefix + "/preferences?lang=" + language() +
      "&next=" + encodeURIComponent(location.pathname + location.search);
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    for (var name in attributes) node.setAttribute(name, attributes[name]);
    if (text) node.textContent = text;
    return node;
  }

  function addStylesheet() {
    if (document.getElementById("cg-style")) return;
    var style = element("style", { id: "cg-style" });
    style.textContent = STYLESHEET;
    document.head.appendChild(style);
  }

  function showBanner() {
    addStylesheet();
    var shown = CONFIG.shown[language()];
    var t = shown.texts;
    var dialog = element("div", {
      id: "cg-banner", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "cg-title", "aria-describedby": "cg-intro", lang: language()
    });
    dialog.appendChild(element("h2", { id: "cg-title" }, t.title));
    var intro = element("p", { id: "cg-intro" }, t.intro + " ");
    intro.appendChild(element("a", { href: shown.privacy_url }, t.privacy_link));
    dialog.appendChild(intro);
    var actions = element("div", { "class": "cg-actions" });
    var accept = element("button", { type: "button", "data-action": "accept_all" }, t.accept_all);
    var reject = element("button", { type: "button", "data-action": "reject_all" }, t.reject_all);
    var settings = element("a", { "class": "cg-button", href: preferencesUrl() }, t.settings);
    accept.addEventListener("click", function () { choose("accept_all"); });
    reject.addEventListener("click", function () { choose("reject_all"); });
    actions.appendChild(accept);
    actions.appendChild(reject);
    actions.appendChild(settings);
    dialog.appendChild(actions);
    document.body.appendChild(dialog);
    accept.focus();
  }

  function showReopenButton() {
    addStylesheet();
    var t = CONFIG.shown[language()].texts;
    document.body.appendChild(element("a", { id: "cg-reopen", "class": "cg-button", href: preferencesUrl() }, t.reopen));
  }

  window.consentGateway = {
    get: readConsent,
    acceptAll: function () { return choose("accept_all"); },
    rejectAll: function () { return choose("reject_all"); },
    accept: function (categories) { return choose("custom", categories); },
    open: function () { location.href = preferencesUrl(); }
  };

  function start() {
    if (readConsent()) showReopenButton(); else showBanner();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
