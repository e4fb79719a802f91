/** Loupe: high-resolution visual question answering in the browser. */
export { loadModel, LoupeModel, LoupeChat } from './engine';
export type {
  LoadModelOptions,
  ModelInfo,
  LoadTimings,
  WorkerTimings,
  ImageInput,
  SetImageOptions,
  ImageSummary,
  AskOptions,
  AnswerPiece,
  AnswerStats,
  WorkerFactories,
  ZoomRequest,
  ZoomStats,
  AnswerEvidence,
} from './engine';
export { answerEvidence } from './engine';
export { LoupeError, isLoupeError } from './errors';
export type { LoupeErrorCode } from './errors';
export type { Dtype, DtypeChoice, ModuleName, Provider, LoadProgress, BundleSpec, StrategyName } from './bundle';
export type { ModuleReport, GpuReport, DeviceRequest } from './device';
export type { ImagePlan, PlannedInput, PlanOverrides, Rect, DeviceLimits, InputRole, OverlayBox, TokenBox, GridWindow, ZoomChoice, ZoomOptions } from './plan';
export { planImage, outputSize, planOverlay, tokenBoxes, zoomWindow, zoomRegion } from './plan';
export type { RenderResult } from '../workers/protocol';
export type { SamplingOptions, ChatMessage } from './tokens';
export type { TransferBytes } from './decoder';
export type { PreprocessorReport, PreprocessorRequest } from './pixels';
