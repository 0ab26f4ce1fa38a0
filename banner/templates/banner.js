/* consent-gateway banner: nothing non-essential runs before the visitor says yes. */
(function () {
  "use strict";
  if (window.consentGateway) return;
  var C = __CONFIG__;
  var CSS = __STYLESHEET__;
  var LOAD_ONCE_STYLE = "display:inline-block;margin:.25rem;padding:.5rem 1rem;font:600 15px/1.4 system-ui,sans-serif;" +
    "color:#0b4f8a;background:#fff;border:2px solid #0b4f8a;border-radius:.375rem;cursor:pointer";
  var doc = document, loc = location;
  var me = doc.currentScript;
  var nonce = (me && (me.nonce || me.getAttribute("nonce"))) || "";
  /* The gateway is where this file came from: a <base href> in the page must not send choices elsewhere. */
  var origin = ownOrigin();
  var remote = origin !== loc.origin;
  var api = origin + C.prefix;
  var G = C.guard;
  var granted = {};
  var handlers = [], revivedHandlers = [];
  var ui = {};
  /* The untouched originals: the banner's own requests and elements are never judged by the guard. */
  var setAttribute = Element.prototype.setAttribute;
  var nativeFetch = window.fetch;
  var SVG_NS = "http://www.w3.org/2000/svg", XLINK_NS = "http://www.w3.org/1999/xlink", HTML_NS = "http://www.w3.org/1999/xhtml";

  function ownOrigin() {
    try {
      var found = new URL(me.src).origin;
      if (found && found !== "null") return found;
    } catch (e) { /* no script element (loaded by other means): the page's origin it is */ }
    return loc.origin;
  }

  function setOf(list) {
    var s = {};
    (list || []).forEach(function (x) { s[x] = true; });
    return s;
  }

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

  /* ---- which requests wait for consent: the judgement of gateway/thirdparty.py ---- */

  var shared = setOf(G.shared), secondLevels = setOf(G.secondLevels);

  function bareHost(host) {
    return String(host).toLowerCase().replace(/\.+$/, "");
  }

  function hostMatches(host, pattern) {
    if (pattern.slice(0, 2) !== "*.") return host === pattern;
    var root = pattern.slice(2);
    return host === root || host.slice(-root.length - 1) === "." + root;
  }

  /* "host", "*.domain" or "host/path-prefix" (essential infrastructure such as www.google.com/recaptcha/). */
  function patternMatches(url, host, pattern) {
    var slash = pattern.indexOf("/");
    if (slash < 0) return hostMatches(host, pattern);
    return hostMatches(host, pattern.slice(0, slash)) && url.pathname.indexOf(pattern.slice(slash)) === 0;
  }

  function anyMatch(patterns, url, host) {
    for (var i = 0; i < patterns.length; i++) if (patternMatches(url, host, patterns[i])) return true;
    return false;
  }

  /* The registrable part of a host, as gateway.urls.site_of has it (no Public Suffix List). */
  function siteOf(host) {
    if (!host || host.charAt(0) === "[" || /^\d+$/.test(host.split(".").join(""))) return host;
    var labels = host.split(".");
    for (var size = 2; size <= 3; size++) {
      if (shared[labels.slice(-size).join(".")] && labels.length > size) return labels.slice(-size - 1).join(".");
    }
    var n = labels.length;
    if (n >= 3 && labels[n - 1].length === 2 && secondLevels[labels[n - 2]]) return labels.slice(-3).join(".");
    return labels.slice(-2).join(".");
  }

  function sameSite(host) {
    var here = bareHost(loc.hostname);
    if (host === here) return true;
    for (var i = 0; i < G.site.length; i++) if (hostMatches(host, G.site[i])) return true;
    return !!here && siteOf(host) === siteOf(here);
  }

  /* Catalogued hosts by category ("host" or "*.domain", space-separated), indexed once: an exact
     host first, then the nearest "*." domain, as the catalogue's match_host decides. */
  var exactHosts = {}, domainHosts = {};
  for (var hostCat in G.hosts) {
    var listed = G.hosts[hostCat].split(" ");
    for (var h = 0; h < listed.length; h++) {
      if (listed[h].slice(0, 2) === "*.") domainHosts["." + listed[h].slice(2)] = hostCat;
      else exactHosts["." + listed[h]] = hostCat;
    }
  }

  function catalogued(host) {
    if (exactHosts.hasOwnProperty("." + host)) return exactHosts["." + host];
    for (var rest = host; rest; rest = rest.indexOf(".") < 0 ? "" : rest.slice(rest.indexOf(".") + 1)) {
      if (domainHosts.hasOwnProperty("." + rest)) return domainHosts["." + rest];
    }
    return null;
  }

  /* Resolved as the browser will fetch it: against the document's base URL, which <base href> may move. */
  function fetched(value) {
    var url;
    try { url = new URL(String(value), doc.baseURI); } catch (e) { return null; }
    return url.protocol === "http:" || url.protocol === "https:" ? url : null;
  }

  /* The category a URL needs, when it is not granted; null when it may load. */
  function heldFor(value) {
    var url = fetched(value);
    if (!url) return null;
    var host = bareHost(url.hostname), cat = catalogued(host);
    if (cat) return granted[cat] ? null : cat;
    if (sameSite(host) || !G.strict || !G.other) return null;
    if (anyMatch(G.essential, url, host) || anyMatch(G.allowed, url, host)) return null;
    return granted[G.other] ? null : G.other;
  }

  /* A font CDN's URL on a <link>, as the gateway serves it (a web font loader adds its stylesheet
     late); null for any other. The gateway rewrites the ones in the page's own markup. */
  function fontUrl(node, name, value) {
    if (!G.fonts || name !== "href" || node.localName !== "link" || node.namespaceURI !== HTML_NS) return null;
    var url = fetched(value);
    if (!url || url.port || G.fonts.hosts.indexOf(bareHost(url.hostname)) < 0) return null;
    return origin + G.fonts.base + bareHost(url.hostname) + url.pathname + url.search;
  }

  /* The URLs of a srcset, read as the HTML standard does (a URL may contain commas). */
  function srcsetUrls(value) {
    var urls = [], i = 0, n = value.length, SPACE = " \t\n\r\f";
    while (i < n) {
      while (i < n && (SPACE + ",").indexOf(value.charAt(i)) >= 0) i++;
      var start = i;
      while (i < n && SPACE.indexOf(value.charAt(i)) < 0) i++;
      var url = value.slice(start, i);
      if (url.slice(-1) === ",") url = url.replace(/,+$/, "");
      else for (var depth = 0; i < n && (value.charAt(i) !== "," || depth); i++) {
        if (value.charAt(i) === "(") depth++;
        else if (value.charAt(i) === ")" && depth) depth--;
      }
      if (url) urls.push(url);
    }
    return urls;
  }

  /* The category an attribute value needs (srcset and imagesrcset list several URLs), or null. */
  function heldValue(name, value) {
    if (name !== "srcset" && name !== "imagesrcset") return heldFor(value);
    var urls = srcsetUrls(String(value));
    for (var i = 0; i < urls.length; i++) {
      var cat = heldFor(urls[i]);
      if (cat) return cat;
    }
    return null;
  }

  /* ---- URLs in CSS: a style attribute fetches through url(), image-set() and escapes of both ---- */

  var CSS_URL = /([\w-])?url\(\s*(?:"((?:[^"\\\n]|\\[\s\S])*)"|'((?:[^'\\\n]|\\[\s\S])*)'|([^)"'\s]*))\s*\)/gi;
  var scratch = doc.createElement("div");

  function mayFetch(css) {
    return /url\(|image-set\(|\\/i.test(css);
  }

  function cssUnescape(text) {
    return text.replace(/\\(?:([0-9a-fA-F]{1,6})[ \t\n\r\f]?|(\n)|([\s\S]))/g, function (all, hex, newline, other) {
      if (hex) {
        var code = parseInt(hex, 16);
        return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCharCode.apply(null, codeUnits(code)) : "\ufffd";
      }
      return newline ? "" : other;
    });
  }

  function codeUnits(code) {
    if (code < 0x10000) return [code];
    code -= 0x10000;
    return [0xd800 + (code >> 10), 0xdc00 + (code & 0x3ff)];
  }

  /* The browser's own reading of a declaration list: escapes decoded, image-set("x") written as url("x"). */
  function canonicalStyle(css) {
    setAttribute.call(scratch, "style", String(css));
    return scratch.style.cssText;
  }

  /* What canonical CSS waits for: {cat, neutral} with each held url() replaced by none; null when nothing. */
  function heldCanonical(css) {
    var cats = [], pieces = [], last = 0, m;
    CSS_URL.lastIndex = 0;
    while ((m = CSS_URL.exec(css))) {
      var value = m[2] !== undefined ? m[2] : m[3] !== undefined ? m[3] : m[4];
      var cat = !m[1] && heldFor(cssUnescape(value));
      if (!cat) continue;
      if (cats.indexOf(cat) < 0) cats.push(cat);
      pieces.push(css.slice(last, m.index), "none");
      last = m.index + m[0].length;
    }
    if (!cats.length) return null;
    pieces.push(css.slice(last));
    return { cat: cats.join(" "), neutral: pieces.join("") };
  }

  function heldStyle(css) {
    return css && mayFetch(String(css)) ? heldCanonical(canonicalStyle(css)) : null;
  }

  /* ---- which attribute of which element loads something ---- */

  var NONE = [];
  var HTML_LOADS = {
    script: ["src"], iframe: ["src"], frame: ["src"], img: ["src", "srcset"], source: ["src", "srcset"],
    link: ["href", "imagesrcset"], video: ["src", "poster"], audio: ["src"], track: ["src"], object: ["data"],
    embed: ["src"],
    /* any input: type=image may be set after src */
    input: ["src"]
  };
  var SVG_LOADS = { script: ["href", "xlink:href"], image: ["href", "xlink:href"], use: ["href", "xlink:href"], feImage: ["href", "xlink:href"] };
  /* A <link> fetches only with one of these; without any rel yet it may get one after its href. */
  var FETCHING_RELS = setOf(["preconnect", "dns-prefetch", "preload", "prefetch", "modulepreload", "prerender",
    "stylesheet", "icon", "shortcut", "apple-touch-icon", "mask-icon", "manifest"]);
  var JS_TYPES = setOf(["", "module", "application/ecmascript", "application/javascript", "application/x-ecmascript",
    "application/x-javascript", "text/ecmascript", "text/javascript", "text/javascript1.0", "text/javascript1.1",
    "text/javascript1.2", "text/javascript1.3", "text/javascript1.4", "text/javascript1.5", "text/jscript",
    "text/livescript", "text/x-ecmascript", "text/x-javascript"]);

  function linkFetches(rel) {
    var tokens = String(rel || "").toLowerCase().split(/\s+/).filter(Boolean);
    return !tokens.length || tokens.some(function (t) { return FETCHING_RELS[t]; });
  }

  function loadingNames(node) {
    var ns = node.namespaceURI;
    var names = ns === HTML_NS ? HTML_LOADS[node.localName] : ns === SVG_NS ? SVG_LOADS[node.localName] : null;
    if (!names || (node.localName === "link" && ns === HTML_NS && !linkFetches(node.getAttribute("rel")))) return NONE;
    return names;
  }

  /* A frame the visitor loaded this once (offerOnce) is theirs: the guard leaves its src alone. */
  function loads(node, name) {
    if (node._cgOnce && name === "src") return false;
    return name === "style" || loadingNames(node).indexOf(name) >= 0;
  }

  /* What setting attribute `name` (lower case, "xlink:href" for the namespaced one) to `value` waits for. */
  function judge(name, value) {
    if (name === "style") return heldStyle(value);
    var cat = heldValue(name, value);
    return cat ? { cat: cat } : null;
  }

  function heldName(name) {
    return "data-consent-" + name.replace(":", "-");
  }

  function readAttribute(node, name) {
    return name === "xlink:href" ? node.getAttributeNS(XLINK_NS, "href") : node.getAttribute(name);
  }

  function dropAttribute(node, name) {
    if (name === "xlink:href") node.removeAttributeNS(XLINK_NS, "href"); else node.removeAttribute(name);
  }

  /* The name an attribute is judged by: lower case, the xlink one as "xlink:href", others in a namespace not at all. */
  function attributeKey(ns, name) {
    name = String(name);
    if (ns === XLINK_NS) return name.split(":").pop() === "href" ? "xlink:href" : null;
    return ns ? null : name.toLowerCase();
  }

  /* ---- holding an element: the value waits in data-consent-<name>, data-consent says for what ---- */

  function mark(node, cats) {
    var list = (node.getAttribute("data-consent") || "").split(/\s+/).filter(Boolean);
    cats.split(" ").forEach(function (c) { if (list.indexOf(c) < 0) list.push(c); });
    setAttribute.call(node, "data-consent", list.join(" "));
  }

  /* A held script must not run from its text either: it becomes text/plain, its own type kept aside. */
  function makeInert(node) {
    var type = node.getAttribute("type");
    if (type === "text/plain") return;
    if (type !== null) setAttribute.call(node, "data-consent-type", type);
    setAttribute.call(node, "type", "text/plain");
  }

  /* Held elements outside the document (new Image() beacons, new Audio(), shadow trees), which revival
     cannot find by a query; a page that makes thousands of them gets the first ones back. */
  var loose = [];

  function hold(node, name, value, verdict) {
    setAttribute.call(node, heldName(name), String(value));
    mark(node, verdict.cat);
    if (name === "style") setAttribute.call(node, "style", verdict.neutral);
    else if (node.localName === "script") makeInert(node);
    if (loose.length < 1000 && node.ownerDocument === doc && node.getRootNode() !== doc && loose.indexOf(node) < 0) loose.push(node);
  }

  /* A URL that may load replaces one that waited: the old one must not come back with consent. */
  function release(node, name) {
    if (name !== "style" && node.hasAttribute(heldName(name))) node.removeAttribute(heldName(name));
  }

  /* Inline styles changed through CSSOM wait here until the element is known (a declaration does not name it). */
  var pendingStyles = window.WeakMap ? new WeakMap() : null;

  function claimStyle(node) {
    var original = pendingStyles && node.style && pendingStyles.get(node.style);
    if (!original) return false;
    pendingStyles["delete"](node.style);
    var verdict = heldCanonical(original);
    if (verdict) hold(node, "style", original, verdict);
    return !!verdict;
  }

  /* An element that arrived with its attributes already set (markup, clones, unguarded paths). */
  function defuseNode(node) {
    if (node.hasAttribute("data-consent")) return false;
    var changed = claimStyle(node);
    loadingNames(node).forEach(function (name) {
      var value = readAttribute(node, name), local = value !== null && fontUrl(node, name, value);
      if (local) {
        setAttribute.call(node, name, local);
        changed = true;
        return;
      }
      var verdict = value !== null && judge(name, value);
      if (!verdict) return;
      hold(node, name, value, verdict);
      dropAttribute(node, name);
      changed = true;
    });
    var css = node.getAttribute("style"), verdict = css && heldStyle(css);
    if (verdict) hold(node, "style", css, verdict);
    return changed || !!verdict;
  }

  var LOADING = "[src],[srcset],[href],[data],[poster],[imagesrcset],[style],[*|href],template";

  /* Markup that arrives as HTML text is defused in an inert <template> before it is parsed for real. */
  function defuse(root) {
    var changed = 0;
    Array.prototype.forEach.call(root.querySelectorAll(LOADING), function (node) {
      if (node.localName === "template" && node.content) changed += defuse(node.content);
      else if (defuseNode(node)) changed++;
    });
    return changed;
  }

  /* Attribute changes by means no setter sees (Attr nodes, CSSOM properties, SVG baseVal), caught
     before the browser's next style or image update. */
  function recheck(node, name, ns) {
    var key = attributeKey(ns, name);
    if (!key || !loads(node, key)) return;
    if (key === "style") {
      if (claimStyle(node)) return;
      var css = node.getAttribute("style"), verdict = heldStyle(css);
      if (verdict) hold(node, "style", css, verdict);
      return;
    }
    var value = readAttribute(node, key), held = value !== null && judge(key, value);
    if (!held) return;
    hold(node, key, value, held);
    dropAttribute(node, key);
  }

  /* ---- document.write: written markup is rewritten the way the gateway rewrites a page ---- */

  var WRITTEN_LOADS = {
    script: ["src", "href", "xlink:href"], image: ["src", "srcset", "href", "xlink:href"], feimage: ["href", "xlink:href"],
    use: ["href", "xlink:href"]
  };
  var RAW_TEXT = setOf(["script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext"]);

  function isSpace(c) {
    return c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f";
  }

  /* A start tag read as the HTML tokenizer reads it; null when the text ends inside it. */
  function scanTag(text, start) {
    var n = text.length, i = start + 1, attrs = [];
    while (i < n && !isSpace(text.charAt(i)) && text.charAt(i) !== "/" && text.charAt(i) !== ">") i++;
    var tag = { start: start, name: text.slice(start + 1, i).toLowerCase(), nameEnd: i, attrs: attrs, end: -1 };
    while (i < n) {
      var c = text.charAt(i);
      if (isSpace(c) || c === "/") { i++; continue; }
      if (c === ">") { tag.end = i + 1; return tag; }
      var a = { nameStart: i };
      i++;  /* a name may start with "=" */
      while (i < n && !isSpace(text.charAt(i)) && "/>=".indexOf(text.charAt(i)) < 0) i++;
      a.nameEnd = i;
      a.name = text.slice(a.nameStart, i).toLowerCase();
      a.raw = null;
      attrs.push(a);
      while (i < n && isSpace(text.charAt(i))) i++;
      if (i >= n || text.charAt(i) !== "=") continue;
      i++;
      while (i < n && isSpace(text.charAt(i))) i++;
      if (i >= n) return null;
      var q = text.charAt(i);
      if (q === "\"" || q === "'") {
        var close = text.indexOf(q, i + 1);
        if (close < 0) return null;
        a.raw = text.slice(i + 1, close);
        i = close + 1;
      } else if (q !== ">") {
        var from = i;
        while (i < n && !isSpace(text.charAt(i)) && text.charAt(i) !== ">") i++;
        a.raw = text.slice(from, i);
      }
    }
    return null;
  }

  function decodeEntities(raw) {
    if (raw.indexOf("&") < 0) return raw;
    var area = doc.createElement("textarea");
    innerHTML.set.call(area, raw);
    return area.value;
  }

  function escapeAttribute(value) {
    return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
  }

  function firstValue(tag, name) {
    for (var i = 0; i < tag.attrs.length; i++) if (tag.attrs[i].name === name) return tag.attrs[i].raw === null ? "" : decodeEntities(tag.attrs[i].raw);
    return null;
  }

  /* One written start tag: held attributes renamed to data-consent-<name>, a held script made
     text/plain; a tag with nothing held comes back byte for byte. */
  function rewriteTag(text, tag) {
    var original = text.slice(tag.start, tag.end);
    if (firstValue(tag, "data-consent") !== null) return original;
    var names = WRITTEN_LOADS[tag.name] || HTML_LOADS[tag.name] || NONE;
    if (tag.name === "link" && !linkFetches(firstValue(tag, "rel"))) names = NONE;
    var renamed = {}, cats = [], extra = "";
    names.concat(["style"]).forEach(function (name) {
      var value = firstValue(tag, name);
      var verdict = value !== null && (name === "style" ? heldStyle(value) : judge(name, value));
      if (!verdict) return;
      renamed[name] = heldName(name);
      verdict.cat.split(" ").forEach(function (c) { if (cats.indexOf(c) < 0) cats.push(c); });
      if (name === "style") extra += " style=\"" + escapeAttribute(verdict.neutral) + "\"";
    });
    if (!cats.length) return original;
    if (tag.name === "script") {
      renamed.type = "data-consent-type";
      extra = " type=\"text/plain\"" + extra;
    }
    var out = text.slice(tag.start, tag.nameEnd) + " data-consent=\"" + cats.join(" ") + "\"" + extra, last = tag.nameEnd;
    tag.attrs.forEach(function (a) {
      if (!renamed[a.name]) return;
      out += text.slice(last, a.nameStart) + renamed[a.name];
      last = a.nameEnd;
    });
    return out + text.slice(last, tag.end);
  }

  /* Where the raw text or comment that is open ends; -1 when not in this text. */
  function findEnd(text, from, end) {
    if (end === "-->") return text.indexOf(end, from);
    var lower = text.toLowerCase(), at = lower.indexOf(end, from);
    while (at >= 0 && at + end.length < text.length && !/[\s\/>]/.test(text.charAt(at + end.length))) at = lower.indexOf(end, at + 2);
    return at;
  }

  /* Raw text that ends in what may be the start of its end tag ("</scr"): that part waits for the next write. */
  function rawText(writing, text, from) {
    var lt = text.lastIndexOf("<");
    if (writing.end === "-->" || lt < from || writing.end.indexOf(text.slice(lt).toLowerCase()) !== 0) return text.slice(from);
    writing.tail = text.slice(lt);
    return text.slice(from, lt);
  }

  /* `writing` is what the document's written text left open: a raw-text element or comment to find
     the end of, a tag cut in two. */
  function rewriteWritten(writing, text) {
    var out = "", i = 0, n = text.length;
    while (i < n) {
      if (writing.end) {
        var close = findEnd(text, i, writing.end);
        if (close < 0) return out + rawText(writing, text, i);
        var after = writing.end === "-->" ? close + 3 : close;
        out += text.slice(i, after);
        i = after;
        writing.end = null;
        continue;
      }
      var at = text.indexOf("<", i);
      if (at < 0) return out + text.slice(i);
      out += text.slice(i, at);
      if (text.substr(at, 4) === "<!--") { out += "<!--"; i = at + 4; writing.end = "-->"; continue; }
      var letter = /[a-zA-Z]/.test(text.charAt(at + 1)), tag = letter ? scanTag(text, at) : null;
      /* A tag cut in two ("<scr" + "ipt src=..."): its start waits for the write that completes it. */
      if (at + 1 === n || (letter && !tag)) {
        writing.tail = text.slice(at);
        return out;
      }
      if (!tag) { out += "<"; i = at + 1; continue; }
      out += rewriteTag(text, tag);
      i = tag.end;
      if (RAW_TEXT[tag.name]) writing.end = tag.name === "plaintext" ? "\u0000never" : "</" + tag.name;
    }
    return out;
  }

  /* Run for every write of a document; another script's writes start outside any raw text. */
  function written(d, text) {
    var writing = d._cgWriting || (d._cgWriting = { end: null, tail: "", script: null });
    if (d.currentScript !== writing.script) {
      writing.script = d.currentScript;
      writing.end = null;
    }
    var tail = writing.tail;
    writing.tail = "";
    return rewriteWritten(writing, tail + text);
  }

  /* ---- the guard: every way page code can make the browser fetch ---- */

  /* Each function patches the prototypes of one window `w`: this page's, or a same-origin frame's. */

  var innerHTML = Object.getOwnPropertyDescriptor(Element.prototype, "innerHTML");

  function guardProperties(w) {
    [["HTMLScriptElement", "src", "src"], ["HTMLIFrameElement", "src", "src"], ["HTMLFrameElement", "src", "src"],
      ["HTMLImageElement", "src", "src"], ["HTMLImageElement", "srcset", "srcset"], ["HTMLSourceElement", "src", "src"],
      ["HTMLSourceElement", "srcset", "srcset"], ["HTMLLinkElement", "href", "href"], ["HTMLLinkElement", "imageSrcset", "imagesrcset"],
      ["HTMLMediaElement", "src", "src"], ["HTMLVideoElement", "poster", "poster"], ["HTMLTrackElement", "src", "src"],
      ["HTMLObjectElement", "data", "data"], ["HTMLEmbedElement", "src", "src"], ["HTMLInputElement", "src", "src"]].forEach(function (spec) {
      var type = w[spec[0]], name = spec[2];
      var d = type && Object.getOwnPropertyDescriptor(type.prototype, spec[1]);
      if (!d || !d.set) return;
      Object.defineProperty(type.prototype, spec[1], {
        configurable: true, enumerable: d.enumerable, get: d.get,
        set: function (v) {
          v = fontUrl(this, name, v) || v;
          var verdict = loads(this, name) && judge(name, v);
          if (verdict) return hold(this, name, v, verdict);
          release(this, name);
          d.set.call(this, v);
        }
      });
    });
  }

  function guardAttributes(w) {
    var E = w.Element.prototype, setNative = E.setAttribute, setNS = E.setAttributeNS;
    var setNode = E.setAttributeNode, setNodeNS = E.setAttributeNodeNS;
    var attempt = function (node, key, value) {
      if (!key || !loads(node, key)) return false;
      var verdict = judge(key, value);
      if (verdict) hold(node, key, value, verdict); else release(node, key);
      return !!verdict;
    };
    E.setAttribute = function (name, value) {
      var key = attributeKey(null, name);
      value = (key && fontUrl(this, key, value)) || value;
      if (!attempt(this, key, value)) return setNative.call(this, name, value);
    };
    E.setAttributeNS = function (ns, name, value) {
      if (!attempt(this, attributeKey(ns, name), value)) return setNS.call(this, ns, name, value);
    };
    var viaNode = function (native) {
      return function (attr) {
        if (!attempt(this, attributeKey(attr.namespaceURI, attr.namespaceURI ? attr.localName : attr.name), attr.value)) return native.call(this, attr);
        return null;
      };
    };
    E.setAttributeNode = viaNode(setNode);
    E.setAttributeNodeNS = viaNode(setNodeNS);
    /* An attribute node already on an element: changing its value is setting the attribute. */
    var value = Object.getOwnPropertyDescriptor(w.Attr.prototype, "value");
    Object.defineProperty(w.Attr.prototype, "value", {
      configurable: true, enumerable: value.enumerable, get: value.get,
      set: function (v) {
        var owner = this.ownerElement, key = attributeKey(this.namespaceURI, this.namespaceURI ? this.localName : this.name);
        var verdict = owner && key && loads(owner, key) && judge(key, v);
        if (!verdict) return value.set.call(this, v);
        hold(owner, key, v, verdict);
        if (key !== "style") owner.removeAttributeNode(this);
      }
    });
  }

  /* CSSOM: the value is applied, read back as the browser understands it, and neutralised, all
     before any style update could fetch; the original waits until the element is known. */
  function guardStyles(w, watcher) {
    var proto = w.CSSStyleDeclaration.prototype, text = Object.getOwnPropertyDescriptor(proto, "cssText"), setProperty = proto.setProperty;
    var settle = function (declaration) {
      var original = text.get.call(declaration), verdict = heldCanonical(original);
      if (!verdict) return;
      if (pendingStyles) pendingStyles.set(declaration, original);
      text.set.call(declaration, verdict.neutral);
      /* An element in the document has just recorded the change: it is marked now, not a microtask later. */
      handle(watcher.takeRecords());
    };
    Object.defineProperty(proto, "cssText", {
      configurable: true, enumerable: text.enumerable, get: text.get,
      set: function (v) {
        text.set.call(this, v);
        if (mayFetch(String(v))) settle(this);
      }
    });
    proto.setProperty = function (name, value) {
      var result = setProperty.apply(this, arguments);
      if (mayFetch(String(value))) settle(this);
      return result;
    };
  }

  /* `context` is the element whose content the markup becomes: raw text (a <script>'s) is no markup. */
  function safeMarkup(context, html) {
    if ((context && RAW_TEXT[context.localName]) || String(html).indexOf("<") < 0) return html;
    var t = doc.createElement("template");
    innerHTML.set.call(t, String(html));
    return defuse(t.content) ? innerHTML.get.call(t) : html;
  }

  /* Markup as text: innerHTML, outerHTML, insertAdjacentHTML, setHTMLUnsafe, Range fragments, shadow roots. */
  function guardMarkup(w) {
    var E = w.Element.prototype, insertHTML = E.insertAdjacentHTML;
    var wrapSetter = function (proto, name, outer) {
      var d = Object.getOwnPropertyDescriptor(proto, name);
      if (!d) return;
      Object.defineProperty(proto, name, {
        configurable: true, enumerable: d.enumerable, get: d.get,
        set: function (html) { d.set.call(this, safeMarkup(outer ? this.parentNode : this, html)); }
      });
    };
    var wrapMethod = function (proto, name) {
      var native = proto[name];
      if (native) proto[name] = function (html) {
        var args = Array.prototype.slice.call(arguments);
        args[0] = safeMarkup(this, html);
        return native.apply(this, args);
      };
    };
    wrapSetter(E, "innerHTML", false);
    wrapSetter(E, "outerHTML", true);
    wrapSetter(w.ShadowRoot.prototype, "innerHTML", false);
    wrapMethod(E, "setHTMLUnsafe");
    wrapMethod(w.ShadowRoot.prototype, "setHTMLUnsafe");
    E.insertAdjacentHTML = function (where, html) {
      var outside = /^(beforebegin|afterend)$/i.test(String(where));
      return insertHTML.call(this, where, safeMarkup(outside ? this.parentNode : this, html));
    };
    var fragment = w.Range.prototype.createContextualFragment;
    w.Range.prototype.createContextualFragment = function () {
      var result = fragment.apply(this, arguments);
      defuse(result);
      return result;
    };
    guardWrite(w.Document.prototype);
  }

  /* document.write is often how tags are added: '<scr' + 'ipt src="' + u + '"></scr' + 'ipt>'. */
  function guardWrite(D) {
    var write = D.write, writeln = D.writeln;
    var viaWrite = function (native, suffix) {
      return function () {
        if (!this || this.nodeType !== 9) return native.apply(this, arguments);
        var text = Array.prototype.join.call(arguments, "") + suffix, script = this.currentScript;
        /* A revived script writes after the page was parsed, where a write would replace the whole page. */
        if (script && typeof script._cgWrites === "string") { script._cgWrites += text; return; }
        var out = written(this, text);
        return out === text ? native.apply(this, arguments) : write.call(this, out);
      };
    };
    D.write = viaWrite(write, "");
    D.writeln = viaWrite(writeln, "\n");
  }

  function guardRequests(w) {
    var fetch = w.fetch;
    if (fetch) w.fetch = function (input) {
      var url = input && typeof input === "object" && "url" in input ? input.url : input;
      if (heldFor(url)) return w.Promise.reject(new w.TypeError("held until consent"));
      return fetch.apply(this, arguments);
    };
    var XHR = w.XMLHttpRequest.prototype, open = XHR.open, send = XHR.send;
    XHR.open = function (method, url) {
      this._cgHeld = !!heldFor(url);
      return open.apply(this, arguments);
    };
    XHR.send = function () {
      if (!this._cgHeld) return send.apply(this, arguments);
      var xhr = this;
      w.setTimeout(function () { xhr.dispatchEvent(new w.ProgressEvent("error")); }, 0);
    };
    var navigator = w.navigator;
    if (navigator.sendBeacon) {
      var beacon = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = function (url) { return heldFor(url) ? false : beacon.apply(null, arguments); };
    }
    refuseConstructor(w, "WebSocket", function (url) { return String(url).replace(/^\s*ws(s?):/i, "http$1:"); });
    refuseConstructor(w, "EventSource", function (url) { return url; });
    /* new Audio(url) sets its source inside the browser, past the src setter. */
    var Audio = w.Audio;
    if (Audio) {
      var Guarded = function (src) {
        var audio = new Audio();
        if (src !== undefined) audio.src = src;
        return audio;
      };
      Guarded.prototype = Audio.prototype;
      w.Audio = Guarded;
    }
  }

  /* A connection to a held host is refused as the browser refuses one that its CSP forbids. */
  function refuseConstructor(w, name, asHttp) {
    var Native = w[name];
    if (!Native) return;
    var Guarded = function (url) {
      if (heldFor(asHttp(url))) throw new w.DOMException("held until consent: " + url, "SecurityError");
      var args = [null].concat(Array.prototype.slice.call(arguments));
      return new (Function.prototype.bind.apply(Native, args))();
    };
    Guarded.prototype = Native.prototype;
    ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (k) { if (k in Native) Guarded[k] = Native[k]; });
    w[name] = Guarded;
  }

  var OBSERVED = { childList: true, subtree: true, attributes: true, attributeFilter: ["src", "srcset", "href", "data", "poster", "imagesrcset", "style"] };
  /* Trees that document queries of this page do not enter: shadow trees, and same-origin frames
     ({window, document, watcher}). Each is watched as it is made, and searched when reviving. */
  var shadows = [], frames = [];

  function handle(records) {
    records.forEach(function (r) {
      if (r.type === "attributes") return recheck(r.target, r.attributeName, r.attributeNamespace);
      r.addedNodes.forEach(function (n) {
        if (n.nodeType !== 1) return;
        defuseNode(n);
        if (n.firstElementChild) defuse(n);
        watchFrames(n);
      });
    });
  }

  function guardShadows(w, watcher) {
    var attach = w.Element.prototype.attachShadow;
    if (attach) w.Element.prototype.attachShadow = function () {
      var root = attach.apply(this, arguments);
      watcher.observe(root, OBSERVED);
      shadows.push(root);
      return root;
    };
  }

  /* A same-origin frame is a window of its own, with prototypes of its own (an about:blank frame
     that page code writes a tag into is a common way to load one): it is guarded as soon as page
     code can reach it, and its document watched again when it has a new one. The document itself
     is watched, not its root element: document.open() replaces that. Another origin's frame is its page. */
  function adopt(w) {
    try {
      if (!w || w === window) return;
      var d = w.document, known = null;
      frames.forEach(function (f) { if (f.window === w) known = f; });
      if (!known) frames.push(known = { window: w, document: null, watcher: guardWindow(w) });
      if (known.document === d) return;
      known.document = d;
      known.watcher.observe(d, OBSERVED);
    } catch (e) { /* another origin */ }
  }

  function guardFrames(w) {
    [["HTMLIFrameElement", "contentWindow"], ["HTMLIFrameElement", "contentDocument"], ["HTMLFrameElement", "contentWindow"],
      ["HTMLFrameElement", "contentDocument"], ["HTMLObjectElement", "contentWindow"], ["HTMLObjectElement", "contentDocument"]].forEach(function (spec) {
      var type = w[spec[0]], d = type && Object.getOwnPropertyDescriptor(type.prototype, spec[1]);
      if (!d || !d.get) return;
      var document = spec[1] === "contentDocument";
      Object.defineProperty(type.prototype, spec[1], {
        configurable: true, enumerable: d.enumerable,
        get: function () {
          var value = d.get.call(this);
          if (value) adopt(document ? value.defaultView : value);
          return value;
        }
      });
    });
  }

  function watchFrames(node) {
    var list = /^(iframe|frame|object)$/.test(node.localName) ? [node] : node.querySelectorAll ? node.querySelectorAll("iframe,frame,object") : [];
    Array.prototype.forEach.call(list, function (frame) {
      adopt(frame.contentWindow);
      if (frame._cgWatched) return;
      frame._cgWatched = true;
      frame.addEventListener("load", function () { adopt(frame.contentWindow); });
    });
  }

  /* Patches window `w`; the watcher it returns is for that window's documents and shadow trees. */
  function guardWindow(w) {
    var watcher = new w.MutationObserver(handle);
    guardProperties(w);
    guardAttributes(w);
    guardStyles(w, watcher);
    guardMarkup(w);
    guardRequests(w);
    guardFrames(w);
    guardShadows(w, watcher);
    return watcher;
  }

  /* Tags written in the page itself are fetched by the browser's preload scanner before any script
     runs: those must be marked up (or rewritten by the gateway). */
  function guard() {
    guardWindow(window).observe(doc, OBSERVED);
    guardLateLoad();
  }


  /* ---- the site's services, and the catalogue per category, fetched only when needed ---------- */

  var catalogue = null;
  var NO_SERVICES = { known: true, services: [], catalogue: {} };
  function services() {
    catalogue = catalogue || nativeFetch.call(window, api + "/services?lang=" + lang(), { credentials: "omit" })
      .then(function (r) { return r.json(); })
      .then(function (d) { return d; }, function () { catalogue = null; return NO_SERVICES; });
    return catalogue;
  }

  /* ---- bringing back what was consented -------------------------------- */

  var HELD = "[data-consent],script[type='text/plain'][data-category],[data-name][type='text/plain'],iframe[data-name][data-src]";
  /* Restored in this order: a frame's srcdoc before its src, srcset before src (one fetch, not two). */
  var RESTORED = ["srcdoc", "srcset", "imagesrcset", "rel", "http-equiv", "style", "poster", "data", "href", "xlink:href", "src"];

  var klaro = {};
  function categoriesOf(el) {
    var cats = el.getAttribute("data-consent") || el.getAttribute("data-category");
    if (cats !== null) return cats.split(/\s+/).filter(Boolean);
    /* Klaro names services ("googleAnalytics"): match them to the catalogue's ids. */
    var name = (el.getAttribute("data-name") || "").toLowerCase().replace(/[^a-z0-9]/g, "");
    return [klaro[name] || (C.categories.indexOf(name) >= 0 ? name : "marketing")];
  }

  function allGranted(cats) {
    return cats.every(function (c) { return granted[c]; });
  }

  /* A script the browser runs (or ran) as it is: other consent managers' "consented" markup. */
  function runsAsIs(script) {
    var type = script.getAttribute("type");
    if (!type) {
      var language = (script.getAttribute("language") || "").trim();
      return type === null && language ? !!JS_TYPES["text/" + language.toLowerCase()] : true;
    }
    return !!JS_TYPES[type.split(";")[0].trim().toLowerCase()];
  }

  function revive() {
    if (!doc.querySelector("[data-name]")) return reviveNow();
    services().then(function (d) {
      Object.keys(d.catalogue).forEach(function (c) {
        d.catalogue[c].services.forEach(function (id) { klaro[id.replace(/[^a-z0-9]/g, "")] = c; });
      });
      reviveNow();
    });
  }

  /* What waits outside the document's own tree: in shadow trees, and loose elements still held (a
     detached script has nowhere to run). */
  function heldOutside() {
    var found = [];
    frames = frames.filter(function (f) { return !f.window.closed; });
    var roots = shadows.slice();
    /* A frame that has since gone to another origin has no document to look into. */
    frames.forEach(function (f) { try { roots.push(f.window.document); } catch (e) { /* cross-origin now */ } });
    roots.forEach(function (root) {
      try { found = found.concat(Array.prototype.slice.call(root.querySelectorAll(HELD))); } catch (e) { /* gone */ }
    });
    loose = loose.filter(function (n) { return n.getRootNode() !== doc && n.hasAttribute("data-consent") && found.indexOf(n) < 0; });
    return found.concat(loose.filter(function (n) { return n.localName !== "script" || n.parentNode; }));
  }

  function reviveNow() {
    var scripts = [], media = [];
    Array.prototype.slice.call(doc.querySelectorAll(HELD)).concat(heldOutside()).forEach(function (node) {
      if (!allGranted(categoriesOf(node))) return;
      if (heldStyleBlock(node)) return reviveStyle(node);
      if (node.localName === "script") {
        /* Page code may set a JavaScript type after the guard held the src: held all the same. */
        if (!runsAsIs(node) || node.hasAttribute("data-consent-src")) scripts.push(node);
        return;
      }
      restore(node);
      var parent = node.parentNode;
      if (node.localName === "source" && parent && /^(video|audio)$/.test(parent.localName) && media.indexOf(parent) < 0) media.push(parent);
    });
    /* A media element chose among its sources when it was parsed: it chooses again. */
    media.forEach(function (m) { m.load(); });
    reviving = true;
    runInOrder(scripts, 0, revived);
  }

  /* The scripts revived in order have all run (or failed to load): page code can follow on. */
  function revived() {
    var detail = { categories: current() };
    doc.dispatchEvent(new CustomEvent("consent:revived", { detail: detail }));
    revivedHandlers.forEach(function (fn) { try { fn(detail); } catch (e) { setTimeout(function () { throw e; }); } });
  }

  /* A revived script runs after the page has loaded, so "load" and "DOMContentLoaded" handlers it
     adds would wait for events that have passed (chartbeat's `window.onload = ...`, say). Once
     revival has begun, such a handler is called once, soon after it is added, as the browser would
     have called it had the script run in its place. A handler that chains the page's own onload
     calls that one again, which is what the chain asks for. */
  var reviving = false;
  function passed(target, type) {
    if (!reviving) return false;
    if (type === "load") return target === window && doc.readyState === "complete";
    return type === "DOMContentLoaded" && (target === window || target === doc) && doc.readyState !== "loading";
  }

  function callLate(target, type, listener) {
    setTimeout(function () {
      var event = new Event(type);
      if (typeof listener === "function") listener.call(target, event);
      else if (listener && typeof listener.handleEvent === "function") listener.handleEvent(event);
    }, 0);
  }

  function guardLateLoad() {
    [window, doc].forEach(function (target) {
      var add = target.addEventListener;
      target.addEventListener = function (type, listener) {
        var self = this == null ? target : this;  /* a bare addEventListener(...) is the window's */
        add.apply(self, arguments);
        if (passed(self, type)) callLate(self, type, listener);
      };
    });
    var onload = Object.getOwnPropertyDescriptor(window, "onload");
    if (!onload || !onload.configurable || !onload.set) return;
    Object.defineProperty(window, "onload", {
      configurable: true, enumerable: onload.enumerable, get: onload.get,
      set: function (fn) {
        onload.set.call(this, fn);
        if (typeof fn === "function" && passed(window, "load")) callLate(window, "load", fn);
      }
    });
  }

  /* Put back what the rewriter or the guard held; each value is judged again on its way in, so
     one that waits for a category still not granted is held again under that category. */
  function restore(node) {
    var values = {}, klaroSrc = node.getAttribute("data-name") && node.getAttribute("data-src");
    RESTORED.forEach(function (name) {
      var value = node.getAttribute(heldName(name));
      if (value === null) return;
      values[name] = value;
      node.removeAttribute(heldName(name));
    });
    if (values.src === undefined && klaroSrc) values.src = klaroSrc;
    /* The gateway shows a placeholder in srcdoc while a frame's src waits. */
    if (node.localName === "iframe" && values.srcdoc === undefined && values.src !== undefined) node.removeAttribute("srcdoc");
    clean(node);
    RESTORED.forEach(function (name) {
      if (values[name] === undefined) return;
      if (name === "xlink:href") node.setAttributeNS(XLINK_NS, "xlink:href", values[name]);
      else node.setAttribute(name, values[name]);
    });
    if (node.localName === "link" && values.imagesrcset !== undefined && values.rel === undefined) reprocess(node);
  }

  /* A <link> looks at imagesrcset only when it is processed, which a new rel does (the same rel does not). */
  function reprocess(link) {
    var rel = link.getAttribute("rel");
    if (rel === null) return;
    link.removeAttribute("rel");
    link.setAttribute("rel", rel);
  }

  /* The original of a held <style> block: the gateway keeps it in an inert <script data-consent-style>
     (Chromium's preload scanner fetches @import even from an inert <style>); an inert <style> does too. */
  function heldStyleBlock(node) {
    if (node.namespaceURI !== HTML_NS) return false;
    if (node.localName === "script") return node.getAttribute("data-consent-style") === "" && !runsAsIs(node);
    var type = node.getAttribute("type");
    return node.localName === "style" && !!type && type.trim().toLowerCase() !== "text/css";
  }

  /* A held <style> block follows a stand-in without the held URLs: the original takes its place. Its
     text is CSS as it was ("</\script" in it reads as "</script" in CSS). */
  function reviveStyle(old) {
    var fresh = old.ownerDocument.createElement("style"), standin = old.previousElementSibling;
    Array.prototype.forEach.call(old.attributes, function (a) {
      if (!/^(type|data-consent.*)$/.test(a.name)) setAttribute.call(fresh, a.name, a.value);
    });
    var type = old.getAttribute("data-consent-type");
    if (type) setAttribute.call(fresh, "type", type);
    if (nonce) fresh.nonce = nonce;
    fresh.textContent = old.textContent;
    old.parentNode.replaceChild(fresh, old);
    if (standin && standin.hasAttribute("data-consent-standin")) standin.parentNode.removeChild(standin);
  }

  /* A held embed can be loaded this once, without consenting to its category. */
  function offerOnce() {
    Array.prototype.forEach.call(doc.querySelectorAll("iframe[data-consent-src]"), function (frame) {
      var wire = function () {
        var inner = frame.contentDocument;
        if (!inner || !inner.body || inner.querySelector("[data-consent-load]")) return;
        var b = el("button", { type: "button", "data-consent-load": "" }, t().load_once);
        /* Styled through CSSOM, which a page's CSP allows (an inline style attribute it may not). */
        b.style.cssText = LOAD_ONCE_STYLE;
        b.addEventListener("click", function () {
          var src = frame.getAttribute("data-consent-src");
          frame._cgOnce = true;
          clean(frame);
          frame.removeAttribute("data-consent-src");
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
    ["data-consent", "data-consent-service", "data-category", "data-src"].forEach(function (a) {
      el.removeAttribute(a);
    });
  }

  /* What a revived script wrote goes right after it, as the parser would have put it; the scripts in
     it run next, one after another, before the scripts revived after this one. */
  function insertWritten(script, scripts, i) {
    var text = script._cgWrites;
    script._cgWrites = null;
    if (!text || !script.parentNode) return;
    var range = doc.createRange();
    range.setStartAfter(script);
    var fragment = range.createContextualFragment(text);
    var queued = Array.prototype.filter.call(fragment.querySelectorAll("script"), function (s) {
      return runsAsIs(s) && !s.hasAttribute("data-consent");
    });
    queued.forEach(makeInert);
    script.parentNode.insertBefore(fragment, script.nextSibling);
    scripts.splice.apply(scripts, [i + 1, 0].concat(queued));
  }

  /* External scripts load one after another, so each finds what the previous one set up; one the page
     marked async never waited for anything, so nothing waits for it. */
  function runInOrder(scripts, i, finished) {
    if (i >= scripts.length) return finished && finished();
    var old = scripts[i], svg = old.namespaceURI === SVG_NS;
    var own = old.ownerDocument, fresh = svg ? own.createElementNS(SVG_NS, "script") : own.createElement("script");
    var src = old.getAttribute("data-consent-src") || old.getAttribute("src") || old.getAttribute("data-src");
    var href = old.getAttribute("data-consent-href"), xlink = old.getAttribute("data-consent-xlink-href");
    var type = old.getAttribute("data-consent-type") || old.getAttribute("data-type") || "";
    var done = false, ordered = true;
    var next = function () {
      if (done) return;
      done = true;
      if (ordered) {
        insertWritten(fresh, scripts, i);
        return runInOrder(scripts, i + 1, finished);
      }
      var written = [];
      insertWritten(fresh, written, -1);
      runInOrder(written, 0);
    };
    fresh._cgWrites = "";
    Array.prototype.forEach.call(old.attributes, function (a) {
      if (!/^(type|src|href|xlink:href|data-consent.*|data-category|data-type)$/.test(a.name)) setAttribute.call(fresh, a.name, a.value);
    });
    if (type) setAttribute.call(fresh, "type", type);
    if (nonce) fresh.nonce = nonce;
    if (!src && !href && !xlink) {
      fresh.textContent = old.textContent;
      old.parentNode.replaceChild(fresh, old);
      return next();
    }
    fresh.addEventListener("load", next);
    fresh.addEventListener("error", next);
    if (!svg) fresh.src = src;
    else if (href || src) fresh.setAttribute("href", href || src);
    else fresh.setAttributeNS(XLINK_NS, "xlink:href", xlink);
    old.parentNode.replaceChild(fresh, old);
    /* Held again (its host waits for another category), or of a type the browser does not run (a
       script Cloudflare's Rocket Loader starts itself): it will not load, so the next one goes now. */
    if (fresh.hasAttribute("data-consent") || !runsAsIs(fresh)) return next();
    if (old.hasAttribute("async")) {
      ordered = false;
      runInOrder(scripts, i + 1, finished);
    }
  }

  /* ---- telling the page ------------------------------------------------ */

  function consentMode(kind) {
    var w = window;
    w.dataLayer = w.dataLayer || [];
    /* Each storage type follows the category its Google service is in (the operator may move it). */
    var update = {};
    Object.keys(C.consentMode).forEach(function (storage) {
      update[storage] = granted[C.consentMode[storage]] ? "granted" : "denied";
    });
    (function () { w.dataLayer.push(arguments); })("consent", kind, update);
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
    return nativeFetch.call(window, api, options).then(function (r) {
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
    restoreFocus();
    var lost = before.filter(function (c) { return !granted[c]; });
    if (lost.length) {
      announce();
      /* What already ran cannot be unloaded: a fresh page starts clean. */
      return services().then(function (d) { clearCookies(lost, d.catalogue); loc.reload(); });
    }
    revive();
    announce();
    showReopen();
  }

  function withdraw() {
    var before = current();
    return send("DELETE", { language: lang() }).then(function () {
      if (remote) writeCookie("", 0);
      apply([], before);
    });
  }

  function clearCookies(categories, byCategory) {
    var patterns = [];
    categories.forEach(function (c) { if (byCategory[c]) patterns = patterns.concat(byCategory[c].cookies); });
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

  /* The banner hangs off <html>, not <body>: anti-flicker snippets and page CSS hide or fade <body>. */
  function place(node) {
    doc.documentElement.appendChild(node);
  }

  function style() {
    if (ui.style) return;
    ui.style = el("style", nonce ? { nonce: nonce } : {});
    ui.style.textContent = CSS;
    (doc.head || doc.documentElement).appendChild(ui.style);
  }

  function t() { return C.text[lang()]; }

  /* Where focus was on the page before a layer opened (not in a layer: the banner's settings button is
     gone after a choice); it goes back there after a choice. */
  function rememberFocus() {
    var active = doc.activeElement;
    var ours = [ui.banner, ui.settings].some(function (layer) { return layer && layer.contains(active); });
    if (active && active !== doc.body && active !== doc.documentElement && !ours) ui.returnTo = active;
  }

  function restoreFocus() {
    var back = ui.returnTo;
    ui.returnTo = null;
    if (back && doc.contains(back)) back.focus();
  }

  /* A layer opens with focus on its heading: the visitor hears the question first, and no button is
     chosen for them (Enter does nothing until they move to one). */
  function focusHeading(dialog) {
    var heading = dialog.querySelector("h2");
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }

  function showBanner() {
    style();
    rememberFocus();
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
    place(box);
    focusHeading(box);
  }

  /* The settings layer is a second, small file, fetched when a visitor opens it. */
  var layer = null;
  function showSettings() {
    layer = layer || new Promise(function (resolve, reject) {
      var tag = doc.createElement("script");
      if (nonce) tag.nonce = nonce;
      tag.onload = function () { resolve(window.consentGatewaySettings(core)); };
      tag.onerror = function () { layer = null; reject(new Error("settings layer not loaded")); };
      setAttribute.call(tag, "src", api + "/settings.js?v=" + C.settingsVersion);
      (doc.head || doc.documentElement).appendChild(tag);
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
    place(ui.reopen);
  }

  /* ---- the page's handle ------------------------------------------------- */

  var core = {
    C: C, ui: ui, el: el, button: button, nonce: nonce, style: style, close: close, lang: lang, stored: stored,
    rememberFocus: rememberFocus, restoreFocus: restoreFocus, focusHeading: focusHeading,
    choose: attempt, services: services, showBanner: showBanner, showReopen: showReopen, place: place,
    granted: function (c) { return !!granted[c]; }
  };

  window.consentGateway = {
    get: function () { var s = stored(); return s ? { id: s.id, categories: current(), revision: s.revision } : null; },
    acceptAll: function () { return choose("accept_all"); },
    rejectAll: function () { return choose("reject_all"); },
    accept: function (categories) { return choose("custom", categories); },
    withdraw: withdraw,
    open: showSettings,
    on: function (event, fn) {
      if (event === "change") handlers.push(fn);
      else if (event === "revived") revivedHandlers.push(fn);
    }
  };

  /* ---- discovery: cookie names the server does not know yet, names only, once per page ----
     Read at load and sent 3 s later, or when the page is left before: the next response may expire them. */

  var known = me && me.getAttribute("data-cookies"), found, names = [];
  function collect() {
    (doc.cookie ? doc.cookie.split("; ") : []).forEach(function (part) {
      var name = part.split("=")[0];
      if (name !== C.cookie && !found[name] && /^[\w!#$%&'*+.^`|~-]{1,128}$/.test(name) && names.length < 50) {
        found[name] = true;
        names.push(name);
      }
    });
  }
  function report() {
    if (!found) return;
    collect();
    found = null;
    if (names.length) nativeFetch.call(window, api + "/discovery/cookies", {
      method: "POST", keepalive: true, headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ names: names })
    });
  }
  if (known != null && !remote) {
    found = setOf(known.split(" "));
    addEventListener("load", function () { collect(); setTimeout(report, 3000); });
    addEventListener("pagehide", report);
  }

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
