/**
 * The deadline hour on paper (pure, seeded): who submits what, when. Each
 * of S students makes 1 to 4 submissions, spread over a window whose
 * arrival rate rises toward the deadline (four times the rate at the end as
 * at the start: the density is 1 + 3t/W), of every kind, mostly good
 * scripts, some broken, a few hostile. The plan ignores the course's
 * limits (one job per kind at a time, the cooldown): like a student, the
 * player waits and submits again when the service says so.
 *
 * @module
 */
import { seededRandom } from "../../mod/random.ts";
import { type Kind, KINDS } from "../../mod/service/store/store.ts";

/** What the students submit: every kind the service takes. */
export const RUSH_KINDS = KINDS;
export type RushKind = Kind;

export type Quality = "good" | "broken" | "hostile";

export interface PlannedSubmission {
  student: number;
  /** Offset from the start of the window, ms. */
  atMs: number;
  kind: RushKind;
  quality: Quality;
}

export interface PlanOptions {
  students: number;
  windowMs: number;
  seed: number;
  /** Share of hostile submissions (default 0.03) and of broken ones (default 0.17). */
  hostile?: number;
  broken?: number;
  /** The kinds to draw from (default all), with weights. */
  kinds?: Partial<Record<RushKind, number>>;
}

/** How often each kind is submitted in the last hour (the lab's later parts are fewer). */
export const KIND_WEIGHTS: Record<RushKind, number> = {
  "part2": 25,
  "part3": 15,
  "part4-receiver": 10,
  "part4-sender": 10,
  "part5": 10,
  "part6": 20,
  "ca-sign": 10,
};

/** Submissions per student: 1 (30%), 2 (35%), 3 (20%), 4 (15%). */
const COUNT_WEIGHTS = [30, 35, 20, 15];

function pick<T>(rnd: () => number, items: readonly T[], weights: readonly number[]): T {
  const total = weights.reduce((a, b) => a + b, 0);
  let x = rnd() * total;
  for (let i = 0; i < items.length; i++) {
    x -= weights[i];
    if (x < 0) return items[i];
  }
  return items[items.length - 1];
}

/**
 * A point of the window drawn from the rising density 1 + 3x (x = t/W):
 * the inverse of its distribution function (x + 1.5x^2) / 2.5.
 */
export function risingOffset(u: number): number {
  return (-1 + Math.sqrt(1 + 15 * u)) / 3;
}

/** The rush's submissions, ordered by time. */
export function planRush(o: PlanOptions): PlannedSubmission[] {
  const rnd = seededRandom(o.seed);
  const hostile = o.hostile ?? 0.03;
  const broken = o.broken ?? 0.17;
  const weights = o.kinds ?? KIND_WEIGHTS;
  const kinds = RUSH_KINDS.filter((k) => (weights[k] ?? 0) > 0);
  const out: PlannedSubmission[] = [];
  for (let student = 0; student < o.students; student++) {
    const n = pick(rnd, [1, 2, 3, 4], COUNT_WEIGHTS);
    for (let i = 0; i < n; i++) {
      const u = rnd();
      const quality: Quality = u < hostile ? "hostile" : u < hostile + broken ? "broken" : "good";
      out.push({
        student,
        atMs: Math.round(risingOffset(rnd()) * o.windowMs),
        kind: pick(rnd, kinds, kinds.map((k) => weights[k]!)),
        quality,
      });
    }
  }
  return out.sort((a, b) => a.atMs - b.atMs || a.student - b.student);
}
