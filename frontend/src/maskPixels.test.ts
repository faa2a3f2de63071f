import { describe, expect, it } from "vitest";
import { growHoles, hasHoles, holesToMaskFile, maskFileToHoles } from "./maskPixels";

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

describe("growing the mask", () => {
  const side = 61;
  const dot = () => {
    const editor = new Uint8ClampedArray(side * side * 4);
    editor.set([255, 45, 85, 255], 4 * (30 * side + 30));
    return editor;
  };
  const holes = (editor: Uint8ClampedArray) => {
    const marked: [number, number][] = [];
    for (let i = 0; i < side * side; i++) if (editor[4 * i + 3] > 0) marked.push([i % side, Math.floor(i / side)]);
    return marked;
  };

  it("grows a dot to the disc of the radius asked, in the mask's colour", () => {
    const grown = growHoles(dot(), side, side, 10, [1, 2, 3]);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const inside = Math.hypot(x - 30, y - 30) <= 10;
        expect([x, y, grown[4 * (y * side + x) + 3]]).toEqual([x, y, inside ? 255 : 0]);
      }
    }
    expect([...grown.subarray(4 * (30 * side + 35), 4 * (30 * side + 35) + 4)]).toEqual([1, 2, 3, 255]);
    expect([...grown.subarray(4 * (30 * side + 30), 4 * (30 * side + 30) + 4)]).toEqual([1, 2, 3, 255]);
  });

  it("leaves an empty mask empty and stops at the edges", () => {
    expect(hasHoles(growHoles(new Uint8ClampedArray(side * side * 4), side, side, 5, [1, 2, 3]))).toBe(false);
    const corner = new Uint8ClampedArray(side * side * 4);
    corner.set([255, 45, 85, 255], 0);
    // A quarter of the disc of radius 3: 11 pixels.
    expect(holes(growHoles(corner, side, side, 3, [1, 2, 3])).length).toBe(11);
  });
});
