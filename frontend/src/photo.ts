/**
 * Opening a photo: its header checked against the service's limits (`GET /limits`)
 * before anything is decoded, then decoded for the screen; and the browser-side downscale
 * offered for a photo over the limits.
 */
import type { ServiceLimits } from "./api";
import { decodeHeic } from "./heic";
import { readFileHeader } from "./imageHeader";
import { inspectImage } from "./imageIntegrity";

export interface Photo {
  name: string;
  /** What the service is sent: the file as it came, typed by what its bytes are. */
  file: Blob;
  /** What the browser shows: `file` itself, or a PNG of it where the browser cannot show
   * the format (HEIC, except in Safari). */
  display: Blob;
  /** Upright, as shown and as the service reads it (EXIF orientation applied). */
  width: number;
  height: number;
}

export type PhotoErrorCode =
  | "unsupported_format"
  | "unreadable_photo"
  | "damaged_photo"
  | "animated_photo"
  | "file_too_large"
  | "too_many_pixels";

export class PhotoError extends Error {
  constructor(
    readonly code: PhotoErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "PhotoError";
  }

  /** Over a limit: a smaller copy made in the browser would do. */
  get canDownscale() {
    return this.code === "file_too_large" || this.code === "too_many_pixels";
  }
}

const HEIC_TYPES = ["image/heic", "image/heif"];
/** What a downscaled copy is saved as: JPEG, or PNG where the photo has transparency. */
const DOWNSCALED_JPEG_QUALITY = 0.92;

// A 1×1 grey TIFF (Pillow wrote it): whether this browser shows TIFF (Safari does).
const TINY_TIFF =
  "SUkqAAgAAAAJAAABBAABAAAAAQAAAAEBBAABAAAAAQAAAAIBAwABAAAACAAAAAMBAwABAAAAAQAAAAYBAwABAAAAAQAAABEBBAABAAAAegAAABYBBAABAAAAAQAAABcBBAABAAAAAQAAABwBAwABAAAAAQAAAAAAAACA";

/**
 * The limits with only the formats that the app can put on screen: those the browser
 * shows, and HEIC, which the app decodes itself. The service reads TIFF, but a photo
 * that cannot be shown cannot be painted on, so it is neither listed nor offered.
 */
export async function shownLimits(limits: ServiceLimits): Promise<ServiceLimits> {
  const tiff = Uint8Array.from(atob(TINY_TIFF), (character) => character.charCodeAt(0));
  const showsTiff = await createImageBitmap(new Blob([tiff], { type: "image/tiff" })).then(
    (bitmap) => (bitmap.close(), true),
    () => false,
  );
  return { ...limits, formats: limits.formats.filter((format) => format.content_type !== "image/tiff" || showsTiff) };
}

