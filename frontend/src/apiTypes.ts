// Generated from the API's OpenAPI document by scripts/api_types.py (make api-types):
// do not edit; tests/test_contracts.py checks that it is current.

/** The header that carries a job's secret: never the URL, which logs keep. */
export const JOB_SECRET_HEADER = "x-job-secret";

export interface ErrorDetail {
  code: string;
  message: string;
}

export interface ImageFormat {
  content_type: string;
  name: string;
  extensions: string[];
}

export interface JobAccepted {
  id: string;
  status: JobStatus;
  /** what GET /jobs/{job_id} must present in X-Job-Secret; keep it private */
  job_secret: string;
}

export interface JobRequest {
  photo_key: string;
  mask_key: string;
  /** the upload_secret of POST /uploads */
  upload_secret: string;
  /** how the photo meets the network (auto chooses) */
  strategy?: "auto" | "crop" | "tile" | "resize";
  /** synthesis (the network's fill refined with the photo's own texture) or network (the network's fill alone) */
  fill?: "synthesis" | "network";
  /** the uncertainty map: auto (the one the model's card offers, if any), none, error-map or monte-carlo; a method the model does not offer fails the job with uncertainty_unavailable and the card's reason */
  uncertainty?: "auto" | "none" | "error-map" | "monte-carlo";
  /** Monte-Carlo dropout samples, for uncertainty monte-carlo only (default 16) */
  uncertainty_samples?: number | null;
  /** seeds the synthesis's choice of patches (and the dropout draws): the same photo, mask and seed give the same fill, another seed another plausible one */
  seed?: number;
}

/** What a done job made. Its record keeps this, and `GET /jobs/{job_id}` answers with it as it is, beside the URLs of its files. */
export interface JobResult {
  /** how the photo met the network */
  strategy: "crop" | "tile" | "resize";
  fill: "synthesis" | "network";
  /** the result's type: the photo's own (HEIC and AVIF come back as JPEG) */
  content_type: string;
  /** the map, if the job asked for one and the model has it */
  uncertainty?: UncertaintyResult | null;
}

export type JobStatus = "queued" | "running" | "done" | "failed";

/** A job as the API shows it: its result and files only when done, `error` only when failed. */
export interface JobView {
  id: string;
  status: JobStatus;
  created_at: string;
  updated_at: string;
  result?: JobResult | null;
  files?: ResultFiles | null;
  expires_in?: number | null;
  error?: ErrorDetail | null;
}

/** What a photo and its mask may be: beyond these, an upload or a job is refused. */
export interface Limits {
  /** the largest photo or mask file */
  max_bytes: number;
  /** the largest width x height of a photo or mask */
  max_pixels: number;
  /** the photo formats the service reads */
  formats: ImageFormat[];
  max_uncertainty_samples: number;
  max_jobs_per_upload: number;
}

/** Post `fields` and then the file (as the form field `file`) to `url`. */
export interface PresignedPost {
  key: string;
  url: string;
  fields: Record<string, string>;
}

/** Presigned GETs of a done job's files, each valid for `expires_in` seconds. */
export interface ResultFiles {
  /** the filled photo, of the result's content_type */
  result: string;
  /** the map as a PNG over the photo: inferno colours on the holes (black = 0, yellow = full_scale or more), transparent elsewhere */
  uncertainty?: string | null;
  /** the map's values as a 16-bit greyscale PNG: a pixel's grey over 65535 is its value in `unit` (1 = the full range), 0 off the holes */
  uncertainty_data?: string | null;
}

/** A done job's uncertainty map: what its pixels mean. */
export interface UncertaintyResult {
  method: "error-map" | "monte-carlo";
  /** what a pixel's value means */
  unit: string;
  /** the value that the map's top colour stands for */
  full_scale: number;
}

/** The content types the browser will send the files with (S3 checks them). */
export interface UploadRequest {
  photo_content_type: string;
  mask_content_type?: string;
}

export interface UploadResponse {
  upload_id: string;
  /** what POST /jobs must present to use this upload; keep it private */
  upload_secret: string;
  photo: PresignedPost;
  mask: PresignedPost;
  max_bytes: number;
  expires_in: number;
  /** how many jobs this upload may start */
  max_jobs: number;
}
