// The segment builder and the journey editor: controls generated from the document's own
// JSON Schema (data-schema), kept in sync with the JSON text beside them both ways. Each
// edit posts the document, debounced, to the page's estimate or validation fragment
// (htmx, the form's "estimate" trigger); what comes back names sizes and the error's path,
// which are shown at the condition or step they belong to.
(function () {
  "use strict";
  var DEBOUNCE_MS = 400;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function Editor(root) {
    this.root = root;
    this.schema = JSON.parse(root.dataset.schema);
    this.hints = JSON.parse(root.dataset.hints || "{}");
    this.labels = JSON.parse(root.dataset.labels || "{}");
    this.fixed = JSON.parse(root.dataset.fixed || "[]");
    this.preferred = JSON.parse(root.dataset.preferred || "[]");
    // path -> keys of which an object holds exactly one (a journey's entry kinds).
    this.exclusive = JSON.parse(root.dataset.exclusive || "{}");
    this.textarea = document.getElementById(root.dataset.json);
    this.form = this.textarea.form;
    this.status = document.getElementById(root.dataset.jsonStatus);
    this.doc = JSON.parse(this.textarea.value);
    this.timer = null;
    var self = this;
    this.textarea.addEventListener("input", function () { self.fromText(); });
    this.datalists();
    this.render();
    this.showResult();
  }

  Editor.prototype.label = function (key) { return this.labels[key] || String(key); };

  Editor.prototype.datalists = function () {
    var self = this;
    Object.keys(this.hints).forEach(function (key) {
      var list = el("datalist");
      list.id = self.root.id + "-hint-" + key;
      self.hints[key].forEach(function (v) { var o = el("option"); o.value = v; list.appendChild(o); });
      self.root.parentNode.appendChild(list);
    });
  };

  Editor.prototype.resolve = function (s) {
    while (s && s.$ref) { s = this.schema.$defs[s.$ref.split("/").pop()]; }
    return s || {};
  };

  // anyOf [X, null] is X (its presence is the parent object's business).
  Editor.prototype.unwrap = function (s) {
    s = this.resolve(s);
    if (s.anyOf) {
      var self = this;
      var alts = s.anyOf.filter(function (a) { return a.type !== "null"; });
      if (alts.length === 1) { return this.unwrap(alts[0]); }
      return { anyOf: alts.map(function (a) { return self.resolve(a); }), description: s.description };
    }
    return s;
  };

  // A oneOf whose options each require one distinct key is a choice of kind.
  Editor.prototype.kinds = function (s) {
    if (!s.oneOf) { return null; }
    var self = this;
    var found = s.oneOf.map(function (o) {
      var r = self.resolve(o);
      return r.required && r.required.length === 1 ? { key: r.required[0], schema: r } : null;
    });
    return found.every(Boolean) ? found : null;
  };

  Editor.prototype.preferredKind = function (kinds) {
    for (var i = 0; i < this.preferred.length; i++) {
      for (var j = 0; j < kinds.length; j++) {
        if (kinds[j].key === this.preferred[i]) { return kinds[j]; }
      }
    }
    return kinds[0];
  };

  Editor.prototype.defaultFor = function (s, kind) {
    s = this.unwrap(s);
    var kinds = this.kinds(s);
    if (kinds) {
      var k = kind || this.preferredKind(kinds);
      return this.defaultFor(k.schema);
    }
    if (s.default !== undefined && s.default !== null && typeof s.default !== "object") { return s.default; }
    if (s.enum) { return s.enum[0]; }
    if (s.const !== undefined) { return s.const; }
    if (s.type === "object") {
      var out = {}, self = this;
      (s.required || []).forEach(function (name) { out[name] = self.defaultFor(s.properties[name]); });
      return out;
    }
    if (s.type === "array") { return []; }
    if (s.type === "boolean") { return false; }
    return "";
  };

  Editor.prototype.types = function (s) {
    if (s.anyOf) { return s.anyOf.map(function (a) { return a.type || "object"; }); }
    return [s.type || "string"];
  };

  Editor.prototype.coerce = function (s, text) {
    var types = this.types(s);
    var trimmed = text.trim();
    if (trimmed === "") { return ""; }
    if ((trimmed[0] === "{" || trimmed[0] === "[") && types.indexOf("object") >= 0) {
      try { return JSON.parse(trimmed); } catch (e) { return text; }
    }
    if ((types.indexOf("number") >= 0 || types.indexOf("integer") >= 0) && isFinite(Number(trimmed))) {
      return Number(trimmed);
    }
    if (types.indexOf("boolean") >= 0 && (trimmed === "true" || trimmed === "false")) {
      return trimmed === "true";
    }
    return text;
  };

  Editor.prototype.shown = function (v) {
    if (v === undefined || v === null) { return ""; }
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  };

  Editor.prototype.field = function (s, holder, key, path) {
    s = this.unwrap(s);
    var kinds = this.kinds(s);
    if (kinds) { return this.kindNode(kinds, holder, key, path); }
    if (s.enum) { return this.select(s.enum, holder, key, path); }
    if (s.const === true || s.type === "boolean") { return this.checkbox(holder, key, path); }
    if (s.type === "object") {
      if (s.patternProperties) {
        var pattern = Object.keys(s.patternProperties)[0];
        return this.mapNode(s.patternProperties[pattern], holder, key, path);
      }
      if (s.properties) { return this.objectNode(s, holder, key, path, null); }
      return this.jsonInput(holder, key, path);
    }
    if (s.type === "array") {
      if (s.prefixItems) { return this.tupleNode(s.prefixItems, holder, key, path); }
      var items = this.unwrap(s.items || {});
      if (items.type === "object" || this.kinds(items)) { return this.arrayNode(s.items, holder, key, path); }
      return this.listInput(items, holder, key, path);
    }
    return this.scalarInput(s, holder, key, path);
  };

  Editor.prototype.kindNode = function (kinds, holder, key, path) {
    var self = this, value = holder[key];
    if (!value || typeof value !== "object") { value = holder[key] = this.defaultFor({ oneOf: kinds.map(function (k) { return k.schema; }) }); }
    var current = kinds.filter(function (k) { return k.key in value; })[0] || kinds[0];
    var box = el("div", "kind kind-" + current.key);
    box.dataset.path = path;
    var head = el("div", "kind-head");
    var pick = el("select");
    pick.setAttribute("aria-label", this.label("kind"));
    kinds.forEach(function (k) {
      var o = el("option", null, self.label(k.key));
      o.value = k.key;
      o.selected = k === current;
      pick.appendChild(o);
    });
    pick.addEventListener("change", function () {
      var chosen = kinds.filter(function (k) { return k.key === pick.value; })[0];
      holder[key] = self.defaultFor(chosen.schema);
      self.changed(true);
    });
    head.appendChild(pick);
    head.appendChild(el("span", "size"));
    box.appendChild(head);
    box.appendChild(this.objectNode(current.schema, holder, key, path, current.key));
    return box;
  };

  Editor.prototype.objectNode = function (s, holder, key, path, kindKey) {
    var self = this, obj = holder[key];
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) { obj = holder[key] = {}; }
    var props = s.properties || {}, required = s.required || [];
    var box = el("div", "obj");
    box.dataset.path = path;
    var only = this.exclusive[path] || [];
    if (only.length) {
      var chosen = only.filter(function (k) { return k in obj; })[0];
      if (!chosen) { chosen = only[0]; obj[chosen] = self.defaultFor(props[chosen]); }
      kindKey = chosen;
      var pick = el("select", "exclusive");
      pick.setAttribute("aria-label", this.label("kind") + " " + path);
      only.forEach(function (k) {
        var o = el("option", null, self.label(k));
        o.value = k;
        o.selected = k === chosen;
        pick.appendChild(o);
      });
      pick.addEventListener("change", function () {
        only.forEach(function (k) { delete obj[k]; });
        obj[pick.value] = self.defaultFor(props[pick.value]);
        self.changed(true);
      });
      box.appendChild(pick);
      props = Object.assign({}, props);
      only.forEach(function (k) { if (k !== chosen) { delete props[k]; } });
    }
    // The kind, then the fields in the document's own order, then what is required.
    var shown = [kindKey].concat(Object.keys(obj), required).filter(function (n, i, all) {
      return n && props[n] && all.indexOf(n) === i;
    });
    shown.forEach(function (name) {
      var isRequired = required.indexOf(name) >= 0 || name === kindKey;
      if (!(name in obj)) { obj[name] = self.defaultFor(props[name]); }
      var sub = path ? path + "." + name : name;
      var row = el("div", name === kindKey ? "fld fld-kind" : "fld");
      row.dataset.path = sub;
      if (name !== kindKey) { row.appendChild(el("span", "fld-name", self.label(name))); }
      var control = self.field(props[name], obj, name, sub);
      var block = /\b(obj|arr|map|kind)\b/.test(control.className);
      if (block) { row.classList.add("fld-block"); } else { row.appendChild(control); }
      if (!isRequired && self.fixed.indexOf(sub) < 0) {
        var drop = el("button", "icon", "×");
        drop.type = "button";
        drop.title = self.label("remove") + " " + name;
        drop.setAttribute("aria-label", drop.title);
        drop.addEventListener("click", function () { delete obj[name]; self.changed(true); });
        row.appendChild(drop);
      }
      if (block) { row.appendChild(control); }
      box.appendChild(row);
    });
    var absent = Object.keys(props).filter(function (n) { return !(n in obj); });
    if (absent.length) {
      var add = el("select", "add-field");
      add.setAttribute("aria-label", this.label("add field") + " " + (path || ""));
      var first = el("option", null, this.label("add field"));
      first.value = "";
      add.appendChild(first);
      absent.forEach(function (n) { var o = el("option", null, n); o.value = n; add.appendChild(o); });
      add.addEventListener("change", function () {
        if (!add.value) { return; }
        obj[add.value] = self.defaultFor(props[add.value]);
        self.changed(true);
      });
      box.appendChild(add);
    }
    return box;
  };

  Editor.prototype.arrayNode = function (itemSchema, holder, key, path) {
    var self = this, arr = holder[key];
    if (!Array.isArray(arr)) { arr = holder[key] = []; }
    var box = el("div", "arr");
    box.dataset.path = path;
    var list = el("ol", "items");
    arr.forEach(function (_, i) {
      var item = el("li");
      item.appendChild(self.field(itemSchema, arr, i, path + "[" + i + "]"));
      var drop = el("button", "icon", "×");
      drop.type = "button";
      drop.title = self.label("remove");
      drop.setAttribute("aria-label", self.label("remove") + " " + path + "[" + i + "]");
      drop.addEventListener("click", function () { arr.splice(i, 1); self.changed(true); });
      item.appendChild(drop);
      list.appendChild(item);
    });
    box.appendChild(list);
    var add = el("button", "add", "+ " + this.label("add"));
    add.type = "button";
    add.dataset.addTo = path;
    add.addEventListener("click", function () { arr.push(self.defaultFor(itemSchema)); self.changed(true); });
    box.appendChild(add);
    return box;
  };

  Editor.prototype.mapNode = function (valueSchema, holder, key, path) {
    var self = this, obj = holder[key];
    if (!obj || typeof obj !== "object") { obj = holder[key] = {}; }
    var names = Object.keys(obj);
    function rebuild(order) {
      var next = {};
      order.forEach(function (pair) { next[pair[0]] = pair[1]; });
      holder[key] = next;
      self.changed(true);
    }
    var box = el("div", "map");
    box.dataset.path = path;
    names.forEach(function (name, i) {
      var sub = path + "." + name;
      var card = el("section", "entry");
      card.dataset.path = sub;
      var head = el("div", "entry-head");
      var rename = el("input", "entry-name");
      rename.value = name;
      rename.setAttribute("aria-label", self.label("step name"));
      rename.addEventListener("change", function () {
        var to = rename.value.trim();
        if (!to || to in obj) { rename.value = name; return; }
        rebuild(names.map(function (n) { return [n === name ? to : n, obj[n]]; }));
      });
      head.appendChild(rename);
      [["up", -1, "↑"], ["down", 1, "↓"]].forEach(function (move) {
        var j = i + move[1];
        if (j < 0 || j >= names.length) { return; }
        var b = el("button", "icon", move[2]);
        b.type = "button";
        b.title = self.label(move[0]);
        b.setAttribute("aria-label", self.label(move[0]) + " " + name);
        b.addEventListener("click", function () {
          var order = names.slice();
          order[i] = names[j];
          order[j] = name;
          rebuild(order.map(function (n) { return [n, obj[n]]; }));
        });
        head.appendChild(b);
      });
      var drop = el("button", "icon", "×");
      drop.type = "button";
      drop.setAttribute("aria-label", self.label("remove") + " " + name);
      drop.addEventListener("click", function () { delete obj[name]; self.changed(true); });
      head.appendChild(drop);
      head.appendChild(el("span", "size"));
      card.appendChild(head);
      card.appendChild(self.field(valueSchema, obj, name, sub));
      box.appendChild(card);
    });
    var adder = el("div", "row");
    var newName = el("input", "new-entry");
    newName.placeholder = this.label("step name");
    newName.setAttribute("aria-label", this.label("step name"));
    var add = el("button", "add", "+ " + this.label("add step"));
    add.type = "button";
    add.addEventListener("click", function () {
      var name = newName.value.trim();
      if (!name || name in obj) { newName.focus(); return; }
      obj[name] = self.defaultFor(valueSchema);
      self.changed(true);
    });
    adder.appendChild(newName);
    adder.appendChild(add);
    box.appendChild(adder);
    return box;
  };

  Editor.prototype.input = function (holder, key, path, text, onInput) {
    var input = el("input");
    input.value = text;
    input.setAttribute("aria-label", path);
    input.dataset.path = path;
    if (this.hints[key]) { input.setAttribute("list", this.root.id + "-hint-" + key); }
    if (this.fixed.indexOf(path) >= 0) { input.readOnly = true; }
    input.addEventListener("input", function () { onInput(input.value); });
    return input;
  };

  Editor.prototype.scalarInput = function (s, holder, key, path) {
    var self = this;
    return this.input(holder, key, path, this.shown(holder[key]), function (text) {
      holder[key] = self.coerce(s, text);
      self.changed(false);
    });
  };

  Editor.prototype.listInput = function (items, holder, key, path) {
    var self = this;
    var text = Array.isArray(holder[key]) ? holder[key].map(this.shown).join(", ") : "";
    var input = this.input(holder, key, path, text, function (typed) {
      holder[key] = typed.split(",").map(function (p) { return p.trim(); })
        .filter(function (p) { return p !== ""; }).map(function (p) { return self.coerce(items, p); });
      self.changed(false);
    });
    input.classList.add("list");
    return input;
  };

  Editor.prototype.tupleNode = function (prefix, holder, key, path) {
    var self = this, arr = holder[key];
    if (!Array.isArray(arr)) { arr = holder[key] = prefix.map(function () { return ""; }); }
    var box = el("span", "tuple");
    prefix.forEach(function (s, i) {
      box.appendChild(self.scalarInput(self.unwrap(s), arr, i, path + "[" + i + "]"));
    });
    return box;
  };

  Editor.prototype.select = function (options, holder, key, path) {
    var self = this, pick = el("select");
    pick.setAttribute("aria-label", path);
    options.forEach(function (v) {
      var o = el("option", null, self.label(v));
      o.value = v;
      o.selected = holder[key] === v;
      pick.appendChild(o);
    });
    pick.addEventListener("change", function () { holder[key] = pick.value; self.changed(false); });
    return pick;
  };

  Editor.prototype.checkbox = function (holder, key, path) {
    var self = this, box = el("input");
    box.type = "checkbox";
    box.checked = holder[key] === true;
    box.setAttribute("aria-label", path);
    box.addEventListener("change", function () { holder[key] = box.checked; self.changed(false); });
    return box;
  };

  Editor.prototype.jsonInput = function (holder, key, path) {
    var self = this, area = el("textarea", "json-small");
    area.rows = 2;
    area.value = JSON.stringify(holder[key] || {});
    area.setAttribute("aria-label", path);
    area.addEventListener("input", function () {
      try {
        holder[key] = JSON.parse(area.value || "{}");
        area.classList.remove("invalid");
        self.changed(false);
      } catch (e) { area.classList.add("invalid"); }
    });
    return area;
  };

  Editor.prototype.render = function () {
    var holder = { doc: this.doc };
    var tree = this.objectNode(this.resolve(this.schema), holder, "doc", "", null);
    this.doc = holder.doc;
    this.root.replaceChildren(tree);
  };

  Editor.prototype.changed = function (structural) {
    this.textarea.value = JSON.stringify(this.doc, null, 2);
    if (this.status) { this.status.textContent = ""; }
    if (structural) { this.render(); }
    this.schedule();
  };

  Editor.prototype.fromText = function () {
    try {
      var parsed = JSON.parse(this.textarea.value);
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) { throw new Error("{…}"); }
      this.doc = parsed;
      if (this.status) { this.status.textContent = ""; }
      this.render();
      this.schedule();
    } catch (e) {
      if (this.status) { this.status.textContent = this.label("invalid json") + ": " + e.message; }
    }
  };

  Editor.prototype.schedule = function () {
    var form = this.form;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () {
      if (typeof htmx !== "undefined") { htmx.trigger(form, "estimate"); }
    }, DEBOUNCE_MS);
  };

  // Sizes and the error's path from the fragment (#<data-result> [data-result]), onto the tree.
  Editor.prototype.showResult = function () {
    var result = document.querySelector("#" + this.root.dataset.result + " [data-result]");
    var root = this.root;
    root.querySelectorAll(".invalid").forEach(function (n) { n.classList.remove("invalid"); });
    root.querySelectorAll(".field-error").forEach(function (n) { n.remove(); });
    root.querySelectorAll(".size").forEach(function (n) { n.textContent = ""; });
    if (!result) { return; }
    var sizes = JSON.parse(result.dataset.sizes || "{}");
    Object.keys(sizes).forEach(function (path) {
      var node = root.querySelector('[data-path="' + path + '"] .size');
      if (node) { node.textContent = sizes[path]; }
    });
    var wrong = result.dataset.errorPath;
    if (!wrong) { return; }
    var best = null;
    root.querySelectorAll("[data-path]").forEach(function (node) {
      var p = node.dataset.path;
      var covers = p === wrong || wrong.indexOf(p + ".") === 0 || wrong.indexOf(p + "[") === 0 || p === "";
      if (covers && (!best || p.length > best.dataset.path.length)) { best = node; }
    });
    if (best) {
      var target = best.tagName === "INPUT" || best.tagName === "SELECT" ? best.parentNode : best;
      target.classList.add("invalid");
      var note = el("p", "field-error", result.dataset.error || "");
      note.setAttribute("role", "alert");
      target.appendChild(note);
    }
  };

  var editors = [];
  function start(root) {
    root.querySelectorAll("[data-builder]").forEach(function (node) {
      if (!node.dataset.started) { node.dataset.started = "1"; editors.push(new Editor(node)); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { start(document); });
  document.addEventListener("htmx:afterSwap", function () {
    editors.forEach(function (editor) { editor.showResult(); });
  });
})();