/** "JPEG, PNG, WebP … or GIF": the formats the app opens, as the user knows them. */
export function formatNames(limits: ServiceLimits) {
  const names = [...new Set(limits.formats.map((format) => format.name))];
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} or ${names.at(-1)}` : (names[0] ?? "");
}

/** The file picker's `accept`: content types, and extensions for systems that type HEIC as nothing. */
export function acceptList(limits: ServiceLimits) {
  const extensions = limits.formats.flatMap((format) => format.extensions.map((extension) => `.${extension}`));
  return [...limits.formats.map((format) => format.content_type), ...new Set(extensions)].join(",");
}

export const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
export const megapixels = (pixels: number) => `${(pixels / 1e6).toFixed(1)} megapixels`;

/** The photo's content type, from its header, or the reason it cannot be sent. */
export async function checkPhoto(file: File, limits: ServiceLimits): Promise<string> {
  const header = await readFileHeader(file);
  const format = header && limits.formats.find((known) => known.content_type === header.contentType);
  // Left out of the formats by `shownLimits`: the service would read it, this browser cannot show it.
  if (header?.contentType === "image/tiff" && !format) throw cannotShow(file.name, header.contentType);
  if (!header || !format) {
    throw new PhotoError(
      "unsupported_format",
      `“${file.name}” is not a photo Holefill can read. Open a ${formatNames(limits)} photo.`,
    );
  }
  const pixels = header.width * header.height;
  if (pixels > limits.max_pixels) {
    throw new PhotoError(
      "too_many_pixels",
      `“${file.name}” is ${header.width}×${header.height} = ${megapixels(pixels)}; Holefill fills photos ` +
        `of up to ${megapixels(limits.max_pixels)}.`,
    );
  }
  if (file.size > limits.max_bytes) {
    throw new PhotoError(
      "file_too_large",
      `“${file.name}” is ${megabytes(file.size)}; Holefill takes files of up to ${megabytes(limits.max_bytes)}.`,
    );
  }
  return header.contentType;
}

export async function openPhoto(file: File, limits: ServiceLimits): Promise<Photo> {
  const contentType = await checkPhoto(file, limits);
  const { truncated, frames } = inspectImage(new Uint8Array(await file.arrayBuffer()), contentType);
  if (truncated) {
    throw new PhotoError(
      "damaged_photo",
      `“${file.name}” is damaged: the file ends before the picture does (it may not have finished ` +
        "downloading or copying). Open the original again, or another photo.",
    );
  }
  if (frames > 1) {
    throw new PhotoError(
      "animated_photo",
      `“${file.name}” is an animation of ${frames} frames; Holefill fills still photos.`,
    );
  }
  const typed = new Blob([file], { type: contentType });
  const shown = await decodeForScreen(file.name, typed);
  return { name: file.name, file: typed, ...shown };
}

async function decodeForScreen(name: string, file: Blob) {
  const image = new Image();
  const url = URL.createObjectURL(file);
  try {
    image.src = url;
    await image.decode();
    return { display: file, width: image.naturalWidth, height: image.naturalHeight };
  } catch {
    if (!HEIC_TYPES.includes(file.type)) throw cannotShow(name, file.type);
  } finally {
    URL.revokeObjectURL(url);
  }
  const pixels = await decodeHeic(file).catch(() => {
    throw cannotShow(name, file.type);
  });
  return { display: await encode(pixels, "image/png"), width: pixels.width, height: pixels.height };
}

function cannotShow(name: string, contentType: string) {
  // The service reads TIFF, but the app must show the photo to paint on it.
  return new PhotoError(
    "unreadable_photo",
    contentType === "image/tiff"
      ? `“${name}” is a TIFF, which this browser cannot show: save it as JPEG or PNG, then open it.`
      : `“${name}” could not be read: the file may be damaged. Try another photo.`,
  );
}

/** The first frame of an animation, as a PNG still (what the browser draws of it first). */
export async function firstFrame(file: File): Promise<File> {
  const bitmap = await createImageBitmap(file).catch(() => {
    throw new PhotoError("unreadable_photo", `The first frame of “${file.name}” could not be read.`);
  });
  try {
    const canvas = document.createElement("canvas");
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    canvas.getContext("2d")!.drawImage(bitmap, 0, 0);
    return new File([await toBlob(canvas, "image/png")], `${baseName(file.name)}-frame-1.png`, { type: "image/png" });
  } finally {
    bitmap.close();
  }
}

/**
 * A copy of the photo within the limits: at most `max_pixels` (with a margin), saved as
 * a JPEG (PNG with transparency), made smaller still until it is at most `max_bytes`.
 * EXIF and colour profiles are not kept.
 */
export async function downscalePhoto(file: File, limits: ServiceLimits): Promise<File> {
  const tooLarge = () =>
    new PhotoError(
      "too_many_pixels",
      `“${file.name}” is too large for this browser to make smaller: resize it to at most ` +
        `${megapixels(limits.max_pixels)} in a photo editor, then open it again.`,
    );
  const header = await readFileHeader(file);
  const source = await (HEIC_TYPES.includes(header?.contentType ?? "")
    ? decodeHeic(file).then((pixels) => createImageBitmap(pixels))
    : createImageBitmap(file)
  ).catch(() => {
    throw tooLarge();
  });
  try {
    let scale = Math.min(1, Math.sqrt((0.98 * limits.max_pixels) / (source.width * source.height)));
    for (let attempt = 0; attempt < 8; attempt++, scale *= 0.8) {
      const canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.floor(source.width * scale));
      canvas.height = Math.max(1, Math.floor(source.height * scale));
      const context = canvas.getContext("2d");
      if (!context) throw tooLarge();
      context.imageSmoothingQuality = "high";
      context.drawImage(source, 0, 0, canvas.width, canvas.height);
      const type = hasTransparency(context) ? "image/png" : "image/jpeg";
      const blob = await toBlob(canvas, type);
      if (blob.size <= limits.max_bytes) {
        const name = `${baseName(file.name)}-${canvas.width}x${canvas.height}.${extensionOf(type, limits)}`;
        return new File([blob], name, { type });
      }
    }
    throw tooLarge();
  } finally {
    source.close();
  }
}

function hasTransparency(context: CanvasRenderingContext2D) {
  const { data } = context.getImageData(0, 0, context.canvas.width, context.canvas.height);
  for (let index = 3; index < data.length; index += 4) if (data[index] < 255) return true;
  return false;
}

function encode(pixels: ImageData, type: string) {
  const canvas = document.createElement("canvas");
  canvas.width = pixels.width;
  canvas.height = pixels.height;
  canvas.getContext("2d")!.putImageData(pixels, 0, 0);
  return toBlob(canvas, type);
}

function toBlob(canvas: HTMLCanvasElement, type: string) {
  return new Promise<Blob>((resolve, reject) =>
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error(`${type} encoding failed`))),
      type,
      DOWNSCALED_JPEG_QUALITY,
    ),
  );
}

/** "holiday.jpg" -> "holiday": the stem of downloaded files' names. */
export function baseName(name: string) {
  return name.replace(/\.[^.]+$/, "") || "photo";
}

/** A content type's usual extension, from the formats `GET /limits` lists. */
export function extensionOf(contentType: string, limits: ServiceLimits) {
  return limits.formats.find((format) => format.content_type === contentType)?.extensions[0] ?? "bin";
}
