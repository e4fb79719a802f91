export { loadModel, LoupeModel } from './load-model';
export { LoupeChat } from './chat';
export type * from './types';
export { answerEvidence, type AnswerEvidence } from './evidence';
