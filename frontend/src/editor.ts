/**
 * The editor's state as one reducer: the service, the work (photo, versions, strokes, the
 * job being followed), where the fill stands, and what the header and the error notice say.
 * Every change is an event here, so each phase and its rules are tested without a browser
 * (`editor.test.ts`); the components dispatch events and render `phaseOf` and `statusText`.
 *
 * What only moves the view (tool, brush size, zoom, the map's opacity) stays in the
 * components: it has no phase and no rule.
 */
import type { ApiClient, ServiceLimits } from "./api";
import type { Problem } from "./components/ErrorNotice";
import type { FillProgress } from "./fill";
import { fillReducer, idle, isBusy, type FillStatus } from "./fillStatus";
import * as history from "./history";
import type { MaskEdit } from "./mask";
import type { FillRequest, PendingFill, SavedWork } from "./persist";
import { currentVersion, maskEdits, switchTo, versionLabel, type Version } from "./versions";

export interface EditorState {
  service: { client: ApiClient; limits: ServiceLimits } | null;
  work: SavedWork | null;
  fill: FillStatus;
  problem: Problem | null;
  notice: string | null;
  /** Strokes, shapes and grows that added to the mask: each starts a fill when auto-fill is on. */
  additions: number;
  /** Where the before/after slider stands, 0 to 1. */
  compare: number;
  /** A photo opened before the service's limits came, opened once they do. */
  waiting: File | null;
}

export const initialEditor: EditorState = {
  service: null,
  work: null,
  fill: idle,
  problem: null,
  notice: null,
  additions: 0,
  compare: 0,
  waiting: null,
};

/**
 * A fill's events name the work they belong to by its original file: one that ends after
 * another photo was opened changes nothing.
 */
export type EditorEvent =
  | { type: "connected"; client: ApiClient; limits: ServiceLimits }
  | { type: "problem"; problem: Problem | null }
  | { type: "notice"; notice: string | null }
  /** The work of the last visit, read back from IndexedDB; a photo opened meanwhile wins. */
  | { type: "restored"; work: SavedWork }
  | { type: "waiting"; file: File | null }
  | { type: "opened"; work: SavedWork }
  | { type: "edited"; edit: MaskEdit }
  | { type: "undo" }
  | { type: "redo" }
  | { type: "selected"; index: number }
  | { type: "compared"; value: number }
  | { type: "fillStarted" }
  | { type: "fillProgress"; progress: FillProgress }
  | { type: "jobStarted"; original: Blob; pending: PendingFill }
  | { type: "filled"; original: Blob; request: FillRequest; version: Version }
  | { type: "fillFailed"; original: Blob; problem: Problem }
  /** A fill that a reload cut off, whose job could not be followed again. */
  | { type: "fillInterrupted"; original: Blob }
  | { type: "fillCancelled" };

export type Phase = "empty" | "opened" | "painting" | "uploading" | "filling" | "done" | "failed" | "cancelled";

export function phaseOf(state: EditorState): Phase {
  const { work, fill } = state;
  if (!work) return "empty";
  switch (fill.phase) {
    case "uploading":
      return "uploading";
    case "queued":
    case "running":
      return "filling";
    case "done":
    case "failed":
    case "cancelled":
      return fill.phase;
    case "interrupted":
      return "cancelled";
    case "idle":
      return maskEdits(work.timeline.done).length > 0 ? "painting" : "opened";
  }
}

const ADDS_TO_THE_MASK = (edit: MaskEdit) =>
  (edit.kind === "stroke" && !edit.erase) || edit.kind === "shape" || edit.kind === "grow";

export function editorReducer(state: EditorState, event: EditorEvent): EditorState {
  const { work } = state;
  const ours = (original: Blob) => work !== null && work.versions[0].file === original;
  const withTimeline = (change: (timeline: SavedWork["timeline"]) => SavedWork["timeline"]) =>
    work ? { ...state, work: { ...work, timeline: change(work.timeline) } } : state;
  switch (event.type) {
    case "connected":
      return { ...state, service: { client: event.client, limits: event.limits } };
    case "problem":
      return { ...state, problem: event.problem };
    case "notice":
      return { ...state, notice: event.notice };
    case "restored":
      if (work) return state;
      return {
        ...state,
        work: event.work,
        notice: `Your work on “${event.work.name}” is back as you left it.${
          event.work.pending ? " The fill that was running is followed again." : ""
        }`,
      };
    case "waiting":
      return { ...state, waiting: event.file };
    case "opened":
      return { ...state, work: event.work, fill: idle, problem: null, notice: null, compare: 0 };
    case "edited": {
      if (!work) return state;
      // Painting again is the next thing under way: the last fill's words give way to it.
      const fill = isBusy(state.fill) ? state.fill : idle;
      const additions = state.additions + (ADDS_TO_THE_MASK(event.edit) ? 1 : 0);
      return { ...withTimeline((timeline) => history.record(timeline, event.edit)), fill, notice: null, additions };
    }
    case "undo":
      return withTimeline(history.undo);
    case "redo":
      return withTimeline(history.redo);
    case "selected":
      return { ...withTimeline((timeline) => switchTo(timeline, event.index)), compare: 0 };
    case "compared":
      return { ...state, compare: event.value };
    case "fillStarted":
      return { ...state, problem: null, fill: { phase: "uploading", fraction: 0 } };
    case "fillProgress":
      return { ...state, fill: fillReducer(state.fill, { type: "progress", progress: event.progress }) };
    case "jobStarted":
      return ours(event.original) ? { ...state, work: { ...work!, pending: event.pending } } : state;
    case "filled": {
      if (!ours(event.original)) return state;
      const index = work!.versions.length;
      const message = filledMessage(state, event.request, event.version, index);
      return {
        ...state,
        work: {
          ...work!,
          versions: [...work!.versions, event.version],
          timeline: switchTo(work!.timeline, index, event.request.at),
          pending: null,
        },
        compare: 0,
        fill: fillReducer(state.fill, { type: "finished", version: index, message }),
      };
    }
    case "fillFailed":
    case "fillInterrupted": {
      if (!ours(event.original)) return state;
      const failed = event.type === "fillFailed";
      return {
        ...state,
        work: { ...work!, pending: null },
        fill: fillReducer(state.fill, { type: failed ? "failed" : "interrupted" }),
        problem: failed ? event.problem : state.problem,
      };
    }
    case "fillCancelled":
      return {
        ...state,
        work: work && { ...work, pending: null },
        fill: fillReducer(state.fill, { type: "cancelled" }),
      };
  }
}

/** The version shown and painted on. */
export const shownVersion = (state: EditorState) => currentVersion(state.work?.timeline.done ?? []);

export function formatName(state: EditorState, contentType: string) {
  return state.service?.limits.formats.find((format) => format.content_type === contentType)?.name ?? contentType;
}

function filledMessage(state: EditorState, request: FillRequest, version: Version, index: number) {
  const format = formatName(state, version.file.type);
  const from = state.work!.versions[request.parent].file.type;
  const converted =
    from !== version.file.type && request.parent === 0
      ? ` ${formatName(state, from)} photos come back as ${format}, which every app opens.`
      : "";
  const another = request.seed > 0 ? ` Another fill of the same mask on ${versionLabel(request.parent)}.` : "";
  return `${versionLabel(index)} is a ${format} photo.${converted}${another}`;
}
