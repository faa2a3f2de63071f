import { describe, expect, it } from "vitest";
import { canRedo, canUndo, emptyTimeline, record, redo, undo } from "./history";

describe("the undo timeline", () => {
  it("undoes and redoes edits in order", () => {
    let timeline = record(record(emptyTimeline<string>(), "a"), "b");
    timeline = undo(timeline);
    expect(timeline.done).toEqual(["a"]);
    expect(canRedo(timeline)).toBe(true);
    timeline = undo(timeline);
    expect(canUndo(timeline)).toBe(false);
    timeline = redo(redo(timeline));
    expect(timeline.done).toEqual(["a", "b"]);
    expect(canRedo(timeline)).toBe(false);
  });

  it("drops what was undone when a new edit comes", () => {
    const timeline = record(undo(record(record(emptyTimeline<string>(), "a"), "b")), "c");
    expect(timeline.done).toEqual(["a", "c"]);
    expect(canRedo(timeline)).toBe(false);
  });

  it("does nothing past either end, and never mutates", () => {
    const empty = emptyTimeline<string>();
    expect(undo(empty)).toBe(empty);
    expect(redo(empty)).toBe(empty);
    const one = record(empty, "a");
    undo(one);
    expect(one.done).toEqual(["a"]);
  });
});
