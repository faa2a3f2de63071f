/** The strip of versions: the photo as opened and each fill's result, to go back to or download. */
import { versionLabel, type BlobUrls, type Version } from "../versions";

interface Props {
  versions: readonly Version[];
  current: number;
  /** Versions whose fill was undone (Redo brings them back). */
  undone: ReadonlySet<number>;
  urls: BlobUrls;
  onSelect: (index: number) => void;
  onDownload: (index: number) => void;
  disabled: boolean;
}

export function Versions({ versions, current, undone, urls, onSelect, onDownload, disabled }: Props) {
  return (
    <nav className="versions" aria-label="Versions">
      <h2>Versions</h2>
      <ol>
        {versions.map((version, index) => {
          const label = versionLabel(index);
          const from = version.parent === null ? "the photo as opened" : `filled from ${versionLabel(version.parent)}`;
          const isUndone = undone.has(index);
          return (
            <li key={index} className={isUndone ? "undone" : undefined}>
              <button
                type="button"
                className="version"
                aria-current={index === current ? "true" : undefined}
                aria-label={`${label}: ${from}${isUndone ? " (undone)" : ""}`}
                title={index === current ? `${label} (shown)` : `Show ${label}`}
                disabled={disabled}
                onClick={() => index === current || onSelect(index)}
              >
                <img src={urls.of(version.display)} alt="" draggable={false} />
                <span>{label}</span>
                {/* Spaced: the visible text reads as the accessible name does. */}
                {version.parent !== null && <small> filled from {versionLabel(version.parent)}</small>}
                {isUndone && <small> (undone)</small>}
              </button>
              <button type="button" className="download" aria-label={`Download ${label}`} title={`Download ${label}`} onClick={() => onDownload(index)}>
                ↓
              </button>
            </li>
          );
        })}
      </ol>
    </nav>
  );
}
