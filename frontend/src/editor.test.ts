import { describe, expect, it } from "vitest";
import type { ApiClient, ServiceLimits } from "./api";
import { editorReducer, initialEditor, phaseOf, shownVersion, type EditorEvent, type EditorState } from "./editor";
import { isBusy, statusText } from "./fillStatus";
import { emptyTimeline } from "./history";
import type { MaskEdit } from "./mask";
import type { FillRequest, SavedWork } from "./persist";
import { undoneVersions, type Version } from "./versions";

const limits: ServiceLimits = {
  max_bytes: 1,
  max_pixels: 1,
  formats: [
    { content_type: "image/jpeg", name: "JPEG", extensions: ["jpg"] },
    { content_type: "image/heic", name: "HEIC", extensions: ["heic"] },
  ],
  max_uncertainty_samples: 32,
  max_jobs_per_upload: 8,
};
const client = {} as ApiClient;
const photo = (type = "image/jpeg") => new Blob(["photo"], { type });
const version = (file: Blob, parent: number | null): Version => ({ file, display: file, parent, uncertainty: null });
const opened = (file: Blob, name = "cat.jpg"): SavedWork => ({
  name,
  width: 4,
  height: 4,
  versions: [version(file, null)],
  timeline: emptyTimeline(),
});
const stroke: MaskEdit = { kind: "stroke", erase: false, size: 5, points: [{ x: 1, y: 1 }] };
const eraser: MaskEdit = { ...stroke, erase: true };
const request = (seed = 0): FillRequest => ({ parent: 0, at: 1, mask: new Blob(["mask"]), seed });
const job = { id: "j", status: "queued" as const, job_secret: "s" };
const problem = { title: "The server failed", message: "It broke." };

const run = (events: EditorEvent[], from: EditorState = initialEditor) => events.reduce(editorReducer, from);
const phases = (events: EditorEvent[]) => {
  const seen: string[] = [];
  events.reduce((state, event) => {
    const next = editorReducer(state, event);
    seen.push(phaseOf(next));
    return next;
  }, initialEditor);
  return seen;
};

