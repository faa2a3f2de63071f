/**
 * The work in progress (photo, versions, strokes) kept in IndexedDB, so that a reload or
 * a closed tab loses nothing. One record: the app edits one photo at a time.
 */
import type { JobAccepted, UncertaintyResult } from "./api";
import type { EditTimeline, Version } from "./versions";

/** What a fill fills: a version, with a mask and a seed. */
export interface FillRequest {
  /** The version it fills, and where in the timeline its result goes. */
  parent: number;
  at: number;
  mask: Blob;
  seed: number;
}

/** A fill whose job was started and has not ended: what a reload needs to follow it. */
export interface PendingFill extends FillRequest {
  /** The job and its secret, which reads its result. */
  job: JobAccepted;
}

export interface SavedWork {
  name: string;
  width: number;
  height: number;
  versions: Version[];
  timeline: EditTimeline;
  pending?: PendingFill | null;
}

const DATABASE = "holefill";
const STORE = "work";
const KEY = "current";

function openDatabase(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transact<T>(mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const database = await openDatabase();
  try {
    return await new Promise<T>((resolve, reject) => {
      const transaction = database.transaction(STORE, mode);
      const request = run(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = transaction.onabort = () => reject(transaction.error ?? request.error);
    });
  } finally {
    database.close();
  }
}

export function saveWork(work: SavedWork) {
  return transact("readwrite", (store) => store.put(work, KEY));
}

export async function loadWork(): Promise<SavedWork | null> {
  const saved = (await transact("readonly", (store) => store.get(KEY))) as SavedWork | undefined;
  return saved ? { ...saved, versions: saved.versions.map(withResult) } : null;
}

/** What an older release kept of a fill's map (its meaning beside the images), as a
 * version keeps it now: the map's meaning in the fill's `result`. */
interface OlderMap {
  image: Blob;
  data: Blob;
  method: UncertaintyResult["method"];
  unit: string;
  fullScale: number;
}

export function withResult(version: Version): Version {
  const map = version.uncertainty as Partial<OlderMap> | null;
  if (version.result || !map || map.fullScale === undefined) return version;
  const { image, data, method, unit, fullScale } = map as OlderMap;
  const uncertainty = { method, unit, full_scale: fullScale };
  const result = { content_type: version.file.type, uncertainty };
  return { ...version, result, uncertainty: { image, data } };
}
