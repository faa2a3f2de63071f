/** The editor: state, shortcuts, opening files, and the fill. */
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { ApiClient, ApiError } from "../api";
import { loadConfig } from "../config";
import { saveBlob } from "../download";
import { fill } from "../fill";
import * as history from "../history";
import { exportMaskPng, loadMaskFile, type MaskEdit } from "../mask";
import { hasHoles } from "../maskPixels";
import { baseName, extensionOf, openPhoto, PHOTO_TYPES, type Photo } from "../photo";
import { fitView, zoomAt, type View } from "../view";
import { ErrorNotice, type Problem } from "./ErrorNotice";
import { FillPanel, type FillState } from "./FillPanel";
import { Stage, type Tool } from "./Stage";
import { MAX_BRUSH, MIN_BRUSH, Toolbar } from "./Toolbar";

const AUTO_FILL_KEY = "holefill.autoFill";

export function App() {
  const [client, setClient] = useState<ApiClient | null>(null);
  const [photo, setPhoto] = useState<Photo | null>(null);
  const [timeline, setTimeline] = useState(history.emptyTimeline<MaskEdit>());
  const [tool, setTool] = useState<Tool>("brush");
  const [brushSize, setBrushSize] = useState(40);
  const [view, setView] = useState<View>({ scale: 1, x: 0, y: 0 });
  const [spaceHeld, setSpaceHeld] = useState(false);
  const [fillState, setFillState] = useState<FillState>({ phase: "idle" });
  const [showResult, setShowResult] = useState(true);
  const [compare, setCompare] = useState(50);
  // While held (the C key, or the button), the original photo shows in place of the result.
  const [holding, setHolding] = useState(false);
  // Fill after each brush stroke, as IOPaint does by default; the choice is remembered.
  const [autoFill, setAutoFill] = useState(() => localStorage.getItem(AUTO_FILL_KEY) === "on");
  const [strokesToFill, setStrokesToFill] = useState(0);
  const [showUncertainty, setShowUncertainty] = useState(false);
  const [uncertaintyOpacity, setUncertaintyOpacity] = useState(0.7);
  const [problem, setProblem] = useState<Problem | null>(null);
  const maskRef = useRef<HTMLCanvasElement>(null);
  const running = useRef<AbortController | null>(null);
  const stageRef = useRef<HTMLDivElement>(null);
  const photoInput = useRef<HTMLInputElement>(null);

  const connect = useCallback(() => {
    setProblem(null);
    loadConfig().then(
      (config) => setClient(new ApiClient(config.apiUrl)),
      (error: Error) => setProblem({ title: "Holefill cannot start", message: error.message, retry: connect }),
    );
  }, []);
  useEffect(connect, [connect]);

  const chooseAnotherPhoto = useCallback(() => photoInput.current?.click(), []);

  const open = useCallback(
    async (file: File) => {
      setProblem(null);
      try {
        const opened = await openPhoto(file);
        setPhoto((previous) => {
          if (previous) URL.revokeObjectURL(previous.url);
          return opened;
        });
        setTimeline(history.emptyTimeline());
        setFillState({ phase: "idle" });
      } catch (error) {
        setProblem({
          title: "This file cannot be opened",
          message: (error as Error).message,
          action: { label: "Choose another photo", run: chooseAnotherPhoto },
        });
      }
    },
    [chooseAnotherPhoto],
  );

  // A new photo takes the keyboard focus, so that its shortcuts work at once (and no click
  // that would paint a dot is needed first).
  useEffect(() => {
    if (photo) stageRef.current?.focus({ preventScroll: true });
  }, [photo]);

  const fit = useCallback(() => {
    const stage = stageRef.current;
    if (photo && stage) setView(fitView(photo.width, photo.height, stage.clientWidth, stage.clientHeight));
  }, [photo]);
  useLayoutEffect(fit, [fit]);

  const zoom = useCallback((factor: number) => {
    const stage = stageRef.current;
    if (stage) setView((current) => zoomAt(current, factor, stage.clientWidth / 2, stage.clientHeight / 2));
  }, []);

  const edit = useCallback((change: MaskEdit) => {
    setTimeline((current) => history.record(current, change));
    setShowResult(false);
    if (change.kind === "stroke" && !change.erase) setStrokesToFill((count) => count + 1);
  }, []);
  const chooseAutoFill = (on: boolean) => {
    localStorage.setItem(AUTO_FILL_KEY, on ? "on" : "off");
    setAutoFill(on);
  };
  const undo = useCallback(() => setTimeline(history.undo), []);
  const redo = useCallback(() => setTimeline(history.redo), []);

  const openMask = async (file: File) => {
    if (!photo) return;
    try {
      edit(await loadMaskFile(file, photo.width, photo.height));
      setProblem(null);
    } catch (error) {
      setProblem({ title: "This mask cannot be used", message: (error as Error).message });
    }
  };

  const downloadMask = async () => {
    if (photo && maskRef.current) saveBlob(await exportMaskPng(maskRef.current), `${baseName(photo.file.name)}-mask.png`);
  };

  const runFill = async () => {
    const canvas = maskRef.current;
    if (!photo || !canvas || !client) return;
    const pixels = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
    if (!hasHoles(pixels)) {
      setProblem({ title: "Nothing to fill", message: "Paint over what should go, then press Fill." });
      return;
    }
    setProblem(null);
    const controller = new AbortController();
    running.current = controller;
    try {
      const mask = await exportMaskPng(canvas);
      const result = await fill(photo.file, mask, setFillState, { client, signal: controller.signal });
      setFillState({ phase: "done", ...result });
      setShowResult(true);
      setCompare(50);
    } catch (error) {
      // The mask is left as it was: fixing the cause and pressing Retry is enough.
      setFillState({ phase: "idle" });
      if (!controller.signal.aborted) setProblem(describeFillError(error, runFill, chooseAnotherPhoto));
    } finally {
      running.current = null;
    }
  };
  const cancelFill = () => running.current?.abort();
  // Once per stroke, after it has reached the mask canvas (effects run after drawing); a
  // fill still running for the previous strokes gives way to one with this stroke too.
  useEffect(() => {
    if (!autoFill || strokesToFill === 0) return;
    running.current?.abort();
    runFill();
  }, [strokesToFill]);

  const download = async (url: string, name: string, what: string, retry: () => void) => {
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      saveBlob(await response.blob(), name);
    } catch (error) {
      setProblem({
        title: `The ${what} could not be downloaded`,
        message: `${(error as Error).message}. Results expire after a while: fill again if retrying fails.`,
        retry,
      });
    }
  };
  const downloadResult = () => {
    if (fillState.phase !== "done" || !photo) return;
    const { url, contentType } = fillState.result;
    download(url, `${baseName(photo.file.name)}-filled.${extensionOf(contentType)}`, "result", downloadResult);
  };
  const downloadUncertainty = () => {
    if (fillState.phase !== "done" || !photo || !fillState.uncertainty) return;
    const name = `${baseName(photo.file.name)}-uncertainty.png`;
    download(fillState.uncertainty.url, name, "uncertainty map", downloadUncertainty);
  };

  useShortcuts({ undo, redo, zoom, fit, setTool, setBrushSize, setSpaceHeld, setHolding });
  useFileArrivals(open);

  const resultUrl = fillState.phase === "done" && showResult && !holding ? fillState.result.url : null;
  const uncertaintyUrl =
    fillState.phase === "done" && showUncertainty ? (fillState.uncertainty?.url ?? null) : null;
  const accept = useMemo(() => PHOTO_TYPES.join(","), []);

  return (
    <div className="app">
      <header>
        <h1>Holefill</h1>
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
      </header>
      {problem && <ErrorNotice problem={problem} onDismiss={() => setProblem(null)} />}
      {photo ? (
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
            onOpenMask={openMask}
            onDownloadMask={downloadMask}
            onZoom={zoom}
            onFit={fit}
            disabled={fillState.phase === "uploading" || fillState.phase === "queued" || fillState.phase === "running"}
          />
          <main>
            <Stage
              photo={photo}
              edits={timeline.done}
              maskRef={maskRef}
              stageRef={stageRef}
              tool={tool}
              brushSize={brushSize}
              view={view}
              onView={setView}
              onStroke={edit}
              resultUrl={resultUrl}
              compare={compare}
              uncertaintyUrl={uncertaintyUrl}
              holding={holding}
              paintOverResult={autoFill}
              uncertaintyOpacity={uncertaintyOpacity}
              spaceHeld={spaceHeld}
            />
            <FillPanel
              state={fillState}
              onFill={runFill}
              onCancel={cancelFill}
              autoFill={autoFill}
              onAutoFill={chooseAutoFill}
              showResult={showResult}
              onShowResult={setShowResult}
              compare={compare}
              onCompare={setCompare}
              showUncertainty={showUncertainty}
              onShowUncertainty={setShowUncertainty}
              uncertaintyOpacity={uncertaintyOpacity}
              onUncertaintyOpacity={setUncertaintyOpacity}
              onDownload={downloadResult}
              onDownloadUncertainty={downloadUncertainty}
              holding={holding}
              onHold={setHolding}
            />
          </main>
        </>
      ) : (
        <main className="empty">
          <p>
            <button type="button" className="primary" onClick={chooseAnotherPhoto}>
              Open a photo
            </button>
          </p>
          <p>or drop one here, or paste it (Ctrl+V). JPEG, PNG, WebP, BMP or GIF.</p>
        </main>
      )}
    </div>
  );
}

