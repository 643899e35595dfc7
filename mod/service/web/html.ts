/**
 * HTML built from tagged templates: every interpolated value is escaped
 * unless it is itself `Html` (made by `html` or, for trusted constants,
 * `raw`). A student's name or a program's output with `<script>` in it
 * is shown as text.
 *
 * @example
 * ```ts
 * const page = html`<p>${name}</p>`; // name = "<b>" renders as &lt;b&gt;
 * ```
 *
 * @module
 */

/** A fragment of HTML that is already safe to emit. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escape text for an HTML body or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

type Value = Html | string | number | boolean | null | undefined | Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return "";
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join("");
  return escapeHtml(String(v));
}

/** The template tag: literal parts as written, values escaped (arrays joined). */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Trusted HTML (a constant of ours, never user data). */
export function raw(text: string): Html {
  return new Html(text);
}
