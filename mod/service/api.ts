/**
 * The JSON API under `/api/`, used by `socklab submit` and the web pages.
 * Every route needs `Authorization: Bearer <token>` (the web pages'
 * session cookie maps to the same user); errors are
 * `{"error": "<one sentence>"}` with 400 (bad request), 401 (no or unknown
 * token), 403 (teaching-assistant route, student token), 404 (unknown id, or
 * someone else's submission), 413 (too large), 415 (not UTF-8 / not PEM),
 * 429 (one already queued or running, or cooldown; with `Retry-After`).
 *
 * Any signed-in user:
 *
 * - `GET  /api/me` -> {@link MeJson}: who, the course's policy, kept scores.
 * - `POST /api/submissions` multipart/form-data: `kind` (part2 part3
 *   part4-receiver part4-sender part5 part6 ca-sign), `sciper` (part4-sender,
 *   6 digits), and the files by field: `script` (every part), `cert` and
 *   `key` (part5, PEM), `csr` (ca-sign, PEM). -> 201 {@link CreatedJson}
 *   `{"id", "status", "position", "estimated_wait_s"}`. A refused upload
 *   queues nothing.
 * - `GET  /api/submissions` -> `{"submissions": [SubmissionJson...]}`, mine,
 *   newest first (`tests` omitted).
 * - `GET  /api/submissions/<id>` -> {@link SubmissionJson} `{"id", "kind",
 *   "user", "status", "position", "estimated_wait_s", "created_at",
 *   "files", "max_grade", "score", "success", "tests": [{"name", "passed",
 *   "scored", "detail"}], "error"}` (score fields null until done).
 * - `GET  /api/submissions/<id>/archive` -> `application/zip`
 *   `submission-<id>.zip`: the uploaded files, `output/result.json`
 *   (`{"max_grade", "score", "success", "tests"}`), `output/stdout.txt`,
 *   `output/stderr.txt`, and for ca-sign `output/<name>.crt`. 409 until done.
 * - `GET  /api/submissions/<id>/certificate` -> ca-sign: the signed
 *   certificate, `application/x-pem-file` (409 until done).
 *
 * Teaching assistant only (403 otherwise):
 *
 * - `GET  /api/course` -> `{"name", "policy", "students", "workers",
 *   "queued", "running"}`.
 * - `GET  /api/course/queue` -> `{"queued": [JobJson...], "running": [JobJson...]}`.
 * - `GET  /api/course/workers` -> `{"workers": [{"id", "host", "slots",
 *   "running", "last_seen"}]}`.
 * - `GET  /api/course/submissions?user=&kind=&status=&limit=` ->
 *   `{"submissions": [SubmissionJson...]}` (any student's; `GET
 *   /api/submissions/<id>` and its archive also work on any id).
 * - `POST /api/course/rerun` JSON `{"kind", "user"?}` -> `{"queued": n}`: a
 *   new job for every graded submission of that kind (of that user).
 * - `GET  /api/course/gradebook` -> `{"columns": [kind...], "rows": [{"id",
 *   "name", "scores": {kind: number | null}}]}`.
 * - `GET  /api/course/export` -> `text/csv`, header
 *   `id,name,part2,part3,part4-receiver,part4-sender,part5,part6,ca-sign`.
 *
 * @module
 */
import type { JobStatus, Kind, Policy, Role, TestRow } from "./store/store.ts";

export interface MeJson {
  id: string;
  name: string;
  role: Role;
  course: string;
  policy: Policy;
  /** Kept score per kind (null: nothing graded yet). */
  scores: Record<Kind, number | null>;
}

export interface CreatedJson {
  id: number;
  status: JobStatus;
  position: number | null;
  estimated_wait_s: number | null;
}

export interface SubmissionJson {
  id: number;
  kind: Kind;
  user: string;
  status: JobStatus;
  /** 1-based place in the queue while queued, else null. */
  position: number | null;
  /** Estimated seconds until the result, while queued or running. */
  estimated_wait_s: number | null;
  created_at: string;
  files: string[];
  max_grade: number | null;
  score: number | null;
  success: 0 | 1 | null;
  tests?: TestRow[];
  /** Why grading failed (status failed), or the last retried failure. */
  error: string | null;
}

export interface JobJson {
  id: number;
  submission: number;
  status: JobStatus;
  tries: number;
  worker: string | null;
  enqueued_at: string;
  started_at: string | null;
}
