/**
 * Where the API is: `config.json` next to the app, written by whoever serves it (the
 * local twin, or the stack's deployment), so that one build serves both.
 */
import { ApiError, networkError } from "./api";

export interface AppConfig {
  apiUrl: string;
}

export async function loadConfig(fetchFn: typeof fetch = fetch): Promise<AppConfig> {
  let response: Response;
  try {
    response = await fetchFn(`${import.meta.env.BASE_URL}config.json`, { cache: "no-store" });
  } catch {
    throw networkError();
  }
  const config = response.ok ? await response.json().catch(() => null) : null;
  if (typeof config?.apiUrl !== "string") {
    throw new ApiError("server", "bad_config", "The app's config.json is missing or has no apiUrl.");
  }
  return config;
}
