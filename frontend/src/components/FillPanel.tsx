/** Fill and what follows it: progress, comparing with the version before, the uncertainty map, downloads. */
import type { ReactNode } from "react";
import type { FillProgress } from "../fill";
import type { UncertaintyLayer } from "../versions";

export type FillState = { phase: "idle" } | FillProgress | { phase: "done"; message: string };

interface Props {
  state: FillState;
  onFill: () => void;
  onCancel: () => void;
  autoFill: boolean;
  onAutoFill: (on: boolean) => void;
  /** The current version was filled from another: there is a before to compare with. */
  comparing: boolean;
  compare: number;
  onCompare: (percent: number) => void;
  holding: boolean;
  onHold: (held: boolean) => void;
  uncertainty: UncertaintyLayer | null;
  showUncertainty: boolean;
  onShowUncertainty: (show: boolean) => void;
  uncertaintyOpacity: number;
  onUncertaintyOpacity: (opacity: number) => void;
  onDownload: () => void;
  onDownloadUncertainty: () => void;
  /** The versions strip. */
  children: ReactNode;
}

const STATUS: Record<FillProgress["phase"], string> = {
  uploading: "Uploading…",
  queued: "Queued: waiting for a free worker…",
  running: "Filling: the network draws what belongs in the hole, then the photo's own texture is copied in…",
};

export function FillPanel(props: Props) {
  const { state, uncertainty } = props;
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
        {state.phase === "done" && <span>Done. {state.message}</span>}
      </div>
      {props.comparing && (
        <div className="result-controls">
          <button
            type="button"
            aria-pressed={props.holding}
            title="Shows the version before this fill while held (or hold the C key)"
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
          <label>
            Before / after
            <input
              type="range"
              min={0}
              max={100}
              value={props.compare}
              aria-valuetext={`${props.compare}% before`}
              onChange={(event) => props.onCompare(Number(event.target.value))}
            />
          </label>
          {uncertainty ? (
            <>
              <label>
                <input
                  type="checkbox"
                  checked={props.showUncertainty}
                  onChange={(event) => props.onShowUncertainty(event.target.checked)}
                />
                Uncertainty map
              </label>
              {props.showUncertainty && (
                <>
                  <Legend map={uncertainty} />
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
              <button type="button" onClick={props.onDownloadUncertainty}>
                Download uncertainty map
              </button>
            </>
          ) : (
            <p className="note">This model offers no uncertainty map: none of its maps passed the check on the validation set.</p>
          )}
          <button type="button" onClick={props.onDownload}>
            Download result
          </button>
        </div>
      )}
      {props.children}
    </section>
  );
}

/** The heat map's scale, and what a colour means in the map's own unit (the API's words). */
function Legend({ map }: { map: UncertaintyLayer }) {
  return (
    <div className="legend" role="group" aria-label="Uncertainty map legend">
      <span>0%</span>
      <span className="scale" aria-hidden />
      <span>{Math.round(map.fullScale * 100)}% or more</span>
      <p>Brighter: the fill is more likely wrong there. A pixel's colour is {map.unit}.</p>
    </div>
  );
}
