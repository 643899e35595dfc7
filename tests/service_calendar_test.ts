/**
 * The course's calendar (mod/service/calendar.ts) on its own: times read and
 * shown in the course's zone (both clock changes of 2021 in Lausanne), a
 * part's own window, a student's extension, the refusals' sentences; and
 * the rules it feeds (rules.ts: the window, the attempt limit, attempt
 * numbers). The stores apply them in tests/helpers/store_contract.ts.
 */
import assert from "node:assert/strict";
import {
  calendarLines,
  calendarSentence,
  changeCalendar,
  countdown,
  formatTime,
  isoInZone,
  parseTime,
  parseZone,
  windowOf,
  windowState,
} from "../mod/service/calendar.ts";
import { attemptNumbers, type Earlier, refusal } from "../mod/service/rules.ts";
import { type Calendar, DEFAULT_CALENDAR, KINDS } from "../mod/service/store/store.ts";

const ZONE = "Europe/Zurich";
/** The handout's dates: 4 Nov 2021 23:55 and 17 Nov 2021 23:55 in Lausanne (CET, UTC+1). */
const OPENS = Date.UTC(2021, 10, 4, 22, 55);
const CLOSES = Date.UTC(2021, 10, 17, 22, 55);

Deno.test("calendar: local times are the course's zone's; an offset is taken as given", () => {
  assert.equal(parseTime("2021-11-17T23:55", ZONE), CLOSES);
  assert.equal(parseTime("2021-11-04T23:55:00", ZONE), OPENS);
  assert.equal(parseTime("2021-11-17T22:55Z", ZONE), CLOSES);
  assert.equal(parseTime("2021-11-17T23:55+01:00", ZONE), CLOSES);
  assert.equal(parseTime("2021-11-17T17:55-05:00", "Asia/Tokyo"), CLOSES);
  assert.equal(parseTime("2021-11-18T07:55", "Asia/Tokyo"), CLOSES);
  // Summer time: 2 h ahead of UTC.
  assert.equal(parseTime("2021-07-01T12:00", ZONE), Date.UTC(2021, 6, 1, 10, 0));
  for (const bad of ["2021-11-17", "17.11.2021 23:55", "2021-13-01T00:00", "soon", ""]) {
    assert.throws(() => parseTime(bad, ZONE), /not a date and time/, bad);
  }
});

Deno.test("calendar: the autumn change's repeated hour and the spring change's missing one are refused", () => {
  // 31 Oct 2021: 03:00 CEST became 02:00 CET, so 02:30 happened twice.
  assert.throws(
    () => parseTime("2021-10-31T02:30", ZONE),
    /2021-10-31T02:30 happens twice in Europe\/Zurich \(the clocks go back\): give the offset, 2021-10-31T02:30\+02:00 or 2021-10-31T02:30\+01:00/,
  );
  assert.equal(parseTime("2021-10-31T02:30+02:00", ZONE), Date.UTC(2021, 9, 31, 0, 30));
  assert.equal(parseTime("2021-10-31T02:30+01:00", ZONE), Date.UTC(2021, 9, 31, 1, 30));
  // 28 Mar 2021: 02:00 CET became 03:00 CEST, so 02:30 never was.
  assert.throws(
    () => parseTime("2021-03-28T02:30", ZONE),
    /2021-03-28T02:30 does not exist in Europe\/Zurich \(the clocks go forward\): give the offset/,
  );
  assert.equal(parseTime("2021-03-28T03:30", ZONE), Date.UTC(2021, 2, 28, 1, 30));
  assert.equal(parseTime("2021-03-28T01:59", ZONE), Date.UTC(2021, 2, 28, 0, 59));
});

Deno.test("calendar: times are shown in the course's zone with its name", () => {
  assert.equal(formatTime(CLOSES, ZONE), "17 Nov 2021 23:55 CET");
  assert.equal(formatTime(CLOSES, ZONE, { weekday: true }), "Wed 17 Nov 2021 23:55 CET");
  assert.equal(formatTime(OPENS, ZONE, { weekday: true }), "Thu 4 Nov 2021 23:55 CET");
  assert.equal(formatTime(Date.UTC(2021, 6, 1, 10, 0), ZONE), "1 Jul 2021 12:00 CEST");
  assert.equal(isoInZone(CLOSES, ZONE), "2021-11-17T23:55:00.000+01:00");
  assert.equal(isoInZone(Date.UTC(2021, 6, 1, 10, 0), ZONE), "2021-07-01T12:00:00.000+02:00");
  assert.equal(parseTime(isoInZone(CLOSES, ZONE), "UTC"), CLOSES, "the API's times read back");
  assert.equal(parseZone("europe/zurich"), ZONE);
  assert.throws(() => parseZone("Mars/Olympus"), /'Mars\/Olympus' is not a time zone/);
});

