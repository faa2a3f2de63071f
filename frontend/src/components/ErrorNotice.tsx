/** An error the user can act on: what happened, what to do, and the button that does it. */
import { useEffect, useRef } from "react";

export interface Problem {
  title: string;
  message: string;
  retry?: () => void;
  /** What else can be done, the first the most likely ("Make a smaller copy"). */
  actions?: { label: string; run: () => void }[];
}

export function ErrorNotice({ problem, onDismiss }: { problem: Problem; onDismiss: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  // Focus moves to the error, so keyboard and screen-reader users meet it first.
  useEffect(() => heading.current?.focus(), [problem]);
  return (
    <div className="error" role="alert">
      <h2 ref={heading} tabIndex={-1}>
        {problem.title}
      </h2>
      <p>{problem.message}</p>
      <div className="actions">
        {problem.retry && (
          <button type="button" className="primary" onClick={problem.retry}>
            Retry
          </button>
        )}
        {problem.actions?.map((action, index) => (
          <button
            key={action.label}
            type="button"
            className={index === 0 && !problem.retry ? "primary" : undefined}
            onClick={action.run}
          >
            {action.label}
          </button>
        ))}
        <button type="button" onClick={onDismiss}>
          Dismiss
        </button>
      </div>
    </div>
  );
}
