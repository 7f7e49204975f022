/* qr: a small QR code encoder for the console's enrolment page (ISO/IEC
 * 18004): byte mode, error correction level M, versions 1 to 10 (up to 213
 * bytes, room for an otpauth:// URI with a long e-mail), drawn as an SVG of
 * dark modules with a four-module quiet zone. Written for privreg (same
 * licence as privreg, AGPL-3.0-or-later). window.privregQR.svg(text) gives
 * an <svg> element, or null when the text does not fit. */
"use strict";
(function () {
  /* Level M, per version: [EC codewords per block, blocks of group 1, data
   * codewords each, blocks of group 2, data codewords each]. */
  var M = [null, [10, 1, 16, 0, 0], [16, 1, 28, 0, 0], [26, 1, 44, 0, 0], [18, 2, 32, 0, 0], [24, 2, 43, 0, 0],
           [16, 4, 27, 0, 0], [18, 4, 31, 0, 0], [22, 2, 38, 2, 39], [22, 3, 36, 2, 37], [26, 4, 43, 1, 44]];
  var ALIGN = [null, [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50]];

  /* GF(256) with the polynomial 0x11D. */
  var EXP = new Array(512), LOG = new Array(256);
  (function () {
    var x = 1;
    for (var i = 0; i < 255; i++) { EXP[i] = x; LOG[x] = i; x <<= 1; if (x & 256) x ^= 0x11D; }
    for (i = 255; i < 512; i++) EXP[i] = EXP[i - 255];
  })();
  function mul(a, b) { return a && b ? EXP[LOG[a] + LOG[b]] : 0; }

  function ecc(data, n) {
    var gen = [1];
    for (var i = 0; i < n; i++) {
      var next = new Array(gen.length + 1).fill(0);
      for (var j = 0; j < gen.length; j++) { next[j] ^= gen[j]; next[j + 1] ^= mul(gen[j], EXP[i]); }
      gen = next;
    }
    var rem = new Array(n).fill(0);
    data.forEach(function (d) {
      var f = d ^ rem[0];
      rem.shift(); rem.push(0);
      for (var k = 0; k < n; k++) rem[k] ^= mul(gen[k + 1], f);
    });
    return rem;
  }

  function utf8(text) { return Array.from(new TextEncoder().encode(text)); }

  function codewords(bytes, v) {
    var p = M[v], ndata = p[1] * p[2] + p[3] * p[4], bits = [];
    function put(val, len) { for (var i = len - 1; i >= 0; i--) bits.push((val >>> i) & 1); }
    put(4, 4);
    put(bytes.length, v < 10 ? 8 : 16);
    bytes.forEach(function (b) { put(b, 8); });
    if (bits.length > ndata * 8) return null;
    put(0, Math.min(4, ndata * 8 - bits.length));
    while (bits.length % 8) bits.push(0);
    var data = [];
    for (var i = 0; i < bits.length; i += 8) data.push(parseInt(bits.slice(i, i + 8).join(""), 2));
    for (var pad = 0; data.length < ndata; pad++) data.push(pad % 2 ? 0x11 : 0xEC);
    var blocks = [], eccs = [], at = 0;
    for (var b = 0; b < p[1] + p[3]; b++) {
      var len = b < p[1] ? p[2] : p[4];
      blocks.push(data.slice(at, at + len));
      eccs.push(ecc(data.slice(at, at + len), p[0]));
      at += len;
    }
    var out = [], maxlen = Math.max(p[2], p[4]);
    for (i = 0; i < maxlen; i++) blocks.forEach(function (bl) { if (i < bl.length) out.push(bl[i]); });
    for (i = 0; i < p[0]; i++) eccs.forEach(function (e) { out.push(e[i]); });
    return out;
  }

  function bch(value, poly, polyBits) {
    var v = value << (polyBits - 1);
    for (var i = 31; i >= polyBits - 1; i--) if ((v >>> i) & 1) v ^= poly << (i - polyBits + 1);
    return (value << (polyBits - 1)) | v;
  }

  var MASKS = [
    function (r, c) { return (r + c) % 2 === 0; },
    function (r) { return r % 2 === 0; },
    function (r, c) { return c % 3 === 0; },
    function (r, c) { return (r + c) % 3 === 0; },
    function (r, c) { return (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0; },
    function (r, c) { return (r * c) % 2 + (r * c) % 3 === 0; },
    function (r, c) { return ((r * c) % 2 + (r * c) % 3) % 2 === 0; },
    function (r, c) { return ((r + c) % 2 + (r * c) % 3) % 2 === 0; },
  ];

  function build(v, words, mask) {
    var size = 17 + 4 * v, m = [], fixed = [];
    for (var i = 0; i < size; i++) { m.push(new Array(size).fill(false)); fixed.push(new Array(size).fill(false)); }
    function set(r, c, dark) { m[r][c] = dark; fixed[r][c] = true; }
    function finder(r0, c0) {
      for (var r = -1; r <= 7; r++) for (var c = -1; c <= 7; c++) {
        var rr = r0 + r, cc = c0 + c;
        if (rr < 0 || cc < 0 || rr >= size || cc >= size) continue;
        var ring = Math.max(Math.abs(r - 3), Math.abs(c - 3));
        set(rr, cc, ring !== 2 && ring !== 4);
      }
    }
    finder(0, 0); finder(0, size - 7); finder(size - 7, 0);
    for (i = 8; i < size - 8; i++) { set(6, i, i % 2 === 0); set(i, 6, i % 2 === 0); }
    var al = ALIGN[v];
    var last = al.length - 1;
    al.forEach(function (r, ri) {
      al.forEach(function (c, ci) {
        if ((ri === 0 && ci === 0) || (ri === 0 && ci === last) || (ri === last && ci === 0)) return; /* the finders */
        for (var dr = -2; dr <= 2; dr++) for (var dc = -2; dc <= 2; dc++)
          set(r + dr, c + dc, Math.max(Math.abs(dr), Math.abs(dc)) !== 1);
      });
    });
    set(size - 8, 8, true); /* the dark module */
    /* Format bits: level M is 00, then the mask. */
    var format = bch(mask, 0x537, 11) ^ 0x5412;
    for (i = 0; i < 15; i++) {
      var bit = ((format >>> i) & 1) === 1;
      /* Beside the top-left finder: down column 8, then left along row 8. */
      if (i < 6) set(i, 8, bit); else if (i < 8) set(i + 1, 8, bit); else if (i === 8) set(8, 7, bit); else set(8, 14 - i, bit);
      /* The copy: row 8 at the right, then column 8 at the bottom. */
      if (i < 8) set(8, size - 1 - i, bit); else set(size - 15 + i, 8, bit);
    }
    if (v >= 7) {
      var ver = bch(v, 0x1F25, 13);
      for (i = 0; i < 18; i++) {
        var vb = ((ver >>> i) & 1) === 1, a = Math.floor(i / 3), b = size - 11 + (i % 3);
        set(a, b, vb); set(b, a, vb);
      }
    }
    /* Data, in two-column zigzags from the bottom right, skipping column 6. */
    var bitIndex = 0, total = words.length * 8, up = true;
    for (var col = size - 1; col > 0; col -= 2) {
      if (col === 6) col = 5;
      for (var k = 0; k < size; k++) {
        var row = up ? size - 1 - k : k;
        for (var j = 0; j < 2; j++) {
          var cc = col - j;
          if (fixed[row][cc]) continue;
          var dark = bitIndex < total && ((words[bitIndex >> 3] >>> (7 - (bitIndex & 7))) & 1) === 1;
          bitIndex++;
          m[row][cc] = dark !== MASKS[mask](row, cc);
        }
      }
      up = !up;
    }
    return m;
  }

  /* ISO 18004's penalty rules 1, 2 and 4 (3 is left out: it only helps choose). */
  function penalty(m) {
    var size = m.length, score = 0, dark = 0;
    for (var r = 0; r < size; r++) {
      for (var pass = 0; pass < 2; pass++) {
        var run = 1;
        for (var c = 1; c <= size; c++) {
          var same = c < size && (pass ? m[c][r] === m[c - 1][r] : m[r][c] === m[r][c - 1]);
          if (same) run++; else { if (run >= 5) score += run - 2; run = 1; }
        }
      }
      for (c = 0; c < size; c++) {
        if (m[r][c]) dark++;
        if (r + 1 < size && c + 1 < size && m[r][c] === m[r][c + 1] && m[r][c] === m[r + 1][c] &&
            m[r][c] === m[r + 1][c + 1]) score += 3;
      }
    }
    return score + Math.floor(Math.abs(dark * 20 - size * size * 10) / (size * size)) * 10;
  }

  function matrix(text) {
    var bytes = utf8(text);
    for (var v = 1; v <= 10; v++) {
      var words = codewords(bytes, v);
      if (!words) continue;
      var best = null, bestScore = Infinity;
      for (var mask = 0; mask < 8; mask++) {
        var m = build(v, words, mask), s = penalty(m);
        if (s < bestScore) { best = m; bestScore = s; }
      }
      return best;
    }
    return null;
  }

  function svg(text) {
    var m = matrix(text);
    if (!m) return null;
    var ns = "http://www.w3.org/2000/svg", size = m.length + 8, d = [];
    m.forEach(function (row, r) {
      row.forEach(function (dark, c) { if (dark) d.push("M" + (c + 4) + " " + (r + 4) + "h1v1h-1z"); });
    });
    var s = document.createElementNS(ns, "svg");
    s.setAttribute("viewBox", "0 0 " + size + " " + size);
    s.setAttribute("shape-rendering", "crispEdges");
    var bg = document.createElementNS(ns, "rect");
    bg.setAttribute("width", size); bg.setAttribute("height", size); bg.setAttribute("fill", "#ffffff");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", d.join("")); path.setAttribute("fill", "#000000");
    s.appendChild(bg); s.appendChild(path);
    return s;
  }

  window.privregQR = {svg: svg, matrix: matrix};
})();
