/// <reference types="node" />
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { ServiceLimits } from "./api";
import { acceptList, baseName, checkPhoto, extensionOf, formatNames, PhotoError } from "./photo";

const LIMITS: ServiceLimits = {
  max_bytes: 2_000_000,
  max_pixels: 50_000_000,
  formats: [
    { content_type: "image/jpeg", name: "JPEG", extensions: ["jpg", "jpeg"] },
    { content_type: "image/png", name: "PNG", extensions: ["png"] },
    { content_type: "image/heic", name: "HEIC", extensions: ["heic", "heif"] },
    { content_type: "image/heif", name: "HEIF", extensions: ["heif", "heic"] },
  ],
  max_uncertainty_samples: 32,
  max_jobs_per_upload: 3,
};
const png = readFileSync(new URL("./testdata/photo-37x23.png", import.meta.url));

const refusal = (file: File) =>
  checkPhoto(file, LIMITS).then(
    () => null,
    (error: PhotoError) => [error.code, error.canDownscale, error.message],
  );

describe("opening photos", () => {
  it("types a photo by its bytes, whatever its name or the browser say", async () => {
    const heic = readFileSync(new URL("./testdata/photo-37x23.heic", import.meta.url));
    expect(await checkPhoto(new File([heic], "IMG_0001.HEIC", { type: "" }), LIMITS)).toBe("image/heic");
    expect(await checkPhoto(new File([png], "photo.jpg", { type: "image/jpeg" }), LIMITS)).toBe("image/png");
  });

  it("refuses what is not a photo, saying what to open instead", async () => {
    expect(await refusal(new File(["not a photo"], "notes.txt", { type: "text/plain" }))).toEqual([
      "unsupported_format",
      false,
      "“notes.txt” is not a photo Holefill can read. Open a JPEG, PNG, HEIC or HEIF photo.",
    ]);
    const webp = readFileSync(new URL("./testdata/photo-37x23-lossy.webp", import.meta.url));
    expect((await refusal(new File([webp], "a.webp")))?.[0]).toBe("unsupported_format");
  });

  it("checks the limits on the header, before decoding, and offers a smaller copy", async () => {
    const huge = Buffer.from(png.subarray(0, 33));
    huge.writeUInt32BE(30000, 16);
    huge.writeUInt32BE(30000, 20);
    expect(await refusal(new File([huge], "huge.png"))).toEqual([
      "too_many_pixels",
      true,
      "“huge.png” is 30000×30000 = 900.0 megapixels; Holefill fills photos of up to 50.0 megapixels.",
    ]);
    const padded = new File([png, new Uint8Array(3_000_000)], "big.png");
    expect(await refusal(padded)).toEqual([
      "file_too_large",
      true,
      "“big.png” is 3.0 MB; Holefill takes files of up to 2.0 MB.",
    ]);
  });

  it("lists the formats for the picker and the user, from the service's own list", () => {
    expect(formatNames(LIMITS)).toBe("JPEG, PNG, HEIC or HEIF");
    expect(acceptList(LIMITS)).toBe("image/jpeg,image/png,image/heic,image/heif,.jpg,.jpeg,.png,.heic,.heif");
  });

  it("names downloads after the photo, in the result's format", () => {
    expect(baseName("holiday.2024.jpg")).toBe("holiday.2024");
    expect(extensionOf("image/jpeg", LIMITS)).toBe("jpg");
    expect(extensionOf("image/x-unknown", LIMITS)).toBe("bin");
  });
});
