/** Progress is data: UIs render it, tests assert on it. */
export type LoadStage = 'config' | 'tokenizer' | 'download' | 'session' | 'ready';

export interface LoadProgress {
  stage: LoadStage;
  /** Bundle-relative file name, e.g. `onnx/decoder_model_merged_q4.onnx`. */
  file?: string;
  loadedBytes: number;
  /** Undefined when the server sends no Content-Length. */
  totalBytes: number | undefined;
  module?: string;
  /** True when the file came from Cache Storage instead of the network. */
  fromCache?: boolean;
}

export type ProgressCallback = (progress: LoadProgress) => void;
