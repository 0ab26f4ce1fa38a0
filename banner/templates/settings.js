/* consent-gateway settings layer: one switch per category, the services behind it. */
window.consentGatewaySettings = function (core) {
  "use strict";
  var S = __CONFIG__;
  var STYLESHEET = __STYLESHEET__;
  var doc = document, C = core.C, el = core.el, button = core.button, ui = core.ui;

  var style = core.el("style", core.nonce ? { nonce: core.nonce } : {});
  style.textContent = STYLESHEET;
  (doc.head || doc.documentElement).appendChild(style);

  function show() {
    core.style();
    core.rememberFocus();
    core.close();
    var l = core.lang(), x = S.text[l], s = core.stored();
    var dialog = ui.settings = el("div", { id: "cg-settings", role: "dialog", "aria-modal": "true", "aria-labelledby": "cg-settings-title", lang: l });
    var panel = el("div", { "class": "cg-panel" });
    dialog.appendChild(panel);
    panel.appendChild(button(x.close, dismiss, "cg-close"));
    panel.appendChild(el("h2", { id: "cg-settings-title" }, x.preferences_title));
    panel.appendChild(el("p", {}, x.preferences_intro));
    if (navigator.globalPrivacyControl) panel.appendChild(el("p", { "class": "cg-note", role: "note" }, x.gpc_notice));
    var switches = {};
    S.labels[l].forEach(function (c) {
      switches[c[0]] = category(panel, c, c[0] === C.required || (!!s && core.granted(c[0])), x);
    });
    if (s) panel.appendChild(el("p", { "class": "cg-meta" }, x.consent_id + ": " + s.id));
    var row = el("div", { "class": "cg-actions" });
    row.appendChild(button(x.accept_all, function () { core.choose("accept_all"); }));
    row.appendChild(button(x.reject_all, function () { core.choose("reject_all"); }));
    row.appendChild(button(x.save, function () {
      core.choose("custom", C.categories.filter(function (c) {
        return c !== C.required && switches[c].getAttribute("aria-checked") === "true";
      }));
    }));
    panel.appendChild(row);
    /* Closing records nothing: without a stored choice the first layer comes back. */
    function dismiss() {
      core.close();
      if (!core.stored()) return core.showBanner();
      core.showReopen();
      if (!ui.returnTo) ui.returnTo = ui.reopen;
      core.restoreFocus();
    }
    dialog.addEventListener("keydown", function (e) {
      if (e.key === "Escape") dismiss();
      if (e.key === "Tab") trapFocus(e, dialog);
    });
    core.place(dialog);
    core.focusHeading(dialog);
    listServices(dialog, x);
  }

  /* One category: its name, a switch (role="switch", aria-checked) and what it is for. The required
     one is shown on and cannot be turned off; it stays focusable, so a screen reader reaches it. */
  function category(panel, c, on, x) {
    var required = c[0] === C.required, id = "cg-cat-" + c[0];
    var row = el("div", { "class": "cg-category" }), head = el("div", { "class": "cg-head" });
    var name = el("span", { id: id + "-name", "class": "cg-name" }, c[1] + (required ? " (" + x.always_on + ")" : ""));
    var toggle = el("button", { type: "button", role: "switch", id: id, "class": "cg-switch", "aria-checked": String(on),
      "aria-labelledby": id + "-name", "aria-describedby": id + "-text" });
    if (required) toggle.setAttribute("aria-disabled", "true");
    var flip = function () {
      if (!required) toggle.setAttribute("aria-checked", String(toggle.getAttribute("aria-checked") !== "true"));
    };
    toggle.addEventListener("click", flip);
    name.addEventListener("click", flip);
    head.appendChild(name);
    head.appendChild(toggle);
    row.appendChild(head);
    row.appendChild(el("p", { id: id + "-text" }, c[2]));
    var more = el("details", { "class": "cg-services", hidden: "" });
    more.appendChild(el("summary", {}, x.services));
    more.appendChild(el("ul", { "data-category": c[0] }));
    row.appendChild(more);
    panel.appendChild(row);
    return toggle;
  }

  function trapFocus(e, dialog) {
    var f = Array.prototype.filter.call(dialog.querySelectorAll("button,a[href],summary"), function (n) {
      return n.offsetParent !== null;
    });
    var first = f[0], last = f[f.length - 1];
    if (e.shiftKey && doc.activeElement === first) { last.focus(); e.preventDefault(); }
    else if (!e.shiftKey && doc.activeElement === last) { first.focus(); e.preventDefault(); }
  }

  /* The services this site uses (configured or discovered), never the whole catalogue. */
  function listServices(dialog, x) {
    core.services().then(function (d) {
      d.services.forEach(function (s) {
        var list = dialog.querySelector("ul[data-category='" + s.category + "']");
        if (!list) return;
        list.parentNode.removeAttribute("hidden");
        var item = el("li", {}, s.name + " (" + s.vendor + "): " + s.purpose + " ");
        var meta = [s.retention, s.cookies.join(", ")].filter(Boolean).join(" · ");
        if (meta) item.appendChild(el("span", { "class": "cg-meta" }, meta + " "));
        item.appendChild(el("a", { href: s.privacy_url, rel: "noopener", target: "_blank" }, x.vendor_privacy));
        list.appendChild(item);
      });
      if (!d.known) {
        var actions = dialog.querySelector(".cg-actions");
        actions.parentNode.insertBefore(el("p", { "class": "cg-note", role: "note" }, x.no_services), actions);
      }
    });
  }

  return show;
};
