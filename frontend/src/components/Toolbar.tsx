/** The editing tools: open, brush / eraser / hand, size, undo / redo / clear, masks, zoom. */
import { useState } from "react";
import type { Tool } from "./Stage";

interface Props {
  tool: Tool;
  onTool: (tool: Tool) => void;
  brushSize: number;
  onBrushSize: (size: number) => void;
  canUndo: boolean;
  canRedo: boolean;
  onUndo: () => void;
  onRedo: () => void;
  onClear: () => void;
  /** Grows every hole painted so far by this many pixels. */
  onGrow: (pixels: number) => void;
  onOpenMask: (file: File) => void;
  onDownloadMask: () => void;
  onZoom: (factor: number) => void;
  onFit: () => void;
  disabled: boolean;
}

export const MIN_BRUSH = 4;
export const MAX_BRUSH = 200;

export const MAX_GROW = 100;

const TOOLS: { tool: Tool; label: string; key: string }[] = [
  { tool: "brush", label: "Brush", key: "B" },
  { tool: "eraser", label: "Eraser", key: "E" },
  { tool: "rectangle", label: "Rectangle", key: "R" },
  { tool: "lasso", label: "Lasso", key: "L" },
  { tool: "pan", label: "Hand", key: "H" },
];

export function Toolbar(props: Props) {
  const { disabled } = props;
  const [grow, setGrow] = useState(8);
  return (
    <div className="toolbar" role="toolbar" aria-label="Mask tools">
      <div className="group" role="radiogroup" aria-label="Tool">
        {TOOLS.map(({ tool, label, key }) => (
          <button
            key={tool}
            type="button"
            role="radio"
            aria-checked={props.tool === tool}
            aria-keyshortcuts={key}
            title={`${label} (${key})`}
            disabled={disabled}
            onClick={() => props.onTool(tool)}
          >
            {label}
          </button>
        ))}
      </div>
      <label className="group size">
        Size
        <input
          type="range"
          min={MIN_BRUSH}
          max={MAX_BRUSH}
          value={props.brushSize}
          disabled={disabled}
          aria-keyshortcuts="[ ]"
          title="Brush size ([ and ])"
          onChange={(event) => props.onBrushSize(Number(event.target.value))}
        />
        <output aria-live="off">{props.brushSize}</output>
      </label>
      <div className="group">
        <button type="button" disabled={disabled || !props.canUndo} onClick={props.onUndo} aria-keyshortcuts="Control+Z" title="Undo (Ctrl+Z)">
          Undo
        </button>
        <button type="button" disabled={disabled || !props.canRedo} onClick={props.onRedo} aria-keyshortcuts="Shift+Control+Z" title="Redo (Shift+Ctrl+Z)">
          Redo
        </button>
        <button type="button" disabled={disabled} onClick={props.onClear}>
          Clear
        </button>
      </div>
      <div className="group grow">
        <button type="button" disabled={disabled} onClick={() => props.onGrow(grow)} title="Grows every hole painted so far">
          Grow mask by
        </button>
        <input
          type="number"
          min={1}
          max={MAX_GROW}
          value={grow}
          disabled={disabled}
          aria-label="Pixels to grow the mask by"
          onChange={(event) => setGrow(Math.min(MAX_GROW, Math.max(1, Math.round(Number(event.target.value) || 1))))}
        />
        px
      </div>
      <div className="group">
        <label className={`button ${disabled ? "disabled" : ""}`}>
          Upload mask
          <input
            type="file"
            accept="image/*"
            className="visually-hidden"
            disabled={disabled}
            onChange={(event) => {
              const file = event.target.files?.[0];
              event.target.value = "";
              if (file) props.onOpenMask(file);
            }}
          />
        </label>
        <button type="button" disabled={disabled} onClick={props.onDownloadMask}>
          Download mask
        </button>
      </div>
      <div className="group" aria-label="Zoom">
        <button type="button" onClick={() => props.onZoom(1 / 1.25)} aria-label="Zoom out" title="Zoom out (-)">
          −
        </button>
        <button type="button" onClick={props.onFit} title="Fit (0)">
          Fit
        </button>
        <button type="button" onClick={() => props.onZoom(1.25)} aria-label="Zoom in" title="Zoom in (+)">
          +
        </button>
      </div>
    </div>
  );
}
