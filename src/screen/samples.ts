/**
 * The demo's sample images: held-out Loupe-Synth scenes at their real resolution with the
 * questions worth asking and their ground-truth answers (public/samples/samples.json,
 * written by training/make_demo_samples.py), plus a tiny synthetic image for quick checks.
 */

export interface SampleQuestion {
  question: string;
  answer: string;
  type: string;
}

export interface Sample {
  file: string;
  label: string;
  questions: SampleQuestion[];
}

interface SamplesFile {
  scenes: { file: string; width: number; height: number; condition: string; questions: SampleQuestion[] }[];
}

/** Always available, even when samples.json is missing: 200x150, 4 visual tokens. */
export const TINY_SAMPLE: Sample = {
  file: 'shapes-200x150.png',
  label: 'tiny shapes, 200×150',
  questions: [
    { question: 'What is in the image?', answer: '', type: 'open' },
    { question: 'What colour is the circle?', answer: '', type: 'open' },
    { question: 'Is the triangle left or right of the square?', answer: '', type: 'open' },
  ],
};

export function parseSamples(json: unknown): Sample[] {
  const scenes = (json as Partial<SamplesFile> | null)?.scenes;
  if (!Array.isArray(scenes)) return [];
  return scenes
    .filter((s) => typeof s?.file === 'string' && Array.isArray(s.questions))
    .map((s) => ({
      file: s.file,
      label: `${s.condition.replace('-', ' ')} scene, ${s.width}×${s.height}`,
      questions: s.questions.filter((q) => typeof q.question === 'string' && typeof q.answer === 'string'),
    }));
}

/** The held-out scenes, then the tiny image; the tiny image alone if the list cannot be read. */
export async function loadSamples(base: string): Promise<Sample[]> {
  try {
    const response = await fetch(new URL('samples/samples.json', base));
    if (!response.ok) return [TINY_SAMPLE];
    return [...parseSamples(await response.json()), TINY_SAMPLE];
  } catch {
    return [TINY_SAMPLE];
  }
}
