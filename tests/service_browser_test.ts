/**
 * The scoring service's pages in a real browser: Debian's Chromium, headless,
 * driven by playwright-core (no browser download). A student signs in with
 * the link, submits a part 2 script through the form, watches the result
 * arrive without a reload, downloads the archive; a refused upload; someone
 * else's submission; the TA's queue, grade book export and escaping.
 *
 * Set SOCKLAB_DOCS_SHOTS=docs to also write the student's result the README
 * shows (the TA's course page: service_ta_browser_test.ts).
 */
import assert from "node:assert/strict";
import { unzipSync } from "fflate";
import type { Browser } from "playwright-core";
import { openStore } from "../mod/service/store/open.ts";
import { assertAccessible, launch, shot, sidewaysScrolling } from "./helpers/browser.ts";
import {
  clientScript,
  makeCourse,
  postSubmission,
  serveInProcess,
  waitStatus,
} from "./helpers/service.ts";

Deno.test({
  name: "browser: a student submits part 2 through the form and watches it graded; the TA's pages",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using course = await makeCourse(["alice", "bob", "s1", "s2", "s3", "s4", "s5"]);
    {
      const store = await openStore({ data: course.data });
      await store.upsertUser({
        id: "s5",
        name: "<script>alert(5)</script>",
        email: "",
        role: "student",
      });
      await store.close();
    }
    // The script execs socklab's own pdc from this checkout, which a sandbox does not show.
    await using svc = await serveInProcess(course, { workers: 1, isolation: "off" });
    const scripts = await Deno.makeTempDir({ prefix: "socklab-browser-" });
    let browser: Browser | undefined;
    try {
      browser = await launch();
      await Deno.writeTextFile(`${scripts}/PDC.py`, clientScript("pdc"));
      await Deno.writeFile(`${scripts}/a.out`, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 0xff]));
      const dialogs: string[] = [];
      const ctx = await browser.newContext({
        acceptDownloads: true,
        viewport: { width: 1000, height: 800 },
      });
      const page = await ctx.newPage();
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        d.dismiss();
      });

      // Sign in with the personal link and one press: the token leaves the address bar.
      await page.goto(`${svc.url}/login?token=${course.tokens.alice}`);
      assert.match(
        await page.locator("main").textContent() ?? "",
        /Sign in as Student alice \(alice\)\?/,
      );
      await page.click("main button[type=submit]");
      await page.waitForURL(`${svc.url}/`);
      assert.equal(new URL(page.url()).pathname, "/");
      assert.ok(!page.url().includes("token"));
      assert.equal(await page.locator("h1").textContent(), "My parts");
      await assertAccessible(page);

      // A binary "script" comes back with the reason next to the field.
      await page.goto(`${svc.url}/submit`);
      await assertAccessible(page);
      await page.selectOption("#kind", "part3");
      await page.setInputFiles("#script", `${scripts}/a.out`);
      await page.click("main button[type=submit]");
      assert.match(await page.locator("#script-error").textContent() ?? "", /not a text file/);
      assert.equal(await page.locator("#kind").inputValue(), "part3", "the part is kept");

      // New submission from the home page's link: part 2 with socklab's own client.
      await page.goto(`${svc.url}/`);
      await page.click('a[href="/submit?kind=part2"]');
      assert.equal(await page.locator("#kind").inputValue(), "part2");
      await page.setInputFiles("#script", `${scripts}/PDC.py`);
      await page.focus("main button[type=submit]");
      await page.keyboard.press("Enter"); // by keyboard: the form needs no mouse
      await page.waitForURL(/\/submissions\/\d+$/);
      assert.match(new URL(page.url()).pathname, /^\/submissions\/\d+$/);
      const id = Number(new URL(page.url()).pathname.split("/")[2]);
      // A marker that a reload would erase: the result must arrive in place.
      await page.evaluate(() => (globalThis as unknown as { marker: number }).marker = 42);
      await page.locator("#result [data-final='1']").waitFor({ timeout: 120_000 });
      assert.equal(
        await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker),
        42,
        "the page changed without a reload",
      );
      const api = await (await fetch(`${svc.url}/api/submissions/${id}`, {
        headers: { authorization: `Bearer ${course.tokens.alice}` },
      })).json();
      assert.equal(api.status, "done");
      assert.equal(api.score, api.max_grade, JSON.stringify(api));
      const rows = page.locator("#result li.test");
      assert.equal(await rows.count(), api.tests.length);
      // Each test's own output under it: the first run printed the PMU's messages.
      const first = page.locator("#result li.test details").first();
      await first.locator("summary").click();
      assert.match(await first.locator("pre.output").first().textContent() ?? "", /PMU data/);
      assert.match(await first.locator(".grader").textContent() ?? "", /the program exited/);
      assert.ok(api.tests.length >= 4);
      assert.match(
        await page.locator("#result").textContent() ?? "",
        new RegExp(`score ${api.score}/${api.max_grade}`),
      );
      await assertAccessible(page, true);
      await shot(page, scripts, "student-result.png");
      // Readable on a phone: at 360 px nothing on the page scrolls sideways.
      await page.setViewportSize({ width: 360, height: 740 });
      assert.deepEqual(await sidewaysScrolling(page), []);
      await page.setViewportSize({ width: 1000, height: 800 });

      // The archive: the script and output/.
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.click("text=Download the submission"),
      ]);
      const zip = unzipSync(await Deno.readFile(await download.path()));
      assert.ok(zip["PDC.py"], Object.keys(zip).join(", "));
      const result = JSON.parse(new TextDecoder().decode(zip["output/result.json"]));
      assert.equal(result.score, api.score);

      // Someone else's submission: not found.
      const bobs = await postSubmission(svc.url, course.tokens.bob, {
        kind: "part6",
        files: { script: { name: "PDC.py", data: "import sys\nsys.exit(3)\n" } },
      });
      assert.equal(bobs.status, 201);
      const other = await page.goto(`${svc.url}/submissions/${bobs.body.id}`);
      assert.equal(other?.status(), 404);

      // Five submissions at once: the TA sees them in the queue. The one worker is kept busy
      // first (a script that sleeps), so that all five are still queued when the TA looks.
      const sleeper = await postSubmission(svc.url, course.tokens.alice, {
        kind: "part3",
        files: { script: { name: "PDC.py", data: "import time\ntime.sleep(600)\n" } },
      });
      assert.equal(sleeper.status, 201);
      await waitStatus(svc.url, course.tokens.alice, sleeper.body.id as number, ["running"]);
      const five = await Promise.all(
        ["s1", "s2", "s3", "s4", "s5"].map((s) =>
          postSubmission(svc.url, course.tokens[s], {
            kind: "part3",
            files: { script: { name: "PDC.py", data: "import sys\nsys.exit(1)\n" } },
          })
        ),
      );
      for (const f of five) assert.equal(f.status, 201);
      const ta = await (await browser.newContext({ viewport: { width: 1100, height: 900 } }))
        .newPage();
      ta.on("dialog", (d) => {
        dialogs.push(d.message());
        d.dismiss();
      });
      await ta.goto(`${svc.url}/login?token=${course.ta}`);
      await ta.click("main button[type=submit]");
      await ta.waitForURL(`${svc.url}/course`);
      await ta.click("text=Queue");
      const queue = await ta.locator("table[aria-labelledby=queued] tbody").textContent() ?? "";
      for (const f of five) assert.ok(queue.includes(`#${f.body.id}`), queue);
      // The name with <script> is text, and ran nothing.
      assert.ok(queue.includes("<script>alert(5)</script> (s5)"), queue);
      await ta.click("text=Grade book");
      assert.ok(
        (await ta.locator("table[aria-labelledby=book]").textContent())!.includes(
          "<script>alert(5)</script>",
        ),
      );
      assert.deepEqual(dialogs, []);
      await assertAccessible(ta);

      // Export the grade book from the page: alice's part 2 score is in it.
      const [csv] = await Promise.all([
        ta.waitForEvent("download"),
        ta.click("text=Export the grade book (CSV)"),
      ]);
      const lines = (await Deno.readTextFile(await csv.path())).trim().split("\n");
      assert.equal(lines[0], "id,name,part2,part3,part4-receiver,part4-sender,part5,part6,ca-sign");
      assert.ok(lines.includes(`alice,Student alice,${api.score},,,,,,`), lines.join("\n"));
    } finally {
      await browser?.close();
      await Deno.remove(scripts, { recursive: true }).catch(() => {});
    }
  },
});
