/**
 * The current version with its mask overlay, the version it was filled from on the
 * "before" side of the divide, and the uncertainty map, zoomed and panned.
 *
 * Pointer events cover mouse, pen and touch alike: one pointer paints (or pans with the
 * hand tool, the middle button or Space held), two touch pointers pinch-zoom.
 */
import { useEffect, useRef, useState, type RefObject } from "react";
import { drawShape, drawStroke, hasArea, maskContext, renderMask, type MaskEdit, type Point } from "../mask";
import { panBy, toPhoto, zoomAt, type View } from "../view";

export type Tool = "brush" | "eraser" | "rectangle" | "lasso" | "pan";
type Stroke = Extract<MaskEdit, { kind: "stroke" }>;
type Shape = Extract<MaskEdit, { kind: "shape" }>;

interface Props {
  /** The current version, painted on. */
  imageUrl: string;
  /** The version it was filled from, or null for the photo as opened. */
  beforeUrl: string | null;
  width: number;
  height: number;
  edits: readonly MaskEdit[];
  maskRef: RefObject<HTMLCanvasElement | null>;
  stageRef: RefObject<HTMLDivElement | null>;
  tool: Tool;
  /** The brush's diameter on screen, in CSS pixels, whatever the zoom. */
  brushSize: number;
  view: View;
  onView: (view: View) => void;
  /** A stroke, rectangle or lasso, once the pointer is lifted. */
  onStroke: (edit: Stroke | Shape) => void;
  /** Where the before/after divide is, in percent of the photo's width. */
  compare: number;
  uncertaintyUrl: string | null;
  uncertaintyOpacity: number;
  /** The before version shows alone while held (hold to compare). */
  holding: boolean;
  spaceHeld: boolean;
}

