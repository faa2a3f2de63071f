/**
 * Where a fill stands, as one reducer: every change of phase is an event here, the busy
 * flag and the status line are derived from it in one place, and the status line follows
 * the version shown (undo, redo, a version picked) rather than the last fill's words.
 */
import type { FillProgress } from "./fill";
import { versionLabel } from "./versions";

export type FillStatus =
  | { phase: "idle" }
  | FillProgress
  | { phase: "done"; version: number; message: string }
  | { phase: "failed" }
  | { phase: "cancelled" }
  | { phase: "interrupted" };

export type FillEvent =
  | { type: "progress"; progress: FillProgress }
  | { type: "finished"; version: number; message: string }
  | { type: "failed" }
  | { type: "cancelled" }
  /** A fill that a reload cut off, whose job could not be followed again. */
  | { type: "interrupted" };

export const idle: FillStatus = { phase: "idle" };

export function fillReducer(status: FillStatus, event: FillEvent): FillStatus {
  switch (event.type) {
    case "progress":
      return event.progress;
    case "finished":
      return { phase: "done", version: event.version, message: event.message };
    case "failed":
    case "cancelled":
    case "interrupted":
      // A fill that is not running cannot fail or be cancelled: a late event is stale.
      return isBusy(status) ? { phase: event.type } : status;
  }
}

export function isBusy(status: FillStatus): status is FillProgress {
  return status.phase === "uploading" || status.phase === "queued" || status.phase === "running";
}

const PROGRESS: Record<FillProgress["phase"], string> = {
  uploading: "Uploading…",
  queued: "Queued: waiting for a free worker…",
  running: "Filling: the network draws what belongs in the hole, then the photo's own texture is copied in…",
};

/**
 * The status line: the fill's progress while it runs; once it is done, what it made while
 * that version is shown, and otherwise which version is shown and whether the fill's own
 * version was undone.
 */
export function statusText(status: FillStatus, shown: number, undone: ReadonlySet<number>): string {
  switch (status.phase) {
    case "idle":
    case "failed":
      return "";
    case "uploading":
    case "queued":
    case "running":
      return PROGRESS[status.phase];
    case "cancelled":
      return "Fill cancelled. The mask is as you left it: press Fill to start again.";
    case "interrupted":
      return "The fill that was running when the page was reloaded could not be followed: press Fill to start it again.";
    case "done": {
      if (status.version === shown) return `Done. ${status.message}`;
      const made = versionLabel(status.version);
      const why = undone.has(status.version) ? ` ${made} is undone: Redo brings it back.` : "";
      return `Showing ${versionLabel(shown)}.${why}`;
    }
  }
}
