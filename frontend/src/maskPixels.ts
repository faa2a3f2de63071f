/**
 * Conversions between the editor's mask canvas and mask files, on raw RGBA pixels (so
 * that they are tested without a browser).
 *
 * In the editor a hole is any pixel with alpha > 0 (the overlay colour, antialiased at
 * the edges: a partly covered pixel counts as a hole, so the fill covers the stroke's
 * soft edge). Mask files follow the API: opaque, white = hole, black = keep.
 */

export type Rgb = readonly [number, number, number];

/** The mask file's pixels: white where the editor has a hole, black elsewhere. */
export function holesToMaskFile(editor: Uint8ClampedArray): Uint8ClampedArray<ArrayBuffer> {
  const file = new Uint8ClampedArray(editor.length);
  for (let i = 0; i < editor.length; i += 4) {
    const value = editor[i + 3] > 0 ? 255 : 0;
    file[i] = file[i + 1] = file[i + 2] = value;
    file[i + 3] = 255;
  }
  return file;
}

/**
 * The editor's pixels for an uploaded mask: a hole where the file is light and opaque
 * (luma x alpha >= half), drawn in `color`; transparent elsewhere.
 */
export function maskFileToHoles(
  file: Uint8ClampedArray,
  color: Rgb,
): Uint8ClampedArray<ArrayBuffer> {
  const editor = new Uint8ClampedArray(file.length);
  for (let i = 0; i < file.length; i += 4) {
    const luma = 0.299 * file[i] + 0.587 * file[i + 1] + 0.114 * file[i + 2];
    if ((luma * file[i + 3]) / 255 >= 128) {
      editor[i] = color[0];
      editor[i + 1] = color[1];
      editor[i + 2] = color[2];
      editor[i + 3] = 255;
    }
  }
  return editor;
}

/** Whether the editor's pixels have any hole (a fill without one is pointless). */
export function hasHoles(editor: Uint8ClampedArray): boolean {
  for (let i = 3; i < editor.length; i += 4) if (editor[i] > 0) return true;
  return false;
}
