/**
 * The calendar in a real browser (Chromium at 1280 px, playwright-core):
 * the student's home in the last hour before the close (the calendar, the
 * countdown, attempt n of N, the banner with the estimated wait) and their
 * history of part 2, reached by its link; nothing wider than the window,
 * every table inside its box, headings and labels in order. The clock is
 * injected; grading is played through the store.
 *
 * Set SOCKLAB_DOCS_SHOTS=docs to also write the screenshots.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { assertAccessible, launch, shot } from "./helpers/browser.ts";
import {
  finishNext,
  HANDOUT,
  makeCourse,
  postSubmission,
  serveInProcess,
  TestClock,
} from "./helpers/service.ts";

const { opens: OPENS, closes: CLOSES } = HANDOUT;
const MIN = 60_000;

/** Elements whose content is wider than they are (a table cut, a page scrolling sideways). */
async function overflowing(page: Page): Promise<string[]> {
  return await page.evaluate(`(() => {
    const out = [];
    if (document.documentElement.scrollWidth > window.innerWidth) out.push("the page");
    for (const el of document.querySelectorAll(".table-wrap, main, table")) {
      if (el.scrollWidth > el.clientWidth + 1) out.push(el.outerHTML.slice(0, 80));
    }
    return out;
  })()`) as string[];
}

Deno.test({
  name:
    "browser calendar: the student's home in the last hour and the history of a part at 1280 px",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const calendar = { opens: OPENS, closes: CLOSES };
    await using course = await makeCourse(["alice"], {}, { calendar });
    const clock = new TestClock(OPENS + MIN);
    await using svc = await serveInProcess(course, { clock: clock.now });
    const alice = course.tokens.alice;
    for (const score of [1, "grader failure", 4, 2] as const) {
      const made = await postSubmission(svc.url, alice, {
        kind: "part2",
        files: { script: { name: "PDC.py", data: "print(1)\n" } },
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      await finishNext(svc.store, score);
    }
    // A worker machine with two slots is alive: the banner can estimate the wait.
    await svc.store.registerWorker({ id: "lab-pc", host: "lab-pc", slots: 2 }, Date.now());
    clock.at(CLOSES - 45 * MIN);
    const dir = await Deno.makeTempDir({ prefix: "socklab-calendar-browser-" });
    let browser: Browser | undefined;
    try {
      browser = await launch();
      const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } }))
        .newPage();
      await page.goto(`${svc.url}/login`);
      await page.fill("#token", alice);
      await page.click("main button[type=submit]");
      await page.waitForURL(`${svc.url}/`);
      assert.equal(await page.locator("h1").textContent(), "My parts");
      const banner = (await page.locator(".banner").textContent() ?? "").replace(/\s+/g, " ");
      assert.match(banner, /closes at 17 Nov 2021 23:55 CET, in 45 min/);
      assert.match(banner, /a result takes about \d+ s now \(0 submission\(s\) waiting\)/);
      const part2 = page.locator("tbody tr", { hasText: "Part2 - Packetization" });
      const cells = (await part2.locator("td").allTextContents()).map((t) =>
        t.replace(/\s+/g, " ").trim()
      );
      assert.equal(cells[0], "4/4", "the best score");
      assert.equal(cells[1], "3 of 100", "attempt 3 of 100: the grader failure is none");
      assert.match(cells[2], /^open, closes in 45 min \(Wed 17 Nov 2021 23:55 CET\)$/);
      assert.match(
        (await page.locator("#calendar").textContent() ?? "").replace(/\s+/g, " "),
        /opens on Thu 4 Nov 2021 23:55 CET and closes on Wed 17 Nov 2021 23:55 CET, Europe\/Zurich time/,
      );
      assert.deepEqual(await overflowing(page), []);
      await assertAccessible(page);
      await shot(page, dir, "student-calendar.png");

      await part2.locator('a[href="/parts/part2"]').click();
      await page.waitForURL(`${svc.url}/parts/part2`);
      assert.equal(await page.locator("h1").textContent(), "Part2 - Packetization");
      const rows = page.locator("table[aria-labelledby=history] tbody tr");
      assert.equal(await rows.count(), 4);
      const counts = await rows.locator("td:nth-child(6)").allTextContents();
      assert.deepEqual(counts.map((t) => t.trim()), ["", "counts", "not an attempt", ""]);
      const attempts = await rows.locator("td:nth-child(5)").allTextContents();
      assert.deepEqual(attempts.map((t) => t.trim()), ["3", "2", "–", "1"]);
      assert.match(await page.locator(".banner").textContent() ?? "", /in 45 min/);
      assert.deepEqual(await overflowing(page), []);
      await assertAccessible(page);
      await shot(page, dir, "student-history.png");

      // Each row leads to its result and its archive.
      await rows.nth(1).locator("td:first-child a").click();
      await page.waitForURL(/\/submissions\/\d+$/);
      assert.match(await page.locator("main").textContent() ?? "", /score 4\/4/);
    } finally {
      await browser?.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
