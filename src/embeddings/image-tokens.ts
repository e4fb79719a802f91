import { LoupeError } from '../errors';

/** Where the image's rows sit in a sequence: `length` consecutive positions from `start`. */
export interface ImageSpan {
  start: number;
  length: number;
}

export interface ExpandedPrompt {
  ids: number[];
  image: ImageSpan | undefined;
}

/**
 * Repeats the single `<image>` placeholder once per visual token, as the ecosystem's
 * layout expects (REFERENCE §5), and records where the image sits. Positions are what
 * identify image rows from here on: a generated token that happens to share the
 * placeholder id is text, not image.
 */
export function expandImageTokens(ids: readonly number[], imageTokenId: number, visualTokens: number): ExpandedPrompt {
  const at = ids.indexOf(imageTokenId);
  if (at === -1) return { ids: ids.slice(), image: undefined };
  if (ids.indexOf(imageTokenId, at + 1) !== -1) {
    throw new LoupeError(
      'INVALID_ARGUMENT',
      'The prompt holds more than one <image> placeholder; a Loupe chat carries exactly one image. Remove "<image>" from the question.',
    );
  }
  const expanded = [...ids.slice(0, at), ...new Array<number>(visualTokens).fill(imageTokenId), ...ids.slice(at + 1)];
  return { ids: expanded, image: { start: at, length: visualTokens } };
}

/**
 * Overwrites the rows of `embeds` (the embeddings of positions `start .. start + rows`)
 * that fall inside the image span with the matching rows of `features`, so a slice that
 * resumes after a cached prefix still picks the right feature rows.
 */
export function mergeImageFeatures(
  embeds: Float32Array,
  start: number,
  rows: number,
  hidden: number,
  span: ImageSpan | undefined,
  features: Float32Array | undefined,
): void {
  if (!span) return;
  if (!features || features.length !== span.length * hidden) {
    throw new LoupeError(
      'INTERNAL',
      `The image span holds ${span.length} tokens but ${features ? features.length / hidden : 0} feature rows are set. Set the image again.`,
    );
  }
  const from = Math.max(start, span.start);
  const to = Math.min(start + rows, span.start + span.length);
  for (let p = from; p < to; p++) {
    const row = p - span.start;
    embeds.set(features.subarray(row * hidden, (row + 1) * hidden), (p - start) * hidden);
  }
}
