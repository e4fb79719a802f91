import type { AnswerEvidence } from '../engine';
import type { Rect } from '../plan';

/** What the preview shows of an answer's evidence: the heat map (toggle), the top box, and a zoom into it. */
export interface EvidenceViewState {
  evidence: AnswerEvidence;
  heat: boolean;
  /** The image rectangle the view is zoomed to (the top box after a click), or the whole image. */
  view: Rect | undefined;
}

/**
 * Draws the image (or the zoomed rectangle of it) to fit the canvas, the evidence as a
 * red heat map over each visual token's footprint, and the top region as a box. Returns
 * the box in canvas pixels, for clicks.
 */
export async function drawEvidence(canvas: HTMLCanvasElement, blob: Blob, state: EvidenceViewState): Promise<Rect | undefined> {
  const { evidence } = state;
  const { imageWidth, imageHeight } = evidence.plan;
  const view = state.view ?? { x: 0, y: 0, width: imageWidth, height: imageHeight };
  const bitmap = await createImageBitmap(blob);
  const scale = Math.min(canvas.width / view.width, canvas.height / view.height);
  const context = canvas.getContext('2d')!;
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.drawImage(bitmap, view.x, view.y, view.width, view.height, 0, 0, view.width * scale, view.height * scale);
  bitmap.close();
  const toCanvas = (r: Rect): Rect => ({ x: (r.x - view.x) * scale, y: (r.y - view.y) * scale, width: r.width * scale, height: r.height * scale });
  if (state.heat) {
    const peak = Math.max(...evidence.scores);
    evidence.boxes.forEach((box, i) => {
      const share = peak > 0 ? evidence.scores[i]! / peak : 0;
      if (box.width <= 0 || box.height <= 0 || share < 0.02) return;
      context.fillStyle = `rgb(255 40 0 / ${(0.65 * share).toFixed(3)})`;
      const r = toCanvas(box);
      context.fillRect(r.x, r.y, r.width, r.height);
    });
  }
  if (!evidence.top) return undefined;
  const box = toCanvas(evidence.top);
  context.lineWidth = 3;
  context.strokeStyle = 'rgb(0 220 255)';
  context.strokeRect(box.x + 1.5, box.y + 1.5, box.width - 3, box.height - 3);
  const label = state.view ? 'evidence (click to see the whole image)' : 'evidence (click to zoom)';
  context.font = '12px system-ui, sans-serif';
  context.fillStyle = 'rgb(0 0 0 / 0.7)';
  const y = Math.max(box.y - 18, 0);
  context.fillRect(box.x, y, context.measureText(label).width + 8, 16);
  context.fillStyle = '#fff';
  context.fillText(label, box.x + 4, y + 12);
  return box;
}

/** True when a click lands inside `box` (canvas pixels, whatever size the canvas is shown at). */
export function hits(box: Rect | undefined, canvas: HTMLCanvasElement, event: MouseEvent): boolean {
  const bounds = canvas.getBoundingClientRect();
  const x = ((event.clientX - bounds.left) * canvas.width) / bounds.width;
  const y = ((event.clientY - bounds.top) * canvas.height) / bounds.height;
  return box !== undefined && x >= box.x && y >= box.y && x <= box.x + box.width && y <= box.y + box.height;
}

/** A click on the evidence view: out of a zoomed view, or into the top box. False: nothing changes. */
export function toggleZoom(state: EvidenceViewState, box: Rect | undefined, canvas: HTMLCanvasElement, event: MouseEvent): boolean {
  if (state.view) state.view = undefined;
  else if (hits(box, canvas, event) && state.evidence.top) state.view = state.evidence.top;
  else return false;
  return true;
}
