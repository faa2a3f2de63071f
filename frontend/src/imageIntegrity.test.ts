/// <reference types="node" />
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { inspectImage } from "./imageIntegrity";

// Small files that Pillow wrote, 37×23: stills, and animations of 3 frames.
const file = (name: string) => new Uint8Array(readFileSync(new URL(`./testdata/${name}`, import.meta.url)));
const TYPES: Record<string, string> = {
  jpg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
  bmp: "image/bmp",
};
const typeOf = (name: string) => TYPES[name.split(".").at(-1)!];

const STILLS = [
  "photo-37x23.jpg",
  "photo-37x23-progressive.jpg",
  "photo-37x23.png",
  "photo-37x23.gif",
  "photo-37x23.bmp",
  "photo-37x23-lossy.webp",
  "photo-37x23-lossless.webp",
  "photo-37x23-alpha.webp",
];
const ANIMATIONS = ["animated-37x23-3-frames.gif", "animated-37x23-3-frames.png", "animated-37x23-3-frames.webp"];

describe("a photo file's integrity, read from its structure", () => {
  it.each(STILLS)("%s is whole and still", (name) => {
    expect(inspectImage(file(name), typeOf(name))).toEqual({ truncated: false, frames: 1 });
  });

  it.each(ANIMATIONS)("%s has its 3 frames counted", (name) => {
    expect(inspectImage(file(name), typeOf(name))).toEqual({ truncated: false, frames: 3 });
  });

  it.each([...STILLS, ...ANIMATIONS])("%s cut short is truncated", (name) => {
    const bytes = file(name);
    for (const kept of [0.4, 0.9]) {
      const cut = bytes.subarray(0, Math.floor(bytes.length * kept));
      expect(inspectImage(cut, typeOf(name)).truncated).toBe(true);
    }
  });
});
