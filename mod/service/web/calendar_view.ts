/**
 * The calendar as the pages show it to a student (and to the teaching
 * assistant on a student's page): the course's zone, the clock, and in
 * the last hour before one of their parts closes the current estimated
 * wait. Used by pages.ts and course_pages.ts.
 *
 * @module
 */
import { currentWait, type PartJson } from "../submissions.ts";
import type { WebContext } from "./guards.ts";
import type { CalendarView } from "./views.ts";

/** How long before a close the student's pages show the current estimated wait, ms. */
const LAST_HOUR_MS = 3600_000;

/**
 * The calendar as a student's pages show it: the zone, the clock and, in
 * the last hour before one of their parts closes, the current estimated wait.
 */
export async function calendarView(ctx: WebContext, parts: PartJson[]): Promise<CalendarView> {
  const { timezone: zone } = (await ctx.store.getCourse())!.calendar;
  const now = ctx.now();
  const closing = parts.filter((p) => p.state === "open" && p.closes !== null)
    .map((p) => Date.parse(p.closes!)).filter((t) => t - now <= LAST_HOUR_MS);
  if (closing.length === 0) return { zone, now, lastHour: null };
  const queued = (await ctx.store.listJobs("queued")).length;
  return {
    zone,
    now,
    lastHour: { closes: Math.min(...closing), waitS: await currentWait(ctx), queued },
  };
}