describe("the editor's phases", () => {
  it("go from empty through painting, upload and the job to done", () => {
    const original = photo();
    const result = photo();
    expect(phaseOf(initialEditor)).toBe("empty");
    expect(
      phases([
        { type: "connected", client, limits },
        { type: "opened", work: opened(original) },
        { type: "edited", edit: stroke },
        { type: "fillStarted" },
        { type: "fillProgress", progress: { phase: "uploading", fraction: 0.5 } },
        { type: "jobStarted", original, pending: { ...request(), job } },
        { type: "fillProgress", progress: { phase: "queued" } },
        { type: "fillProgress", progress: { phase: "running" } },
        { type: "filled", original, request: request(), version: version(result, 0) },
      ]),
    ).toEqual(["empty", "opened", "painting", "uploading", "uploading", "uploading", "filling", "filling", "done"]);
  });

  it("adds the result as a version shown at once, forgets the job, and says what it made", () => {
    const original = photo("image/heic");
    const state = run([
      { type: "connected", client, limits },
      { type: "opened", work: opened(original) },
      { type: "edited", edit: stroke },
      { type: "fillStarted" },
      { type: "jobStarted", original, pending: { ...request(), job } },
      { type: "compared", value: 0.4 },
    ]);
    expect(state.work!.pending!.job).toBe(job);
    const done = editorReducer(state, { type: "filled", original, request: request(), version: version(photo(), 0) });
    expect(done.work!.versions).toHaveLength(2);
    expect(shownVersion(done)).toBe(1);
    expect(done.work!.pending).toBeNull();
    expect(done.compare).toBe(0);
    expect(statusText(done.fill, 1, undoneVersions(done.work!.timeline))).toBe(
      "Done. Fill 1 is a JPEG photo. HEIC photos come back as JPEG, which every app opens.",
    );
    const another = editorReducer(done, { type: "filled", original, request: request(1), version: version(photo(), 0) });
    expect(statusText(another.fill, 2, new Set())).toBe(
      "Done. Fill 2 is a JPEG photo. HEIC photos come back as JPEG, which every app opens. Another fill of the same mask on Original.",
    );
  });

  it("drops a fill's events once another photo is open", () => {
    const first = photo();
    const state = run([
      { type: "opened", work: opened(first) },
      { type: "fillStarted" },
      { type: "opened", work: opened(photo(), "dog.jpg") },
    ]);
    for (const event of [
      { type: "jobStarted", original: first, pending: { ...request(), job } },
      { type: "filled", original: first, request: request(), version: version(photo(), 0) },
      { type: "fillFailed", original: first, problem },
      { type: "fillInterrupted", original: first },
    ] as EditorEvent[]) {
      expect(editorReducer(state, event)).toBe(state);
    }
    expect(state.work!.name).toBe("dog.jpg");
    expect(phaseOf(state)).toBe("opened");
  });

  it("fails with the problem shown and the mask kept; painting again moves on", () => {
    const original = photo();
    const failed = run([
      { type: "opened", work: opened(original) },
      { type: "edited", edit: stroke },
      { type: "fillStarted" },
      { type: "jobStarted", original, pending: { ...request(), job } },
      { type: "fillFailed", original, problem },
    ]);
    expect(phaseOf(failed)).toBe("failed");
    expect(failed.problem).toBe(problem);
    expect(failed.work!.pending).toBeNull();
    expect(failed.work!.timeline.done).toEqual([stroke]);
    const painting = editorReducer(failed, { type: "edited", edit: stroke });
    expect(phaseOf(painting)).toBe("painting");
    // A new fill starts without the last one's problem on screen.
    expect(editorReducer(painting, { type: "fillStarted" }).problem).toBeNull();
  });

  it("cancels and forgets the job; a reload's lost job reads as stopped", () => {
    const original = photo();
    const running = run([
      { type: "opened", work: opened(original) },
      { type: "edited", edit: stroke },
      { type: "fillStarted" },
      { type: "jobStarted", original, pending: { ...request(), job } },
    ]);
    const cancelled = editorReducer(running, { type: "fillCancelled" });
    expect(phaseOf(cancelled)).toBe("cancelled");
    expect(cancelled.work!.pending).toBeNull();
    const interrupted = editorReducer(running, { type: "fillInterrupted", original });
    expect(phaseOf(interrupted)).toBe("cancelled");
    expect(interrupted.problem).toBeNull();
    expect(statusText(interrupted.fill, 0, new Set())).toMatch(/reloaded/);
    // A cancel after the fill ended is stale.
    expect(editorReducer(initialEditor, { type: "fillCancelled" }).fill).toEqual(initialEditor.fill);
  });

  it("counts what adds to the mask, for auto-fill, and keeps a running fill's progress while painting", () => {
    const state = run([
      { type: "opened", work: opened(photo()) },
      { type: "edited", edit: stroke },
      { type: "edited", edit: eraser },
      { type: "edited", edit: { kind: "grow", pixels: 4 } },
      { type: "edited", edit: { kind: "clear" } },
      { type: "fillStarted" },
      { type: "edited", edit: { kind: "shape", shape: "rectangle", points: [] } },
    ]);
    expect(state.additions).toBe(3);
    expect(isBusy(state.fill)).toBe(true);
    expect(phaseOf(state)).toBe("uploading");
    // Undo over everything leaves the photo opened, with nothing painted.
    const undone = run(Array(5).fill({ type: "undo" }), state);
    expect(undone.work!.timeline.done).toEqual([]);
    expect(phaseOf(run([{ type: "fillCancelled" }], undone))).toBe("cancelled");
    expect(run([{ type: "redo" }], undone).work!.timeline.done).toEqual([stroke]);
  });

  it("brings the last visit's work back, unless a photo was opened first", () => {
    const saved = { ...opened(photo()), pending: { ...request(), job } };
    const restored = run([{ type: "restored", work: saved }]);
    expect(restored.work).toBe(saved);
    expect(restored.notice).toBe("Your work on “cat.jpg” is back as you left it. The fill that was running is followed again.");
    const first = run([{ type: "opened", work: opened(photo(), "dog.jpg") }]);
    expect(editorReducer(first, { type: "restored", work: saved })).toBe(first);
  });

  it("switches versions from the strip with the slider reset; opening a photo clears what was said", () => {
    const original = photo();
    const two = run([
      { type: "connected", client, limits },
      { type: "opened", work: opened(original) },
      { type: "edited", edit: stroke },
      { type: "filled", original, request: request(), version: version(photo(), 0) },
      { type: "compared", value: 0.7 },
      { type: "selected", index: 0 },
    ]);
    expect(shownVersion(two)).toBe(0);
    expect(two.compare).toBe(0);
    const noisy = run([{ type: "notice", notice: "Hello." }, { type: "problem", problem }], two);
    const fresh = editorReducer(noisy, { type: "opened", work: opened(photo()) });
    expect([fresh.notice, fresh.problem, fresh.fill.phase, fresh.service?.limits]).toEqual([null, null, "idle", limits]);
  });
});
