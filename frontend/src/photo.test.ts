import { describe, expect, it } from "vitest";
import { baseName, checkPhotoType, extensionOf } from "./photo";

describe("opening photos", () => {
  it("refuses files that are not photos, saying what to open instead", () => {
    expect(() => checkPhotoType({ name: "notes.txt", type: "text/plain" })).toThrow(
      /“notes.txt” is a text\/plain file\. Open a JPEG, PNG/,
    );
    expect(() => checkPhotoType({ name: "x", type: "" })).toThrow(/is not a photo/);
    expect(() => checkPhotoType({ name: "a.jpg", type: "image/jpeg" })).not.toThrow();
  });

  it("names downloads after the photo, in the result's format", () => {
    expect(baseName("holiday.2024.jpg")).toBe("holiday.2024");
    expect(extensionOf("image/jpeg")).toBe("jpg");
  });
});
