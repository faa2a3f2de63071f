/** An error the user can act on: what happened, what to do, and the button that does it. */
import { useEffect, useRef } from "react";
import { ApiError } from "../api";

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

/** What the notice says of a fill that failed, and what it offers to do next. */
export function describeFillError(error: unknown, retry: () => void, chooseAnother: () => void): Problem {
  if (!(error instanceof ApiError)) {
    return { title: "The fill failed", message: String((error as Error)?.message ?? error), retry };
  }
  if (error.code === "file_too_large") {
    return {
      title: "The photo is too large",
      message: error.message,
      actions: [{ label: "Choose another photo", run: chooseAnother }],
    };
  }
  const titles = {
    network: "The server cannot be reached",
    server: "The server failed",
    request: "This photo or mask cannot be filled",
  };
  return { title: titles[error.kind], message: error.message, retry: error.retryable ? retry : undefined };
}
