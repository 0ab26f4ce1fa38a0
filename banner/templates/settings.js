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
    var returnTo = doc.activeElement;
    core.close();
    var l = core.lang(), x = S.text[l], s = core.stored();
    var dialog = ui.settings = el("div", { id: "cg-settings", role: "dialog", "aria-modal": "true", "aria-labelledby": "cg-settings-title", lang: l });
    var panel = el("div", { "class": "cg-panel" });
    dialog.appendChild(panel);
    panel.appendChild(button(x.close, dismiss, "cg-close"));
    panel.appendChild(el("h2", { id: "cg-settings-title" }, x.preferences_title));
    panel.appendChild(el("p", {}, x.preferences_intro));
    if (navigator.globalPrivacyControl) panel.appendChild(el("p", { "class": "cg-note", role: "note" }, x.gpc_notice));
    var boxes = {};
    S.labels[l].forEach(function (c) {
      var row = el("div", { "class": "cg-category" });
      var id = "cg-cat-" + c[0];
      var input = boxes[c[0]] = el("input", { type: "checkbox", id: id, role: "switch" });
      input.checked = c[0] === C.required || (!!s && core.granted(c[0]));
      input.disabled = c[0] === C.required;
      row.appendChild(input);
      row.appendChild(el("label", { "for": id }, c[1] + (input.disabled ? " (" + x.always_on + ")" : "")));
      row.appendChild(el("p", {}, c[2]));
      var more = el("details", { "class": "cg-services", hidden: "" });
      more.appendChild(el("summary", {}, x.services));
      more.appendChild(el("ul", { "data-category": c[0] }));
      row.appendChild(more);
      panel.appendChild(row);
    });
    if (s) panel.appendChild(el("p", { "class": "cg-meta" }, x.consent_id + ": " + s.id));
    var row = el("div", { "class": "cg-actions" });
    row.appendChild(button(x.accept_all, function () { core.choose("accept_all"); }));
    row.appendChild(button(x.reject_all, function () { core.choose("reject_all"); }));
    row.appendChild(button(x.save, function () {
      core.choose("custom", C.categories.filter(function (c) { return boxes[c].checked && c !== C.required; }));
    }));
    panel.appendChild(row);
    /* Closing records nothing: without a stored choice the first layer comes back. */
    function dismiss() {
      core.close();
      if (!core.stored()) return core.showBanner();
      core.showReopen();
      (returnTo && doc.contains(returnTo) ? returnTo : ui.reopen || doc.body).focus();
    }
    dialog.addEventListener("keydown", function (e) {
      if (e.key === "Escape") dismiss();
      if (e.key === "Tab") trapFocus(e, dialog);
    });
    core.place(dialog);
    dialog.querySelector("input:not([disabled])").focus();
    listServices(dialog, x);
  }

  function trapFocus(e, dialog) {
    var f = Array.prototype.filter.call(dialog.querySelectorAll("input:not([disabled]),button,a[href],summary"), function (n) {
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
