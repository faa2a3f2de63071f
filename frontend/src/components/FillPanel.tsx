/** Fill and what follows it: progress, the compare slider, the uncertainty map, downloads. */
import type { FillProgress, FillResult, UncertaintyMap } from "../fill";

export type FillState = { phase: "idle" } | FillProgress | ({ phase: "done" } & FillResult);

interface Props {
  state: FillState;
  onFill: () => void;
  onCancel: () => void;
  autoFill: boolean;
  onAutoFill: (on: boolean) => void;
  showResult: boolean;
  onShowResult: (show: boolean) => void;
  compare: number;
  onCompare: (percent: number) => void;
  showUncertainty: boolean;
  onShowUncertainty: (show: boolean) => void;
  uncertaintyOpacity: number;
  onUncertaintyOpacity: (opacity: number) => void;
  onDownload: () => void;
  onDownloadUncertainty: () => void;
  holding: boolean;
  onHold: (held: boolean) => void;
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
      {/* Not `disabled` while busy: a disabled button drops the keyboard focus to the page. */}
      <button type="button" className="primary" onClick={() => busy || props.onFill()} aria-disabled={busy}>
        Fill
      </button>
      <label>
        <input
          type="checkbox"
          checked={props.autoFill}
          onChange={(event) => props.onAutoFill(event.target.checked)}
        />
        Fill after each stroke
      </label>
      <div className="status" role="status" aria-live="polite">
        {busy && <span>{STATUS[state.phase]}</span>}
        {busy && (
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
        )}
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
          <button
            type="button"
            aria-pressed={props.holding}
            disabled={!props.showResult}
            title="Shows the original while held (or hold the C key)"
            onPointerDown={() => props.onHold(true)}
            onPointerUp={() => props.onHold(false)}
            onPointerLeave={() => props.onHold(false)}
            onPointerCancel={() => props.onHold(false)}
            onKeyDown={(event) => (event.key === " " || event.key === "Enter") && props.onHold(true)}
            onKeyUp={() => props.onHold(false)}
            onContextMenu={(event) => event.preventDefault()}
          >
            Hold to compare
          </button>
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
          {state.uncertainty ? (
            <>
              <label className={props.showResult ? "" : "disabled"}>
                <input
                  type="checkbox"
                  checked={props.showUncertainty}
                  disabled={!props.showResult}
                  onChange={(event) => props.onShowUncertainty(event.target.checked)}
                />
                Uncertainty map
              </label>
              {props.showResult && props.showUncertainty && (
                <>
                  <Legend map={state.uncertainty} />
                  <label>
                    Map opacity
                    <input
                      type="range"
                      min={10}
                      max={100}
                      value={Math.round(props.uncertaintyOpacity * 100)}
                      aria-valuetext={`${Math.round(props.uncertaintyOpacity * 100)}%`}
                      onChange={(event) => props.onUncertaintyOpacity(Number(event.target.value) / 100)}
                    />
                  </label>
                </>
              )}
            </>
          ) : (
            <p className="note">This model offers no uncertainty map: none of its maps passed the check on the validation set.</p>
          )}
          <button type="button" onClick={props.onDownload}>
            Download result
          </button>
          {state.uncertainty && (
            <button type="button" onClick={props.onDownloadUncertainty}>
              Download uncertainty map
            </button>
          )}
        </div>
      )}
    </section>
  );
}

/** The heat map's scale, and what a colour means in the map's own unit (the API's words). */
function Legend({ map }: { map: UncertaintyMap }) {
  return (
    <div className="legend" role="group" aria-label="Uncertainty map legend">
      <span>0%</span>
      <span className="scale" aria-hidden />
      <span>{Math.round(map.fullScale * 100)}% or more</span>
      <p>Brighter: the fill is more likely wrong there. A pixel's colour is {map.unit}.</p>
    </div>
  );
}
