/**
 * Whether a photo file is whole and still, read from its structure at open, before any
 * painting: a browser shows the top of a truncated JPEG over nothing and animates a GIF
 * under the brush, and the service would refuse either only after Fill.
 *
 * Each format's own end and frame markers are read (no decoding): a JPEG's main scan ends
 * with EOI, a PNG with IEND (`acTL` makes it animated), a GIF with its trailer after its
 * image descriptors, a WebP's RIFF size covers the file (ANMF chunks are frames), a BMP's
 * file size is its header's. HEIC and AVIF are left to their decoders.
 */

export interface Integrity {
  /** The file ends before the image does. */
  truncated: boolean;
  /** Frames in the file: more than 1 is an animation. */
  frames: number;
}

const WHOLE_STILL: Integrity = { truncated: false, frames: 1 };

export function inspectImage(bytes: Uint8Array, contentType: string): Integrity {
  try {
    switch (contentType) {
      case "image/jpeg":
        return { truncated: !jpegEnds(bytes), frames: 1 };
      case "image/png":
        return png(bytes);
      case "image/gif":
        return gif(bytes);
      case "image/webp":
        return webp(bytes);
      case "image/bmp": {
        const declared = new DataView(bytes.buffer, bytes.byteOffset).getUint32(2, true);
        return { truncated: bytes.length < declared, frames: 1 };
      }
      default:
        return WHOLE_STILL;
    }
  } catch (error) {
    // A structure that points past the end of the file is cut short.
    if (error instanceof RangeError) return { truncated: true, frames: 1 };
    throw error;
  }
}

/** An EOI marker after the last start of scan: entropy-coded data never holds FF D9 or
 * FF DA (a data byte FF is stuffed with 00), and an EXIF thumbnail's EOI comes before. */
function jpegEnds(bytes: Uint8Array) {
  let lastScan = -1;
  let lastEnd = -1;
  for (let index = 0; index + 1 < bytes.length; index++) {
    if (bytes[index] !== 0xff) continue;
    if (bytes[index + 1] === 0xda) lastScan = index;
    else if (bytes[index + 1] === 0xd9) lastEnd = index;
  }
  return lastScan >= 0 && lastEnd > lastScan;
}

function png(bytes: Uint8Array): Integrity {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let frames = 1;
  for (let offset = 8; offset + 8 <= bytes.length; ) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    if (type === "acTL") frames = view.getUint32(offset + 8);
    if (type === "IEND") return { truncated: false, frames };
    offset += 12 + length;
  }
  return { truncated: true, frames };
}

function gif(bytes: Uint8Array): Integrity {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const colourTable = (flags: number) => (flags & 0x80 ? 3 * 2 ** ((flags & 0x07) + 1) : 0);
  const skipSubBlocks = (offset: number) => {
    for (let size = view.getUint8(offset); size !== 0; size = view.getUint8(offset)) offset += size + 1;
    return offset + 1;
  };
  let offset = 13 + colourTable(view.getUint8(10));
  let frames = 0;
  for (;;) {
    const block = view.getUint8(offset);
    if (block === 0x3b) return { truncated: false, frames: Math.max(frames, 1) };
    if (block === 0x21) offset = skipSubBlocks(offset + 2);
    else if (block === 0x2c) {
      frames++;
      offset = skipSubBlocks(offset + 10 + colourTable(view.getUint8(offset + 9)) + 1);
    } else return { truncated: true, frames: Math.max(frames, 1) };
  }
}

function webp(bytes: Uint8Array): Integrity {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = 8 + view.getUint32(4, true);
  let frames = 0;
  for (let offset = 12; offset + 8 <= Math.min(end, bytes.length); ) {
    if (String.fromCharCode(...bytes.subarray(offset, offset + 4)) === "ANMF") frames++;
    // Chunks are padded to an even size.
    const size = view.getUint32(offset + 4, true);
    offset += 8 + size + (size % 2);
  }
  return { truncated: bytes.length < end, frames: Math.max(frames, 1) };
}
