/**
 * The mask as a list of edits, and drawing them on a canvas the photo's size.
 *
 * Edits are replayed rather than snapshotted: a full-resolution snapshot of a 24 MP photo
 * is ~100 MB, a stroke is a few hundred points.
 */
import { growHoles, holesToMaskFile, maskFileToHoles, type Rgb } from "./maskPixels";

export interface Point {
  x: number;
  y: number;
}

export type MaskEdit =
  | { kind: "stroke"; erase: boolean; size: number; points: Point[] }
  /** A rectangle (two opposite corners) or a lasso (the polygon of its points), filled. */
  | { kind: "shape"; shape: "rectangle" | "lasso"; points: Point[] }
  /** Every hole so far grown by `pixels`, to cover what an object's edge left out. */
  | { kind: "grow"; pixels: number }
  | { kind: "clear" }
  /** An uploaded mask, already converted to the editor's pixels. */
  | { kind: "image"; pixels: ImageData };

/** The overlay colour, drawn opaque: its translucency is CSS opacity, so alpha means "hole". */
export const MASK_COLOR: Rgb = [255, 45, 85];
const MASK_CSS = `rgb(${MASK_COLOR.join(",")})`;

/** Draws one stroke, or its newest segment while the pointer moves. */
export function drawStroke(
  context: CanvasRenderingContext2D,
  stroke: Extract<MaskEdit, { kind: "stroke" }>,
  fromIndex = 0,
) {
  const points = stroke.points;
  context.save();
  // The eraser cuts the mask away rather than painting a colour over it.
  context.globalCompositeOperation = stroke.erase ? "destination-out" : "source-over";
  context.strokeStyle = context.fillStyle = MASK_CSS;
  context.lineWidth = stroke.size;
  context.lineCap = context.lineJoin = "round";
  if (points.length === 1) {
    context.beginPath();
    context.arc(points[0].x, points[0].y, stroke.size / 2, 0, 2 * Math.PI);
    context.fill();
  } else {
    context.beginPath();
    const start = Math.max(0, fromIndex - 1);
    context.moveTo(points[start].x, points[start].y);
    for (let i = start + 1; i < points.length; i++) context.lineTo(points[i].x, points[i].y);
    context.stroke();
  }
  context.restore();
}

/** Draws a rectangle or a lasso, filled (a lasso being drawn is closed by a straight line). */
export function drawShape(context: CanvasRenderingContext2D, shape: Extract<MaskEdit, { kind: "shape" }>) {
  const [first, ...rest] = shape.points;
  context.save();
  context.fillStyle = MASK_CSS;
  context.beginPath();
  if (shape.shape === "rectangle") {
    const corner = rest.at(-1) ?? first;
    context.rect(first.x, first.y, corner.x - first.x, corner.y - first.y);
  } else {
    context.moveTo(first.x, first.y);
    for (const point of rest) context.lineTo(point.x, point.y);
    context.closePath();
  }
  context.fill();
  context.restore();
}

/** The shape covers some area: a click without a drag draws nothing. */
export function hasArea(shape: Extract<MaskEdit, { kind: "shape" }>) {
  const xs = shape.points.map((point) => point.x);
  const ys = shape.points.map((point) => point.y);
  const wide = Math.max(...xs) - Math.min(...xs) >= 1 && Math.max(...ys) - Math.min(...ys) >= 1;
  return wide && (shape.shape === "rectangle" || shape.points.length >= 3);
}

/**
 * The mask as it was after the newest "grow" edit: growing costs time in proportion to the
 * photo's pixels, and the mask is redrawn after every stroke (and on every move of a
 * shape being drawn), so it is grown once, not on every redraw.
 */
let afterGrow: { edits: readonly MaskEdit[]; pixels: ImageData } | null = null;

/** Redraws the whole mask from its edits. */
export function renderMask(context: CanvasRenderingContext2D, edits: readonly MaskEdit[]) {
  const { width, height } = context.canvas;
  const lastGrow = edits.findLastIndex((edit) => edit.kind === "grow");
  const upToGrow = edits.slice(0, lastGrow + 1);
  const cached =
    afterGrow !== null &&
    afterGrow.pixels.width === width &&
    afterGrow.pixels.height === height &&
    afterGrow.edits.length === upToGrow.length &&
    afterGrow.edits.every((edit, index) => edit === upToGrow[index]);
  context.clearRect(0, 0, width, height);
  if (cached) context.putImageData(afterGrow!.pixels, 0, 0);
  edits.forEach((edit, index) => {
    if (cached && index <= lastGrow) return;
    if (edit.kind === "clear") context.clearRect(0, 0, width, height);
    else if (edit.kind === "image") context.putImageData(edit.pixels, 0, 0);
    else if (edit.kind === "shape") drawShape(context, edit);
    else if (edit.kind === "grow") {
      const pixels = context.getImageData(0, 0, width, height);
      const grown = new ImageData(growHoles(pixels.data, width, height, edit.pixels, MASK_COLOR), width);
      context.putImageData(grown, 0, 0);
      if (index === lastGrow) afterGrow = { edits: upToGrow, pixels: grown };
    } else drawStroke(context, edit);
  });
}

/**
 * A mask canvas's 2D context. Its pixels are read back (for the mask file, and to check
 * that something is painted): the browser then keeps them in memory rather than on the
 * GPU, and says so in the console when a canvas is read without asking for it.
 */
export function maskContext(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  return canvas.getContext("2d", { willReadFrequently: true })!;
}

/** The mask file the API takes: a PNG at the photo's resolution, white = hole. */
export function exportMaskPng(maskCanvas: HTMLCanvasElement): Promise<Blob> {
  const { width, height } = maskCanvas;
  const editor = maskContext(maskCanvas).getImageData(0, 0, width, height);
  const file = document.createElement("canvas");
  file.width = width;
  file.height = height;
  file.getContext("2d")!.putImageData(new ImageData(holesToMaskFile(editor.data), width), 0, 0);
  return new Promise((resolve, reject) =>
    file.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("PNG encoding failed"))), "image/png"),
  );
}

/**
 * Reads a mask file (any image the browser decodes) as an edit. A mask of another size
 * but the same shape is scaled to the photo; another shape is refused, since it cannot
 * belong to this photo.
 */
export async function loadMaskFile(file: Blob, width: number, height: number): Promise<MaskEdit> {
  const bitmap = await createImageBitmap(file).catch(() => {
    throw new Error("This mask file is not an image the browser can read: use a PNG.");
  });
  if (Math.abs(bitmap.width / bitmap.height - width / height) > 0.01) {
    throw new Error(
      `This mask is ${bitmap.width}×${bitmap.height}, the photo ${width}×${height}: ` +
        "open a mask made for this photo.",
    );
  }
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = maskContext(canvas);
  context.imageSmoothingEnabled = false;
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const pixels = maskFileToHoles(context.getImageData(0, 0, width, height).data, MASK_COLOR);
  return { kind: "image", pixels: new ImageData(pixels, width) };
}