Deno.test("calendar: countdowns to the minute", () => {
  const min = 60_000;
  assert.equal(countdown((2 * 24 * 60 + 3 * 60 + 20) * min), "2 days 3 h");
  assert.equal(countdown(24 * 60 * min), "1 day");
  assert.equal(countdown((5 * 60 + 10) * min), "5 h 10 min");
  assert.equal(countdown(42 * min - 1), "42 min");
  assert.equal(countdown(1), "1 min");
  assert.equal(countdown(-5), "0 min");
});

Deno.test("calendar: a part's own window, a student's extension, the sentences of refusals", () => {
  const cal: Calendar = {
    ...DEFAULT_CALENDAR,
    opens: OPENS,
    closes: CLOSES,
    parts: { part6: { closes: CLOSES + 86_400_000, attemptLimit: 10 } },
  };
  assert.deepEqual(windowOf(cal, "part2", []), { opens: OPENS, closes: CLOSES, attemptLimit: 100 });
  assert.deepEqual(windowOf(cal, "part6", []), {
    opens: OPENS,
    closes: CLOSES + 86_400_000,
    attemptLimit: 10,
  });
  const later = CLOSES + 2 * 86_400_000;
  const all = { userId: "a", kind: null, until: later, attempts: 5, grantedAt: 0 };
  const part6 = { userId: "a", kind: "part6" as const, until: null, attempts: 1, grantedAt: 0 };
  assert.deepEqual(windowOf(cal, "part2", [all, part6]), {
    opens: OPENS,
    closes: later,
    attemptLimit: 105,
  });
  assert.deepEqual(windowOf(cal, "part6", [all, part6]).attemptLimit, 11, "the part's own first");
  const earlier = { ...all, until: CLOSES - 1 };
  assert.equal(windowOf(cal, "part2", [earlier]).closes, CLOSES, "an extension never shortens");
  assert.deepEqual(windowState(windowOf(cal, "part2", []), OPENS - 1), {
    state: "not-open",
    next: OPENS,
  });
  assert.equal(windowState(windowOf(cal, "part2", []), CLOSES).state, "closed");
  assert.equal(
    calendarSentence({ refused: "closed", closes: CLOSES }, ZONE, "part2"),
    "the submission system closed on Wed 17 Nov 2021 23:55 CET",
  );
  assert.equal(
    calendarSentence({ refused: "not-open", opens: OPENS }, ZONE, "part2"),
    "the submission system opens on Thu 4 Nov 2021 23:55 CET",
  );
  assert.match(
    calendarSentence({ refused: "limit", attemptLimit: 100 }, ZONE, "part3")!,
    /all 100 attempts of part3: if you need more, send an email to the TA team/,
  );
  assert.equal(calendarSentence({ refused: "cooldown", retryAfterMs: 1 }, ZONE, "part2"), null);
  const changed = changeCalendar(cal, "part6", { closes: null });
  assert.equal(windowOf(changed, "part6", []).closes, null, "a part may never close");
  assert.equal(changed.parts.part6?.attemptLimit, 10, "the rest of its own is kept");
  const lines = calendarLines(changed, KINDS);
  assert.equal(lines[0], "time zone Europe/Zurich");
  assert.match(
    lines[1],
    /^course +opens Thu 4 Nov 2021 23:55 CET, closes Wed 17 Nov 2021 23:55 CET, 100 attempts$/,
  );
  assert.match(
    lines.find((l) => l.startsWith("part6"))!,
    /closes never, 10 attempts {2}\(its own\)$/,
  );
});

const earlier = (id: number, first: string): Earlier =>
  ({ id, createdAt: id, firstStatus: first, latestStatus: first }) as Earlier;

Deno.test("rules: the window before anything else, then the attempt limit; attempt numbers skip failures", () => {
  const window = { opens: 1000, closes: 5000, attemptLimit: 2 };
  const rules = { now: 3000, cooldownMs: 0, window };
  assert.deepEqual(refusal([], { ...rules, now: 999 }), { refused: "not-open", opens: 1000 });
  assert.deepEqual(refusal([earlier(1, "running")], { ...rules, now: 5000 }), {
    refused: "closed",
    closes: 5000,
  });
  assert.equal(refusal([], { ...rules, now: 6000, receivedAt: 4999 }), null, "received in time");
  const two = [earlier(1, "done"), earlier(2, "failed"), earlier(3, "done")];
  assert.deepEqual(refusal(two, rules), { refused: "limit", attemptLimit: 2 });
  assert.equal(refusal(two.slice(0, 2), rules), null);
  assert.deepEqual(
    [...attemptNumbers([earlier(3, "done"), earlier(1, "done"), earlier(2, "failed")])],
    [[1, 1], [3, 2]],
  );
});
