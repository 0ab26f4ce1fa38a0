/* consent-gateway banner: nothing non-essential runs before the visitor says yes. */
(function () {
  "use strict";
  if (window.consentGateway) return;
  var C = __CONFIG__;
  var CSS = __STYLESHEET__;
  var doc = document, loc = location;
  var me = doc.currentScript;
  var base = me && me.src ? new URL(me.src, loc.href) : null;
  var remote = !!base && base.origin !== loc.origin;
  var api = (remote ? base.origin : "") + C.prefix;
  var nonce = (me && (me.nonce || me.getAttribute("nonce"))) || "";
  var granted = {};
  var handlers = [];
  var ui = {};
  var setAttribute = Element.prototype.setAttribute;

  /* ---- consent state ------------------------------------------------ */

  function readCookie(name) {
    var parts = doc.cookie ? doc.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return parts[i].slice(eq + 1);
    }
    return null;
  }

  /* The server verifies the signature; here the payload only says what to revive. */
  function stored() {
    var token = readCookie(C.cookie);
    if (!token) return null;
    try {
      var part = token.replace(/^"|"$/g, "").split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
      var p = JSON.parse(atob(part + "===".slice((part.length + 3) % 4)));
      return p.r === C.revision ? { id: p.i, categories: p.c, revision: p.r, method: p.m } : null;
    } catch (e) {
      return null;
    }
  }

  function grant(list) {
    granted = {};
    granted[C.required] = true;
    (list || []).forEach(function (c) { granted[c] = true; });
  }

  function current() {
    return C.categories.filter(function (c) { return granted[c]; });
  }

  /* ---- which requests wait for consent -------------------------------- */

  function hostOf(url) {
    try { return new URL(url, loc.href).hostname.toLowerCase(); } catch (e) { return ""; }
  }

  function hostMatches(host, pattern) {
    if (pattern.slice(0, 2) !== "*.") return host === pattern;
    var root = pattern.slice(2);
    return host === root || host.slice(-root.length - 1) === "." + root;
  }

  /* The category a URL needs, when it is not granted; null when it may load. */
  function heldFor(url) {
    var host = typeof url === "string" || url instanceof URL ? hostOf(String(url)) : "";
    if (!host || host === loc.hostname) return null;
    for (var cat in C.guard) {
      if (granted[cat]) continue;
      var hosts = C.guard[cat];
      for (var i = 0; i < hosts.length; i++) if (hostMatches(host, hosts[i])) return cat;
    }
    return null;
  }

  /* Which attribute of which element loads something. */
  var LOADS = { SCRIPT: ["src"], IFRAME: ["src"], IMG: ["src", "srcset"], SOURCE: ["src", "srcset"], LINK: ["href"] };
  var LOADING = "script[src],iframe[src],img[src],img[srcset],source[src],source[srcset],link[href]";

  function loads(node, name) {
    var names = LOADS[node.tagName];
    return !!names && names.indexOf(String(name).toLowerCase()) >= 0;
  }

  /* The category an attribute value needs ("srcset" lists several URLs), or null. */
  function heldValue(name, value) {
    if (String(name).toLowerCase() !== "srcset") return heldFor(String(value));
    var urls = String(value).split(",");
    for (var i = 0; i < urls.length; i++) {
      var cat = heldFor(urls[i].trim().split(/\s+/)[0]);
      if (cat) return cat;
    }
    return null;
  }

  function hold(node, name, value, cat) {
    name = String(name).toLowerCase();
    setAttribute.call(node, "data-consent-" + name, String(value));
    setAttribute.call(node, "data-consent", cat);
    if (node.tagName === "SCRIPT") {
      var type = node.getAttribute("type");
      if (type && type !== "text/plain") setAttribute.call(node, "data-consent-type", type);
      setAttribute.call(node, "type", "text/plain");
    }
  }

  function defuseNode(node) {
    if (node.hasAttribute("data-consent")) return;
    LOADS[node.tagName].forEach(function (name) {
      var value = node.getAttribute(name), cat = value && heldValue(name, value);
      if (!cat) return;
      hold(node, name, value, cat);
      node.removeAttribute(name);
    });
  }

  /* Markup that arrives as HTML text is defused in an inert <template> before it is parsed for real. */
  function defuse(root) {
    Array.prototype.forEach.call(root.querySelectorAll(LOADING), defuseNode);
  }

  function guard() {
    [[HTMLScriptElement, "src"], [HTMLIFrameElement, "src"], [HTMLImageElement, "src"], [HTMLImageElement, "srcset"],
      [HTMLSourceElement, "src"], [HTMLSourceElement, "srcset"], [HTMLLinkElement, "href"]].forEach(function (pair) {
      var proto = pair[0].prototype, name = pair[1], d = Object.getOwnPropertyDescriptor(proto, name);
      Object.defineProperty(proto, name, {
        configurable: true, enumerable: d.enumerable, get: d.get,
        set: function (v) {
          var cat = heldValue(name, v);
          if (cat) hold(this, name, v, cat); else d.set.call(this, v);
        }
      });
    });
    var E = Element.prototype, setNode = E.setAttributeNode, insertHTML = E.insertAdjacentHTML;
    E.setAttribute = function (name, value) {
      var cat = loads(this, name) && heldValue(name, value);
      return cat ? hold(this, name, value, cat) : setAttribute.call(this, name, value);
    };
    E.setAttributeNode = function (attr) {
      var cat = loads(this, attr.name) && heldValue(attr.name, attr.value);
      return cat ? hold(this, attr.name, attr.value, cat) : setNode.call(this, attr);
    };
    var inner = Object.getOwnPropertyDescriptor(E, "innerHTML"), outer = Object.getOwnPropertyDescriptor(E, "outerHTML");
    var safe = function (html) {
      var t = doc.createElement("template");
      inner.set.call(t, html);
      defuse(t.content);
      return inner.get.call(t);
    };
    [["innerHTML", inner], ["outerHTML", outer]].forEach(function (pair) {
      Object.defineProperty(E, pair[0], {
        configurable: true, enumerable: pair[1].enumerable, get: pair[1].get,
        set: function (html) { pair[1].set.call(this, safe(html)); }
      });
    });
    E.insertAdjacentHTML = function (where, html) { return insertHTML.call(this, where, safe(html)); };
    var fetch = window.fetch;
    if (fetch) window.fetch = function (input) {
      var url = input && typeof input === "object" && "url" in input ? input.url : input;
      if (heldFor(url)) return Promise.reject(new TypeError("held until consent"));
      return fetch.apply(this, arguments);
    };
    var open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.open = function (method, url) {
      this._cgHeld = !!heldFor(url);
      return open.apply(this, arguments);
    };
    XMLHttpRequest.prototype.send = function () {
      if (!this._cgHeld) return send.apply(this, arguments);
      var xhr = this;
      setTimeout(function () { xhr.dispatchEvent(new ProgressEvent("error")); }, 0);
    };
    if (navigator.sendBeacon) {
      var beacon = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = function (url) { return heldFor(url) ? false : beacon.apply(null, arguments); };
    }
    /* Elements added by means not covered above. Tags written in the page itself are fetched by the
       browser's preload scanner before any script runs: those must be marked up (or rewritten by the gateway). */
    new MutationObserver(function (records) {
      records.forEach(function (r) {
        r.addedNodes.forEach(function (n) {
          if (n.nodeType !== 1) return;
          if (LOADS[n.tagName]) defuseNode(n);
          if (n.querySelector) defuse(n);
        });
      });
    }).observe(doc.documentElement, { childList: true, subtree: true });
  }

  /* ---- the catalogue's service details, fetched only when needed ---------- */

  var catalogue = null;
  function services() {
    catalogue = catalogue || fetch.call(window, api + "/services?lang=" + lang(), { credentials: "omit" })
      .then(function (r) { return r.json(); })
      .then(function (d) { return d.services; }, function () { catalogue = null; return []; });
    return catalogue;
  }

  /* ---- bringing back what was consented -------------------------------- */

  var klaro = {};
  function categoryOf(el) {
    var cat = el.getAttribute("data-consent") || el.getAttribute("data-category");
    if (cat) return cat;
    /* Klaro names services ("googleAnalytics"): match them to the catalogue's ids. */
    var name = (el.getAttribute("data-name") || "").toLowerCase().replace(/[^a-z0-9]/g, "");
    return klaro[name] || (C.categories.indexOf(name) >= 0 ? name : "marketing");
  }

  function revive() {
    if (!doc.querySelector("[data-name]")) return reviveNow();
    services().then(function (list) {
      list.forEach(function (s) { klaro[s.id.replace(/[^a-z0-9]/g, "")] = s.category; });
      reviveNow();
    });
  }

  function reviveNow() {
    var scripts = [];
    var nodes = doc.querySelectorAll("[data-consent],script[type='text/plain'][data-category],[data-name][type='text/plain'],iframe[data-name][data-src]");
    Array.prototype.forEach.call(nodes, function (node) {
      if (!granted[categoryOf(node)]) return;
      if (node.tagName === "SCRIPT") return scripts.push(node);
      if (node.tagName === "IFRAME") {
        var srcdoc = node.getAttribute("data-consent-srcdoc");
        node.removeAttribute("data-consent-srcdoc");
        if (srcdoc) node.setAttribute("srcdoc", srcdoc); else node.removeAttribute("srcdoc");
      }
      restore(node);
    });
    runInOrder(scripts, 0);
  }

  /* Put back what the rewriter or the guard held: data-consent-src, -srcset, -href, -rel, Klaro's data-src. */
  function restore(node) {
    var klaroSrc = node.getAttribute("data-name") && node.getAttribute("data-src");
    ["srcset", "rel", "href", "src"].forEach(function (name) {
      var value = node.getAttribute("data-consent-" + name);
      if (name === "src" && value === null) value = klaroSrc;
      node.removeAttribute("data-consent-" + name);
      if (value !== null) node.setAttribute(name, value);
    });
    clean(node);
  }

  /* A held embed can be loaded this once, without consenting to its category. */
  function offerOnce() {
    Array.prototype.forEach.call(doc.querySelectorAll("iframe[data-consent-src]"), function (frame) {
      var wire = function () {
        var inner = frame.contentDocument;
        if (!inner || !inner.body || inner.querySelector("[data-consent-load]")) return;
        var b = el("button", { type: "button", "data-consent-load": "" }, t().load_once);
        b.addEventListener("click", function () {
          var src = frame.getAttribute("data-consent-src");
          clean(frame);
          frame.removeAttribute("srcdoc");
          setAttribute.call(frame, "src", src);
        });
        (inner.querySelector("div") || inner.body).appendChild(b);
      };
      frame.addEventListener("load", wire);
      wire();
    });
  }

  function clean(el) {
    ["data-consent", "data-consent-src", "data-consent-service", "data-category", "data-src"].forEach(function (a) {
      el.removeAttribute(a);
    });
  }

  /* External scripts load one after another, so each finds what the previous one set up. */
  function runInOrder(scripts, i) {
    if (i >= scripts.length) return;
    var old = scripts[i], fresh = doc.createElement("script");
    var src = old.getAttribute("data-consent-src") || old.getAttribute("src") || old.getAttribute("data-src");
    var type = old.getAttribute("data-consent-type") || old.getAttribute("data-type") || "";
    Array.prototype.forEach.call(old.attributes, function (a) {
      if (!/^(type|src|data-consent.*|data-category|data-type)$/.test(a.name)) fresh.setAttribute(a.name, a.value);
    });
    if (type) fresh.type = type;
    if (nonce) fresh.nonce = nonce;
    if (src) {
      fresh.onload = fresh.onerror = function () { runInOrder(scripts, i + 1); };
      fresh.src = src;
      old.parentNode.replaceChild(fresh, old);
    } else {
      fresh.text = old.text;
      old.parentNode.replaceChild(fresh, old);
      runInOrder(scripts, i + 1);
    }
  }

  /* ---- telling the page ------------------------------------------------ */

  function consentMode(kind) {
    var w = window;
    w.dataLayer = w.dataLayer || [];
    var state = function (c) { return granted[c] ? "granted" : "denied"; };
    (function () { w.dataLayer.push(arguments); })("consent", kind, {
      analytics_storage: state("analytics"), ad_storage: state("marketing"),
      ad_user_data: state("marketing"), ad_personalization: state("marketing")
    });
  }

  function announce() {
    var detail = { categories: current(), id: (stored() || {}).id || null };
    consentMode("update");
    window.dataLayer.push({ event: "consent_update", consent_categories: detail.categories });
    doc.dispatchEvent(new CustomEvent("consent:change", { detail: detail }));
    handlers.forEach(function (fn) { try { fn(detail); } catch (e) { setTimeout(function () { throw e; }); } });
  }

  /* ---- recording a choice ---------------------------------------------- */

  function lang() {
    var l = (doc.documentElement.lang || "").slice(0, 2).toLowerCase();
    return C.text[l] ? l : C.defaultLanguage;
  }

  function writeCookie(token, maxAge) {
    doc.cookie = C.cookie + "=" + token + "; Path=/; Max-Age=" + maxAge + "; SameSite=Lax" +
      (loc.protocol === "https:" ? "; Secure" : "");
  }

  function send(method, body) {
    var options = { method: method, credentials: remote ? "omit" : "same-origin", headers: { "Content-Type": "application/json" } };
    body = body || {};
    if (remote) body.token = readCookie(C.cookie);
    options.body = JSON.stringify(body);
    return fetch.call(window, api, options).then(function (r) {
      if (!r.ok) throw new Error("consent not recorded: HTTP " + r.status);
      return r.json();
    });
  }

  function choose(action, categories) {
    var before = current();
    return send("POST", { action: action, categories: categories || [], language: lang(), page: loc.pathname })
      .then(function (answer) {
        if (remote) writeCookie(answer.token, C.maxAge);
        apply(answer.categories, before);
        return answer;
      });
  }

  /* For buttons: a choice that could not be recorded is said so, in the layer that is open. */
  function attempt(action, categories) {
    return choose(action, categories).catch(function () {
      var layer = ui.settings || ui.banner;
      if (!layer || layer.querySelector(".cg-error")) return;
      layer.querySelector(".cg-actions").insertAdjacentElement("beforebegin", el("p", { "class": "cg-error", role: "alert" }, t().error));
    });
  }

  function apply(list, before) {
    grant(list);
    close();
    var lost = before.filter(function (c) { return !granted[c]; });
    if (lost.length) {
      announce();
      /* What already ran cannot be unloaded: a fresh page starts clean. */
      return services().then(function (list) { clearCookies(lost, list); loc.reload(); });
    }
    revive();
    announce();
    showReopen();
  }

  function withdraw() {
    var before = current();
    return send("DELETE").then(function () {
      if (remote) writeCookie("", 0);
      apply([], before);
    });
  }

  function clearCookies(categories, list) {
    var patterns = [];
    list.forEach(function (s) { if (categories.indexOf(s.category) >= 0) patterns = patterns.concat(s.cookies); });
    var host = loc.hostname.split("."), domains = [""];
    for (var i = 0; i < host.length - 1; i++) domains.push("; Domain=." + host.slice(i).join("."));
    (doc.cookie ? doc.cookie.split("; ") : []).forEach(function (pair) {
      var name = pair.split("=")[0];
      var hit = patterns.some(function (p) {
        return p.slice(-1) === "*" ? name.indexOf(p.slice(0, -1)) === 0 : name === p;
      });
      if (hit) domains.forEach(function (d) { doc.cookie = name + "=; Max-Age=0; Path=/" + d; });
    });
  }

  /* ---- the banner ------------------------------------------------------ */

  function el(tag, attrs, text) {
    var n = doc.createElement(tag);
    for (var k in attrs) n.setAttribute(k, attrs[k]);
    if (text) n.textContent = text;
    return n;
  }

  function button(text, onClick, cls) {
    var b = el("button", { type: "button", "class": cls || "cg-btn" }, text);
    b.addEventListener("click", onClick);
    return b;
  }

  function style() {
    if (ui.style) return;
    ui.style = el("style", nonce ? { nonce: nonce } : {});
    ui.style.textContent = CSS;
    doc.head.appendChild(ui.style);
  }

  function t() { return C.text[lang()]; }

  function showBanner() {
    style();
    close();
    var x = t();
    var box = ui.banner = el("div", { id: "cg-banner", role: "dialog", "aria-modal": "false", "aria-labelledby": "cg-title", "aria-describedby": "cg-intro", lang: lang() });
    box.appendChild(el("h2", { id: "cg-title" }, x.title));
    var intro = el("p", { id: "cg-intro" }, x.intro + " ");
    intro.appendChild(el("a", { href: C.privacyUrl }, x.privacy_link));
    box.appendChild(intro);
    var row = el("div", { "class": "cg-actions" });
    row.appendChild(button(x.accept_all, function () { attempt("accept_all"); }));
    row.appendChild(button(x.reject_all, function () { attempt("reject_all"); }));
    row.appendChild(button(x.settings, showSettings));
    box.appendChild(row);
    doc.body.appendChild(box);
    box.querySelector("button").focus();
  }

  /* The settings layer is a second, small file, fetched when a visitor opens it. */
  var layer = null;
  function showSettings() {
    layer = layer || new Promise(function (resolve, reject) {
      var tag = doc.createElement("script");
      if (nonce) tag.nonce = nonce;
      tag.onload = function () { resolve(window.consentGatewaySettings(core)); };
      tag.onerror = function () { layer = null; reject(new Error("settings layer not loaded")); };
      tag.src = api + "/settings.js?v=" + C.settingsVersion;
      doc.head.appendChild(tag);
    });
    return layer.then(function (open) { open(); });
  }

  function close() {
    ["banner", "settings"].forEach(function (k) { if (ui[k]) { ui[k].remove(); ui[k] = null; } });
  }

  function showReopen() {
    style();
    if (ui.reopen || doc.querySelector("[data-consent-open]")) return;
    ui.reopen = button(t().reopen, showSettings, "cg-btn cg-reopen");
    doc.body.appendChild(ui.reopen);
  }

  /* ---- the page's handle ------------------------------------------------- */

  var core = {
    C: C, ui: ui, el: el, button: button, nonce: nonce, style: style, close: close, lang: lang, stored: stored,
    choose: attempt, services: services, showBanner: showBanner, showReopen: showReopen,
    granted: function (c) { return !!granted[c]; }
  };

  window.consentGateway = {
    get: function () { var s = stored(); return s ? { id: s.id, categories: current(), revision: s.revision } : null; },
    acceptAll: function () { return choose("accept_all"); },
    rejectAll: function () { return choose("reject_all"); },
    accept: function (categories) { return choose("custom", categories); },
    withdraw: withdraw,
    open: showSettings,
    on: function (event, fn) { if (event === "change") handlers.push(fn); }
  };

  var saved = stored();
  grant(saved ? saved.categories : []);
  guard();
  consentMode("default");
  if (saved) consentMode("update");

  function start() {
    doc.addEventListener("click", function (e) {
      var opener = e.target.closest && e.target.closest("[data-consent-open]");
      if (opener) { e.preventDefault(); showSettings(); }
    });
    if (stored()) { revive(); showReopen(); } else showBanner();
    offerOnce();
  }
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", start); else start();
})();
