/**
 * Issue 28 in a real browser (Debian's Chromium through playwright-core):
 * the sign-in press and a sign-out that ends the session; the teaching
 * assistant's pages at class size (300 students) at 1280 px with their
 * charts, a search, a sort, the pages, and a re-run behind its
 * confirmation; every student page at 360 px with nothing scrolling
 * sideways; the submit form showing only the chosen part's fields, with
 * script and without.
 *
 * Set SOCKLAB_DOCS_SHOTS=docs to also write docs/ta-course.png.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { openStore } from "../mod/service/store/open.ts";
import { assertAccessible, launch, shot, sidewaysScrolling } from "./helpers/browser.ts";
import { classId, populateClass } from "./helpers/class_fixture.ts";
import { gradedSubmission, makeCourse, serveInProcess } from "./helpers/service.ts";

/** Open a personal link and press its button; the page is then at `home`. */
async function signIn(page: Page, url: string, token: string, home: string): Promise<void> {
  await page.goto(`${url}/login?token=${encodeURIComponent(token)}`);
  await page.click("main button[type=submit]");
  await page.waitForURL(`${url}${home}`);
}

Deno.test({
  name: "browser: the sign-in link needs a press; signing out ends the session for every copy",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using course = await makeCourse(["alice", "mallory"]);
    await using svc = await serveInProcess(course);
    let browser: Browser | undefined;
    try {
      browser = await launch();
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      await signIn(page, svc.url, course.tokens.alice, "/");
      const session = (await ctx.cookies()).find((c) => c.name === "socklab_session")!;
      // Another site's link to mallory's token: a question, and alice stays signed in.
      await page.goto(`${svc.url}/login?token=${course.tokens.mallory}`);
      const asked = (await page.locator("main").textContent() ?? "").replace(/\s+/g, " ");
      assert.match(asked, /Sign in as Student mallory \(mallory\)\?/);
      assert.match(asked, /You are signed in as Student alice \(alice\)/);
      await assertAccessible(page);
      await page.goto(`${svc.url}/`);
      assert.match(await page.locator("header").textContent() ?? "", /Student alice \(alice\)/);

      await page.click("text=Sign out");
      await page.waitForURL(`${svc.url}/login`);
      const copy = await fetch(`${svc.url}/`, {
        headers: { cookie: `${session.name}=${session.value}` },
        redirect: "manual",
      });
      await copy.body?.cancel();
      assert.equal(copy.status, 303, "a copy of the cookie is signed out too");
      assert.equal(copy.headers.get("location"), "/login");
    } finally {
      await browser?.close();
    }
  },
});

