import { describe, expect, it } from "vitest";
import { hasHoles, holesToMaskFile, maskFileToHoles } from "./maskPixels";

const pixels = (...rgba: number[][]) => new Uint8ClampedArray(rgba.flat());

describe("mask export", () => {
  it("makes any painted pixel, even an antialiased edge, white; the rest opaque black", () => {
    const editor = pixels([255, 45, 85, 255], [0, 0, 0, 0], [255, 45, 85, 3]);
    expect([...holesToMaskFile(editor)]).toEqual([255, 255, 255, 255, 0, 0, 0, 255, 255, 255, 255, 255]);
  });

  it("reads white as hole and black or transparent as kept, round trip included", () => {
    const file = pixels([255, 255, 255, 255], [0, 0, 0, 255], [255, 255, 255, 0], [200, 200, 200, 255]);
    const editor = maskFileToHoles(file, [1, 2, 3]);
    expect([...editor]).toEqual([1, 2, 3, 255, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 255]);
    expect([...holesToMaskFile(editor)]).toEqual([
      255, 255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 255,
    ]);
  });

  it("says whether there is any hole", () => {
    expect(hasHoles(pixels([9, 9, 9, 0], [0, 0, 0, 0]))).toBe(false);
    expect(hasHoles(pixels([0, 0, 0, 0], [0, 0, 0, 1]))).toBe(true);
  });
});
