/**
 * Fill history: the photo as opened and each fill's result are versions, and switching
 * to one is an edit in the same timeline as the strokes. So undo steps back over a fill
 * (its strokes come back, on the version they were painted on) as over a stroke, and
 * the mask shown is the strokes since the current version was made current.
 */
import type { JobResult } from "./api";
import * as history from "./history";
import type { MaskEdit } from "./mask";

/** A fill's uncertainty map, fetched: what its pixels mean is the fill's `result.uncertainty`. */
export interface UncertaintyLayer {
  image: Blob;
  /** The values, 16-bit grey (grey / 65535 in its `unit`), to measure with. */
  data: Blob;
}

export interface Version {
  /** What the next fill sends: the photo as opened, or a fill's result as the service wrote it. */
  file: Blob;
  /** What the browser shows: `file`, or a PNG of it where the browser cannot show its format. */
  display: Blob;
  /** The version that this one was filled from; null for the photo as opened. */
  parent: number | null;
  /** A fill's mask and seed, which "Try another" fills again with the next seed. */
  filledWith?: { mask: Blob; seed: number };
  /** What the service made, as it said (a fill's only). */
  result?: SavedResult;
  uncertainty: UncertaintyLayer | null;
}

/** A fill's `JobResult`. Work saved by the release before the service said how it filled
 * knows its map's meaning but not the fill's strategy or fill. */
export type SavedResult = Omit<JobResult, "strategy" | "fill"> &
  Partial<Pick<JobResult, "strategy" | "fill">>;

export type Edit = MaskEdit | { kind: "version"; index: number };
export type EditTimeline = history.Timeline<Edit>;

const isVersion = (edit: Edit): edit is Extract<Edit, { kind: "version" }> => edit.kind === "version";

/** The version shown and painted on. */
export function currentVersion(done: readonly Edit[]): number {
  for (let index = done.length - 1; index >= 0; index--) {
    const edit = done[index];
    if (isVersion(edit)) return edit.index;
  }
  return 0;
}

/** The strokes (and clears, and uploaded masks) on the current version. */
export function maskEdits(done: readonly Edit[]): MaskEdit[] {
  const last = done.findLastIndex(isVersion);
  return done.slice(last + 1) as MaskEdit[];
}

/**
 * Makes `index` current. A fill's result goes `at` the point where the fill started: the
 * strokes painted while it ran were not in it, so they stay on the mask, now over the result.
 */
export function switchTo(timeline: EditTimeline, index: number, at = timeline.done.length): EditTimeline {
  const position = Math.min(at, timeline.done.length);
  const edit: Edit = { kind: "version", index };
  return { done: [...timeline.done.slice(0, position), edit, ...timeline.done.slice(position)], undone: [] };
}

/** The fills whose switch was undone and not redone: Redo brings them back. */
export function undoneVersions(timeline: EditTimeline): Set<number> {
  const shown = new Set(timeline.done.filter(isVersion).map((edit) => edit.index));
  const undone = timeline.undone.filter(isVersion).map((edit) => edit.index);
  return new Set(undone.filter((index) => !shown.has(index)));
}

export const versionLabel = (index: number) => (index === 0 ? "Original" : `Fill ${index}`);

/** Object URLs for the versions' images, made once per blob and revoked with `release`. */
export class BlobUrls {
  private readonly urls = new Map<Blob, string>();

  of(blob: Blob) {
    let url = this.urls.get(blob);
    if (!url) {
      url = URL.createObjectURL(blob);
      this.urls.set(blob, url);
    }
    return url;
  }

  release() {
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
    this.urls.clear();
  }
}
