import { describe, expect, it } from "vitest";
import { fillReducer, idle, isBusy, statusText, type FillEvent, type FillStatus } from "./fillStatus";
import { emptyTimeline, record, redo, undo } from "./history";
import { switchTo, undoneVersions, type Edit } from "./versions";

const run = (events: FillEvent[], from: FillStatus = idle) => events.reduce(fillReducer, from);
const none = new Set<number>();

describe("fill status", () => {
  it("goes through upload, queue and run to done, busy until then", () => {
    const phases: FillStatus[] = [];
    let status = idle;
    for (const event of [
      { type: "progress", progress: { phase: "uploading", fraction: 0.5 } },
      { type: "progress", progress: { phase: "queued" } },
      { type: "progress", progress: { phase: "running" } },
      { type: "finished", version: 1, message: "Fill 1 is a PNG photo." },
    ] as FillEvent[]) {
      status = fillReducer(status, event);
      phases.push(status);
    }
    expect(phases.map(isBusy)).toEqual([true, true, true, false]);
    expect(statusText(status, 1, none)).toBe("Done. Fill 1 is a PNG photo.");
  });

  it("says what is shown once the fill's version is undone, and that Redo brings it back", () => {
    let timeline = record(emptyTimeline<Edit>(), { kind: "stroke", erase: false, size: 5, points: [] });
    timeline = switchTo(timeline, 1);
    const done = run([{ type: "finished", version: 1, message: "Fill 1 is a PNG photo." }]);
    expect(statusText(done, 1, undoneVersions(timeline))).toMatch(/^Done\./);
    timeline = undo(timeline);
    expect(undoneVersions(timeline)).toEqual(new Set([1]));
    expect(statusText(done, 0, undoneVersions(timeline))).toBe(
      "Showing Original. Fill 1 is undone: Redo brings it back.",
    );
    timeline = redo(timeline);
    expect(undoneVersions(timeline)).toEqual(new Set());
    expect(statusText(done, 1, undoneVersions(timeline))).toMatch(/^Done\./);
    // Another version picked by hand is not undone: it is only not shown.
    expect(statusText(done, 0, none)).toBe("Showing Original.");
  });

  it("reports a cancel, and ignores a cancel or failure that comes after the fill ended", () => {
    const running = run([{ type: "progress", progress: { phase: "running" } }]);
    const cancelled = fillReducer(running, { type: "cancelled" });
    expect(cancelled.phase).toBe("cancelled");
    expect(statusText(cancelled, 0, none)).toMatch(/^Fill cancelled\. The mask is as you left it/);
    const done = run([{ type: "finished", version: 2, message: "m" }]);
    expect(fillReducer(done, { type: "failed" })).toBe(done);
    expect(fillReducer(done, { type: "cancelled" })).toBe(done);
    expect(fillReducer(idle, { type: "interrupted" })).toBe(idle);
    expect(statusText(fillReducer(running, { type: "interrupted" }), 0, none)).toMatch(/reloaded/);
    expect(statusText(fillReducer(running, { type: "failed" }), 0, none)).toBe("");
  });
});
