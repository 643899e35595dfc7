import assert from "node:assert/strict";
import { errorMessage, RunError } from "../mod/errors.ts";

Deno.test("errorMessage: the message, each cause not already in it, no (os error N)", () => {
  assert.equal(errorMessage(new Error("Connection refused (os error 111)")), "Connection refused");
  assert.equal(errorMessage("plain text"), "plain text");
  assert.equal(errorMessage(undefined), "undefined");
  const inner = new Error("permission denied (os error 13)");
  const outer = new RunError("cannot read ca.crt", { cause: inner });
  assert.equal(errorMessage(outer), "cannot read ca.crt: permission denied");
  // A cause whose text the message already carries is not repeated.
  const said = new Error("cannot read ca.crt: permission denied", { cause: inner });
  assert.equal(errorMessage(said), "cannot read ca.crt: permission denied");
  // A cycle of causes ends.
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  (a as { cause?: unknown }).cause = b;
  assert.equal(errorMessage(b), "b: a");
});
