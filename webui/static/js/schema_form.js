// A form generated from a pydantic JSON schema (GET /api/config/schema): one fieldset per
// top-level section, a select per enum, a checkbox per boolean, number inputs with the
// schema's bounds, empty allowed where the schema allows null, and discriminated unions
// (data.name, model.arch) as a select that swaps in the chosen variant's fields. A new option
// in the config appears here without a change to this file.
//
// Every field is keyed by its dotted path ("train.batch_size"), the path the server's 422
// errors use, so an error lands next to the field it concerns.

import { el } from "./api.js";

const idFor = (path) => `f-${path.replace(/[^A-Za-z0-9_-]/g, "-")}`;
const join = (path, key) => (path ? `${path}.${key}` : key);

export class SchemaForm {
  // hints: {"data.name": {ring: "2D: ...", ...}}: text shown under a select for its choice
  constructor(schema, { hints = {} } = {}) {
    this.defs = schema.$defs || {};
    this.hints = hints;
    this.root = new ObjectControl(this, this.resolve(schema), "", "", { top: true });
    this.node = el("div", { class: "schema-form" }, this.root.node);
    this.node.addEventListener("change", (ev) => this.recheck(ev.target));
  }

  resolve(schema) {
    let out = schema;
    while (out && out.$ref) {
      const { $ref, ...rest } = out;
      const def = this.defs[$ref.replace("#/$defs/", "")];
      if (!def) throw new Error(`the schema has no definition for ${$ref}`);
      out = { ...def, ...rest };
    }
    return out;
  }

  make(schema, path, key) {
    const s = this.resolve(schema);
    if (s.oneOf && s.discriminator) return new VariantControl(this, s, path, key);
    if (s.anyOf) {
      const options = s.anyOf.filter((x) => x.type !== "null");
      const nullable = options.length < s.anyOf.length;
      if (options.length === 1) {
        const annotations = { ...s };
        delete annotations.anyOf;
        const inner = { ...this.resolve(options[0]), ...annotations };
        if (inner.type !== "object") return this.make(inner, path, key).allowNull(nullable);
      }
      return new JsonControl(this, s, path, key);
    }
    if (s.type === "object" && s.properties) return new ObjectControl(this, s, path, key);
    if (s.const !== undefined) return new ConstControl(s, path, key);
    if (s.enum) return new EnumControl(this, s, path, key);
    if (s.type === "boolean") return new BoolControl(this, s, path, key);
    if (s.type === "integer" || s.type === "number") return new NumberControl(this, s, path, key);
    if (s.type === "string") return new TextControl(this, s, path, key);
    if (s.type === "array" && s.items && this.resolve(s.items).enum) {
      return new ChoicesControl(this, s, path, key);
    }
    if (s.type === "array" && Array.isArray(s.prefixItems)
        && s.prefixItems.every((p) => ["number", "integer"].includes(this.resolve(p).type))) {
      return new TupleControl(this, s, path, key);
    }
    return new JsonControl(this, s, path, key);
  }

  value() {
    return this.root.get();
  }

  setValue(config) {
    this.clearErrors();
    this.root.set(config);
  }

  // every control, containers included, in document order
  controls() {
    const out = [];
    this.root.walk((c) => out.push(c));
    return out;
  }

  // the control for a path, or its nearest ancestor ("data.mean.0" -> "data.mean")
  find(path) {
    const byPath = new Map();
    for (const c of this.controls()) {
      if (c.path && c.node && !byPath.has(c.path)) byPath.set(c.path, c);  // a union before its body
    }
    const parts = path.split(".");
    while (parts.length) {
      const control = byPath.get(parts.join("."));
      if (control) return control;
      parts.pop();
    }
    return null;
  }

  // client-side checks: [{path, msg}]
  validate() {
    const errors = [];
    for (const c of this.controls()) {
      const msg = c.check ? c.check() : null;
      if (msg) errors.push({ path: c.path, msg });
    }
    return errors;
  }

  clearErrors() {
    for (const c of this.controls()) c.clearError();
  }

