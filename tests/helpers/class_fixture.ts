/**
 * A course as a teaching assistant sees it mid-lab: `n` students (names with
 * accents), an hour of graded submissions spread over every part, a few
 * jobs still queued. Made through the store as the workers would, so the
 * pages, their charts and histograms have something to show.
 *
 * @module
 */
import { openStore } from "../../mod/service/store/open.ts";
import { KINDS } from "../../mod/service/store/store.ts";
import { importRoster } from "../../mod/service/course.ts";
import { seededRandom } from "../../mod/random.ts";
import { gradedSubmission, type TestCourse } from "./service.ts";

const FIRST = ["Zoé", "Léa", "Noah", "Emma", "Luca", "Mia", "Élise", "Timo", "Anaïs", "Omar"];
const LAST = ["Müller", "Rossi", "Dubois", "Keller", "Martin", "Nguyen", "Bernard", "Meier"];

/** The student ids of {@link populateClass}: `s001`, `s002`... */
export const classId = (i: number) => `s${String(i + 1).padStart(3, "0")}`;

/**
 * Add `n` students to `course` and an hour of grading before `now`: about
 * two thirds of them submitted some parts (scores 0..max), `queued` more
 * jobs wait. Returns the roster's new tokens by id.
 */
export async function populateClass(
  course: TestCourse,
  n: number,
  now: number,
  opts: { queued?: number; seed?: number } = {},
): Promise<Record<string, string>> {
  const rnd = seededRandom(opts.seed ?? 3);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const store = await openStore({ data: course.data });
  try {
    const rows = Array.from({ length: n }, (_, i) => ({
      id: classId(i),
      name: `${pick(FIRST)} ${pick(LAST)}`,
      email: `${classId(i)}@example.org`,
    }));
    const { added } = await importRoster(store, rows);
    let t = now - 3_500_000;
    for (let i = 0; i < n; i++) {
      if (rnd() > 0.66) continue;
      for (const kind of KINDS) {
        if (rnd() > 0.6) continue;
        const maxGrade = kind === "ca-sign" ? 1 : 4 + (KINDS.indexOf(kind) % 3);
        t += Math.floor(rnd() * 7000);
        await gradedSubmission(store, classId(i), kind, Math.floor(rnd() * (maxGrade + 1)), {
          at: Math.min(t, now - 60_000),
          waitMs: Math.floor(rnd() * 60_000),
          runMs: 2000 + Math.floor(rnd() * 8000),
          maxGrade,
        });
      }
    }
    for (let q = 0; q < (opts.queued ?? 0); q++) {
      await store.createSubmission(
        {
          userId: classId(q),
          kind: "part6",
          files: [{ name: "PDC.py", bytes: new TextEncoder().encode("print(1)\n") }],
        },
        { now: now - 1000 * (opts.queued! - q), cooldownMs: 0 },
      );
    }
    return Object.fromEntries(added.map((a) => [a.id, a.token]));
  } finally {
    await store.close();
  }
}
