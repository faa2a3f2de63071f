/**
 * The Holefill API client: presigned uploads (with progress), jobs, polling.
 *
 * Every failure becomes an `ApiError` whose `kind` says what the user can do about it:
 * "network" (nothing answered: retry), "server" (5xx: retry later), "request" (4xx:
 * change the photo or mask). The API answers errors as `{"error": {code, message}}`;
 * S3 answers presigned-POST refusals in XML.
 */

export type ErrorKind = "network" | "server" | "request";

export class ApiError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }

  get retryable() {
    return this.kind !== "request";
  }
}

import type * as schema from "./apiTypes";
import { JOB_SECRET_HEADER } from "./apiTypes";

// The API's own types (apiTypes.ts is generated from its OpenAPI document).
export type PresignedPost = schema.PresignedPost;
/** The answer of POST /uploads; its secrets are kept in memory only. */
export type Upload = schema.UploadResponse;
/** What a done job made, as its record keeps it: shown and kept with its version as is. */
export type JobResult = schema.JobResult;
export type ResultFiles = schema.ResultFiles;
export type UncertaintyResult = schema.UncertaintyResult;
export type JobStatus = schema.JobStatus;
export type JobAccepted = schema.JobAccepted;
export type ImageFormat = schema.ImageFormat;
/** What a photo may be (`GET /limits`): the web app checks a photo when it is opened. */
export type ServiceLimits = schema.Limits;

/** A job's view, with a failed job's HTTP status: 4xx when the photo or mask cannot be
 * filled, 5xx when we failed. */
export type JobView = Pick<schema.JobView, "id" | "status" | "result" | "files" | "error"> & {
  httpStatus?: number;
};

type Fetch = typeof fetch;

/** Waits asked for by a throttled (429 too_many_requests) or unavailable (503) answer. */
const RETRIES = 3;
const LONGEST_WAIT_MS = 10_000;

export class ApiClient {
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly fetchFn: Fetch = (...args) => fetch(...args),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  getLimits(): Promise<ServiceLimits> {
    return this.request("GET", "/limits");
  }

  createUpload(photoType: string, maskType = "image/png"): Promise<Upload> {
    return this.request("POST", "/uploads", {
      photo_content_type: photoType,
      mask_content_type: maskType,
    });
  }

  /** `seed` picks another of the plausible fills of the same photo and mask. */
  createJob(upload: Upload, seed = 0): Promise<JobAccepted> {
    const request: schema.JobRequest = {
      photo_key: upload.photo.key,
      mask_key: upload.mask.key,
      upload_secret: upload.upload_secret,
      seed,
    };
    return this.request("POST", "/jobs", request);
  }

  /** A failed job answers 4xx/5xx with its view: it is returned, not thrown. */
  async getJob(job: JobAccepted): Promise<JobView> {
    const path = `/jobs/${encodeURIComponent(job.id)}`;
    const response = await this.send("GET", path, undefined, { [JOB_SECRET_HEADER]: job.job_secret });
    const body = await response.clone().json().catch(() => null);
    if (body?.status === "failed") return { ...body, httpStatus: response.status } as JobView;
    if (!response.ok) throw await errorFromResponse(response);
    return body as JobView;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    if (!response.ok) throw await errorFromResponse(response);
    return (await response.json()) as T;
  }

  /** One call; throttled or unavailable answers are retried after their Retry-After. */
  private async send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetchFn(this.baseUrl + path, {
          method,
          headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch {
        throw networkError();
      }
      const wait = await retryWaitMs(response);
      if (wait === null || attempt >= RETRIES) return response;
      await this.sleep(wait);
    }
  }
}

/** How long to wait before retrying `response`, or null when it is not to be retried. */
async function retryWaitMs(response: Response): Promise<number | null> {
  if (response.status === 429) {
    // An upload that has started its jobs answers 429 too, for good: only throttling passes.
    const code = await response.clone().json().then((body) => body?.error?.code, () => null);
    if (code !== "too_many_requests") return null;
  } else if (response.status !== 503) return null;
  const seconds = Number(response.headers.get("Retry-After"));
  return Math.min(LONGEST_WAIT_MS, Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000);
}

export function networkError() {
  return new ApiError(
    "network",
    "network_error",
    "The Holefill server could not be reached. Check your connection, then retry.",
  );
}

/** The `ApiError` of a non-2xx answer: JSON from the API, XML from S3, or anything else. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  const kind: ErrorKind = response.status >= 500 ? "server" : "request";
  const text = await response.text().catch(() => "");
  let code = `http_${response.status}`;
  let message = `The server answered ${response.status} ${response.statusText}`.trim() + ".";
  try {
    const error = JSON.parse(text)?.error;
    if (typeof error?.code === "string") code = error.code;
    if (typeof error?.message === "string") message = error.message;
  } catch {
    const xmlCode = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
    const xmlMessage = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
    if (xmlCode) code = xmlCode === "EntityTooLarge" ? "file_too_large" : xmlCode;
    if (xmlMessage) message = xmlMessage;
  }
  return new ApiError(kind, code, message, response.status);
}

/**
 * Posts a file with a presigned POST, as a form. XHR rather than fetch, because only XHR
 * reports upload progress.
 */
export function postFile(
  post: PresignedPost,
  file: Blob,
  onProgress: (loaded: number, total: number) => void = () => {},
  makeRequest: () => XMLHttpRequest = () => new XMLHttpRequest(),
  signal?: AbortSignal,
): Promise<void> {
  const form = new FormData();
  for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
  // S3 ignores every field after `file`: it must be last.
  form.append("file", file);
  return new Promise((resolve, reject) => {
    const request = makeRequest();
    request.open("POST", post.url);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    request.onerror = () => reject(networkError());
    request.onabort = () => reject(signal?.reason ?? new DOMException("The upload was cancelled.", "AbortError"));
    signal?.addEventListener("abort", () => request.abort(), { once: true });
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) return resolve();
      const response = new Response(request.responseText, {
        status: request.status,
        statusText: request.statusText,
      });
      errorFromResponse(response).then(reject);
    };
    request.send(form);
  });
}
