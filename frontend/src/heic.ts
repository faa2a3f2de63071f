/**
 * Decoding HEIC in the browser, for showing it only: the service decodes the file itself
 * (pillow-heif), and only Safari shows HEIC natively. libheif's WebAssembly build (2 MB)
 * is loaded the first time a HEIC photo is opened, never before.
 */

interface HeifImage {
  get_width(): number;
  get_height(): number;
  display(target: ImageData, done: (result: ImageData | null) => void): void;
  free(): void;
}

export async function decodeHeic(file: Blob): Promise<ImageData> {
  const { default: load } = await import("libheif-js/libheif-wasm/libheif-bundle.mjs");
  const libheif = await load();
  const images: HeifImage[] = new libheif.HeifDecoder().decode(new Uint8Array(await file.arrayBuffer()));
  try {
    // The primary image comes first; the others are thumbnails or alternatives.
    const image = images[0];
    if (!image) throw new Error("the file holds no image");
    const pixels = new ImageData(image.get_width(), image.get_height());
    await new Promise<void>((resolve, reject) =>
      image.display(pixels, (result) => (result ? resolve() : reject(new Error("libheif could not decode it")))),
    );
    return pixels;
  } finally {
    for (const image of images) image.free();
  }
}