Deno.test({
  name:
    "browser: the TA at class size: charts, one search among 300, sort, pages, a confirmed re-run",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using course = await makeCourse([]);
    await populateClass(course, 300, Date.now(), { queued: 8 });
    await using svc = await serveInProcess(course);
    // A worker machine with four slots is alive: the overview says when the queue is through.
    await svc.store.registerWorker({ id: "lab-pc-1", host: "lab-pc-1", slots: 4 }, Date.now());
    const dir = await Deno.makeTempDir({ prefix: "socklab-ta-browser-" });
    let browser: Browser | undefined;
    try {
      browser = await launch();
      const ta = await (await browser.newContext({ viewport: { width: 1280, height: 800 } }))
        .newPage();
      await signIn(ta, svc.url, course.ta, "/course");
      // The overview: two charts, drawn by the server, with their words.
      assert.equal(await ta.locator("figure.chart svg").count(), 2);
      const wait = await ta.locator("#chart-wait").boundingBox();
      assert.ok(wait && wait.width > 300 && wait.height > 100, JSON.stringify(wait));
      assert.match(await ta.locator("#chart-wait-desc").textContent() ?? "", /job\(s\) started/);
      assert.match(
        (await ta.locator("ul.facts").textContent() ?? "").replace(/\s+/g, " "),
        /8 queued, 0 running: the queue is through in about \d+ s .* 1 worker\(s\) alive with 4 slot\(s\)/,
      );
      await assertAccessible(ta);
      assert.deepEqual(await sidewaysScrolling(ta), []);
      await shot(ta, dir, "ta-course.png");

      // The grade book: every part's column on screen at 1280 px, a histogram each.
      await ta.click("nav >> text=Grade book");
      assert.deepEqual(await sidewaysScrolling(ta), [], "every part visible at 1280 px");
      assert.equal(await ta.locator("table[aria-labelledby=book] thead th").count(), 9);
      assert.equal(await ta.locator("table[aria-labelledby=book] tbody tr").count(), 50);
      assert.equal(await ta.locator("figure.chart svg").count(), 7);
      await assertAccessible(ta);
      // One search finds one of 300.
      await ta.fill("#q", classId(241));
      await ta.press("#q", "Enter");
      await ta.waitForURL(/q=s242/);
      assert.equal(await ta.locator("table[aria-labelledby=book] tbody tr").count(), 1);
      // Sort by part 2, best first; then the next page.
      await ta.click("text=Show everyone");
      await ta.click("table[aria-labelledby=book] thead >> text=P2");
      await ta.click("table[aria-labelledby=book] thead >> text=P2");
      assert.equal(await ta.getAttribute("th[aria-sort=descending]", "scope"), "col");
      const scores = await ta.locator("table[aria-labelledby=book] tbody tr td:nth-child(3)")
        .allTextContents();
      const nums = scores.map((t) => t.trim()).filter((t) => t !== "–").map(Number);
      assert.deepEqual(nums, [...nums].sort((a, b) => b - a), "best first");
      await ta.click("text=Next");
      assert.match(await ta.locator(".pager").textContent() ?? "", /Page 2 of 6/);

      // A re-run of part 3 for everyone: asked first, with the number of jobs, then done once.
      const before = (await svc.store.listJobs("queued")).length;
      await ta.click("nav >> text=Tools");
      await ta.selectOption("#rerun-kind", "part3");
      await ta.click("text=Continue");
      const asked = (await ta.locator("main").textContent() ?? "").replace(/\s+/g, " ");
      const n = Number(asked.match(/This queues (\d+) job\(s\)/)?.[1]);
      assert.ok(n > 20, asked);
      assert.equal((await svc.store.listJobs("queued")).length, before, "asking queues nothing");
      await ta.click(`text=Queue ${n} job(s)`);
      await ta.waitForURL(/\/course\/tools\?rerun=part3/);
      assert.match(
        await ta.locator(".flash").textContent() ?? "",
        new RegExp(`${n} job\\(s\\) queued`),
      );
      await ta.reload();
      assert.equal(
        (await svc.store.listJobs("queued")).length,
        before + n,
        "a reload queues nothing",
      );
      await ta.click("nav >> text=Queue");
      assert.match(await ta.locator("#queued + div tbody").textContent() ?? "", /\(s001\)/);
    } finally {
      await browser?.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "browser: at 360 px no student page scrolls sideways; the form shows the chosen part's fields",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using course = await makeCourse(["alice"]);
    const long = "x".repeat(300);
    const store = await openStore({ data: course.data });
    let id: number;
    try {
      await gradedSubmission(store, "alice", "part3", 2);
      id = await gradedSubmission(store, "alice", "part2", 1, {
        tests: [
          { name: `CMD_short:0 ${long}`, passed: false, scored: true, detail: long },
          { name: "CMD_floodme", passed: true, scored: true, detail: "ok" },
        ],
        stdout: long,
        files: [{
          name: "runs.json",
          bytes: new TextEncoder().encode(JSON.stringify([
            {
              test: `CMD_short:0 ${long}`,
              end: `exited with code 1; ${long}`,
              stdout: long,
              stderr: long,
            },
          ])),
        }],
      });
      await store.enqueue(id, Date.now()); // re-run: the result stays while it waits
    } finally {
      await store.close();
    }
    await using svc = await serveInProcess(course);
    let browser: Browser | undefined;
    try {
      browser = await launch();
      const page = await (await browser.newContext({ viewport: { width: 360, height: 740 } }))
        .newPage();
      await page.goto(`${svc.url}/login?token=${course.tokens.alice}`);
      assert.deepEqual(await sidewaysScrolling(page), [], "/login");
      await page.click("main button[type=submit]");
      await page.waitForURL(`${svc.url}/`);
      for (const path of ["/", "/submit", `/submissions/${id}`, "/parts/part2", "/no/such"]) {
        await page.goto(`${svc.url}${path}`);
        assert.deepEqual(await sidewaysScrolling(page), [], path);
      }
      await page.goto(`${svc.url}/submissions/${id}`);
      const text = (await page.locator("#result").textContent() ?? "").replace(/\s+/g, " ");
      assert.match(text, /Queued position 1 .* Your result below stays/);
      assert.match(text, /Score 1\/4 \(the last grading\)/);
      assert.ok(
        await page.locator("details[open] pre.output").first().isVisible(),
        "failing: open",
      );

      // The chosen part's fields only, without script (CSS), and the same with it.
      for (const javaScriptEnabled of [false, true]) {
        const p = await (await browser.newContext({ javaScriptEnabled })).newPage();
        await p.goto(`${svc.url}/login?token=${course.tokens.alice}`);
        await p.click("main button[type=submit]");
        await p.waitForURL(`${svc.url}/`);
        await p.goto(`${svc.url}/submit?kind=part2`);
        const shown = async () => {
          const out: string[] = [];
          for (const f of ["script", "cert", "key", "csr", "sciper"]) {
            if (await p.locator(`#${f}`).isVisible()) out.push(f);
          }
          return out;
        };
        assert.deepEqual(await shown(), ["script"], `part2, script ${javaScriptEnabled}`);
        await p.selectOption("#kind", "part5");
        assert.deepEqual(await shown(), ["script", "cert", "key"]);
        await p.selectOption("#kind", "ca-sign");
        assert.deepEqual(await shown(), ["csr"]);
        await p.selectOption("#kind", "part4-sender");
        assert.deepEqual(await shown(), ["script", "sciper"]);
      }
    } finally {
      await browser?.close();
    }
  },
});
