/// <reference types="node" />
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readImageHeader } from "./imageHeader";

// Small files that Pillow and pillow-heif wrote, 37×23, one per format and variant.
const file = (name: string) => new Uint8Array(readFileSync(new URL(`./testdata/${name}`, import.meta.url)));

describe("reading an image's size from its header", () => {
  it.each([
    ["photo-37x23.jpg", "image/jpeg"],
    ["photo-37x23.png", "image/png"],
    ["photo-37x23.gif", "image/gif"],
    ["photo-37x23.bmp", "image/bmp"],
    ["photo-37x23-lossy.webp", "image/webp"],
    ["photo-37x23-lossless.webp", "image/webp"],
    ["photo-37x23-alpha.webp", "image/webp"],
    ["photo-37x23.tif", "image/tiff"],
    ["photo-37x23.heic", "image/heic"],
    ["photo-37x23.avif", "image/avif"],
  ])("%s", (name, contentType) => {
    expect(readImageHeader(file(name))).toEqual({ contentType, width: 37, height: 23 });
  });

  it("knows a JPEG's size past a large EXIF block, and nothing of what is not an image", () => {
    expect(readImageHeader(new TextEncoder().encode("just some text, named photo.png"))).toBeNull();
    expect(readImageHeader(file("photo-37x23.png").subarray(0, 18))).toBeNull();
    expect(readImageHeader(file("photo-37x23.jpg").subarray(0, 3000))).toBeNull();
  });

  it("reads sizes beyond what a browser decodes, from the header alone", () => {
    const png = file("photo-37x23.png").slice(0, 33);
    new DataView(png.buffer).setUint32(16, 30000);
    new DataView(png.buffer).setUint32(20, 30000);
    expect(readImageHeader(png)).toEqual({ contentType: "image/png", width: 30000, height: 30000 });
  });
});
