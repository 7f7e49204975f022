/*
 * The cookie banner (docs/banner.md), served as /banner/TENANT.js with the
 * tenant's categories in place of the CONFIG comment below. A company's site
 * embeds it with one script tag. It asks once per visitor and per wording:
 * accept all, reject all, or choose, with reject as prominent as accept;
 * keeps the choice in a first-party cookie of the site under a random
 * visitor id, and sends it, with that id only, to the register. A Global
 * Privacy Control signal (the browser's Sec-GPC header, or
 * navigator.globalPrivacyControl) is recorded as a refusal without asking.
 * The site's scripts ask window.privreg.consent("analytics"). No
 * dependencies; nothing else is fetched; its own styles live in a shadow
 * root, so the site's and the banner's styles leave each other alone.
 */
(function () {
  "use strict";
  var config = /*CONFIG*/null;
  if (!config || window.privreg && window.privreg.banner) return;
  var script = document.currentScript;
  var origin = script && script.src ? new URL(script.src).origin : "";
  var cookieName = "privreg_consent_" + config.tenant;
  var gpc = config.gpc || navigator.globalPrivacyControl === true;
  var host = null;
  var opener = null;

  function lang() {
    var l = (document.documentElement.getAttribute("lang") || "").slice(0, 2).toLowerCase();
    if (config.texts[l]) return l;
    return config.texts[config.languages[0]] ? config.languages[0] : "en";
  }
  function t(key) { return config.texts[lang()]["banner." + key] || config.texts.en["banner." + key]; }
  function title(c) {
    var l = lang();
    return c.title[l] || c.title[config.languages[0]] || c.title[Object.keys(c.title)[0]] || c.name;
  }

  /* The stored choice: "1.VISITOR.WORDING.cat=1,cat=0", or null. */
  function stored() {
    var m = document.cookie.match(new RegExp("(?:^|; )" + cookieName + "=([^;]*)"));
    if (!m) return null;
    var p = decodeURIComponent(m[1]).split(".");
    if (p.length !== 4 || p[0] !== "1") return null;
    var cats = {};
    p[3].split(",").forEach(function (kv) { var x = kv.split("="); if (x[0]) cats[x[0]] = x[1] === "1"; });
    return {visitor: p[1], wording: p[2], categories: cats};
  }
  function store(visitor, cats) {
    var v = Object.keys(cats).map(function (k) { return k + "=" + (cats[k] ? "1" : "0"); }).join(",");
    document.cookie = cookieName + "=" + encodeURIComponent(["1", visitor, config.wording, v].join(".")) +
      "; Path=/; Max-Age=" + config.keep_seconds + "; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  function newVisitor() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return btoa(String.fromCharCode.apply(null, b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function current() {
    var s = stored();
    return s && s.wording === config.wording ? s : null;
  }

  function asked() { return config.categories.filter(function (c) { return c.consent; }); }

  function send(cats, done) {
    var s = stored();
    var visitor = s ? s.visitor : newVisitor();
    var body = {visitor: visitor, wording: config.wording, gpc: gpc, categories: {}};
    asked().forEach(function (c) { body.categories[c.name] = !gpc && !!cats[c.name]; });
    fetch(origin + "/banner/" + encodeURIComponent(config.tenant) + "/consent", {
      method: "POST", mode: "cors", credentials: "omit", keepalive: true,
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)
    }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (a) {
      store(visitor, a.categories);
      document.dispatchEvent(new CustomEvent("privreg:consent", {detail: a.categories}));
      done(true);
    }).catch(function () { done(false); });
  }

  var css =
    ":host{all:initial}" +
    ".b{position:fixed;left:0;right:0;bottom:0;z-index:2147483647;background:#fff;color:#0b0c0c;" +
    "border-top:4px solid #1d70b8;box-shadow:0 -2px 8px rgba(0,0,0,.2);font:16px/1.5 system-ui,sans-serif;" +
    "padding:16px;max-height:80vh;overflow:auto;box-sizing:border-box}" +
    ".in{max-width:960px;margin:0 auto}" +
    "h2{font-size:20px;margin:0 0 8px;font-weight:700}p{margin:0 0 12px}" +
    ".row{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0 0}" +
    "button{font:inherit;font-weight:700;min-height:44px;min-width:10em;padding:8px 16px;border:2px solid #0b0c0c;" +
    "background:#fff;color:#0b0c0c;border-radius:0;cursor:pointer;flex:1 1 10em}" +
    "button:focus,input:focus,a:focus{outline:3px solid #fd0;outline-offset:0;box-shadow:0 0 0 5px #0b0c0c}" +
    "button:hover{background:#f3f2f1}" +
    "ul{list-style:none;padding:0;margin:12px 0 0}li{margin:0 0 8px}" +
    "label{display:flex;gap:8px;align-items:flex-start}input{width:24px;height:24px;margin:0;flex:none}" +
    ".hint{display:block;color:#505a5f;font-size:14px}" +
    "a{color:#1d70b8}.gpc{border-left:4px solid #1d70b8;padding-left:8px}" +
    ".open{position:fixed;left:8px;bottom:8px;z-index:2147483646;min-width:0;flex:none;font-size:14px;" +
    "min-height:32px;padding:4px 8px}";

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text != null) e.textContent = text;
    return e;
  }

  function root() {
    if (host) return host.shadowRoot;
    host = el("div", {id: "privreg-banner"});
    var sr = host.attachShadow({mode: "open"});
    sr.appendChild(el("style", {}, css));
    document.body.appendChild(host);
    return sr;
  }

  function close() {
    var sr = root();
    var b = sr.querySelector(".b");
    if (b) b.remove();
    showOpener();
  }

  function showOpener() {
    if (document.querySelector("[data-privreg-settings]")) return;
    var sr = root();
    if (sr.querySelector(".open")) return;
    opener = el("button", {type: "button", "class": "open"}, t("settings"));
    opener.addEventListener("click", function () { show(true); });
    sr.appendChild(opener);
  }

  function show(choosing) {
    var sr = root();
    var old = sr.querySelector(".b");
    if (old) old.remove();
    var o = sr.querySelector(".open");
    if (o) o.remove();
    var l = lang();
    var box = el("section", {"class": "b", role: "region", "aria-labelledby": "privreg-title", lang: l});
    var inner = el("div", {"class": "in"});
    box.appendChild(inner);
    inner.appendChild(el("h2", {id: "privreg-title"}, t("title")));
    inner.appendChild(el("p", {}, t("lead")));
    if (gpc) inner.appendChild(el("p", {"class": "gpc"}, t("gpc")));
    var now = current();
    var list = el("ul", {});
    config.categories.forEach(function (c) {
      var li = el("li", {});
      var lab = el("label", {});
      var box2 = el("input", {type: "checkbox", name: c.name});
      if (!c.consent) { box2.checked = true; box2.disabled = true; }
      else box2.checked = !gpc && !!(now && now.categories[c.name]);
      if (gpc && c.consent) box2.disabled = true;
      var words = el("span", {}, title(c));
      if (!c.consent) words.appendChild(el("span", {"class": "hint"}, t("necessary")));
      lab.appendChild(box2);
      lab.appendChild(words);
      li.appendChild(lab);
      list.appendChild(li);
    });
    list.hidden = !choosing;
    inner.appendChild(list);
    var status = el("p", {role: "status"});
    var row = el("div", {"class": "row"});
    function button(key, fn) {
      var b = el("button", {type: "button", "data-action": key}, t(key));
      b.addEventListener("click", fn);
      row.appendChild(b);
      return b;
    }
    function finish(cats) {
      send(cats, function (ok) {
        if (ok) close();
        else status.textContent = t("failed");
      });
    }
    function all(v) {
      var cats = {};
      asked().forEach(function (c) { cats[c.name] = v; });
      return cats;
    }
    button("accept", function () { finish(all(true)); });
    button("reject", function () { finish(all(false)); });
    var choose = button(choosing ? "save" : "choose", function () {
      if (list.hidden) {
        list.hidden = false;
        choose.textContent = t("save");
        choose.setAttribute("data-action", "save");
        var first = list.querySelector("input:not([disabled])");
        if (first) first.focus();
        return;
      }
      var cats = {};
      list.querySelectorAll("input").forEach(function (i) { cats[i.name] = i.checked; });
      finish(cats);
    });
    inner.appendChild(row);
    inner.appendChild(status);
    var notice = el("p", {});
    notice.appendChild(el("a", {href: origin + "/notice/" + encodeURIComponent(config.tenant) + "?lang=" + l,
                                target: "_blank", rel: "noopener"}, t("notice")));
    inner.appendChild(notice);
    sr.appendChild(box);
  }

  window.privreg = window.privreg || {};
  window.privreg.banner = true;
  /* Whether the visitor's current choice allows a category: true for the
   * categories that need no consent, false for any other until accepted. */
  window.privreg.consent = function (name) {
    var c = config.categories.filter(function (x) { return x.name === name; })[0];
    if (!c) return false;
    if (!c.consent) return true;
    var s = current();
    return !gpc && !!(s && s.categories[name]);
  };
  window.privreg.settings = function () { show(true); };

  function start() {
    document.querySelectorAll("[data-privreg-settings]").forEach(function (e) {
      e.addEventListener("click", function (ev) { ev.preventDefault(); show(true); });
    });
    if (!asked().length) return;
    if (current()) { showOpener(); return; }
    if (gpc) { /* a refusal, recorded without asking */
      send({}, function () { showOpener(); });
      return;
    }
    show(false);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
