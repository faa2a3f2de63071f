/** The keyboard shortcuts, listed in a dialog (the `?` key opens it, Escape closes it). */
import { useEffect, useRef } from "react";

/** What `useShortcuts` in App.tsx does, as a user reads it. */
const SHORTCUTS: [keys: string, what: string][] = [
  ["Enter or F", "Fill what is painted"],
  ["Esc", "Cancel the fill that is running"],
  ["B / E / R / L / H", "Brush / eraser / rectangle / lasso / hand (pan)"],
  ["[ and ]", "Smaller / larger brush"],
  ["Ctrl+Z", "Undo (strokes and fills alike)"],
  ["Ctrl+Shift+Z or Ctrl+Y", "Redo"],
  ["C (hold)", "Show the version before this fill"],
  ["+ / −", "Zoom in / out"],
  ["0", "Fit the photo to the screen"],
  ["Space (hold) or arrow keys", "Pan"],
  ["?", "This list"],
];

export function Shortcuts({ onClose }: { onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    element?.showModal();
    return () => element?.close();
  }, []);
  return (
    <dialog ref={dialog} className="shortcuts" aria-labelledby="shortcuts-title" onClose={onClose}>
      <h2 id="shortcuts-title">Keyboard shortcuts</h2>
      <table>
        <tbody>
          {SHORTCUTS.map(([keys, what]) => (
            <tr key={keys}>
              <th scope="row">
                <kbd>{keys}</kbd>
              </th>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form method="dialog">
        <button type="submit" className="primary" autoFocus>
          Close
        </button>
      </form>
    </dialog>
  );
}
