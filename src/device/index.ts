export { probeGpu } from './gpu-probe';
export type { GpuReport, GpuProbe } from './gpu-probe';
export { chooseProvider, configureOrt, wasmThreads } from './provider';
export type { ProviderChoice, RuntimeAssets, ThreadReport } from './provider';
export { createSession } from './session';
export type { DeviceRequest, ModuleReport, CreatedSession, SessionRequest } from './session';
export { loadModuleSession } from './load-module';
export type { LoadModuleRequest } from './load-module';
