/**
 * One "Fill": upload the photo and mask, start the job, poll it until it ends
 * (`followJob`, which also takes up a job that a reload interrupted).
 *
 * The steps report their progress through `onProgress`, so the UI shows upload progress,
 * then queued / running. Nothing here touches the editor's state: whatever fails, the
 * user's mask is untouched and the fill can be retried.
 */
import {
  ApiClient,
  ApiError,
  postFile,
  type JobAccepted,
  type JobResult,
  type JobView,
  type PresignedPost,
  type ResultFiles,
} from "./api";

export type FillProgress =
  | { phase: "uploading"; fraction: number }
  | { phase: "queued" }
  | { phase: "running" };

/** A done job, as the API answers: what it made, and where its files are. */
export interface FillResult {
  result: JobResult;
  files: ResultFiles;
}

export interface FillDependencies {
  client: ApiClient;
  post?: typeof postFile;
  sleep?: (ms: number) => Promise<void>;
  /** The first pause between polls of the job; each next one is longer, up to `maxPollMs`:
   * a quick job is seen soon, and a long one costs few requests (the API is throttled). */
  pollMs?: number;
  maxPollMs?: number;
  /** How long a job may take, queued and running, before the fill gives up on it: the
   * service fails a job long before, so this only ends a wait that something broke. */
  timeoutMs?: number;
  /** Cancels the fill: it stops where it is and throws an "AbortError" `DOMException`. */
  signal?: AbortSignal;
  /** Told the job once it is started: what `followJob` needs after a reload. */
  onJob?: (job: JobAccepted) => void;
  /** Another seed, another plausible fill of the same photo and mask ("Try another"). */
  seed?: number;
}

export async function fill(
  photo: Blob,
  mask: Blob,
  onProgress: (progress: FillProgress) => void,
  dependencies: FillDependencies,
): Promise<FillResult> {
  const { client, post = postFile, signal } = dependencies;
  const checkCancelled = () => signal?.throwIfAborted();
  onProgress({ phase: "uploading", fraction: 0 });
  const upload = await client.createUpload(photo.type);
  checkCancelled();
  for (const [name, file] of [["photo", photo], ["mask", mask]] as const) {
    if (file.size > upload.max_bytes) throw tooLarge(name, file.size, upload.max_bytes);
  }
  // Both files in one progress bar, weighted by their sizes.
  const total = photo.size + mask.size;
  const send = (target: PresignedPost, file: Blob, before: number) =>
    post(target, file, (loaded) => onProgress({ phase: "uploading", fraction: (before + loaded) / total }), undefined, signal);
  await send(upload.photo, photo, 0);
  await send(upload.mask, mask, photo.size);
  onProgress({ phase: "uploading", fraction: 1 });
  checkCancelled();

  const job = await client.createJob(upload, dependencies.seed);
  dependencies.onJob?.(job);
  return followJob(job, onProgress, dependencies);
}

/** Polls a started job until it ends; its result, or the `ApiError` it failed with. */
export async function followJob(
  job: JobAccepted,
  onProgress: (progress: FillProgress) => void,
  { client, sleep = delay, pollMs = 500, maxPollMs = 4000, timeoutMs = 8 * 60_000, signal }: FillDependencies,
): Promise<FillResult> {
  const checkCancelled = () => signal?.throwIfAborted();
  let view: JobView = { id: job.id, status: job.status };
  let pause = pollMs;
  let waited = 0;
  while (view.status === "queued" || view.status === "running") {
    onProgress({ phase: view.status });
    if (waited >= timeoutMs) throw timedOut(timeoutMs);
    await sleep(pause);
    checkCancelled();
    waited += pause;
    pause = Math.min(maxPollMs, pause * 1.5);
    view = await client.getJob(job);
  }
  if (view.status === "failed" || !view.result || !view.files) {
    const error = view.error ?? { code: "job_failed", message: "The fill failed." };
    const kind = (view.httpStatus ?? 500) >= 500 ? "server" : "request";
    throw new ApiError(kind, error.code, error.message, view.httpStatus);
  }
  return { result: view.result, files: view.files };
}

function timedOut(timeoutMs: number) {
  return new ApiError(
    "server",
    "fill_timed_out",
    `The fill has not finished in ${Math.round(timeoutMs / 60_000)} minutes, which it never should: retry, or try a smaller photo.`,
  );
}

function tooLarge(name: string, size: number, limit: number) {
  const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1);
  return new ApiError(
    "request",
    "file_too_large",
    `The ${name} is ${megabytes(size)} MB; the limit is ${megabytes(limit)} MB. ` +
      "Save it smaller (a JPEG, or fewer pixels) and open it again.",
  );
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A result or map, as a blob: the next fill sends it, and IndexedDB keeps it. */
export async function fetchImage(url: string, signal: AbortSignal) {
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new ApiError("network", "network_error", "The result could not be fetched: check your connection, then retry.");
  }
  if (!response.ok) {
    throw new ApiError("server", "result_unavailable", `The result could not be fetched (${response.status}): fill again.`);
  }
  return response.blob();
}