export function Stage(props: Props) {
  const { imageUrl, beforeUrl, width, height, edits, maskRef, stageRef, view, onView } = props;
  const stroke = useRef<Stroke | Shape | null>(null);
  const pointers = useRef(new Map<number, Point>());
  const panning = useRef(false);
  const [cursor, setCursor] = useState<Point | null>(null);

  // The canvas is redrawn from the edits whenever they change (undo, redo, clear, upload).
  useEffect(() => {
    if (maskRef.current) renderMask(maskContext(maskRef.current), edits);
  }, [edits, maskRef, width, height]);

  const local = (event: { clientX: number; clientY: number }): Point => {
    const box = stageRef.current!.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  };

  const cancelStroke = () => {
    if (!stroke.current) return;
    stroke.current = null;
    renderMask(maskContext(maskRef.current!), edits);
  };

  const comparing = beforeUrl !== null;
  const holding = comparing && props.holding;
  const canPaint = !holding;
  const afterClip = comparing ? `inset(0 0 0 ${props.compare}%)` : undefined;

  const onPointerDown = (event: React.PointerEvent) => {
    event.currentTarget.setPointerCapture(event.pointerId);
    pointers.current.set(event.pointerId, local(event));
    if (pointers.current.size > 1) {
      // A second finger: this is a pinch, not a stroke.
      cancelStroke();
      return;
    }
    panning.current = props.tool === "pan" || event.button === 1 || props.spaceHeld;
    if (panning.current || !canPaint || event.button > 1) return;
    const point = local(event);
    const at = toPhoto(view, point.x, point.y);
    if (props.tool === "rectangle" || props.tool === "lasso") {
      // A rectangle's second point is the corner the pointer is at; a lasso gathers its path.
      stroke.current = { kind: "shape", shape: props.tool, points: props.tool === "rectangle" ? [at, at] : [at] };
      return;
    }
    stroke.current = { kind: "stroke", erase: props.tool === "eraser", size: props.brushSize / view.scale, points: [at] };
    drawStroke(maskContext(maskRef.current!), stroke.current);
  };

  const onPointerMove = (event: React.PointerEvent) => {
    const point = local(event);
    setCursor(point);
    const previous = pointers.current.get(event.pointerId);
    if (!previous) return;
    if (pointers.current.size === 2) {
      const [other] = [...pointers.current].filter(([id]) => id !== event.pointerId);
      const before = distance(previous, other[1]);
      const after = distance(point, other[1]);
      const middle = { x: (point.x + other[1].x) / 2, y: (point.y + other[1].y) / 2 };
      const moved = panBy(view, (point.x - previous.x) / 2, (point.y - previous.y) / 2);
      onView(zoomAt(moved, before > 0 ? after / before : 1, middle.x, middle.y));
    } else if (panning.current) {
      onView(panBy(view, point.x - previous.x, point.y - previous.y));
    } else if (stroke.current?.kind === "stroke") {
      const current = stroke.current;
      current.points.push(toPhoto(view, point.x, point.y));
      drawStroke(maskContext(maskRef.current!), current, current.points.length - 1);
    } else if (stroke.current) {
      const shape = stroke.current;
      const at = toPhoto(view, point.x, point.y);
      if (shape.shape === "rectangle") shape.points[1] = at;
      else shape.points.push(at);
      // The shape so far, over the mask as it was.
      const context = maskContext(maskRef.current!);
      renderMask(context, edits);
      drawShape(context, shape);
    }
    pointers.current.set(event.pointerId, point);
  };

  const onPointerUp = (event: React.PointerEvent) => {
    pointers.current.delete(event.pointerId);
    panning.current = false;
    const drawn = stroke.current;
    if (drawn && event.type === "pointerup" && (drawn.kind === "stroke" || hasArea(drawn))) props.onStroke(drawn);
    else cancelStroke();
    stroke.current = null;
  };

  const onWheel = (event: React.WheelEvent) => {
    const point = local(event);
    onView(zoomAt(view, Math.exp(-event.deltaY / 500), point.x, point.y));
  };

  const onKeyDown = (event: React.KeyboardEvent) => {
    const step = 40;
    const moves: Record<string, [number, number]> = {
      ArrowLeft: [step, 0],
      ArrowRight: [-step, 0],
      ArrowUp: [0, step],
      ArrowDown: [0, -step],
    };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    onView(panBy(view, ...move));
  };

  const painting = canPaint && props.tool !== "pan" && !props.spaceHeld;
  const brushing = painting && (props.tool === "brush" || props.tool === "eraser");
  const layer = { width, height };
  return (
    <div
      ref={stageRef}
      className={`stage ${brushing ? "painting" : painting ? "shaping" : "panning"}`}
      tabIndex={0}
      role="application"
      aria-label="Photo: paint, or draw a rectangle or lasso, over what should go; arrow keys pan, + and - zoom"
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onPointerCancel={onPointerUp}
      onPointerLeave={() => setCursor(null)}
      onWheel={onWheel}
      onKeyDown={onKeyDown}
    >
      <div
        className="layers"
        style={{ ...layer, transform: `translate(${view.x}px, ${view.y}px) scale(${view.scale})` }}
      >
        {comparing && <img src={beforeUrl} alt="Before this fill" style={layer} draggable={false} />}
        {!holding && (
          <img
            src={imageUrl}
            alt={comparing ? "The filled photo" : "The photo"}
            style={{ ...layer, clipPath: afterClip }}
            draggable={false}
          />
        )}
        {!holding && props.uncertaintyUrl && (
          <img
            src={props.uncertaintyUrl}
            alt="Where the fill is likely wrong: brighter is a larger expected error"
            className="uncertainty"
            // On the filled side of the divide only, as the result is.
            style={{ ...layer, clipPath: afterClip, opacity: props.uncertaintyOpacity }}
            draggable={false}
          />
        )}
        <canvas
          ref={maskRef}
          className="mask"
          width={width}
          height={height}
          style={{ ...layer, visibility: holding ? "hidden" : "visible" }}
          data-testid="mask"
        />
        {comparing && !holding && props.compare > 0 && (
          <div className="divide" style={{ left: `${props.compare}%`, width: 2 / view.scale }} aria-hidden />
        )}
      </div>
      {/* Which side is which: shown only where that side has room. */}
      {comparing && (holding || props.compare > 8) && <span className="side-label before">Before</span>}
      {comparing && !holding && props.compare < 92 && <span className="side-label after">After</span>}
      {brushing && cursor && (
        <div
          className="brush-cursor"
          aria-hidden
          style={{
            width: props.brushSize,
            height: props.brushSize,
            left: cursor.x - props.brushSize / 2,
            top: cursor.y - props.brushSize / 2,
          }}
        />
      )}
    </div>
  );
}

const distance = (a: Point, b: Point) => Math.hypot(a.x - b.x, a.y - b.y);
