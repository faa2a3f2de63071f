/** Fill and what follows it: progress, comparing with the version before, the uncertainty map, downloads. */
import type { ReactNode } from "react";
import { isBusy, type FillStatus } from "../fillStatus";
import type { UncertaintyResult } from "../api";

interface Props {
  status: FillStatus;
  /** The status line (`fillStatus.statusText`). */
  statusText: string;
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
  /** What the shown fill's uncertainty map means, where it has one. */
  uncertainty: UncertaintyResult | null;
  showUncertainty: boolean;
  onShowUncertainty: (show: boolean) => void;
  uncertaintyOpacity: number;
  onUncertaintyOpacity: (opacity: number) => void;
  onDownload: () => void;
  /** Fills the same mask again with another seed; null where the version is no fill. */
  onTryAnother: (() => void) | null;
  onDownloadUncertainty: (part: "image" | "data") => void;
  /** The versions strip. */
  children: ReactNode;
}

export function FillPanel(props: Props) {
  const { status, uncertainty } = props;
  const busy = isBusy(status);
  const opacity = Math.round(props.uncertaintyOpacity * 100);
  return (
    <section className="fill-panel" aria-label="Fill">
      {/* Not `disabled` while busy: a disabled button drops the keyboard focus to the page. */}
      <button
        type="button"
        className="primary"
        onClick={() => busy || props.onFill()}
        aria-disabled={busy}
        aria-keyshortcuts="Enter F"
        title="Fill (Enter or F)"
      >
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
        {props.statusText && <span>{props.statusText}</span>}
        {busy && (
          <button type="button" onClick={props.onCancel} aria-keyshortcuts="Escape" title="Cancel (Esc)">
            Cancel
          </button>
        )}
        {status.phase === "uploading" && (
          <progress max={1} value={status.fraction} aria-label="Upload progress">
            {Math.round(status.fraction * 100)}%
          </progress>
        )}
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
                      value={opacity}
                      aria-valuetext={`${opacity}%`}
                      onChange={(event) => props.onUncertaintyOpacity(Number(event.target.value) / 100)}
                    />
                    <output aria-hidden>{opacity}%</output>
                  </label>
                </>
              )}
              <button type="button" onClick={() => props.onDownloadUncertainty("image")}>
                Download uncertainty map
              </button>
              <button
                type="button"
                onClick={() => props.onDownloadUncertainty("data")}
                title="The map's values as a 16-bit greyscale PNG: grey / 65535 is the expected error as a share of the range"
              >
                Download map data (16-bit)
              </button>
            </>
          ) : (
            <p className="note">This model offers no uncertainty map: none of its maps passed the check on the validation set.</p>
          )}
          {props.onTryAnother && (
            <button
              type="button"
              onClick={() => busy || props.onTryAnother?.()}
              aria-disabled={busy}
              title="Fills the same mask again, with other patches of the photo"
            >
              Try another
            </button>
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

/** What the heat map's colours mean, in plain words; the precise unit (the API's) is a
 * tooltip away. */
function Legend({ map }: { map: UncertaintyResult }) {
  const top = Math.round(map.full_scale * 100);
  return (
    <div className="legend" role="group" aria-label="Uncertainty map legend">
      <span>Likely right</span>
      <span className="scale" aria-hidden />
      <span>Likely wrong</span>
      <p title={`Each pixel's colour is ${map.unit}.`}>
        Dark where the fill is probably close to what was there; bright yellow where it may be off by {top}% of the
        brightness range or more. Check the bright parts before you use the photo.
      </p>
    </div>
  );
}
