/** Fill and what follows it: progress, the compare slider, the uncertainty toggle, downloads. */
import type { FillProgress, FillResult } from "../fill";

export type FillState = { phase: "idle" } | FillProgress | ({ phase: "done" } & FillResult);

interface Props {
  state: FillState;
  onFill: () => void;
  showResult: boolean;
  onShowResult: (show: boolean) => void;
  compare: number;
  onCompare: (percent: number) => void;
  showUncertainty: boolean;
  onShowUncertainty: (show: boolean) => void;
  onDownload: () => void;
}

const STATUS: Record<FillProgress["phase"], string> = {
  uploading: "Uploading…",
  queued: "Queued: waiting for a free worker…",
  running: "Filling…",
};

export function FillPanel(props: Props) {
  const { state } = props;
  const busy = state.phase === "uploading" || state.phase === "queued" || state.phase === "running";
  return (
    <section className="fill-panel" aria-label="Fill">
      <button type="button" className="primary" onClick={props.onFill} disabled={busy}>
        Fill
      </button>
      <div className="status" role="status" aria-live="polite">
        {busy && <span>{STATUS[state.phase]}</span>}
        {state.phase === "uploading" && (
          <progress max={1} value={state.fraction} aria-label="Upload progress">
            {Math.round(state.fraction * 100)}%
          </progress>
        )}
        {state.phase === "done" && <span>Done.</span>}
      </div>
      {state.phase === "done" && (
        <div className="result-controls">
          <label>
            <input
              type="checkbox"
              checked={props.showResult}
              onChange={(event) => props.onShowResult(event.target.checked)}
            />
            Show the result
          </label>
          <label className={props.showResult ? "" : "disabled"}>
            Before / after
            <input
              type="range"
              min={0}
              max={100}
              value={props.compare}
              disabled={!props.showResult}
              aria-valuetext={`${props.compare}% before`}
              onChange={(event) => props.onCompare(Number(event.target.value))}
            />
          </label>
          <label className={props.showResult && state.uncertainty ? "" : "disabled"}>
            <input
              type="checkbox"
              checked={props.showUncertainty}
              disabled={!props.showResult || !state.uncertainty}
              onChange={(event) => props.onShowUncertainty(event.target.checked)}
            />
            Uncertainty map
          </label>
          <button type="button" onClick={props.onDownload}>
            Download result
          </button>
        </div>
      )}
    </section>
  );
}
