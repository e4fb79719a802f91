import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBundleSpec } from '../bundle';
import { LoupeError } from '../errors';
import { readImageHeader } from '../pixels/image-header';
import { STRATEGIES, fedInputs, planImage, runBytes, type PlanOverrides } from '../plan';
import { BundleTokenizer, TextStream } from '../tokens';
import { BUNDLE_DIR, FIXTURE_DIR, bundleSpec, readBytes, readJson } from './fixtures';

/**
 * Property-based fuzzing of the pure parts (fast-check): every input ends in a correct
 * result or a typed LoupeError, never another exception or a hang. Bounded and seeded in
 * CI; `LOUPE_FUZZ_SEED=random LOUPE_FUZZ_RUNS=20000 npm run fuzz` for a longer run of new
 * cases, `LOUPE_FUZZ_SEED=<printed seed>` to replay one.
 */
const RUNS = Number(process.env.LOUPE_FUZZ_RUNS ?? 150);
// A fixed seed by default (the same cases in every CI run); LOUPE_FUZZ_SEED=random for new ones.
const SEED = process.env.LOUPE_FUZZ_SEED === 'random' ? Date.now() % 2 ** 31 : Number(process.env.LOUPE_FUZZ_SEED ?? 20261130);
console.log(`[fuzz] seed ${SEED}, ${RUNS} cases per property (LOUPE_FUZZ_SEED=${SEED} replays them)`);
const settings = { numRuns: RUNS, seed: SEED };

/** The result, or the LoupeError it threw; anything else thrown fails the property. */
function typed<T>(work: () => T): T | LoupeError {
  try {
    return work();
  } catch (error) {
    if (error instanceof LoupeError) return error;
    throw error;
  }
}

const png = readBytes(`${FIXTURE_DIR}image.png`);
const jpeg = readBytes(`${BUNDLE_DIR}../../samples/scene-large-0.jpg`).slice(0, 4096);

describe('fuzz', () => {
  it('image headers: truncated, bit-flipped and random bytes give a size or undefined, never an exception', () => {
    const mutated = fc
      .tuple(fc.constantFrom(png, jpeg), fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }))
      .map(([base, cut, flips]) => {
        const bytes = base.slice(0, Math.min(base.length, 1 + (cut % 400)));
        for (const [at, value] of flips) bytes[at % bytes.length] = value;
        return bytes;
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 64 })), (bytes) => {
        const header = readImageHeader(bytes);
        if (header) expect(Number.isInteger(header.width) && Number.isInteger(header.height) && header.width >= 0 && header.height >= 0).toBe(true);
      }),
      settings,
    );
  });

  it('bundle JSON: any value in any field of config / preprocessor_config gives a spec or a typed error', () => {
    const config = readJson<Record<string, unknown>>(`${BUNDLE_DIR}config.json`);
    const preprocessor = readJson<Record<string, unknown>>(`${BUNDLE_DIR}preprocessor_config.json`);
    const generation = readJson<Record<string, unknown>>(`${BUNDLE_DIR}generation_config.json`);
    const mutate = (json: Record<string, unknown>) =>
      fc.tuple(fc.constantFrom(...Object.keys(json)), fc.jsonValue({ maxDepth: 2 }), fc.boolean()).map(([key, value, nested]) => {
        const copy = structuredClone(json);
        const target = nested && typeof copy[key] === 'object' && copy[key] !== null && !Array.isArray(copy[key]) ? (copy[key] as Record<string, unknown>) : copy;
        const field = target === copy ? key : (Object.keys(target)[0] ?? key);
        target[field] = value;
        return copy;
      });
    fc.assert(
      fc.property(mutate(config), mutate(preprocessor), fc.boolean(), (c, p, which) => {
        const files = which ? { config: c, generationConfig: generation, preprocessorConfig: preprocessor } : { config, generationConfig: generation, preprocessorConfig: p };
        typed(() => parseBundleSpec('http://localhost/models/x/', files));
      }),
      settings,
    );
  });

  it('plans: any size, strategy, knobs and device limit give a consistent plan or a typed error', () => {
    const config = { ...bundleSpec().image.loupe, resolution: 1536, tokenBudget: 576 };
    const vision = { firstStageWidth: 32, patchSize: 4, low: { firstStageWidth: 96, patchSize: 4 } };
    const knob = fc.oneof(fc.integer({ min: -10, max: 5000 }), fc.constantFrom(Number.NaN, 0.5, 1e9));
    const overrides = fc.record(
      { strategy: fc.constantFrom(...STRATEGIES), resolution: knob, tokenBudget: knob, maxCrops: knob, numTokens: knob, lowResolution: knob, tileSize: knob, maxTiles: knob },
      { requiredKeys: ['strategy'] },
    );
    const size = fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.constantFrom(1, 65535, 100000, Number.NaN));
    fc.assert(
      fc.property(size, size, overrides, fc.option(fc.integer({ min: 1, max: 2 ** 31 })), (w, h, o, limit) => {
        const context = limit === null ? config : { config, vision, limits: { maxStorageBufferBindingSize: limit } };
        const plan = typed(() => planImage(w, h, context, o as PlanOverrides));
        if (plan instanceof LoupeError) return;
        expect(plan.totalTokens).toBeGreaterThan(0);
        expect(fedInputs(plan)).toEqual(plan.inputs.map((_, i) => i));
        const kept = plan.recipe.keepLast ? plan.recipe.keepLast.reduce((a, b) => a + b, 0) : plan.inputs.reduce((a, i) => a + i.tokens, 0);
        expect(kept).toBe(plan.totalTokens);
        if (limit !== null) for (const run of plan.recipe.runs) expect(runBytes(plan, run, vision)).toBeLessThanOrEqual(limit);
      }),
      settings,
    );
  });

  it('token streaming: pieces pushed one id at a time add up to the decoded text, never half a character', () => {
    const tokenizer = BundleTokenizer.fromFiles(readJson(`${BUNDLE_DIR}tokenizer.json`), readJson(`${BUNDLE_DIR}tokenizer_config.json`));
    const vocab = bundleSpec().text.vocabSize;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: vocab - 1 }), { maxLength: 24 }), (ids) => {
        const stream = new TextStream((t) => tokenizer.decode(t));
        let text = '';
        for (const id of ids) {
          const piece = stream.push(id);
          expect(piece.includes('\uFFFD') && !tokenizer.decode(ids).includes('\uFFFD')).toBe(false);
          text += piece;
        }
        text += stream.flush();
        expect(text).toBe(tokenizer.decode(ids));
      }),
      settings,
    );
  });
});
