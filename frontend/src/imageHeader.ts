/**
 * A photo's format and size from its first bytes, before anything is decoded: a 60 MP
 * JPEG takes the browser seconds to decode, and a 30000×30000 PNG cannot be decoded at
 * all, so the limits are checked on the header alone.
 */

export interface ImageHeader {
  contentType: string;
  width: number;
  height: number;
}

/** Enough for every header: JPEG's size comes after its EXIF block (at most 64 KB). */
export const HEADER_BYTES = 512 * 1024;

export async function readFileHeader(file: Blob): Promise<ImageHeader | null> {
  return readImageHeader(new Uint8Array(await file.slice(0, HEADER_BYTES).arrayBuffer()));
}

/** The header of a JPEG, PNG, WebP, HEIC, AVIF, BMP, TIFF or GIF file, or null. */
export function readImageHeader(bytes: Uint8Array): ImageHeader | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = (start: number, length: number) =>
    String.fromCharCode(...bytes.subarray(start, start + length));
  try {
    if (bytes[0] === 0xff && bytes[1] === 0xd8) return jpeg(view);
    if (text(0, 8) === "\x89PNG\r\n\x1a\n") {
      return { contentType: "image/png", width: view.getUint32(16), height: view.getUint32(20) };
    }
    if (text(0, 4) === "GIF8") {
      return { contentType: "image/gif", width: view.getUint16(6, true), height: view.getUint16(8, true) };
    }
    if (text(0, 2) === "BM") return bmp(view);
    if (text(0, 4) === "RIFF" && text(8, 4) === "WEBP") return webp(view, text(12, 4));
    if (text(0, 4) === "II*\0" || text(0, 4) === "MM\0*") return tiff(view);
    if (text(4, 4) === "ftyp") return isoMedia(bytes, view, text);
  } catch (error) {
    // A header cut short reads past the end: it is not an image we can size.
    if (error instanceof RangeError) return null;
    throw error;
  }
  return null;
}

function jpeg(view: DataView): ImageHeader | null {
  let offset = 2;
  while (offset + 9 < view.byteLength) {
    if (view.getUint8(offset) !== 0xff) return null;
    const marker = view.getUint8(offset + 1);
    // Start-of-frame markers carry the size; C4 (Huffman), C8 and CC (arithmetic) do not.
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return { contentType: "image/jpeg", height: view.getUint16(offset + 5), width: view.getUint16(offset + 7) };
    }
    offset += 2 + view.getUint16(offset + 2);
  }
  return null;
}

function bmp(view: DataView): ImageHeader {
  // The 12-byte OS/2 header has 16-bit sizes; the rest have 32-bit ones, height signed.
  if (view.getUint32(14, true) === 12) {
    return { contentType: "image/bmp", width: view.getUint16(18, true), height: view.getUint16(20, true) };
  }
  return {
    contentType: "image/bmp",
    width: Math.abs(view.getInt32(18, true)),
    height: Math.abs(view.getInt32(22, true)),
  };
}

function webp(view: DataView, chunk: string): ImageHeader | null {
  const contentType = "image/webp";
  if (chunk === "VP8 ") {
    return { contentType, width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
  }
  if (chunk === "VP8L") {
    const bits = view.getUint32(21, true);
    return { contentType, width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === "VP8X") {
    const uint24 = (offset: number) => view.getUint16(offset, true) + (view.getUint8(offset + 2) << 16);
    return { contentType, width: uint24(24) + 1, height: uint24(27) + 1 };
  }
  return null;
}

function tiff(view: DataView): ImageHeader | null {
  const little = view.getUint8(0) === 0x49;
  const directory = view.getUint32(4, little);
  const entries = view.getUint16(directory, little);
  const size: Record<number, number> = {};
  for (let index = 0; index < entries; index++) {
    const entry = directory + 2 + index * 12;
    const tag = view.getUint16(entry, little);
    if (tag !== 256 && tag !== 257) continue;
    // SHORT (3) or LONG (4), held in the entry itself.
    const type = view.getUint16(entry + 2, little);
    size[tag] = type === 3 ? view.getUint16(entry + 8, little) : view.getUint32(entry + 8, little);
  }
  if (!size[256] || !size[257]) return null;
  return { contentType: "image/tiff", width: size[256], height: size[257] };
}

const AVIF_BRANDS = ["avif", "avis"];
const HEIC_BRANDS = ["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1"];

/**
 * HEIC and AVIF: ISO media files told apart by their brands. The size is the largest
 * `ispe` (image spatial extents) box, the full image's rather than a tile's or a
 * thumbnail's, cut to its `clap` (clean aperture) box where an encoder padded the image
 * to whole coding blocks.
 */
function isoMedia(bytes: Uint8Array, view: DataView, text: (start: number, length: number) => string) {
  const brands: string[] = [];
  for (let offset = 8; offset + 4 <= Math.min(view.getUint32(0), 64); offset += 4) brands.push(text(offset, 4));
  const contentType = brands.some((brand) => AVIF_BRANDS.includes(brand))
    ? "image/avif"
    : brands.some((brand) => HEIC_BRANDS.includes(brand))
      ? "image/heic"
      : null;
  if (!contentType) return null;
  const largest = (type: string, size: (offset: number) => [number, number]) => {
    let best: [number, number] | null = null;
    for (let offset = 0; offset + 24 <= bytes.length; offset++) {
      if (bytes[offset] !== type.charCodeAt(0) || text(offset, 4) !== type) continue;
      const [width, height] = size(offset);
      if (!best || width * height > best[0] * best[1]) best = [width, height];
    }
    return best;
  };
  // ispe: version and flags, then width and height; clap: width and height as fractions.
  const extents = largest("ispe", (offset) => [view.getUint32(offset + 8), view.getUint32(offset + 12)]);
  const aperture = largest("clap", (offset) => [
    view.getUint32(offset + 4) / view.getUint32(offset + 8),
    view.getUint32(offset + 12) / view.getUint32(offset + 16),
  ]);
  if (!extents) return null;
  const [width, height] =
    aperture && aperture[0] <= extents[0] && aperture[1] <= extents[1] ? aperture.map(Math.round) : extents;
  return { contentType, width, height };
}