  // Marks each error's field; returns {first: the first marked control in the page, unplaced}.
  showErrors(errors) {
    this.clearErrors();
    const grouped = new Map();
    const unplaced = [];
    for (const error of errors) {
      const control = error.path ? this.find(error.path) : null;
      if (!control) {
        unplaced.push(error);
        continue;
      }
      const own = control.path === error.path ? error.msg : `${error.path}: ${error.msg}`;
      grouped.set(control, [...(grouped.get(control) || []), own]);
    }
    for (const [control, msgs] of grouped) control.setError(msgs.join(" "));
    const marked = [...grouped.keys()];
    marked.sort((a, b) => (a.node.compareDocumentPosition(b.node) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
    return { first: marked[0] || null, unplaced };
  }

  recheck(target) {
    const control = this.controls().find((c) => c.owns && c.owns(target));
    if (!control) return;
    const msg = control.check ? control.check() : null;
    if (msg) control.setError(msg);
    else control.clearError();
  }
}

// -- containers --------------------------------------------------------------------------------

class Container {
  errorNode(id) {
    return el("p", { class: "field-error section-error", id: `${id}-err`, hidden: true });
  }

  setError(msg) {
    this.error.textContent = msg;
    this.error.hidden = false;
    this.box.setAttribute("aria-describedby", this.error.id);
  }

  clearError() {
    this.error.textContent = "";
    this.error.hidden = true;
    this.box.removeAttribute("aria-describedby");
  }

  focusTarget() {
    return this.node.querySelector("input, select, textarea");
  }
}

class ObjectControl extends Container {
  constructor(form, schema, path, key, { top = false, inline = false, skip = null } = {}) {
    super();
    this.schema = schema;
    this.path = path;
    this.key = key;
    this.children = Object.entries(schema.properties)
      .filter(([k]) => k !== skip)
      .map(([k, prop]) => [k, form.make(prop, join(path, k), k)]);
    const id = idFor(path || "root") + (inline ? "-variant" : "");
    this.error = this.errorNode(id);
    const leaves = this.children.filter(([, c]) => c.node && !c.isContainer).map(([, c]) => c.node);
    const groups = this.children.filter(([, c]) => c.isContainer).map(([, c]) => c.node);
    const grid = leaves.length ? el("div", { class: "fields" }, leaves) : null;
    if (top) {
      // loose top-level fields (name, seed) form the first section
      this.box = el("fieldset", { class: "section", id },
        el("legend", {}, "run"), el("p", { class: "hint" }, schema.description || ""), this.error, grid);
      this.node = el("div", { class: "sections" }, leaves.length ? this.box : null, groups);
    } else if (inline) {
      this.box = el("div", { class: "variant-body" }, this.error, grid, groups);
      this.node = this.box;
    } else {
      this.box = el("fieldset", { class: `section${path.includes(".") ? " nested" : ""}`, id },
        el("legend", {}, key),
        schema.description ? el("p", { class: "hint" }, schema.description) : null,
        this.error, grid, groups);
      this.node = this.box;
    }
  }

  get isContainer() {
    return true;
  }

  walk(fn) {
    fn(this);
    for (const [, c] of this.children) c.walk(fn);
  }

  get() {
    return Object.fromEntries(this.children.map(([k, c]) => [k, c.get()]));
  }

  set(value) {
    const source = value === undefined || value === null ? this.schema.default : value;
    for (const [k, c] of this.children) c.set(source ? source[k] : undefined);
  }

  allowNull() {
    return this;
  }
}

// A discriminated union: a select of the tags, then the chosen variant's own fields.
class VariantControl extends Container {
  constructor(form, schema, path, key) {
    super();
    this.form = form;
    this.schema = schema;
    this.path = path;
    this.key = key;
    this.prop = schema.discriminator.propertyName;
    this.variants = new Map();
    const mapping = schema.discriminator.mapping || {};
    for (const [tag, ref] of Object.entries(mapping)) this.variants.set(tag, form.resolve({ $ref: ref }));
    for (const option of schema.oneOf) {
      const variant = form.resolve(option);
      const tagSchema = variant.properties[this.prop] || {};
      for (const tag of tagSchema.const !== undefined ? [tagSchema.const] : tagSchema.enum || []) {
        if (!this.variants.has(tag)) this.variants.set(tag, variant);
      }
    }
    const tags = [...this.variants.keys()];
    const tagPath = join(path, this.prop);
    this.tag = new EnumControl(form, { enum: tags, default: tags[0],
      description: "" }, tagPath, this.prop);
    this.tag.describeChoice = (tag) => (form.hints[tagPath] || {})[tag] || this.variants.get(tag)?.description || "";
    this.tag.input.addEventListener("change", () => {
      this.switchTo(this.tag.get());
      this.current.set(undefined);
    });
    this.body = el("div");
    const id = idFor(path);
    this.error = this.errorNode(id);
    this.box = el("fieldset", { class: "section", id },
      el("legend", {}, key),
      schema.description ? el("p", { class: "hint" }, schema.description) : null,
      this.error, el("div", { class: "fields" }, this.tag.node), this.body);
    this.node = this.box;
    this.switchTo(tags[0]);
  }

  get isContainer() {
    return true;
  }

  switchTo(tag) {
    if (this.current && this.currentTag === tag) return;
    this.currentTag = tag;
    this.tag.set(tag);
    this.current = new ObjectControl(this.form, this.variants.get(tag), this.path, this.key,
      { inline: true, skip: this.prop });
    this.body.replaceChildren(this.current.node);
  }

  walk(fn) {
    fn(this);
    fn(this.tag);
    this.current.walk(fn);
  }

  get() {
    return { [this.prop]: this.tag.get(), ...this.current.get() };
  }

  set(value) {
    const source = value === undefined || value === null ? this.schema.default : value;
    const tag = source && this.variants.has(source[this.prop]) ? source[this.prop]
      : [...this.variants.keys()][0];
    this.switchTo(tag);
    this.current.set(source);
  }

  allowNull() {
    return this;
  }
}

// -- fields ------------------------------------------------------------------------------------

function boundsText(s) {
  const left = s.minimum !== undefined ? `${s.minimum} ≤ `
    : s.exclusiveMinimum !== undefined ? `${s.exclusiveMinimum} < ` : "";
  const right = s.maximum !== undefined ? ` ≤ ${s.maximum}`
    : s.exclusiveMaximum !== undefined ? ` < ${s.exclusiveMaximum}` : "";
  return left || right ? `${left}value${right}.` : "";
}

function boundsError(s, v) {
  if (s.minimum !== undefined && v < s.minimum) return `must be at least ${s.minimum}`;
  if (s.exclusiveMinimum !== undefined && v <= s.exclusiveMinimum) return `must be greater than ${s.exclusiveMinimum}`;
  if (s.maximum !== undefined && v > s.maximum) return `must be at most ${s.maximum}`;
  if (s.exclusiveMaximum !== undefined && v >= s.exclusiveMaximum) return `must be less than ${s.exclusiveMaximum}`;
  return null;
}

class Field {
  constructor(form, schema, path, key) {
    this.form = form;
    this.schema = schema;
    this.path = path;
    this.key = key;
    this.id = idFor(path);
    this.nullable = false;
  }

  get isContainer() {
    return false;
  }

  walk(fn) {
    fn(this);
  }

  allowNull(nullable) {
    this.nullable = nullable;
    this.onNullable();
    this.renderHint();
    return this;
  }

  onNullable() {}

  hintText() {
    const parts = [this.schema.description, boundsText(this.schema)];
    if (this.nullable) parts.push("May be left empty.");
    return parts.filter(Boolean).join(" ");
  }

  // label, control, hint and error, wired for screen readers
  build(control, { checkbox = false } = {}) {
    this.hint = el("p", { class: "hint", id: `${this.id}-hint` });
    this.error = el("p", { class: "field-error", id: `${this.id}-err`, hidden: true });
    const label = el("label", { for: this.id, class: "key" }, this.key);
    this.node = checkbox
      ? el("div", { class: "field checkbox", dataset: { path: this.path } },
        el("div", { class: "check-line" }, control, label), this.hint, this.error)
      : el("div", { class: "field", dataset: { path: this.path } }, label, control, this.hint, this.error);
    this.renderHint();
  }

  renderHint() {
    if (!this.hint) return;
    const text = this.hintText();
    this.hint.textContent = text;
    this.hint.hidden = !text;
    this.describe();
  }

  inputs() {
    return [this.input];
  }

  owns(target) {
    return this.inputs().includes(target);
  }

  describe() {
    const ids = [];
    if (!this.hint.hidden) ids.push(this.hint.id);
    if (!this.error.hidden) ids.push(this.error.id);
    for (const input of this.inputs()) {
      if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
      else input.removeAttribute("aria-describedby");
    }
  }

  setError(msg) {
    this.error.textContent = msg;
    this.error.hidden = false;
    for (const input of this.inputs()) input.setAttribute("aria-invalid", "true");
    this.describe();
  }

  clearError() {
    this.error.textContent = "";
    this.error.hidden = true;
    for (const input of this.inputs()) input.removeAttribute("aria-invalid");
    this.describe();
  }

  focusTarget() {
    return this.inputs()[0];
  }

  fallback() {
    if (this.schema.default !== undefined) return this.schema.default;
    return this.nullable ? null : undefined;
  }
}

class ConstControl {
  constructor(schema, path, key) {
    this.schema = schema;
    this.path = path;
    this.key = key;
    this.node = null;
  }

  get isContainer() {
    return false;
  }

  walk() {}

  allowNull() {
    return this;
  }

  get() {
    return this.schema.const;
  }

  set() {}

  clearError() {}
}

class EnumControl extends Field {
  constructor(form, schema, path, key) {
    super(form, schema, path, key);
    this.values = [...schema.enum];
    this.input = el("select", { id: this.id, name: path });
    this.renderOptions();
    this.input.addEventListener("change", () => this.renderHint());
    this.build(this.input);
  }

  renderOptions() {
    const options = this.values.map((v) => el("option", {}, String(v)));
    if (this.nullable) options.unshift(el("option", { value: "" }, "— not set —"));
    this.input.replaceChildren(...options);
  }

  onNullable() {
    const current = this.get();
    this.renderOptions();
    this.set(current);
  }

  hintText() {
    const choice = this.describeChoice ? this.describeChoice(this.get()) : "";
    return [super.hintText(), choice].filter(Boolean).join(" ");
  }

  get() {
    const index = this.input.selectedIndex - (this.nullable ? 1 : 0);
    return index < 0 ? null : this.values[index];
  }

  set(value) {
    let v = value === undefined ? this.fallback() : value;
    if (v === undefined) v = this.nullable ? null : this.values[0];
    const index = this.values.indexOf(v);
    this.input.selectedIndex = v === null || index < 0 ? 0 : index + (this.nullable ? 1 : 0);
    this.renderHint();
  }

  check() {
    if (this.get() === null && !this.nullable) return "choose a value";
    return null;
  }
}

class BoolControl extends Field {
  constructor(form, schema, path, key) {
    super(form, schema, path, key);
    this.input = el("input", { type: "checkbox", id: this.id, name: path });
    this.build(this.input, { checkbox: true });
  }

  get() {
    return this.input.checked;
  }

  set(value) {
    const v = value === undefined ? this.fallback() : value;
    this.input.checked = Boolean(v);
  }
}

function numberInput(schema, attrs) {
  const integer = schema.type === "integer";
  return el("input", {
    type: "number", inputmode: integer ? "numeric" : "decimal", step: integer ? 1 : "any",
    min: schema.minimum, max: schema.maximum, ...attrs,
  });
}

function readNumber(input) {
  const raw = input.value.trim();
  if (raw === "") return input.validity.badInput ? Number.NaN : null;
  return Number(raw);
}

function numberError(schema, input, nullable) {
  const v = readNumber(input);
  if (Number.isNaN(v)) return "enter a number";
  if (v === null) return nullable ? null : "required";
  if (schema.type === "integer" && !Number.isInteger(v)) return "must be a whole number";
  return boundsError(schema, v);
}

class NumberControl extends Field {
  constructor(form, schema, path, key) {
    super(form, schema, path, key);
    this.input = numberInput(schema, { id: this.id, name: path });
    this.build(this.input);
  }

  get() {
    const v = readNumber(this.input);
    return Number.isNaN(v) ? null : v;
  }

  set(value) {
    const v = value === undefined ? this.fallback() : value;
    this.input.value = v === null || v === undefined ? "" : String(v);
  }

  check() {
    return numberError(this.schema, this.input, this.nullable);
  }
}

class TextControl extends Field {
  constructor(form, schema, path, key) {
    super(form, schema, path, key);
    this.input = el("input", { type: "text", id: this.id, name: path, maxlength: schema.maxLength,
      autocomplete: "off" });
    this.build(this.input);
  }

  get() {
    const v = this.input.value;
    return v === "" && this.nullable ? null : v;
  }

  set(value) {
    const v = value === undefined ? this.fallback() : value;
    this.input.value = v === null || v === undefined ? "" : String(v);
  }

  check() {
    const v = this.input.value;
    if (this.schema.minLength && v.length < this.schema.minLength && !(this.nullable && v === "")) {
      return `at least ${this.schema.minLength} characters`;
    }
    return null;
  }
}

// A fixed-length list of numbers, e.g. a 2D point: one input per item.
class TupleControl extends Field {
  constructor(form, schema, path, key) {
    super(form, schema, path, key);
    this.items = schema.prefixItems.map((p) => form.resolve(p));
    this.boxes = this.items.map((item, i) => numberInput(item, {
      id: i === 0 ? this.id : `${this.id}-${i}`, name: `${path}.${i}`, "aria-label": `${key} ${i + 1}`,
    }));
    this.build(el("div", { class: "tuple" }, this.boxes));
  }

  inputs() {
    return this.boxes;
  }

  get() {
    if (this.nullable && this.boxes.every((b) => b.value.trim() === "")) return null;
    return this.boxes.map((b) => {
      const v = readNumber(b);
      return Number.isNaN(v) ? null : v;
    });
  }

  set(value) {
    const v = value === undefined ? this.fallback() : value;
    this.boxes.forEach((b, i) => {
      b.value = Array.isArray(v) && v[i] !== null && v[i] !== undefined ? String(v[i]) : "";
    });
  }

  check() {
    if (this.nullable && this.get() === null) return null;
    for (const [i, b] of this.boxes.entries()) {
      const msg = numberError(this.items[i], b, false);
      if (msg) return `item ${i + 1}: ${msg}`;
    }
    return null;
  }
}

// A list of choices from a fixed set (e.g. the metrics to evaluate): one checkbox each.
class ChoicesControl extends Field {
  constructor(form, schema, path, key) {
    super(form, schema, path, key);
    this.values = [...form.resolve(schema.items).enum];
    this.boxes = this.values.map((v, i) => el("input", { type: "checkbox", value: String(v),
      id: i === 0 ? this.id : `${this.id}-${i}`, name: path }));
    this.build(el("div", { class: "choices", role: "group", "aria-label": key },
      this.boxes.map((box, i) => el("label", { class: "choice" }, box, ` ${this.values[i]}`))));
  }

  inputs() {
    return this.boxes;
  }

  get() {
    const chosen = this.values.filter((_, i) => this.boxes[i].checked);
    return chosen.length === 0 && this.nullable ? null : chosen;
  }

  set(value) {
    const v = value === undefined ? this.fallback() : value;
    const chosen = new Set(Array.isArray(v) ? v : []);
    this.values.forEach((x, i) => { this.boxes[i].checked = chosen.has(x); });
  }

  check() {
    const n = (this.get() || []).length;
    if (this.schema.minItems && n < this.schema.minItems && !(this.nullable && n === 0)) {
      return `choose at least ${this.schema.minItems}`;
    }
    return null;
  }
}

// Anything the form has no widget for: its JSON, so a new kind of option still works.
class JsonControl extends Field {
  constructor(form, schema, path, key) {
    super(form, schema, path, key);
    this.input = el("textarea", { id: this.id, name: path, rows: 2, spellcheck: "false" });
    this.build(this.input);
  }

  hintText() {
    return [this.schema.description, "JSON."].filter(Boolean).join(" ");
  }

  get() {
    try {
      return JSON.parse(this.input.value);
    } catch {
      return null;
    }
  }

  set(value) {
    const v = value === undefined ? this.fallback() : value;
    this.input.value = v === undefined ? "" : JSON.stringify(v);
  }

  check() {
    try {
      JSON.parse(this.input.value);
      return null;
    } catch {
      return "not valid JSON";
    }
  }
}
