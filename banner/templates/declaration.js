/* consent-gateway cookie declaration: put
   <script src="https://gateway.example.nl/_consent/declaration.js" data-lang="nl"></script>
   where the declaration belongs; it is fetched from the gateway this file came from and inserted
   after the tag. On another origin, that origin must be in the gateway's allowed_origins. */
(function () {
  "use strict";
  var doc = document, script = doc.currentScript;
  if (!script || !script.src) return;
  var api = script.src.replace(/[?#].*$/, "").replace(/\/[^\/]*$/, "");
  var lang = script.getAttribute("data-lang") || (doc.documentElement.getAttribute("lang") || "").split("-")[0];
  var holder = doc.createElement("div");
  holder.className = "cookie-declaration-embed";
  holder.setAttribute("aria-live", "polite");
  function place() {
    if (script.parentNode && script.parentNode !== doc.head) script.parentNode.insertBefore(holder, script.nextSibling);
    else doc.body.appendChild(holder);
  }
  if (script.parentNode === doc.head && !doc.body) doc.addEventListener("DOMContentLoaded", place); else place();
  fetch(api + "/declaration?fragment=1" + (lang ? "&lang=" + encodeURIComponent(lang.toLowerCase()) : ""), {
    credentials: "omit", headers: { Accept: "text/html" }
  }).then(function (r) {
    if (!r.ok) throw new Error("declaration: HTTP " + r.status);
    return r.text();
  }).then(function (html) {
    /* The gateway's own markup; its "change your choice" link opens the banner's settings layer. */
    holder.innerHTML = html;
  });
})();
