/** The editor: state, opening files, fills and their versions, work kept across reloads (what it hears from the window: `windowEvents.ts`). */
import { useCallback, useEffect, useEffectEvent, useLayoutEffect, useMemo, useReducer, useRef, useState } from "react";
import { ApiClient, ApiError, type ServiceLimits } from "../api";
import { loadConfig } from "../config";
import { saveBlob } from "../download";
import { editorReducer, initialEditor, shownVersion } from "../editor";
import { fetchImage, fill, followJob, type FillProgress, type FillResult } from "../fill";
import { isBusy, statusText } from "../fillStatus";
import * as history from "../history";
import { exportMaskPng, loadMaskFile, maskContext, type MaskEdit } from "../mask";
import { hasHoles } from "../maskPixels";
import { loadWork, saveWork, type FillRequest, type PendingFill } from "../persist";
import {
  acceptList,
  baseName,
  downscalePhoto,
  extensionOf,
  firstFrame,
  formatNames,
  openPhoto,
  PhotoError,
  shownLimits,
} from "../photo";
import { BlobUrls, maskEdits, undoneVersions, type Edit, type Version } from "../versions";
import { fitView, zoomAt, type View } from "../view";
import { describeFillError, ErrorNotice, type Problem } from "./ErrorNotice";
import { FillPanel } from "./FillPanel";
import { Shortcuts } from "./Shortcuts";
import { Stage, type Tool } from "./Stage";
import { Toolbar } from "./Toolbar";
import { Versions } from "./Versions";
import { useFileArrivals, useShortcuts } from "./windowEvents";

const AUTO_FILL_KEY = "holefill.autoFill";
/** How long after the last change the work is written to IndexedDB. */
const SAVE_DELAY_MS = 300;

