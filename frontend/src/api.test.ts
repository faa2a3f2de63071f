import { describe, expect, it } from "vitest";
import { ApiClient, ApiError, errorFromResponse } from "./api";
import { JOB_SECRET_HEADER } from "./apiTypes";
import { fill } from "./fill";

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

/** A fetch that answers each call with the next response (or throws it). */
function scripted(...answers: (Response | Error)[]) {
  const calls: { url: string; init?: RequestInit }[] = [];
  const fetchFn = (async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    const answer = answers.shift();
    if (!answer) throw new Error("unexpected call");
    if (answer instanceof Error) throw answer;
    return answer;
  }) as typeof fetch;
  return { fetchFn, calls };
}

const upload = {
  upload_id: "u",
  upload_secret: "upload secret",
  photo: { key: "uploads/u/photo", url: "http://s3/bucket", fields: {} },
  mask: { key: "uploads/u/mask", url: "http://s3/bucket", fields: {} },
  max_bytes: 100,
  expires_in: 300,
  max_jobs: 3,
};

describe("API client errors", () => {
  it("reads the API's {error: {code, message}}", async () => {
    const { fetchFn } = scripted(json(422, { error: { code: "invalid_request", message: "bad type" } }));
    const error = await new ApiClient("http://api/", fetchFn).createUpload("text/plain").catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ kind: "request", code: "invalid_request", message: "bad type", status: 422 });
    expect(error.retryable).toBe(false);
  });

  it("turns an unreachable server into a retryable network error", async () => {
    const { fetchFn } = scripted(new TypeError("Failed to fetch"));
    const error = await new ApiClient("http://api", fetchFn).createJob(upload).catch((e) => e);
    expect(error).toMatchObject({ kind: "network", code: "network_error" });
    expect(error.retryable).toBe(true);
  });

  it("reads S3's XML refusals, and 5xx answers that are not JSON", async () => {
    const xml = "<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds</Message></Error>";
    expect(await errorFromResponse(new Response(xml, { status: 400 }))).toMatchObject({
      kind: "request",
      code: "file_too_large",
      message: "Your proposed upload exceeds",
    });
    const gateway = await errorFromResponse(new Response("<html>", { status: 502, statusText: "Bad Gateway" }));
    expect(gateway).toMatchObject({ kind: "server", code: "http_502" });
    expect(gateway.retryable).toBe(true);
  });

  it("sends JSON to the base URL without a doubled slash", async () => {
    const { fetchFn, calls } = scripted(json(202, { id: "j", status: "queued", job_secret: "s" }));
    await new ApiClient("http://api/", fetchFn).createJob(upload, 7);
    expect(calls[0].url).toBe("http://api/jobs");
    expect(JSON.parse(calls[0].init!.body as string)).toEqual({
      photo_key: "uploads/u/photo",
      mask_key: "uploads/u/mask",
      upload_secret: "upload secret",
      seed: 7,
    });
  });
});

describe("retries", () => {
  it("waits as a throttled or unavailable answer says, then retries", async () => {
    const throttled = new Response(JSON.stringify({ error: { code: "too_many_requests", message: "slow" } }), {
      status: 429,
      headers: { "Retry-After": "2" },
    });
    const unavailable = new Response(JSON.stringify({ error: { code: "storage_unavailable", message: "away" } }), {
      status: 503,
      headers: { "Retry-After": "30" },
    });
    const { fetchFn, calls } = scripted(throttled, unavailable, json(201, upload));
    const waits: number[] = [];
    const client = new ApiClient("http://api", fetchFn, async (ms) => void waits.push(ms));
    expect(await client.createUpload("image/png")).toMatchObject({ upload_id: "u" });
    expect(calls).toHaveLength(3);
    expect(waits).toEqual([2000, 10000]); // Retry-After, at most 10 s
  });

  it("does not retry a refusal that waiting will not change", async () => {
    const usedUp = json(429, { error: { code: "upload_used_up", message: "upload again" } });
    const { fetchFn, calls } = scripted(usedUp);
    const client = new ApiClient("http://api", fetchFn, async () => {});
    const error = await client.createJob(upload).catch((e) => e);
    expect(error).toMatchObject({ code: "upload_used_up", status: 429 });
    expect(calls).toHaveLength(1);
  });
});

