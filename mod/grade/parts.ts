/**
 * The gradable parts, in the lab's order. Each lives in its own module.
 *
 * @module
 */
import type { GradablePart } from "./part.ts";
import { part2 } from "./part2.ts";
import { part3 } from "./part3.ts";
import { part4Receiver, part4Sender } from "./part4.ts";
import { part5 } from "./part5.ts";
import { part6 } from "./part6.ts";

export const PARTS: GradablePart[] = [part2, part3, part4Receiver, part4Sender, part5, part6];
