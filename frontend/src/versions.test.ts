import { describe, expect, it } from "vitest";
import { emptyTimeline, record, redo, undo } from "./history";
import type { MaskEdit } from "./mask";
import { withResult } from "./persist";
import { currentVersion, maskEdits, switchTo, type Edit, type Version } from "./versions";

const stroke = (x: number): MaskEdit => ({ kind: "stroke", erase: false, size: 10, points: [{ x, y: 0 }] });

describe("fill history", () => {
  it("paints on the newest version; undo steps back over the fill and its strokes return", () => {
    let timeline = record(emptyTimeline<Edit>(), stroke(1));
    timeline = switchTo(timeline, 1);
    expect(currentVersion(timeline.done)).toBe(1);
    expect(maskEdits(timeline.done)).toEqual([]);
    timeline = record(timeline, stroke(2));
    expect(maskEdits(timeline.done)).toEqual([stroke(2)]);

    timeline = undo(undo(timeline));
    expect(currentVersion(timeline.done)).toBe(0);
    expect(maskEdits(timeline.done)).toEqual([stroke(1)]);
    timeline = redo(timeline);
    expect([currentVersion(timeline.done), maskEdits(timeline.done)]).toEqual([1, []]);
  });

  it("keeps strokes painted while a fill ran on the mask, over its result", () => {
    let timeline = record(emptyTimeline<Edit>(), stroke(1));
    const started = timeline.done.length;
    timeline = record(timeline, stroke(2));
    timeline = switchTo(timeline, 1, started);
    expect(currentVersion(timeline.done)).toBe(1);
    expect(maskEdits(timeline.done)).toEqual([stroke(2)]);
  });

  it("goes back to any version as an edit that can be undone", () => {
    let timeline = switchTo(switchTo(emptyTimeline<Edit>(), 1), 2);
    timeline = switchTo(timeline, 0);
    expect(currentVersion(timeline.done)).toBe(0);
    expect(currentVersion(undo(timeline).done)).toBe(2);
    // A fill that started before an undo goes where the timeline now ends.
    expect(switchTo(emptyTimeline<Edit>(), 3, 5).done).toEqual([{ kind: "version", index: 3 }]);
  });
});

describe("work saved by an older release", () => {
  it("keeps a fill's map with its meaning moved into the fill's result", () => {
    const [file, image, data] = [new Blob(["f"], { type: "image/jpeg" }), new Blob(["i"]), new Blob(["d"])];
    const older = { file, display: file, parent: 0, uncertainty: { image, data, method: "error-map", unit: "u", fullScale: 0.2 } };
    const version = withResult(older as unknown as Version);
    expect(version.uncertainty).toEqual({ image, data });
    expect(version.result).toEqual({
      content_type: "image/jpeg",
      uncertainty: { method: "error-map", unit: "u", full_scale: 0.2 },
    });
    expect(withResult(version)).toBe(version);
    const original: Version = { file, display: file, parent: null, uncertainty: null };
    expect(withResult(original)).toBe(original);
  });
});