describe("fill", () => {
  const noSleep = async () => {};

  it("uploads both files, reports progress and status, and returns the result", async () => {
    const made = {
      result: {
        strategy: "crop",
        fill: "synthesis",
        content_type: "image/png",
        uncertainty: { method: "error-map", unit: "the expected absolute error", full_scale: 0.2 },
      },
      files: { result: "http://s3/r.png", uncertainty: "http://s3/u.png", uncertainty_data: "http://s3/d.png" },
    };
    const { fetchFn, calls } = scripted(
      json(201, upload),
      json(202, { id: "j", status: "queued", job_secret: "job secret" }),
      json(200, { id: "j", status: "running" }),
      json(200, {
        id: "j",
        status: "done",
        ...made,
      }),
    );
    const posted: string[] = [];
    const post = async (target: { key: string }, _file: Blob, onProgress?: (l: number, t: number) => void) => {
      posted.push(target.key);
      onProgress?.(5, 10);
    };
    const phases: string[] = [];
    const pauses: number[] = [];
    const result = await fill(new Blob(["0123456789"], { type: "image/png" }), new Blob(["0123456789"]), (p) => phases.push(p.phase === "uploading" ? `up ${p.fraction}` : p.phase), {
      client: new ApiClient("http://api", fetchFn),
      post,
      sleep: async (ms) => void pauses.push(ms),
    });
    expect(pauses).toEqual([500, 750]); // polls back off
    expect(posted).toEqual(["uploads/u/photo", "uploads/u/mask"]);
    expect(phases).toEqual(["up 0", "up 0.25", "up 0.75", "up 1", "queued", "running"]);
    // The job's secret goes in a header on every poll, never in the URL.
    for (const poll of calls.slice(2)) {
      expect(poll.url).toBe("http://api/jobs/j");
      expect((poll.init!.headers as Record<string, string>)[JOB_SECRET_HEADER]).toBe("job secret");
    }
    // The job's result is the web app's as the API answers it: nothing renamed.
    expect(result).toEqual(made);
  });

  it("stops when cancelled, and gives up on a job that never ends", async () => {
    const running = () => json(200, { id: "j", status: "running" });
    const { fetchFn } = scripted(json(201, upload), json(202, { id: "j", status: "queued", job_secret: "s" }), running(), running());
    const controller = new AbortController();
    const cancelled = await fill(new Blob(["p"], { type: "image/png" }), new Blob(["m"]), () => {}, {
      client: new ApiClient("http://api", fetchFn),
      post: async () => {},
      sleep: async () => controller.abort(),
      signal: controller.signal,
    }).catch((e) => e);
    expect(cancelled.name).toBe("AbortError");

    const forever = scripted(json(201, upload), json(202, { id: "j", status: "queued", job_secret: "s" }), ...Array.from({ length: 20 }, running));
    const error = await fill(new Blob(["p"], { type: "image/png" }), new Blob(["m"]), () => {}, {
      client: new ApiClient("http://api", forever.fetchFn),
      post: async () => {},
      sleep: async () => {},
      timeoutMs: 5000,
    }).catch((e) => e);
    expect(error).toMatchObject({ kind: "server", code: "fill_timed_out" });
    expect(error.retryable).toBe(true);
  });

  it("refuses a photo over the limit before uploading it", async () => {
    const { fetchFn } = scripted(json(201, upload));
    const post = async () => {
      throw new Error("must not upload");
    };
    const error = await fill(new Blob([new Uint8Array(150)], { type: "image/png" }), new Blob(["m"]), () => {}, {
      client: new ApiClient("http://api", fetchFn),
      post,
      sleep: noSleep,
    }).catch((e) => e);
    expect(error).toMatchObject({ kind: "request", code: "file_too_large" });
    expect(error.message).toMatch(/limit is 0\.0 MB/);
  });

  it("throws a failed job's error, retryable when the service failed", async () => {
    const failed = (status: number, code: string) =>
      scripted(
        json(201, upload),
        json(202, { id: "j", status: "queued" }),
        json(status, { id: "j", status: "failed", error: { code, message: `${code}!` } }),
      ).fetchFn;
    const run = (fetchFn: typeof fetch) =>
      fill(new Blob(["p"], { type: "image/png" }), new Blob(["m"]), () => {}, {
        client: new ApiClient("http://api", fetchFn),
        post: async () => {},
        sleep: noSleep,
      }).catch((e) => e);
    expect(await run(failed(500, "inpainting_failed"))).toMatchObject({ kind: "server", code: "inpainting_failed", message: "inpainting_failed!" });
    const refused = await run(failed(422, "unsupported_format"));
    expect(refused).toMatchObject({ kind: "request", code: "unsupported_format" });
    expect(refused.retryable).toBe(false);
  });
});
