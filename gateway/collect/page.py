"""Pointing the trackers on a page at the gateway, so their hits and scripts arrive first-party.

Two small pieces for the page rewriter, both driven by the catalogue's
``collect`` section and the configured backends:

- a snippet that follows the Consent Mode default in ``<head>``: it sets
  gtag's transport (``transport_url`` / ``server_container_url``) to the
  site's own origin plus the prefix, and makes Matomo's ``setTrackerUrl``
  point at the gateway's tracker endpoint;
- ``script_url(src)``: the first-party URL for a catalogued gtag.js or
  matomo.js whose measurement id or Matomo host is configured, else None.
"""

from __future__ import annotations

import json
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

from gateway.collect.protocol import Backend, configured_backends
from gateway.settings import Settings


def _without_scheme(url: str) -> str:
    """``host/path`` of an absolute or protocol-relative URL, lowercased host; "" otherwise."""
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    port = f":{parts.port}" if parts.port else ""
    return parts.hostname + port + parts.path


def _query_of(url: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(urlsplit(url.strip()).query)
    except ValueError:
        return []


class FirstPartyPages:
    """What the rewriter and the head snippet need to send GA and Matomo to the gateway."""

    def __init__(self, settings: Settings, backends: dict[str, Backend] | None = None) -> None:
        self.prefix = settings.prefix
        self.backends = configured_backends(settings.collect) if backends is None else backends
        self.snippet = self._snippet()
        self.script_url = lru_cache(maxsize=1024)(self._script_url)

    @property
    def active(self) -> bool:
        return bool(self.backends)

    def _snippet(self) -> str:
        prefix = json.dumps(self.prefix)
        code = []
        ga4 = self.backends.get("ga4")
        if ga4 is not None:
            fields = ",".join(f"{name}:location.origin+{prefix}" for name in ga4.protocol.spec["transport_settings"])
            code.append(f"gtag('set',{{{fields}}});")
        matomo = self.backends.get("matomo")
        if matomo is not None:
            command = json.dumps(matomo.protocol.spec["tracker_command"])
            tracker = json.dumps(self.prefix + matomo.protocol.spec["paths"][0])
            queue = matomo.protocol.spec["command_queue"]
            # Matomo reads its queue when it loads: the site's setTrackerUrl is rewritten on the way in.
            code.append(
                f"(function(){{var q=window.{queue}=window.{queue}||[],push=q.push;"
                "q.push=function(){for(var i=0;i<arguments.length;i++){var c=arguments[i];"
                f"if(c&&c[0]==={command})c[1]=location.origin+{tracker};}}"
                "return push.apply(q,arguments);};})();"
            )
        code.append(self._script_shim())
        return "".join(code)

    def _script_shim(self) -> str:
        """Scripts that page code adds (Matomo's snippet, a tag manager) go first-party too.

        Runs before banner.js, whose guard wraps these setters in turn, so a
        held script is still held and a revived one is pointed at the gateway.
        """
        table = []  # [host + path, id parameter or "", [ids], first-party path]
        ga4 = self.backends.get("ga4")
        if ga4 is not None:
            script = ga4.protocol.spec["script"]
            table.append([_without_scheme(script["url"]), script["id_parameter"], sorted(ga4.ids), script["path"]])
        matomo = self.backends.get("matomo")
        if matomo is not None and matomo.script_url is not None:
            script = matomo.protocol.spec["script"]
            base = _without_scheme(matomo.script_url).rsplit("/", 1)[0] + "/"
            table += [[base + name, "", [], script["path"]] for name in script["files"]]
        if not table:
            return ""
        return (
            f"(function(){{var P=location.origin+{json.dumps(self.prefix)},M={json.dumps(table)};"
            "function fp(v){try{var u=new URL(v,location.href),k=u.host+u.pathname;"
            "for(var i=0;i<M.length;i++){var m=M[i];if(k!==m[0])continue;if(!m[1])return P+m[3];"
            "var id=u.searchParams.get(m[1]);if(m[2].indexOf(id)>=0)return P+m[3]+'?'+m[1]+'='+encodeURIComponent(id);}"
            "}catch(e){}return v;}"
            "var S=HTMLScriptElement.prototype,d=Object.getOwnPropertyDescriptor(S,'src');"
            "Object.defineProperty(S,'src',{configurable:true,enumerable:d.enumerable,get:d.get,"
            "set:function(v){d.set.call(this,fp(String(v)));}});"
            "var E=Element.prototype,a=E.setAttribute;E.setAttribute=function(n,v){"
            "if(this instanceof HTMLScriptElement&&String(n).toLowerCase()==='src')v=fp(String(v));"
            "return a.call(this,n,v);};})();"
        )

    def _script_url(self, src: str) -> str | None:
        located = _without_scheme(src)
        if not located:
            return None
        ga4 = self.backends.get("ga4")
        script = ga4.protocol.spec["script"] if ga4 is not None else None
        if ga4 is not None and script is not None and located == _without_scheme(script["url"]):
            measurement_id = dict(_query_of(src)).get(script["id_parameter"])
            if measurement_id in ga4.ids:
                return f"{self.prefix}{script['path']}?{script['id_parameter']}={measurement_id}"
        matomo = self.backends.get("matomo")
        if matomo is not None and matomo.script_url is not None:
            files = matomo.protocol.spec["script"]["files"]
            base = _without_scheme(matomo.script_url).rsplit("/", 1)[0] + "/"
            if located.startswith(base) and located[len(base) :] in files:
                return self.prefix + matomo.protocol.spec["script"]["path"]
        return None
