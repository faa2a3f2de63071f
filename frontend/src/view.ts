/** The stage's zoom and pan: the photo is drawn at `scale`, its top-left corner at (x, y). */
import type { Point } from "./mask";

export interface View {
  scale: number;
  x: number;
  y: number;
}

const MIN_SCALE = 0.02;
const MAX_SCALE = 32;

/** The whole photo, centred, as large as the box allows: a small photo is enlarged. */
export function fitView(width: number, height: number, boxWidth: number, boxHeight: number): View {
  const margin = 16;
  const scale = Math.min(MAX_SCALE, (boxWidth - 2 * margin) / width, (boxHeight - 2 * margin) / height);
  const fitted = Math.max(MIN_SCALE, scale);
  return { scale: fitted, x: (boxWidth - width * fitted) / 2, y: (boxHeight - height * fitted) / 2 };
}

/** Zooms by `factor`, keeping the photo's point under (px, py) (stage pixels) in place. */
export function zoomAt(view: View, factor: number, px: number, py: number): View {
  const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, view.scale * factor));
  const applied = scale / view.scale;
  return { scale, x: px - (px - view.x) * applied, y: py - (py - view.y) * applied };
}

export function panBy(view: View, dx: number, dy: number): View {
  return { ...view, x: view.x + dx, y: view.y + dy };
}

/** A stage point (relative to the stage's top-left corner) in photo pixels. */
export function toPhoto(view: View, px: number, py: number): Point {
  return { x: (px - view.x) / view.scale, y: (py - view.y) / view.scale };
}
