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

/**
 * The editor's pixels with every hole grown by `pixels` in all directions (a pixel joins
 * the hole within that Euclidean distance of it), every hole pixel drawn opaque in `color`. The distances are
 * exact and take time in proportion to the pixels, whatever the growth: the squared
 * distance transform of Felzenszwalb and Huttenlocher, by columns, then by rows.
 */
export function growHoles(
  editor: Uint8ClampedArray,
  width: number,
  height: number,
  pixels: number,
  color: Rgb,
): Uint8ClampedArray<ArrayBuffer> {
  const far = 1e20;
  const distance = new Float64Array(width * height);
  for (let i = 0; i < distance.length; i++) distance[i] = editor[4 * i + 3] > 0 ? 0 : far;
  const longest = Math.max(width, height);
  const line = new Float64Array(longest);
  const out = new Float64Array(longest);
  const parabolas = new Int32Array(longest);
  const bounds = new Float64Array(longest + 1);
  const pass = (count: number, length: number, index: (line: number, at: number) => number) => {
    for (let which = 0; which < count; which++) {
      for (let at = 0; at < length; at++) line[at] = distance[index(which, at)];
      squaredDistance1d(line, length, out, parabolas, bounds);
      for (let at = 0; at < length; at++) distance[index(which, at)] = out[at];
    }
  };
  pass(width, height, (column, row) => row * width + column);
  pass(height, width, (row, column) => row * width + column);
  const result = new Uint8ClampedArray(editor);
  const reach = pixels * pixels;
  // The holes' antialiased edges become opaque too: inside a grown hole they would show
  // as faint lines.
  for (let i = 0; i < distance.length; i++) {
    if (distance[i] <= reach) result.set([color[0], color[1], color[2], 255], 4 * i);
  }
  return result;
}

/** The lower envelope of the parabolas `(q - p)^2 + f[p]`: each point's squared distance. */
function squaredDistance1d(
  f: Float64Array,
  length: number,
  out: Float64Array,
  parabolas: Int32Array,
  bounds: Float64Array,
) {
  const meet = (q: number, p: number) => (f[q] + q * q - (f[p] + p * p)) / (2 * q - 2 * p);
  let k = 0;
  parabolas[0] = 0;
  bounds[0] = -Infinity;
  bounds[1] = Infinity;
  for (let q = 1; q < length; q++) {
    let s = meet(q, parabolas[k]);
    while (s <= bounds[k]) s = meet(q, parabolas[--k]);
    parabolas[++k] = q;
    bounds[k] = s;
    bounds[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < length; q++) {
    while (bounds[k + 1] < q) k++;
    out[q] = (q - parabolas[k]) ** 2 + f[parabolas[k]];
  }
}

/** Whether the editor's pixels have any hole (a fill without one is pointless). */
export function hasHoles(editor: Uint8ClampedArray): boolean {
  for (let i = 3; i < editor.length; i += 4) if (editor[i] > 0) return true;
  return false;
}
