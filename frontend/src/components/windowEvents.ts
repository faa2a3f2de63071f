/** What the editor hears from the window: its keyboard shortcuts, and photos dropped or pasted. */
import { useEffect, useEffectEvent, useRef } from "react";
import type { Tool } from "./Stage";
import { MAX_BRUSH, MIN_BRUSH } from "./Toolbar";

export interface ShortcutActions {
  undo: () => void;
  redo: () => void;
  zoom: (factor: number) => void;
  fit: () => void;
  setTool: (tool: Tool) => void;
  setBrushSize: (update: (size: number) => number) => void;
  setSpaceHeld: (held: boolean) => void;
  setHolding: (held: boolean) => void;
  fill: () => void;
  cancel: () => void;
  showShortcuts: () => void;
}

/** The keyboard shortcuts (`Shortcuts` lists them), IOPaint's where it has one. */
export function useShortcuts(actions: ShortcutActions) {
  // The listeners are added once and call the actions of the latest render.
  const latest = useRef(actions);
  latest.current = actions;
  useEffect(() => {
    const typing = (target: EventTarget | null) =>
      target instanceof HTMLElement &&
      (target.matches("input:not([type=range]):not([type=checkbox]):not([type=file]), textarea") || target.isContentEditable);
    // Enter on a button, a link or a form control is that control's own.
    const ownsEnter = (target: EventTarget | null) =>
      target instanceof HTMLElement && target.matches("button, a, input, select, textarea, label, summary");
    const onKeyDown = (event: KeyboardEvent) => {
      const actions = latest.current;
      if (typing(event.target) || document.querySelector("dialog[open]")) return;
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
        r: () => actions.setTool("rectangle"),
        l: () => actions.setTool("lasso"),
        h: () => actions.setTool("pan"),
        "+": () => actions.zoom(1.25),
        "=": () => actions.zoom(1.25),
        "-": () => actions.zoom(1 / 1.25),
        "0": actions.fit,
        c: () => actions.setHolding(true),
        f: actions.fill,
        escape: actions.cancel,
        "?": actions.showShortcuts,
      };
      if (key === "enter" && !ownsEnter(event.target)) {
        event.preventDefault();
        actions.fill();
      } else if (key === " " && !(event.target instanceof HTMLButtonElement)) {
        // Space pans while held, unless it is pressing a focused button.
        event.preventDefault();
        actions.setSpaceHeld(true);
      } else keys[key]?.();
    };
    const onKeyUp = (event: KeyboardEvent) => {
      if (event.key === " ") latest.current.setSpaceHeld(false);
      if (event.key.toLowerCase() === "c") latest.current.setHolding(false);
    };
    // A key released in another window never comes back up here.
    const onBlur = () => latest.current.setHolding(false);
    window.addEventListener("keydown", onKeyDown);
    window.addEventListener("keyup", onKeyUp);
    window.addEventListener("blur", onBlur);
    return () => {
      window.removeEventListener("keydown", onKeyDown);
      window.removeEventListener("keyup", onKeyUp);
      window.removeEventListener("blur", onBlur);
    };
  }, []);
}

/** Photos dropped anywhere on the page, or pasted. */
export function useFileArrivals(onFile: (file: File) => void) {
  const open = useEffectEvent(onFile);
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
  }, []);
}