function describeFillError(error: unknown, retry: () => void, chooseAnother: () => void): Problem {
  if (!(error instanceof ApiError)) {
    return { title: "The fill failed", message: String((error as Error)?.message ?? error), retry };
  }
  if (error.code === "file_too_large") {
    return {
      title: "The photo is too large",
      message: error.message,
      action: { label: "Choose another photo", run: chooseAnother },
    };
  }
  const titles = {
    network: "The server cannot be reached",
    server: "The server failed",
    request: "This photo or mask cannot be filled",
  };
  return { title: titles[error.kind], message: error.message, retry: error.retryable ? retry : undefined };
}

interface ShortcutActions {
  undo: () => void;
  redo: () => void;
  zoom: (factor: number) => void;
  fit: () => void;
  setTool: (tool: Tool) => void;
  setBrushSize: (update: (size: number) => number) => void;
  setSpaceHeld: (held: boolean) => void;
  setHolding: (held: boolean) => void;
}

/** The keyboard shortcuts, IOPaint's where it has one. */
function useShortcuts(actions: ShortcutActions) {
  useEffect(() => {
    const typing = (target: EventTarget | null) =>
      target instanceof HTMLElement &&
      (target.matches("input:not([type=range]):not([type=checkbox]):not([type=file]), textarea") || target.isContentEditable);
    const onKeyDown = (event: KeyboardEvent) => {
      if (typing(event.target)) return;
      const key = event.key.toLowerCase();
      if ((event.ctrlKey || event.metaKey) && (key === "z" || key === "y")) {
        event.preventDefault();
        if (key === "y" || event.shiftKey) actions.redo();
        else actions.undo();
        return;
      }
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const resize = (factor: number) =>
        actions.setBrushSize((size) => Math.round(Math.min(MAX_BRUSH, Math.max(MIN_BRUSH, size * factor))));
      const keys: Record<string, () => void> = {
        "[": () => resize(0.8),
        "]": () => resize(1.25),
        b: () => actions.setTool("brush"),
        e: () => actions.setTool("eraser"),
        h: () => actions.setTool("pan"),
        "+": () => actions.zoom(1.25),
        "=": () => actions.zoom(1.25),
        "-": () => actions.zoom(1 / 1.25),
        "0": actions.fit,
        c: () => actions.setHolding(true),
      };
      // Space pans while held, unless it is pressing a focused button.
      if (key === " " && !(event.target instanceof HTMLButtonElement)) {
        event.preventDefault();
        actions.setSpaceHeld(true);
      } else keys[key]?.();
    };
    const onKeyUp = (event: KeyboardEvent) => {
      if (event.key === " ") actions.setSpaceHeld(false);
      if (event.key.toLowerCase() === "c") actions.setHolding(false);
    };
    // A key released in another window never comes back up here.
    const onBlur = () => actions.setHolding(false);
    window.addEventListener("keydown", onKeyDown);
    window.addEventListener("keyup", onKeyUp);
    window.addEventListener("blur", onBlur);
    return () => {
      window.removeEventListener("keydown", onKeyDown);
      window.removeEventListener("keyup", onKeyUp);
      window.removeEventListener("blur", onBlur);
    };
  }, [
    actions.undo,
    actions.redo,
    actions.zoom,
    actions.fit,
    actions.setTool,
    actions.setBrushSize,
    actions.setSpaceHeld,
    actions.setHolding,
  ]);
}

/** Photos dropped anywhere on the page, or pasted. */
function useFileArrivals(open: (file: File) => void) {
  useEffect(() => {
    const onDragOver = (event: DragEvent) => {
      if (event.dataTransfer?.types.includes("Files")) event.preventDefault();
    };
    const onDrop = (event: DragEvent) => {
      const file = event.dataTransfer?.files[0];
      if (!file) return;
      event.preventDefault();
      open(file);
    };
    const onPaste = (event: ClipboardEvent) => {
      const file = event.clipboardData?.files[0];
      if (file) open(file);
    };
    window.addEventListener("dragover", onDragOver);
    window.addEventListener("drop", onDrop);
    window.addEventListener("paste", onPaste);
    return () => {
      window.removeEventListener("dragover", onDragOver);
      window.removeEventListener("drop", onDrop);
      window.removeEventListener("paste", onPaste);
    };
  }, [open]);
}
