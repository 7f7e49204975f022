/* The privacy center's script (docs/portal.md): texts in the chosen language,
 * sign-in by the e-mailed link, and the subject's own data. Everything it
 * shows comes from /portal/TENANT/api/ of this origin, for the one person
 * the session cookie names; text from the API is set with textContent only,
 * never as markup. The link's secret stays in the URL's fragment, which no
 * browser sends to a server, and leaves the address bar once used. */
"use strict";
(function () {
  var texts = {};
  var session = null;
  var tenant = window.location.pathname.split("/")[2] || "";
  var base = "/portal/" + encodeURIComponent(decodeURIComponent(tenant)) + "/";

  function t(key, vars) {
    var s = Object.prototype.hasOwnProperty.call(texts, key) ? texts[key] : key;
    Object.keys(vars || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); });
    return s;
  }

  function $(sel) { return document.querySelector(sel); }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function lang() { return texts.lang || "en"; }

  function chosenLang() {
    try { return window.localStorage.getItem("privreg.lang"); } catch (e) { return null; }
  }

  function loadTexts() {
    var l = chosenLang();
    return fetch(base + "i18n.json" + (l ? "?lang=" + encodeURIComponent(l) : ""), {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (j) {
        texts = j;
        document.documentElement.lang = j.lang || "en";
        document.querySelectorAll("[data-i18n]").forEach(function (e) { e.textContent = t(e.getAttribute("data-i18n")); });
        var h1 = $("h1");
        if (h1) document.title = h1.textContent + " – " + t("portal.brand");
        var sel = $("#lang");
        if (sel) sel.value = j.lang || "en";
        document.querySelectorAll("#notice").forEach(function (a) {
          a.href = "/notice/" + encodeURIComponent(decodeURIComponent(tenant)) + "?lang=" + encodeURIComponent(lang());
        });
      });
  }

  function api(method, path, body) {
    var h = {"Accept": "application/json"};
    if (body !== undefined) h["Content-Type"] = "application/json";
    if (session && method !== "GET") h["X-CSRF-Token"] = session.csrf;
    return fetch(base + "api/" + path, {method: method, headers: h, credentials: "same-origin",
                                        body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (r) {
        return r.text().then(function (text) {
          var j = null;
          try { j = text ? JSON.parse(text) : null; } catch (e) { j = null; }
          return {status: r.status, ok: r.ok, body: j};
        });
      });
  }

  function apiError(res) {
    if (res.status === 429) return t("portal.error.too_many");
    if (res.status === 401) return t("portal.error.signed_out");
    if (res.body && res.body.error) return res.body.error.message;
    return t("portal.error.generic");
  }

  /* The error summary at the top, each message linked to its field. */
  function showErrors(list) {
    var box = $("#errors"), ul = box.querySelector("ul");
    ul.textContent = "";
    document.querySelectorAll(".field-error").forEach(function (f) { f.classList.remove("field-error"); });
    document.querySelectorAll("[aria-invalid]").forEach(function (f) { f.removeAttribute("aria-invalid"); });
    list.forEach(function (item) {
      var li = el("li");
      if (item.field) {
        var a = el("a", item.text);
        a.href = "#" + item.field;
        li.appendChild(a);
        var input = document.getElementById(item.field);
        if (input) {
          input.setAttribute("aria-invalid", "true");
          var f = input.closest(".field");
          if (f) f.classList.add("field-error");
        }
      } else {
        li.textContent = item.text;
      }
      ul.appendChild(li);
    });
    box.hidden = list.length === 0;
    if (list.length) box.focus();
  }

  function say(text) { $("#status").textContent = text || ""; }

  function day(iso) {
    if (!iso) return "–";
    var d = new Date(iso);
    try {
      return d.toLocaleDateString(lang(), {year: "numeric", month: "long", day: "numeric", timeZone: "UTC"});
    } catch (e) { return iso.slice(0, 10); }
  }

  /* A title of the policy in the page's language, else the first it has. */
  function title(obj, fallback) {
    if (!obj) return fallback;
    if (obj[lang()]) return obj[lang()];
    if (obj.en) return obj.en;
    var keys = Object.keys(obj);
    return keys.length ? obj[keys[0]] : fallback;
  }

  var pages = {};

  pages.signin = function () {
    var token = "";
    /* The link opens this page with its secret after '#': on load, or in a
     * tab where the page is open already (only the fragment changes then). */
    function follow() {
      token = window.location.hash.slice(1);
      if (!token) return false;
      showErrors([]);
      say("");
      $("#step-ask").hidden = true;
      $("#step-sent").hidden = true;
      $("#step-link").hidden = false;
      return true;
    }
    $("#follow").addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("POST", "session", {token: token}).then(function (res) {
        history.replaceState(null, "", base); /* the used link leaves the address bar */
        if (res.ok) { window.location.replace(base + "center.html"); return; }
        $("#step-link").hidden = true;
        $("#step-ask").hidden = false;
        showErrors([{text: res.status === 404 || res.status === 410 ? t("portal.error.link") : apiError(res)}]);
      });
    });
    window.addEventListener("hashchange", follow);
    if (!follow())
      api("GET", "session").then(function (res) { if (res.ok) window.location.replace(base + "center.html"); });
    $("#signin").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var email = $("#email").value.trim();
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
        showErrors([{field: "email", text: t("portal.error.email")}]);
        return;
      }
      showErrors([]);
      api("POST", "signin", {email: email, lang: lang()}).then(function (res) {
        if (!res.ok) {
          showErrors([res.status === 422 ? {field: "email", text: t("portal.error.email")} : {text: apiError(res)}]);
          return;
        }
        $("#step-ask").hidden = true;
        $("#step-sent").hidden = false;
        say(t("portal.sent.title"));
      });
    });
    $("#again").addEventListener("click", function () {
      $("#step-sent").hidden = true;
      $("#step-ask").hidden = false;
      say("");
      $("#email").focus();
    });
  };

  /* ---- the center ---- */

  var me = null, data = null;

  function recordList() {
    var box = $("#record-list");
    box.textContent = "";
    if (!data.records.length) box.appendChild(el("p", t("portal.records.none")));
    data.records.forEach(function (r) {
      var art = el("article", null, "record");
      art.setAttribute("aria-labelledby", "rec-" + r.id);
      var h = el("h3", title(me.titles.kinds[r.kind], r.kind));
      h.id = "rec-" + r.id;
      art.appendChild(h);
      var dl = el("dl", null, "facts");
      function fact(term, value) {
        dl.appendChild(el("dt", term));
        dl.appendChild(el("dd", value));
      }
      Object.keys(r.fields || {}).forEach(function (name) {
        var v = r.fields[name];
        if (v === null || v === undefined) return;
        fact(title(me.titles.fields[name], name), typeof v === "object" ? JSON.stringify(v) : String(v));
      });
      fact(t("portal.records.why"), (r.purposes || []).map(function (p) {
        return title(p.title, p.name) + " (" + t("portal.basis." + p.legal_basis) + ")";
      }).join("; "));
      fact(t("portal.records.kept"), title(me.titles.keep[r.kind], r.retention));
      fact(t("portal.records.deleted"), r.planned_deletion ? t("portal.records.on", {date: day(r.planned_deletion)})
                                                          : t("portal.records.not_yet"));
      if (r.legal_hold) fact(t("portal.records.hold"), t("portal.records.hold_text"));
      art.appendChild(dl);
      box.appendChild(art);
    });
  }

  function stateText(p) {
    /* A purpose on legitimate interest needs no consent: "none" means in use, not objected to. */
    return t(!p.consent && p.state === "none" ? "portal.state.in_use" : "portal.state." + p.state);
  }

  function consentList() {
    var box = $("#consent-list");
    box.textContent = "";
    if (!me.purposes.length) box.appendChild(el("p", t("portal.consents.none")));
    me.purposes.forEach(function (p, i) {
      var art = el("article", null, "record");
      var h = el("h3", title(p.title, p.name));
      h.id = "purpose-" + i;
      art.setAttribute("aria-labelledby", h.id);
      art.appendChild(h);
      var dl = el("dl", null, "facts");
      dl.appendChild(el("dt", t("portal.consents.basis")));
      dl.appendChild(el("dd", t("portal.basis." + p.legal_basis)));
      dl.appendChild(el("dt", t("portal.consents.state")));
      dl.appendChild(el("dd", stateText(p)));
      if (p.text) {
        dl.appendChild(el("dt", t("portal.consents.words")));
        var dd = el("dd");
        dd.appendChild(el("q", p.text));
        dl.appendChild(dd);
      }
      if (p.updated_at) {
        dl.appendChild(el("dt", t("portal.consents.since")));
        dl.appendChild(el("dd", day(p.updated_at)));
      }
      art.appendChild(dl);
      /* The one change that makes sense from this state, said in plain words. */
      var action = null, granted = false, words = "";
      if (p.consent && (p.state === "granted" || p.state === "pending")) { action = "withdraw"; granted = false; }
      else if (p.consent) { action = "grant"; granted = true; words = t("portal.consents.grant_words", {purpose: title(p.title, p.name)}); }
      else if (p.state !== "objected") { action = "object"; granted = false; }
      if (action) {
        var form = el("form");
        form.noValidate = true;
        if (words) form.appendChild(el("p", words, "hint"));
        var b = el("button", t("portal.consents." + action));
        b.type = "submit";
        b.className = action === "grant" ? "" : "secondary";
        b.setAttribute("aria-describedby", h.id);
        form.appendChild(b);
        form.addEventListener("submit", function (ev) {
          ev.preventDefault();
          var body = {purpose: p.name, granted: granted};
          if (words) body.text = words;
          api("POST", "consents", body).then(function (res) {
            if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
            showErrors([]);
            refresh().then(function () {
              say(t("portal.consents.changed", {purpose: title(p.title, p.name), state: t("portal.state." + res.body.state)}));
            });
          });
        });
        art.appendChild(form);
      }
      box.appendChild(art);
    });
  }

  function disclosureList() {
    var rows = data.disclosures || [], tbody = $("#disclosure-table tbody");
    tbody.textContent = "";
    $("#no-disclosures").hidden = rows.length > 0;
    $("#disclosure-table").hidden = rows.length === 0;
    rows.forEach(function (d) {
      var tr = el("tr");
      tr.appendChild(el("td", day(d.at)));
      tr.appendChild(el("td", title(me.titles.recipients[d.recipient], d.recipient)));
      tr.appendChild(el("td", String(d.fields || "").split(",").map(function (f) {
        return title(me.titles.fields[f.trim()], f.trim());
      }).join(", ")));
      tr.appendChild(el("td", title(me.titles.purposes[d.purpose], d.purpose)));
      tbody.appendChild(tr);
    });
  }

  function requestList() {
    var tbody = $("#request-table tbody");
    tbody.textContent = "";
    /* A person the register does not know has no list: their answers come by e-mail. */
    $("#requests-title").hidden = !me.known;
    $("#no-requests").hidden = me.requests.length > 0 || !me.known;
    $("#request-table").hidden = me.requests.length === 0;
    me.requests.forEach(function (r) {
      var tr = el("tr");
      if (r.overdue) tr.className = "overdue";
      tr.appendChild(el("th", t("portal.type." + r.type)));
      tr.lastChild.setAttribute("scope", "row");
      var st = el("td", t("portal.status." + r.status), "mark");
      if (r.download) {
        st.appendChild(document.createTextNode(" "));
        var a = el("a", t("portal.requests.download"));
        a.href = base + "api/export?format=json";
        a.setAttribute("download", "my-data.json");
        st.appendChild(a);
      }
      tr.appendChild(st);
      tr.appendChild(el("td", day(r.received_at)));
      tr.appendChild(el("td", r.open ? day(r.due_at) : t("portal.requests.answered", {date: day(r.answered_at)})));
      tbody.appendChild(tr);
    });
  }

  var TYPES = ["access", "portability", "rectification", "erasure", "anonymization", "restriction", "objection"];

  function requestForm() {
    var list = $("#type-list");
    list.textContent = "";
    TYPES.forEach(function (type, i) {
      var div = el("div", null, "choice");
      var input = el("input");
      input.type = "radio";
      input.name = "type";
      input.value = type;
      input.id = "type-" + type;
      if (i === 0) input.checked = true;
      input.setAttribute("aria-describedby", "type-" + type + "-hint");
      var label = el("label", t("portal.type." + type));
      label.setAttribute("for", input.id);
      var hint = el("p", t("portal.hint." + type), "hint");
      hint.id = "type-" + type + "-hint";
      div.appendChild(input);
      div.appendChild(label);
      div.appendChild(hint);
      list.appendChild(div);
      input.addEventListener("change", function () { $("#rectify").hidden = type !== "rectification" || !me.known; });
    });
    var sel = $("#rectify-field");
    sel.textContent = "";
    if (data) {
      data.records.forEach(function (r) {
        Object.keys(r.fields || {}).forEach(function (name) {
          var o = el("option", title(me.titles.kinds[r.kind], r.kind) + ": " + title(me.titles.fields[name], name));
          o.value = r.id + " " + name;
          sel.appendChild(o);
        });
      });
    }
    $("#email-again").hidden = me.known;
  }

  function chosenType() {
    var c = document.querySelector("input[name=type]:checked");
    return c ? c.value : null;
  }

  function send(ev) {
    ev.preventDefault();
    var type = chosenType(), body = {type: type, lang: lang()}, details = {}, errs = [];
    var note = $("#note").value.trim();
    if (note) details.note = note;
    if (type === "rectification" && me.known) {
      var pick = $("#rectify-field").value.split(" "), value = $("#rectify-value").value.trim();
      if (!value) errs.push({field: "rectify-value", text: t("portal.error.value")});
      details.record_id = pick[0];
      details.changes = {};
      details.changes[pick[1]] = value;
    }
    if (!me.known) {
      body.email = $("#email").value.trim();
      if (!body.email) errs.push({field: "email", text: t("portal.error.email")});
    }
    showErrors(errs);
    if (errs.length) return;
    if (Object.keys(details).length) body.details = details;
    api("POST", "requests", body).then(function (res) {
      if (!res.ok) {
        showErrors([res.status === 422 && !me.known ? {field: "email", text: apiError(res)} : {text: apiError(res)}]);
        return;
      }
      $("#note").value = "";
      $("#rectify-value").value = "";
      var r = res.body;
      refresh().then(function () {
        say(t("portal.new.sent", {type: t("portal.type." + r.type), date: day(r.due_at)}));
        $("#status").focus();
      });
    });
  }

  function refresh() {
    return api("GET", "me").then(function (res) {
      if (res.status === 401) { window.location.replace(base); return new Promise(function () {}); }
      if (!res.ok) { showErrors([{text: apiError(res)}]); return null; }
      me = res.body;
      return me.known ? api("GET", "export?format=json") : {ok: true, body: null};
    }).then(function (res) {
      if (!res) return;
      if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
      data = res.body;
      document.querySelectorAll("[data-known]").forEach(function (e) { e.hidden = !me.known; });
      $("#nothing").hidden = me.known;
      $("#brand").textContent = t("portal.brand_of", {controller: me.controller.name});
      if (me.known) {
        recordList();
        consentList();
        disclosureList();
      }
      requestList();
      requestForm();
    });
  }

  pages.center = function () {
    api("GET", "session").then(function (res) {
      if (!res.ok) { window.location.replace(base); return; }
      session = res.body;
      $("#nav").hidden = false;
      $("#signout").addEventListener("click", function () {
        api("DELETE", "session").then(function () { window.location.replace(base); });
      });
      $("#new-request").addEventListener("submit", send);
      return refresh();
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    var sel = $("#lang");
    if (sel) sel.addEventListener("change", function () {
      try { window.localStorage.setItem("privreg.lang", sel.value); } catch (e) { /* private mode: this page only */ }
      loadTexts().then(function () { if (me) refresh(); });
    });
    loadTexts().then(function () {
      var page = pages[document.body.getAttribute("data-page")];
      if (page) page();
    });
  });
})();
