/**
 * The service's pages in a real browser: Debian's Chromium, headless, driven
 * by playwright-core (no browser download), and what the browser tests
 * check on every page (accessibility, a screenshot that is a PNG).
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { requireTool } from "./requires.ts";

const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];

/** Chromium with a fresh, empty profile (playwright makes and removes it). */
export async function launch(): Promise<Browser> {
  const executablePath = requireTool("chromium", "chromium");
  return await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, timeout: 60_000 });
}

/** A PNG file of at least a few hundred bytes (the signature, then IHDR). */
export async function assertPng(path: string): Promise<void> {
  const bytes = await Deno.readFile(path);
  assert.ok(bytes.length > 1000, `${path}: ${bytes.length} bytes`);
  assert.deepEqual([...bytes.slice(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
}

/**
 * What a screen reader and a keyboard need of a page: one h1, headings that
 * never skip a level, a label on every form control, and a live region.
 */
export async function assertAccessible(page: Page, live = false): Promise<void> {
  const facts = await page.evaluate(`(() => {
    const levels = [...document.querySelectorAll("h1,h2,h3,h4,h5,h6")].map((h) => +h.tagName[1]);
    const unlabelled = [...document.querySelectorAll("input:not([type=hidden]),select,textarea")]
      .filter((el) => el.labels.length === 0).map((el) => el.outerHTML);
    return { levels, unlabelled, live: document.querySelectorAll("[aria-live]").length };
  })()`) as { levels: number[]; unlabelled: string[]; live: number };
  assert.equal(facts.levels.filter((l) => l === 1).length, 1, `one h1: ${facts.levels}`);
  for (let i = 1; i < facts.levels.length; i++) {
    assert.ok(facts.levels[i] <= facts.levels[i - 1] + 1, `headings skip a level: ${facts.levels}`);
  }
  assert.deepEqual(facts.unlabelled, [], "every form control has a label");
  if (live) assert.ok(facts.live > 0, "status changes are announced (aria-live)");
}

export async function shot(page: Page, dir: string, name: string): Promise<void> {
  const path = `${dir}/${name}`;
  await page.screenshot({ path, fullPage: true });
  await assertPng(path);
  const docs = Deno.env.get("SOCKLAB_DOCS_SHOTS");
  if (docs) await Deno.copyFile(path, `${docs}/${name}`);
}

/**
 * Whether anything on the page scrolls sideways at its width: the page
 * itself, any element that could scroll (`overflow-x` auto or scroll) with
 * more content than room, and any element that sticks out of the screen.
 * Hidden and visually clipped elements (screen-reader text) do not count.
 * Returns what is wrong, one line each (empty: nothing).
 */
export async function sidewaysScrolling(page: Page): Promise<string[]> {
  return await page.evaluate(`(() => {
    const vw = document.documentElement.clientWidth;
    const clipped = (el) => {
      for (let e = el; e && e !== document.body; e = e.parentElement) {
        const cs = getComputedStyle(e);
        if (cs.display === "none" || cs.visibility === "hidden") return true;
        if (cs.clip && cs.clip !== "auto") return true;
      }
      return false;
    };
    const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
      (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "");
    const bad = [];
    if (document.documentElement.scrollWidth > vw) {
      bad.push("the page is " + document.documentElement.scrollWidth + " px wide at " + vw);
    }
    for (const el of document.querySelectorAll("body *")) {
      if (clipped(el)) continue;
      const cs = getComputedStyle(el);
      if ((cs.overflowX === "auto" || cs.overflowX === "scroll") && el.scrollWidth > el.clientWidth + 1) {
        bad.push(name(el) + " scrolls: " + el.scrollWidth + " > " + el.clientWidth);
      }
      const r = el.getBoundingClientRect();
      if (r.width > 0 && (r.right > vw + 1 || r.left < -1)) {
        bad.push(name(el) + " sticks out: " + Math.round(r.left) + ".." + Math.round(r.right));
      }
    }
    return bad;
  })()`) as string[];
}
