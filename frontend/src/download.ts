/** Saving a blob as a file: a temporary link with `download`, the one way that works everywhere. */
export function saveBlob(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started from the link; the URL can go once the click is handled.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