export function App() {
  const [state, dispatch] = useReducer(editorReducer, initialEditor);
  const { work, problem, notice, compare } = state;
  const client = state.service?.client ?? null;
  const limits = state.service?.limits ?? null;
  const [tool, setTool] = useState<Tool>("brush");
  const [brushSize, setBrushSize] = useState(40);
  const [view, setView] = useState<View>({ scale: 1, x: 0, y: 0 });
  const [spaceHeld, setSpaceHeld] = useState(false);
  const [showShortcuts, setShowShortcuts] = useState(false);
  // While held (the C key, or the button), the version before the fill shows alone.
  const [holding, setHolding] = useState(false);
  // Fill after each brush stroke, as IOPaint does by default; the choice is remembered.
  const [autoFill, setAutoFill] = useState(() => localStorage.getItem(AUTO_FILL_KEY) === "on");
  const [showUncertainty, setShowUncertainty] = useState(false);
  const [uncertaintyOpacity, setUncertaintyOpacity] = useState(0.7);
  const maskRef = useRef<HTMLCanvasElement>(null);
  const running = useRef<AbortController | null>(null);
  const stageRef = useRef<HTMLDivElement>(null);
  const photoInput = useRef<HTMLInputElement>(null);
  const urls = useMemo(() => new BlobUrls(), []);
  const setProblem = (problem: Problem | null) => dispatch({ type: "problem", problem });
  const setNotice = (notice: string | null) => dispatch({ type: "notice", notice });
  const setCompare = (value: number) => dispatch({ type: "compared", value });

  const timeline = work?.timeline ?? history.emptyTimeline<Edit>();
  const current = shownVersion(state);
  const version = work?.versions[current];
  const before = version?.parent != null ? work!.versions[version.parent] : null;
  const edits = useMemo(() => maskEdits(timeline.done), [timeline.done]);
  const undone = useMemo(() => undoneVersions(timeline), [timeline]);

  const connect = useCallback(() => {
    dispatch({ type: "problem", problem: null });
    loadConfig()
      .then(async (config) => {
        const api = new ApiClient(config.apiUrl);
        dispatch({ type: "connected", client: api, limits: await shownLimits(await api.getLimits()) });
      })
      .catch((error: Error) =>
        dispatch({ type: "problem", problem: { title: "Holefill cannot start", message: error.message, retry: connect } }),
      );
  }, []);
  useEffect(connect, [connect]);

  // The work of the last visit comes back as it was left.
  useEffect(() => {
    loadWork().then(
      (saved) => saved && dispatch({ type: "restored", work: saved }),
      () =>
        dispatch({
          type: "notice",
          notice: "Work from an earlier visit could not be read back: this browser keeps no site data.",
        }),
    );
  }, []);
  useEffect(() => {
    if (!work) return;
    const timer = setTimeout(() => {
      saveWork(work).catch(() =>
        dispatch({
          type: "notice",
          notice: "This browser has no room to keep your work across a reload: download the versions you want.",
        }),
      );
    }, SAVE_DELAY_MS);
    return () => clearTimeout(timer);
  }, [work]);

  const chooseAnotherPhoto = useCallback(() => photoInput.current?.click(), []);

  const open = async (file: File) => {
    if (!limits) {
      dispatch({ type: "waiting", file });
      return;
    }
    setProblem(null);
    let photo;
    try {
      photo = await openPhoto(file, limits);
    } catch (error) {
      const message = (error as Error).message;
      const another = { label: "Choose another photo", run: chooseAnotherPhoto };
      if (error instanceof PhotoError && error.canDownscale) {
        const smaller = { label: "Make a smaller copy", run: () => downscale(file, limits) };
        setProblem({
          title: "This photo is too large",
          message: `${message} Holefill can make a smaller copy here, in your browser; the file itself is left as it is.`,
          actions: [smaller, another],
        });
      } else if (error instanceof PhotoError && error.code === "animated_photo") {
        const still = { label: "Use the first frame", run: () => openFirstFrame(file) };
        setProblem({ title: "This is an animation", message, actions: [still, another] });
      } else setProblem({ title: "This file cannot be opened", message, actions: [another] });
      return;
    }
    const previous = work;
    const fills = (previous?.versions.length ?? 1) - 1;
    if (previous && (fills > 0 || previous.timeline.done.length > 0)) {
      const what = fills > 0 ? `its ${fills} ${fills === 1 ? "fill" : "fills"} and the mask` : "the mask";
      const replace = window.confirm(
        `Open “${photo.name}”? “${previous.name}”, ${what}, will be replaced: download the versions you want to keep first.`,
      );
      if (!replace) return;
    }
    running.current?.abort();
    urls.release();
    const original: Version = { file: photo.file, display: photo.display, parent: null, uncertainty: null };
    const opened = { name: photo.name, width: photo.width, height: photo.height, versions: [original] };
    dispatch({ type: "opened", work: { ...opened, timeline: history.emptyTimeline() } });
  };
  // Effects call the handlers of the latest render, and rerun only when their own inputs change.
  const openArrived = useEffectEvent(open);
  const waiting = state.waiting;
  useEffect(() => {
    if (!limits || !waiting) return;
    dispatch({ type: "waiting", file: null });
    openArrived(waiting);
  }, [limits, waiting]);

  const openFirstFrame = async (file: File) => {
    setProblem(null);
    try {
      const still = await firstFrame(file);
      await open(still);
      setNotice(`Opened the first frame of “${file.name}” as “${still.name}”.`);
    } catch (error) {
      setProblem({ title: "This animation cannot be opened", message: (error as Error).message });
    }
  };

  const downscale = async (file: File, limits: ServiceLimits) => {
    setProblem(null);
    setNotice(`Making a smaller copy of “${file.name}”…`);
    try {
      const smaller = await downscalePhoto(file, limits);
      await open(smaller);
      setNotice(`Opened a smaller copy: “${smaller.name}”. Your file is left as it was.`);
    } catch (error) {
      setNotice(null);
      const another = { label: "Choose another photo", run: chooseAnotherPhoto };
      setProblem({ title: "This photo cannot be made smaller here", message: (error as Error).message, actions: [another] });
    }
  };

  // A new photo takes the keyboard focus, so that its shortcuts work at once (and no click
  // that would paint a dot is needed first).
  const shown = work?.versions[0];
  useEffect(() => {
    if (shown) stageRef.current?.focus({ preventScroll: true });
  }, [shown]);

  const [width, height] = [work?.width, work?.height];
  const fit = useCallback(() => {
    const stage = stageRef.current;
    if (width && height && stage) setView(fitView(width, height, stage.clientWidth, stage.clientHeight));
  }, [width, height]);
  // A new photo is fitted, even one of the same size as the last.
  useLayoutEffect(fit, [fit, shown]);
  // The stage changes size when the panel beside (on phones, under) it grows with a
  // result's controls: the photo is fitted again rather than left partly out of view.
  useEffect(() => {
    const stage = stageRef.current;
    if (!stage) return;
    const observer = new ResizeObserver(() => fit());
    observer.observe(stage);
    return () => observer.disconnect();
  }, [fit]);

  const zoom = useCallback((factor: number) => {
    const stage = stageRef.current;
    if (stage) setView((current) => zoomAt(current, factor, stage.clientWidth / 2, stage.clientHeight / 2));
  }, []);

  const edit = useCallback((change: MaskEdit) => dispatch({ type: "edited", edit: change }), []);
  const chooseAutoFill = (on: boolean) => {
    localStorage.setItem(AUTO_FILL_KEY, on ? "on" : "off");
    setAutoFill(on);
  };
  const undo = useCallback(() => dispatch({ type: "undo" }), []);
  const redo = useCallback(() => dispatch({ type: "redo" }), []);
  const selectVersion = (index: number) => dispatch({ type: "selected", index });

  const openMask = async (file: File) => {
    if (!work) return;
    try {
      edit(await loadMaskFile(file, work.width, work.height));
      setProblem(null);
    } catch (error) {
      setProblem({ title: "This mask cannot be used", message: (error as Error).message });
    }
  };

  const downloadMask = async () => {
    if (work && maskRef.current) saveBlob(await exportMaskPng(maskRef.current), `${baseName(work.name)}-mask.png`);
  };

  /** A fill's job, from its start (or a reload) to its result added as a version. */
  const follow = async (
    controller: AbortController,
    request: FillRequest,
    run: (onProgress: (progress: FillProgress) => void) => Promise<FillResult>,
  ) => {
    // The work this fill belongs to: a new photo opened meanwhile drops its result.
    const original = work!.versions[0].file;
    // A cancelled fill's last callbacks are not this one's progress.
    const onProgress = (progress: FillProgress) => controller.signal.aborted || dispatch({ type: "fillProgress", progress });
    try {
      const { result, files } = await run(onProgress);
      // The next fill sends this result as its photo: it is kept, not only shown.
      const fetched = (url: string | null | undefined) => (url ? fetchImage(url, controller.signal) : null);
      const [image, map, data] = await Promise.all([
        fetchImage(files.result, controller.signal),
        fetched(files.uncertainty),
        fetched(files.uncertainty_data),
      ]);
      if (controller.signal.aborted) return;
      const version: Version = {
        file: image,
        display: image,
        parent: request.parent,
        filledWith: { mask: request.mask, seed: request.seed },
        result,
        uncertainty: map && data && { image: map, data },
      };
      dispatch({ type: "filled", original, request, version });
    } catch (error) {
      if (controller.signal.aborted) return;
      // The mask is left as it was: fixing the cause and pressing Retry is enough. A
      // cancelled fill said so when it was cancelled.
      if (error instanceof ApiError && error.status === 404) dispatch({ type: "fillInterrupted", original });
      else {
        const problem = describeFillError(error, () => startFill(request), chooseAnotherPhoto);
        dispatch({ type: "fillFailed", original, problem });
      }
    } finally {
      if (running.current === controller) running.current = null;
    }
  };

  const startFill = async (request: FillRequest) => {
    if (!work || !client) return;
    dispatch({ type: "fillStarted" });
    const controller = new AbortController();
    running.current = controller;
    const source = work.versions[request.parent].file;
    const original = work.versions[0].file;
    await follow(controller, request, (onProgress) =>
      fill(source, request.mask, onProgress, {
        client,
        signal: controller.signal,
        seed: request.seed,
        onJob: (job) => dispatch({ type: "jobStarted", original, pending: { ...request, job } }),
      }),
    );
  };

  const runFill = async () => {
    const canvas = maskRef.current;
    if (!work || !canvas) return;
    const pixels = maskContext(canvas).getImageData(0, 0, canvas.width, canvas.height).data;
    if (!hasHoles(pixels)) {
      setProblem({ title: "Nothing to fill", message: "Paint over what should go, then press Fill." });
      return;
    }
    const at = timeline.done.length;
    await startFill({ parent: current, mask: await exportMaskPng(canvas), seed: 0, at });
  };

  // The same mask on the same version, with the next seed no sibling has: another of the
  // plausible fills, as a version of its own.
  const tryAnother = () => {
    const made = version?.filledWith;
    if (!work || !made || version.parent === null) return;
    const seeds = work.versions
      .filter((other) => other.parent === version.parent && other.filledWith?.mask === made.mask)
      .map((other) => other.filledWith!.seed);
    startFill({ parent: version.parent, mask: made.mask, seed: Math.max(...seeds) + 1, at: timeline.done.length });
  };

  // A fill that was running when the page was reloaded is followed again, once.
  const resumed = useRef(false);
  const resume = useEffectEvent((pending: PendingFill, api: ApiClient) => {
    // A fill of this visit keeps its job too, and is followed by its own `runFill`.
    if (resumed.current || running.current) return;
    resumed.current = true;
    const controller = new AbortController();
    running.current = controller;
    dispatch({ type: "fillProgress", progress: { phase: pending.job.status === "queued" ? "queued" : "running" } });
    follow(controller, pending, (onProgress) => followJob(pending.job, onProgress, { client: api, signal: controller.signal }));
  });
  const pending = work?.pending;
  useEffect(() => {
    if (client && pending) resume(pending, client);
  }, [client, pending]);

  const cancelFill = () => {
    running.current?.abort();
    dispatch({ type: "fillCancelled" });
  };
  // Once per stroke, after it has reached the mask canvas (effects run after drawing); a
  // fill still running for the previous strokes gives way to one with this stroke too.
  const fillAfterStroke = useEffectEvent(() => {
    if (!autoFill) return;
    running.current?.abort();
    runFill();
  });
  const additions = state.additions;
  useEffect(() => {
    if (additions > 0) fillAfterStroke();
  }, [additions]);

  const downloadVersion = (index: number) => {
    const chosen = work?.versions[index];
    if (!work || !chosen || !limits) return;
    const suffix = index === 0 ? "" : `-fill-${index}`;
    saveBlob(chosen.file, `${baseName(work.name)}${suffix}.${extensionOf(chosen.file.type, limits)}`);
  };
  const downloadUncertainty = (part: "image" | "data") => {
    if (!work || !version?.uncertainty) return;
    const suffix = part === "image" ? "uncertainty" : "uncertainty-data";
    saveBlob(version.uncertainty[part], `${baseName(work.name)}-fill-${current}-${suffix}.png`);
  };

  const busy = isBusy(state.fill);
  useShortcuts({
    undo,
    redo,
    zoom,
    fit,
    setTool,
    setBrushSize,
    setSpaceHeld,
    setHolding,
    fill: () => work && !busy && runFill(),
    cancel: () => busy && cancelFill(),
    showShortcuts: () => setShowShortcuts(true),
  });
  useFileArrivals(open);

  const accept = limits ? acceptList(limits) : undefined;

  return (
    <div className="app">
      <header>
        <h1>Holefill</h1>
        <p className="notice" role="status">
          {notice}
        </p>
        <div className="header-actions">
          <button type="button" onClick={() => setShowShortcuts(true)} aria-keyshortcuts="?" title="Keyboard shortcuts (?)">
            Shortcuts
          </button>
          <label className="button">
            Open photo
            <input
              ref={photoInput}
              type="file"
              accept={accept}
              className="visually-hidden"
              onChange={(event) => {
                const file = event.target.files?.[0];
                event.target.value = "";
                if (file) open(file);
              }}
              data-testid="photo-input"
            />
          </label>
        </div>
      </header>
      {problem && <ErrorNotice problem={problem} onDismiss={() => setProblem(null)} />}
      {showShortcuts && <Shortcuts onClose={() => setShowShortcuts(false)} />}
      {work && version ? (
        <>
          <Toolbar
            tool={tool}
            onTool={setTool}
            brushSize={brushSize}
            onBrushSize={setBrushSize}
            canUndo={history.canUndo(timeline)}
            canRedo={history.canRedo(timeline)}
            onUndo={undo}
            onRedo={redo}
            onClear={() => edit({ kind: "clear" })}
            onGrow={(pixels) => edit({ kind: "grow", pixels })}
            onOpenMask={openMask}
            onDownloadMask={downloadMask}
            onZoom={zoom}
            onFit={fit}
            disabled={busy}
          />
          <main>
            <Stage
              imageUrl={urls.of(version.display)}
              beforeUrl={before ? urls.of(before.display) : null}
              width={work.width}
              height={work.height}
              edits={edits}
              maskRef={maskRef}
              stageRef={stageRef}
              tool={tool}
              brushSize={brushSize}
              view={view}
              onView={setView}
              onStroke={edit}
              compare={compare}
              uncertaintyUrl={showUncertainty && version.uncertainty ? urls.of(version.uncertainty.image) : null}
              holding={holding}
              uncertaintyOpacity={uncertaintyOpacity}
              spaceHeld={spaceHeld}
            />
            <FillPanel
              status={state.fill}
              statusText={statusText(state.fill, current, undone)}
              onFill={runFill}
              onCancel={cancelFill}
              autoFill={autoFill}
              onAutoFill={chooseAutoFill}
              comparing={before !== null}
              compare={compare}
              onCompare={setCompare}
              holding={holding}
              onHold={setHolding}
              uncertainty={(version.uncertainty && version.result?.uncertainty) || null}
              showUncertainty={showUncertainty}
              onShowUncertainty={setShowUncertainty}
              uncertaintyOpacity={uncertaintyOpacity}
              onUncertaintyOpacity={setUncertaintyOpacity}
              onDownload={() => downloadVersion(current)}
              onTryAnother={version.filledWith ? tryAnother : null}
              onDownloadUncertainty={downloadUncertainty}
            >
              {work.versions.length > 1 && (
                <Versions
                  versions={work.versions}
                  current={current}
                  undone={undone}
                  urls={urls}
                  onSelect={selectVersion}
                  onDownload={downloadVersion}
                  disabled={busy}
                />
              )}
            </FillPanel>
          </main>
        </>
      ) : (
        <main className="empty">
          <p>
            <button type="button" className="primary" onClick={chooseAnotherPhoto} disabled={!limits}>
              Open a photo
            </button>
          </p>
          <p>or drop one here, or paste it (Ctrl+V). {limits && `${formatNames(limits)}.`}</p>
        </main>
      )}
    </div>
  );
}
