/**
 * An undo/redo timeline of edits. Immutable, so React state holds it as it is.
 *
 * The mask is rebuilt by replaying `done` from a blank canvas, so no edit is ever dropped
 * from the start: the edits are small (a stroke is its points), and a cap would change
 * what the replay draws.
 */
export interface Timeline<T> {
  readonly done: readonly T[];
  readonly undone: readonly T[];
}

export function emptyTimeline<T>(): Timeline<T> {
  return { done: [], undone: [] };
}

/** Adds an edit; what was undone can no longer be redone. */
export function record<T>(timeline: Timeline<T>, edit: T): Timeline<T> {
  return { done: [...timeline.done, edit], undone: [] };
}

export function undo<T>(timeline: Timeline<T>): Timeline<T> {
  if (!canUndo(timeline)) return timeline;
  const last = timeline.done[timeline.done.length - 1];
  return { done: timeline.done.slice(0, -1), undone: [...timeline.undone, last] };
}

export function redo<T>(timeline: Timeline<T>): Timeline<T> {
  if (!canRedo(timeline)) return timeline;
  const next = timeline.undone[timeline.undone.length - 1];
  return { done: [...timeline.done, next], undone: timeline.undone.slice(0, -1) };
}

export const canUndo = <T>(timeline: Timeline<T>) => timeline.done.length > 0;
export const canRedo = <T>(timeline: Timeline<T>) => timeline.undone.length > 0;
