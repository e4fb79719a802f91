/**
 * The one place that imports onnxruntime-web. The `webgpu` entry is the one
 * @huggingface/transformers imports too, so a built app ships a single copy of it.
 */
export * as ort from 'onnxruntime-web/webgpu';
