/** Opening a photo: which files are accepted, and decoding them to learn their size. */

/** What the API takes (`storage.IMAGE_CONTENT_TYPES`) and the browser can show. */
export const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp", "image/bmp", "image/gif"];

export interface Photo {
  file: File;
  url: string;
  width: number;
  height: number;
}

export class PhotoError extends Error {
  constructor(
    readonly code: "unsupported_format" | "unreadable_photo",
    message: string,
  ) {
    super(message);
    this.name = "PhotoError";
  }
}

/** Refuses what is not a photo before anything is decoded or uploaded. */
export function checkPhotoType(file: { name: string; type: string }) {
  if (!PHOTO_TYPES.includes(file.type)) {
    const what = file.type ? `a ${file.type} file` : "not a photo";
    throw new PhotoError(
      "unsupported_format",
      `“${file.name}” is ${what}. Open a JPEG, PNG, WebP, BMP or GIF photo.`,
    );
  }
}

export async function openPhoto(file: File): Promise<Photo> {
  checkPhotoType(file);
  const url = URL.createObjectURL(file);
  const image = new Image();
  image.src = url;
  try {
    await image.decode();
  } catch {
    URL.revokeObjectURL(url);
    throw new PhotoError(
      "unreadable_photo",
      `“${file.name}” could not be read: the file may be damaged. Try another photo.`,
    );
  }
  return { file, url, width: image.naturalWidth, height: image.naturalHeight };
}

/** "holiday.jpg" -> "holiday": the stem of downloaded files' names. */
export function baseName(name: string) {
  return name.replace(/\.[^.]+$/, "") || "photo";
}

export function extensionOf(contentType: string) {
  const extensions: Record<string, string> = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/gif": "gif",
    "image/tiff": "tif",
  };
  return extensions[contentType] ?? "bin";
}
