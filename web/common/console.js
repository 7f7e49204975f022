/* The staff console's script (docs/console.md): texts in the chosen
 * language, the session, and one function per page. Everything it shows
 * comes from the JSON API of this origin, as the signed-in person's role
 * allows; text from the API is set with textContent only, never as markup.
 * No page shows anything of the register before the session is checked. */
"use strict";
(function () {
  var texts = {};
  var session = null;

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

  function chosenLang() {
    try { return window.localStorage.getItem("privreg.lang"); } catch (e) { return null; }
  }

  function loadTexts() {
    var lang = chosenLang();
    return fetch("/console/i18n.json" + (lang ? "?lang=" + encodeURIComponent(lang) : ""), {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (j) {
        texts = j;
        document.documentElement.lang = j.lang || "en";
        document.querySelectorAll("[data-i18n]").forEach(function (e) { e.textContent = t(e.getAttribute("data-i18n")); });
        var title = $("h1");
        if (title) document.title = title.textContent + " – privreg";
        var sel = $("#lang");
        if (sel) sel.value = j.lang || "en";
      });
  }

  function api(method, path, body, headers) {
    var h = {"Accept": "application/json"};
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    if (body !== undefined) h["Content-Type"] = "application/json";
    if (session && method !== "GET") h["X-CSRF-Token"] = session.csrf;
    return fetch(path, {method: method, headers: h, credentials: "same-origin",
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
    if (res.status === 429) return t("error.too_many");
    if (res.body && res.body.error) return res.body.error.message;
    return t("error.generic");
  }

  /* The error summary at the top, each message linked to its field. */
  function showErrors(list) {
    var box = $("#errors"), ul = box.querySelector("ul");
    ul.textContent = "";
    document.querySelectorAll(".field-error").forEach(function (f) { f.classList.remove("field-error"); });
    list.forEach(function (item) {
      var li = el("li");
      if (item.field) {
        var a = el("a", item.text);
        a.href = "#" + item.field;
        li.appendChild(a);
        var input = document.getElementById(item.field);
        if (input) {
          input.setAttribute("aria-invalid", "true");
          input.closest(".field").classList.add("field-error");
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

  function days(iso) {
    var ms = Date.parse(iso) - Date.now();
    return ms >= 0 ? Math.ceil(ms / 86400000) : -Math.ceil(-ms / 86400000);
  }

  function day(iso) { return iso ? iso.slice(0, 10) : "–"; }

  /* The session, or off to the sign-in page. */
  function requireSession() {
    return api("GET", "/console/session").then(function (res) {
      if (!res.ok) {
        window.location.replace("index.html");
        return new Promise(function () {});
      }
      session = res.body;
      document.querySelectorAll("[data-roles]").forEach(function (e) {
        e.hidden = e.getAttribute("data-roles").split(" ").indexOf(session.role) < 0;
      });
      $("#who").textContent = t("nav.role", {role: t("role." + session.role)});
      $("#nav").hidden = false;
      $("#signout").addEventListener("click", function () {
        api("DELETE", "/console/session").then(function () { window.location.replace("index.html"); });
      });
      return session;
    });
  }

  var pages = {};

  pages.signin = function () {
    api("GET", "/console/session").then(function (res) { if (res.ok) window.location.replace("queue.html"); });
    $("#signin").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var v = {email: $("#email").value.trim(), password: $("#password").value, code: $("#code").value.trim()};
      var missing = [];
      if (!v.email) missing.push({field: "email", text: t("error.email")});
      if (!v.password) missing.push({field: "password", text: t("error.password")});
      if (!/^[0-9]{6}$/.test(v.code)) missing.push({field: "code", text: t("error.code")});
      showErrors(missing);
      if (missing.length) return;
      api("POST", "/console/session", v).then(function (res) {
        if (res.ok) { window.location.replace("queue.html"); return; }
        $("#code").value = "";
        showErrors([{text: res.status === 401 ? t("error.signin") : apiError(res)}]);
      });
    });
  };

  pages.enrol = function () {
    var token = window.location.hash.slice(1);
    if (!token) { showErrors([{text: t("error.enrol_link")}]); return; }
    /* The token stays in the fragment: never sent in a URL, a log or a Referer. */
    api("POST", "/console/enrolment", {token: token}).then(function (res) {
      if (!res.ok) { showErrors([{text: res.status === 404 ? t("error.enrol_link") : apiError(res)}]); return; }
      var s = res.body;
      $("#secret").textContent = s.secret.replace(/(.{4})/g, "$1 ").trim();
      $("#account").textContent = s.email;
      var label = s.issuer + ":" + s.email;
      var uri = "otpauth://totp/" + encodeURIComponent(label) + "?secret=" + s.secret + "&issuer=" +
                encodeURIComponent(s.issuer) + "&algorithm=SHA1&digits=" + s.digits + "&period=" + s.period;
      var svg = window.privregQR.svg(uri) || window.privregQR.svg("otpauth://totp/" + encodeURIComponent(s.issuer) +
                "?secret=" + s.secret + "&issuer=" + encodeURIComponent(s.issuer));
      if (svg) {
        svg.setAttribute("role", "img");
        svg.setAttribute("aria-label", t("enrol.qr_caption"));
        $("#qr").appendChild(svg);
      }
      $("#step-secret").hidden = false;
    });
    $("#enrol").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var pw = $("#password").value, code = $("#code").value.trim(), errs = [];
      if (Array.from(pw).length < 12) errs.push({field: "password", text: t("error.password_short")});
      else if (pw !== $("#password2").value) errs.push({field: "password2", text: t("error.password_same")});
      if (!/^[0-9]{6}$/.test(code)) errs.push({field: "code", text: t("error.code")});
      showErrors(errs);
      if (errs.length) return;
      api("POST", "/console/enrolment/confirm", {token: token, password: pw, code: code}).then(function (res) {
        if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
        $("#step-secret").hidden = true;
        $("#step-done").hidden = false;
        history.replaceState(null, "", "enrol.html");
        say(t("enrol.done"));
      });
    });
  };

  pages.queue = function () {
    requireSession().then(function () {
      return api("GET", "/v1/requests?limit=1000");
    }).then(function (res) {
      if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
      var open = res.body.requests.filter(function (r) {
        return ["received", "verifying", "in_progress"].indexOf(r.status) >= 0;
      });
      open.sort(function (a, b) { return Date.parse(a.due_at) - Date.parse(b.due_at); });
      var tbody = $("#queue tbody");
      open.forEach(function (r) {
        var tr = el("tr"), left = days(r.due_at);
        if (r.overdue) tr.className = "overdue";
        var due = el("td"), a = el("a", day(r.due_at));
        a.href = "request.html#" + r.id;
        a.setAttribute("aria-label", t("queue.open", {type: t("type." + r.type), due: day(r.due_at)}));
        due.appendChild(a);
        tr.appendChild(due);
        tr.appendChild(el("td", r.overdue ? t("queue.overdue", {n: -left}) : t("queue.days", {n: left}), "mark"));
        tr.appendChild(el("td", t("type." + r.type)));
        tr.appendChild(el("td", t("status." + r.status)));
        tr.appendChild(el("td", day(r.received_at)));
        tbody.appendChild(tr);
      });
      $("#queue").hidden = open.length === 0;
      $("#empty").hidden = open.length !== 0;
    });
  };

  function showRequest(r) {
    var dl = $("#facts");
    dl.textContent = "";
    [["request.id", r.id], ["queue.type", t("type." + r.type)], ["queue.state", t("status." + r.status)],
     ["queue.received", day(r.received_at)], ["queue.due", day(r.due_at)],
     ["queue.left", r.overdue ? t("queue.overdue", {n: -days(r.due_at)}) : t("queue.days", {n: days(r.due_at)})],
     ["request.extended", r.extended_at ? day(r.extended_at) + " – " + r.extension_reason : "–"],
     ["request.answered", r.answered_at ? day(r.answered_at) : "–"],
     ["request.subject", r.subject_id || "–"]].forEach(function (row) {
      dl.appendChild(el("dt", t(row[0])));
      dl.appendChild(el("dd", row[1]));
    });
    dl.hidden = false;
    var open = ["received", "verifying", "in_progress"].indexOf(r.status) >= 0;
    $("#actions").hidden = !open || ["admin", "dpo"].indexOf(session.role) < 0;
    $("#extend").hidden = !!r.extended_at;
    $("#extend").previousElementSibling.hidden = !!r.extended_at;
    $("#extend").previousElementSibling.previousElementSibling.hidden = !!r.extended_at;
  }

  pages.request = function () {
    var id = window.location.hash.slice(1);
    requireSession().then(function () {
      return api("GET", "/v1/requests/" + encodeURIComponent(id));
    }).then(function (res) {
      if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
      showRequest(res.body);
    });
    $("#extend").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var reason = $("#reason").value.trim();
      if (!reason) { showErrors([{field: "reason", text: t("error.reason")}]); return; }
      api("POST", "/v1/requests/" + encodeURIComponent(id) + "/extend", {reason: reason}).then(function (res) {
        if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
        showErrors([]);
        showRequest(res.body);
        say(t("request.extended_ok"));
      });
    });
    $("#complete").addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("POST", "/v1/requests/" + encodeURIComponent(id) + "/complete", {}).then(function (res) {
        if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
        showErrors([]);
        showRequest(res.body.request || res.body);
        say(t("request.completed_ok"));
      });
    });
  };

  pages.audit = function () {
    requireSession().then(function () {
      return Promise.all([api("GET", "/v1/audit/verify"), api("GET", "/v1/audit?limit=1000")]);
    }).then(function (res) {
      var v = res[0], list = res[1];
      if (!v.ok || !list.ok) { showErrors([{text: apiError(v.ok ? list : v)}]); return; }
      var chain = $("#chain");
      chain.textContent = v.body.ok ? t("audit.chain_ok", {n: v.body.entries}) : t("audit.chain_bad", {n: v.body.entries});
      chain.className = v.body.ok ? "panel" : "panel bad";
      chain.hidden = false;
      var tbody = $("#audit tbody");
      list.body.entries.slice().reverse().forEach(function (e) {
        var tr = el("tr");
        tr.appendChild(el("td", (e.at || "").replace("T", " ").slice(0, 19)));
        tr.appendChild(el("td", e.key_id));
        tr.appendChild(el("td", e.role));
        tr.appendChild(el("td", e.action));
        tr.appendChild(el("td", e.subject_id || e.record_id || e.detail || ""));
        tr.appendChild(el("td", e.outcome));
        tbody.appendChild(tr);
      });
      $("#audit").hidden = false;
    });
  };

  pages.holds = function () {
    requireSession().then(function () {
      return api("GET", "/v1/holds");
    }).then(function (res) {
      if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
      var tbody = $("#holds tbody");
      res.body.holds.forEach(function (h) {
        var tr = el("tr");
        tr.appendChild(el("td", day(h.created_at)));
        tr.appendChild(el("td", h.until ? day(h.until) : t("holds.lifted_by_hand")));
        tr.appendChild(el("td", h.record_id || h.subject_id));
        tr.appendChild(el("td", h.reason === null ? t("holds.reason_withheld") : h.reason));
        tr.appendChild(el("td", h.forbid_disclosure ? t("holds.forbidden") : t("holds.allowed")));
        tbody.appendChild(tr);
      });
      $("#holds").hidden = res.body.holds.length === 0;
      $("#empty").hidden = res.body.holds.length !== 0;
    });
  };

  /* A stacked bar per month, one colour per kind, drawn from the JSON the
   * table shows too (the table is what a screen reader reads). */
  var KIND_COLOURS = ["#1d4f91", "#00703c", "#a4161a", "#6f3c91", "#505a5f", "#8a5a00"];

  function barChart(months, kinds, counts, fullLabels) {
    var ns = "http://www.w3.org/2000/svg", W = 640, H = 260, left = 44, bottom = 40, top = 12;
    var max = 1;
    months.forEach(function (m) {
      var sum = 0;
      kinds.forEach(function (k) { sum += counts[m + " " + k] || 0; });
      max = Math.max(max, sum);
    });
    function node(tag, attrs, text) {
      var e = document.createElementNS(ns, tag);
      Object.keys(attrs).forEach(function (a) { e.setAttribute(a, attrs[a]); });
      if (text !== undefined) e.textContent = text;
      return e;
    }
    var svg = node("svg", {viewBox: "0 0 " + W + " " + (H + 30 + 20 * Math.ceil(kinds.length / 3)), role: "img",
                           "aria-labelledby": "chart-caption", "class": "bars"});
    var plotH = H - bottom - top, slot = (W - left) / Math.max(months.length, 1), bw = Math.min(40, slot * 0.7);
    [0, 0.5, 1].forEach(function (f) {
      var y = top + plotH * (1 - f);
      svg.appendChild(node("line", {x1: left, x2: W, y1: y, y2: y, stroke: "#b1b4b6"}));
      svg.appendChild(node("text", {x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 12, fill: "#1b1b1b"},
                           String(Math.round(max * f))));
    });
    months.forEach(function (m, i) {
      var x = left + slot * i + (slot - bw) / 2, y = top + plotH;
      kinds.forEach(function (k, ki) {
        var n = counts[m + " " + k] || 0, h = plotH * n / max;
        if (!n) return;
        y -= h;
        var r = node("rect", {x: x, y: y, width: bw, height: h, fill: KIND_COLOURS[ki % KIND_COLOURS.length]});
        r.appendChild(node("title", {}, m + " · " + k + ": " + n));
        svg.appendChild(r);
      });
      svg.appendChild(node("text", {x: x + bw / 2, y: H - bottom + 16, "text-anchor": "middle", "font-size": 11,
                                    fill: "#1b1b1b"}, fullLabels ? m : m.slice(2)));
    });
    kinds.forEach(function (k, ki) {
      var lx = left + (ki % 3) * 200, ly = H + 10 + 20 * Math.floor(ki / 3);
      svg.appendChild(node("rect", {x: lx, y: ly, width: 12, height: 12, fill: KIND_COLOURS[ki % KIND_COLOURS.length]}));
      svg.appendChild(node("text", {x: lx + 18, y: ly + 11, "font-size": 12, fill: "#1b1b1b"}, k));
    });
    return svg;
  }

  pages.retention = function () {
    requireSession().then(function () {
      return api("GET", "/v1/retention/forecast?months=12");
    }).then(function (res) {
      if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
      var rows = res.body.forecast, months = [], kinds = [], counts = {};
      var d = new Date();
      for (var i = 0; i < res.body.months; i++) {
        var m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + i, 1));
        months.push(m.toISOString().slice(0, 7));
      }
      rows.forEach(function (r) {
        if (kinds.indexOf(r.kind) < 0) kinds.push(r.kind);
        counts[r.month + " " + r.kind] = (counts[r.month + " " + r.kind] || 0) + r.count;
      });
      if (res.body.overdue) {
        $("#overdue").textContent = t("retention.overdue", {n: res.body.overdue});
        $("#overdue").hidden = false;
      }
      var tbody = $("#forecast tbody");
      rows.forEach(function (r) {
        var tr = el("tr");
        tr.appendChild(el("td", r.month));
        tr.appendChild(el("td", r.kind));
        tr.appendChild(el("td", t("retention.action." + r.action)));
        tr.appendChild(el("td", r.count));
        tbody.appendChild(tr);
      });
      $("#chart").appendChild(barChart(months, kinds, counts));
      $("#forecast").hidden = rows.length === 0;
      $("#empty").hidden = rows.length !== 0;
    });
  };

  /* The latest kept attestation (docs/attestation.md). Evidence is facts
   * (scalars) and lists of rows, each list NAME with NAME_count: shown as the
   * count and the first few rows, so a long list stays a glance. */
  var ATTEST_ROWS = 3;

  function when(iso) { return iso ? iso.replace("T", " ").replace("Z", " UTC") : "–"; }

  function evidenceValue(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "boolean") return t(v ? "attest.yes" : "attest.no");
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  function evidence(ev) {
    var dl = el("dl", null, "facts evidence");
    Object.keys(ev || {}).forEach(function (k) {
      var v = ev[k];
      if (/_count$/.test(k) && Array.isArray(ev[k.slice(0, -6)])) return;
      dl.appendChild(el("dt", k));
      if (!Array.isArray(v)) { dl.appendChild(el("dd", evidenceValue(v))); return; }
      var n = typeof ev[k + "_count"] === "number" ? ev[k + "_count"] : v.length;
      var dd = el("dd", null);
      dd.appendChild(el("span", t("attest.count", {n: n})));
      if (v.length) {
        var ul = el("ul", null, "rows");
        v.slice(0, ATTEST_ROWS).forEach(function (row) {
          var text = typeof row === "object" && row !== null ?
            Object.keys(row).map(function (f) { return f + ": " + evidenceValue(row[f]); }).join(", ") : evidenceValue(row);
          ul.appendChild(el("li", text));
        });
        if (n > ATTEST_ROWS) ul.appendChild(el("li", t("attest.more", {n: n - ATTEST_ROWS}), "more"));
        dd.appendChild(ul);
      }
      dl.appendChild(dd);
    });
    return dl;
  }

  pages.attestation = function () {
    requireSession().then(function () {
      return api("GET", "/v1/attestation?latest=1");
    }).then(function (res) {
      if (res.status === 404) { $("#none").hidden = false; return; }
      if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
      var doc = res.body, claims = doc.claims || [], sig = doc.signature || {};
      var bad = claims.filter(function (c) { return !c.holds; }).length;
      var summary = $("#summary");
      summary.textContent = bad ? t("attest.summary_bad", {n: bad, all: claims.length}) :
                                  t("attest.summary_ok", {all: claims.length});
      summary.className = bad ? "panel bad" : "panel";
      var dl = $("#facts");
      [["attest.as_of", when(doc.as_of)],
       ["attest.period", when(doc.period && doc.period.from) + " – " + when(doc.period && doc.period.to)],
       ["attest.tenant", doc.tenant], ["attest.key_id", sig.key_id || "–"],
       ["attest.alg", sig.alg || "–"]].forEach(function (row) {
        dl.appendChild(el("dt", t(row[0])));
        dl.appendChild(el("dd", row[1]));
      });
      var box = $("#claims");
      claims.forEach(function (c) {
        var sec = el("section", null, "claim " + (c.holds ? "holds" : "fails"));
        sec.setAttribute("data-claim", c.name);
        var h = el("h2");
        var key = "attest.claim." + c.name, title = t(key);
        h.appendChild(el("span", title === key ? c.name : title));
        h.appendChild(el("span", c.holds ? t("attest.holds") : t("attest.fails"), "verdict"));
        sec.appendChild(h);
        sec.appendChild(evidence(c.evidence));
        box.appendChild(sec);
      });
      $("#doc").hidden = false;
    });
  };

  /* The staff accounts; an admin adds, invites again and disables them
   * (POST /v1/users...: the API refuses anyone else). A link is shown once. */
  pages.users = function () {
    function showLink(link) {
      $("#link").textContent = link;
      $("#link-box").hidden = false;
    }
    function load() {
      return api("GET", "/v1/users").then(function (res) {
        if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
        var tbody = $("#users tbody");
        tbody.textContent = "";
        res.body.users.forEach(function (u) {
          var tr = el("tr");
          tr.appendChild(el("td", u.email));
          tr.appendChild(el("td", t("role." + u.role)));
          tr.appendChild(el("td", t("users.status." + u.status)));
          tr.appendChild(el("td", day(u.created_at)));
          tr.appendChild(el("td", "user:" + u.id));
          var td = el("td", null, "actions");
          if (u.status !== "disabled") {
            var inv = el("button", t("users.invite"), "secondary");
            inv.type = "button";
            inv.setAttribute("aria-label", t("users.invite") + ": " + u.email);
            inv.addEventListener("click", function () {
              api("POST", "/v1/users/" + encodeURIComponent(u.id) + "/invite").then(function (r) {
                if (!r.ok) { showErrors([{text: apiError(r)}]); return; }
                showErrors([]);
                say(t("users.invited", {email: u.email}));
                showLink(r.body.link);
                load();
              });
            });
            var dis = el("button", t("users.disable"), "secondary");
            dis.type = "button";
            dis.setAttribute("aria-label", t("users.disable") + ": " + u.email);
            dis.addEventListener("click", function () {
              if (dis.getAttribute("data-confirm") !== "1") { /* one more click confirms */
                dis.setAttribute("data-confirm", "1");
                dis.textContent = t("users.disable_confirm");
                dis.setAttribute("aria-label", t("users.disable_confirm") + ": " + u.email);
                return;
              }
              api("POST", "/v1/users/" + encodeURIComponent(u.id) + "/disable").then(function (r) {
                if (!r.ok) { showErrors([{text: apiError(r)}]); return; }
                showErrors([]);
                say(t("users.disabled", {email: u.email}));
                load();
              });
            });
            td.appendChild(inv);
            td.appendChild(document.createTextNode(" "));
            td.appendChild(dis);
          }
          tr.appendChild(td);
          tbody.appendChild(tr);
        });
        $("#users").hidden = false;
      });
    }
    requireSession().then(load);
    $("#add").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var email = $("#new-email").value.trim(), role = $("#new-role").value;
      if (!email) { showErrors([{field: "new-email", text: t("error.email")}]); return; }
      api("POST", "/v1/users", {email: email, role: role}).then(function (r) {
        if (!r.ok) { showErrors([{field: "new-email", text: apiError(r)}]); return; }
        showErrors([]);
        $("#new-email").value = "";
        say(t("users.added", {email: email}));
        showLink(r.body.link);
        load();
      });
    });
  };

  /* The disclosure log, newest first, filtered by recipient and dates;
   * "older" goes on from the last row shown. */
  pages.disclosures = function () {
    var before = null;
    function query() {
      var q = ["limit=100"], rec = $("#recipient").value, since = $("#since").value, until = $("#until").value;
      if (rec) q.push("recipient=" + encodeURIComponent(rec));
      if (since) q.push("since=" + encodeURIComponent(since));
      if (until) q.push("until=" + encodeURIComponent(until));
      if (before) q.push("before=" + encodeURIComponent(before));
      return "/v1/disclosures?" + q.join("&");
    }
    function load(more) {
      if (!more) { before = null; $("#log tbody").textContent = ""; }
      return api("GET", query()).then(function (res) {
        if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
        showErrors([]);
        var tbody = $("#log tbody");
        res.body.disclosures.forEach(function (d) {
          var tr = el("tr");
          tr.appendChild(el("td", when(d.at)));
          tr.appendChild(el("td", d.recipient));
          tr.appendChild(el("td", d.purpose));
          tr.appendChild(el("td", d.fields.split(",").join(", ")));
          tr.appendChild(el("td", d.subject_id));
          tr.appendChild(el("td", d.legal_reference || "–"));
          tbody.appendChild(tr);
        });
        before = res.body.next_before || null;
        $("#more").hidden = !before;
        var any = tbody.children.length > 0;
        $("#log").hidden = !any;
        $("#empty").hidden = any;
      });
    }
    requireSession().then(function () {
      return api("GET", "/v1/policy");
    }).then(function (res) {
      if (res.ok && res.body.recipients) {
        Object.keys(res.body.recipients).forEach(function (r) {
          var o = el("option", r);
          o.value = r;
          $("#recipient").appendChild(o);
        });
      }
      return load(false);
    });
    $("#filter").addEventListener("submit", function (ev) { ev.preventDefault(); load(false); });
    $("#more").addEventListener("click", function () { load(true); });
  };

  /* Notifications no system or recipient acknowledged yet; a DPO or admin
   * waives one with its reason. */
  pages.deliveries = function () {
    var chosen = null;
    var mayWaive = false;
    function load() {
      return api("GET", "/v1/notifications").then(function (res) {
        if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
        var tbody = $("#pending tbody");
        tbody.textContent = "";
        res.body.notifications.forEach(function (n) {
          var tr = el("tr");
          tr.appendChild(el("td", when(n.created_at)));
          var td = el("td");
          if (n.request_id) {
            var a = el("a", n.request_id);
            a.href = "request.html?id=" + encodeURIComponent(n.request_id);
            td.appendChild(a);
          } else {
            td.textContent = "–";
          }
          tr.appendChild(td);
          tr.appendChild(el("td", n.target + " (" + n.channel + ")"));
          tr.appendChild(el("td", n.event));
          var st = el("td", t("deliveries.status." + n.status, {n: n.attempts}));
          if (n.last_error) st.appendChild(el("span", " " + t("deliveries.last_error", {error: n.last_error}), "hint"));
          tr.appendChild(st);
          var act = el("td");
          if (mayWaive && n.request_id) {
            var b = el("button", t("deliveries.waive"), "secondary");
            b.type = "button";
            b.setAttribute("aria-label", t("deliveries.waive") + ": " + n.target + ", " + n.request_id);
            b.addEventListener("click", function () {
              chosen = n;
              $("#waive-what").textContent = n.target + " · " + n.event + " · " + n.request_id;
              $("#waive").hidden = false;
              $("#reason").focus();
            });
            act.appendChild(b);
          } else {
            act.textContent = "–";
          }
          tr.appendChild(act);
          tbody.appendChild(tr);
        });
        var any = res.body.notifications.length > 0;
        $("#pending").hidden = !any;
        $("#empty").hidden = any;
      });
    }
    requireSession().then(function (s) {
      mayWaive = s.role === "admin" || s.role === "dpo";
      return load();
    });
    $("#waive-cancel").addEventListener("click", function () { $("#waive").hidden = true; chosen = null; });
    $("#waive").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var reason = $("#reason").value.trim();
      if (!reason) { showErrors([{field: "reason", text: t("deliveries.reason_missing")}]); return; }
      if (!chosen) return;
      api("POST", "/v1/requests/" + encodeURIComponent(chosen.request_id) + "/notifications/" + chosen.id + "/waive",
          {reason: reason}).then(function (res) {
        if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
        showErrors([]);
        say(t("deliveries.waived"));
        $("#waive").hidden = true;
        $("#reason").value = "";
        chosen = null;
        load();
      });
    });
  };

  /* The policy in force: its notice as people see it, in each of its
   * languages (the notice's own page, its headings one level down and its
   * landmarks unwrapped, so it sits inside this page), and its YAML. */
  pages.policy = function () {
    function showNotice(lang) {
      fetch("/v1/notice?lang=" + encodeURIComponent(lang), {credentials: "same-origin"}).then(function (r) {
        return r.text().then(function (text) { return {ok: r.ok, text: text}; });
      }).then(function (res) {
        var box = $("#notice");
        box.textContent = "";
        if (!res.ok) { showErrors([{text: t("error.generic")}]); return; }
        var doc = new DOMParser().parseFromString(res.text, "text/html");
        var src = doc.querySelector("main") || doc.body;
        Array.prototype.slice.call(src.childNodes).forEach(function (n) { box.appendChild(document.importNode(n, true)); });
        box.querySelectorAll("script, style, link").forEach(function (e) { e.remove(); });
        ["h5", "h4", "h3", "h2", "h1"].forEach(function (h) {
          box.querySelectorAll(h).forEach(function (e) {
            var lower = document.createElement("h" + Math.min(6, Number(h.slice(1)) + 1));
            lower.textContent = e.textContent;
            e.replaceWith(lower);
          });
        });
        box.setAttribute("lang", lang);
      });
    }
    requireSession().then(function () {
      return api("GET", "/v1/policy");
    }).then(function (res) {
      if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
      $("#version").textContent = t("policy.version", {version: res.body.version});
      var sel = $("#notice-lang");
      (res.body.languages || []).forEach(function (l) {
        var o = el("option", l);
        o.value = l;
        sel.appendChild(o);
      });
      sel.addEventListener("change", function () { showNotice(sel.value); });
      if (sel.value) showNotice(sel.value);
      return fetch("/v1/policy/source", {credentials: "same-origin"}).then(function (r) { return r.text(); });
    }).then(function (yaml) {
      if (typeof yaml === "string") $("#source").textContent = yaml;
    });
  };

  /* The cookie banner's counts (docs/banner.md): the bars of the policy in
   * force, every version in the table. */
  pages.banner = function () {
    requireSession().then(function (s) {
      $("#snippet").textContent = '<script src="' + window.location.origin + "/banner/" + s.tenant + '.js"></script>';
      return api("GET", "/v1/banner/counts");
    }).then(function (res) {
      if (!res.ok) { showErrors([{text: apiError(res)}]); return; }
      var b = res.body, counts = {}, tbody = $("#counts tbody");
      $("#keep").textContent = t("banner_page.keep", {days: b.keep_days});
      b.counts.forEach(function (c) {
        if (c.policy_version === b.policy_version) {
          counts[c.category + " " + t("banner_page.accepted")] = c.accepted;
          counts[c.category + " " + t("banner_page.refused")] = c.refused;
        }
        var tr = el("tr");
        tr.appendChild(el("td", c.policy_version));
        tr.appendChild(el("td", c.category));
        tr.appendChild(el("td", c.accepted));
        tr.appendChild(el("td", c.refused));
        tr.appendChild(el("td", c.gpc));
        tbody.appendChild(tr);
      });
      $("#chart").appendChild(barChart(b.categories, [t("banner_page.accepted"), t("banner_page.refused")], counts, true));
      $("#counts").hidden = b.counts.length === 0;
      $("#empty").hidden = b.counts.length !== 0;
    });
  };

  pages.subject = function () {
    requireSession().then(function () {
      return api("GET", "/v1/policy");
    }).then(function (res) {
      if (!res.ok || !res.body.purposes) return;
      var dl = $("#purposes");
      Object.keys(res.body.purposes).forEach(function (p) {
        var o = document.createElement("option");
        o.value = p;
        dl.appendChild(o);
      });
    });
    $("#lookup").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var purpose = $("#purpose").value.trim(), sid = $("#sid").value.trim(), errs = [];
      if (!purpose) errs.push({field: "purpose", text: t("error.purpose")});
      if (!sid) errs.push({field: "sid", text: t("error.sid")});
      showErrors(errs);
      if (errs.length) return;
      api("GET", "/v1/subjects/" + encodeURIComponent(sid), undefined, {"X-Purpose": purpose}).then(function (res) {
        var box = $("#record-list");
        box.textContent = "";
        if (!res.ok) { $("#records").hidden = true; showErrors([{text: apiError(res)}]); return; }
        (res.body.records || []).forEach(function (r) {
          var div = el("div", null, "record");
          div.appendChild(el("h3", r.kind + " · " + r.id));
          var dl = el("dl", null, "facts");
          Object.keys(r.fields || {}).forEach(function (k) {
            dl.appendChild(el("dt", k));
            var v = r.fields[k];
            dl.appendChild(el("dd", typeof v === "object" ? JSON.stringify(v) : v));
          });
          div.appendChild(dl);
          box.appendChild(div);
        });
        $("#records").hidden = false;
      });
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    var sel = $("#lang");
    sel.addEventListener("change", function () {
      try { window.localStorage.setItem("privreg.lang", sel.value); } catch (e) { /* private mode: this page only */ }
      loadTexts();
    });
    loadTexts().then(function () {
      var page = pages[document.body.getAttribute("data-page")];
      if (page) page();
    });
  });
})();
