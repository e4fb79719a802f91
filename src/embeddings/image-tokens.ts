import { LoupeError } from '../errors';

/**
 * Repeats the single `<image>` placeholder once per visual token, as the ecosystem's
 * layout expects (REFERENCE §5). A prompt without an image keeps no placeholder.
 */
export function expandImageTokens(ids: readonly number[], imageTokenId: number, visualTokens: number): number[] {
  const out: number[] = [];
  let seen = 0;
  for (const id of ids) {
    if (id !== imageTokenId) {
      out.push(id);
      continue;
    }
    seen++;
    if (seen > 1) {
      throw new LoupeError('INVALID_ARGUMENT', 'The prompt holds more than one <image> placeholder; a Loupe chat carries exactly one image.');
    }
    for (let i = 0; i < visualTokens; i++) out.push(imageTokenId);
  }
  return out;
}

/**
 * Overwrites the rows of `embeds` (the embeddings of `ids[start..]`) that sit at image
 * placeholder positions with consecutive rows of `features`. Image rows are counted from
 * the start of the full sequence, so a slice that resumes after a cached prefix still
 * picks the right feature rows.
 */
export function mergeImageFeatures(
  ids: readonly number[],
  start: number,
  embeds: Float32Array,
  hidden: number,
  imageTokenId: number,
  features: Float32Array | undefined,
): void {
  let row = 0;
  for (let p = 0; p < start; p++) if (ids[p] === imageTokenId) row++;
  for (let p = start; p < ids.length; p++) {
    if (ids[p] !== imageTokenId) continue;
    if (!features || (row + 1) * hidden > features.length) {
      throw new LoupeError(
        'INTERNAL',
        `The prompt has more image placeholders than image features (${features ? features.length / hidden : 0} rows). Set the image again.`,
      );
    }
    embeds.set(features.subarray(row * hidden, (row + 1) * hidden), (p - start) * hidden);
    row++;
  }
}
